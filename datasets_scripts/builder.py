# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The base of every ECG data set builder: typed features, sharding by record list, and bad-record accounting.

A source subclass lists its records per split (`_records_by_split`) and turns one record into an example
(`_build_example`); this base shards the lists through `gen_kwargs` (so `num_proc`, DataLoader workers and
`split_dataset_by_node` divide the records), skips and counts bad records instead of failing, and stores the counts
in the prepared data set's info (`dataset.info.bad_records`; the table rows dropped while listing the records, e.g. a
blank id, in `dataset.info.bad_rows`). A split with no records (e.g. `validation_fraction=0`) is left out.
"""

import json
import os
import posixpath
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import datasets
import numpy as np
from datasets.builder import Key

from modeling_dbeta import STANDARD_LEADS, DBetaFeatureExtractor
from modeling_dbeta.ecg_storage import quantize_ecg
from modeling_dbeta.feature_extraction_dbeta import DEFAULT_MAX_AMPLITUDE_MV
from modeling_dbeta.recording import DEFAULT_MAX_GAP_SECONDS, BadRecord, Recording, prepare_recording

from .tables import BadRows


logger = datasets.logging.get_logger(__name__)

ECG_SHAPE = (len(STANDARD_LEADS), 5000)


@dataclass
class ECGBuilderConfig(datasets.BuilderConfig):
    """
    Args:
        num_shards (`int`, defaults to 1024): the record list is cut into this many contiguous shards (fewer for small
            sets). A power of two divides evenly across the usual numbers of GPUs and DataLoader workers, which lets
            `split_dataset_by_node` give each rank whole shards instead of reading every record and skipping.
        max_gap_seconds (`float`, defaults to 0.5): longest NaN / inf run that is interpolated; a lead with a longer
            run is zeroed and flagged absent in `lead_mask`.
        max_amplitude_mv (`float`, defaults to 20.0): samples beyond +-this many mV are physically impossible
            (railed ADC values, artefacts, a wrong gain) and treated as missing (`modeling_dbeta/recording.py`).
        storage (`"float32"` or `"int16"`): how the prepared form stores `ecg`. `"int16"` halves the size
            (MIMIC-IV-ECG: ~95 GB instead of ~190 GB) with a per-lead `ecg_scale` column;
            `modeling_dbeta.dequantize_ecg(ecg, ecg_scale)` (used by the collator and the evaluation) gives float32 mV
            back.
    """

    num_shards: int = 1024
    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS
    max_amplitude_mv: float = DEFAULT_MAX_AMPLITUDE_MV
    storage: str = "float32"

    def __post_init__(self):
        super().__post_init__()
        if self.storage not in ("float32", "int16"):
            raise ValueError(f"`storage` must be 'float32' or 'int16', got {self.storage!r}.")


@dataclass
class ECGDatasetInfo(datasets.DatasetInfo):
    """
    `DatasetInfo` plus the bad-record counts of the preparation, `bad_records`: {split: {"skipped"|"repaired":
    {reason: n}}}, and the table rows dropped before any record was read, `bad_rows`: {table file: {reason: n}}.
    """

    bad_records: dict = field(default_factory=dict)
    bad_rows: dict = field(default_factory=dict)


def ecg_dataset_schema(storage: str = "float32", **columns) -> datasets.Features:
    """
    The `datasets.Features` schema of an ECG data set: the columns every one has (`ecg`, `lead_mask`; for int16
    storage `ecg` is flat and `ecg_scale` gives the per-lead step, see `modeling_dbeta.ecg_storage`) and the
    source's own.
    """
    if storage == "int16":
        ecg = {
            "ecg": datasets.List(datasets.Value("int16"), length=ECG_SHAPE[0] * ECG_SHAPE[1]),
            "ecg_scale": datasets.List(datasets.Value("float32"), length=len(STANDARD_LEADS)),
        }
    else:
        ecg = {"ecg": datasets.Array2D(ECG_SHAPE, storage)}
    return datasets.Features(
        {**ecg, "lead_mask": datasets.List(datasets.Value("bool"), length=len(STANDARD_LEADS)), **columns}
    )


def label_features(class_names: list[str]) -> dict:
    """
    `labels`: multi-hot float32 in the order of `class_names`; `classes`: the positive classes as `ClassLabel`s, so
    that the names travel with the data (`label_names(dataset.features)`) and evaluation never relies on an order.
    """
    return {
        "labels": datasets.List(datasets.Value("float32"), length=len(class_names)),
        "classes": datasets.List(datasets.ClassLabel(names=list(class_names))),
    }


def label_columns(multi_hot: np.ndarray, class_names: list[str]) -> dict:
    """The `labels` and `classes` values of one record."""
    return {"labels": multi_hot, "classes": [class_names[i] for i in np.flatnonzero(multi_hot)]}


def label_names(features: datasets.Features) -> list[str]:
    """The class names, in the order of the `labels` column."""
    return features["classes"].feature.names


def contiguous_shards(records: list, num_shards: int) -> list[list]:
    """`records` cut into at most `num_shards` contiguous, near-equal lists (one empty list when there are none)."""
    num_shards = max(1, min(num_shards, len(records)))
    bounds = np.linspace(0, len(records), num_shards + 1).astype(int)
    return [records[start:stop] for start, stop in pairwise(bounds)]


def require_data_dir(data_dir, builder_name: str, expected: str) -> Path:
    """The data directory as a `Path`, or a clear error saying what it should contain."""
    if data_dir is None:
        raise ValueError(f"{builder_name} needs `data_dir`: the directory holding {expected} (see docs/DATA.md).")
    path = Path(data_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{builder_name}: data_dir {path} is a file; pass the directory holding {expected}.")
    if not path.is_dir():
        raise FileNotFoundError(f"{builder_name}: data directory {path} does not exist; it should hold {expected}.")
    return path


def require_file(path: Path, description: str) -> Path:
    if path.exists() and not path.is_file():
        raise ValueError(f"Expected {description} at {path}, which is a directory; see docs/DATA.md for the layout.")
    if not path.is_file():
        raise FileNotFoundError(f"Expected {description} at {path}; see docs/DATA.md for the layout.")
    return path


def path_inside(data_dir: Path, relative: str) -> Path | None:
    """
    `data_dir / relative` when it stays inside `data_dir` (compared as written, so symbolic links inside the data
    set keep working), else `None`: a record list naming `../outside` or `/etc/...` must not read other files.
    """
    relative = str(relative).strip().replace("\\", "/")
    normal = posixpath.normpath(relative)
    if not relative or posixpath.isabs(normal) or normal == ".." or normal.startswith("../") or normal == ".":
        return None
    return data_dir / normal


def describe_record(record) -> str:
    """A record's file (or the record itself) for a log line."""
    if isinstance(record, dict):
        return str(record.get("path", {key: value for key, value in record.items() if key != "labels"}))
    return repr(record)


class ECGBuilder(datasets.GeneratorBasedBuilder):
    """Base of the ECG builders; subclasses implement `_info`, `_records_by_split` and `_build_example`."""

    BUILDER_CONFIG_CLASS = ECGBuilderConfig
    # Rows are ~240 kB: write Arrow record batches of 64 rows (~15 MB) rather than the default 1000 (~240 MB).
    DEFAULT_WRITER_BATCH_SIZE = 64

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.feature_extractor = DBetaFeatureExtractor(max_amplitude_mv=self.config.max_amplitude_mv)
        self.bad_rows = BadRows()
        self._bad_record_dir = None
        # The base class reloads a cached info as a plain `DatasetInfo`; reload it with the bad-record counts.
        if os.path.exists(os.path.join(self._output_dir, datasets.config.DATASET_INFO_FILENAME)):
            self.info = self._load_info()

    def _load_info(self) -> ECGDatasetInfo:
        return ECGDatasetInfo.from_directory(self._output_dir)

    def _records_by_split(self) -> dict[str, list]:
        """
        {split name: list of records}; a record is whatever `_build_example` takes (paths, metadata). Table rows
        that cannot become a record are counted in `self.bad_rows`.
        """
        raise NotImplementedError

    def _build_example(self, record, repairs: list[str]) -> dict:
        """One example; appends the repairs it made to `repairs`, raises `BadRecord` to skip the record."""
        raise NotImplementedError

    def _prepare(self, recording: Recording, repairs: list[str]) -> dict:
        ecg, lead_mask = prepare_recording(recording, self.feature_extractor, repairs, self.config.max_gap_seconds)
        if self.config.storage == "int16":
            values, scale = quantize_ecg(ecg)
            return {"ecg": values, "ecg_scale": scale, "lead_mask": lead_mask}
        return {"ecg": ecg, "lead_mask": lead_mask}

    def _split_generators(self, dl_manager):
        # Records are local files (credentialed or manual downloads): `dl_manager` has nothing to fetch.
        self.bad_rows = BadRows()
        records_by_split = self._records_by_split()
        if self.bad_rows.counts:
            logger.warning(f"{self.dataset_name}: table rows dropped listing the records: {self.bad_rows.summary()}")
        empty = [split for split, records in records_by_split.items() if not records]
        if empty:
            logger.warning(f"{self.dataset_name}/{self.config.name}: no records in split(s) {empty}; left out.")
        if len(empty) == len(records_by_split):
            raise ValueError(
                f"{self.dataset_name}: no records to prepare in {self.config.data_dir} (table rows dropped: "
                f"{self.bad_rows.as_dict() or 'none'}); check data_dir and the tables (docs/DATA.md)."
            )
        return [
            datasets.SplitGenerator(
                name=split, gen_kwargs={"shards": contiguous_shards(records, self.config.num_shards), "split": split}
            )
            for split, records in records_by_split.items()
            if records
        ]

    def _generate_examples(self, shards: list[list], split: str):
        skipped, repaired = Counter(), Counter()
        for shard_index, shard in enumerate(shards):
            for record_index, record in enumerate(shard):
                repairs = []
                try:
                    example = self._build_example(record, repairs)
                except BadRecord as error:
                    skipped[error.reason] += 1
                    logger.debug(f"Skipped a {split} record {describe_record(record)}: {error}")
                    continue
                except Exception as error:  # noqa: BLE001 (one bad record never ends a build: counted and logged with it)
                    skipped["unexpected_error"] += 1
                    logger.warning(f"Skipped a {split} record {describe_record(record)}: {error!r}")
                    continue
                repaired.update(repairs)
                yield Key(shard_index, record_index), example
        self._record_bad_records(split, skipped, repaired)

    def _record_bad_records(self, split: str, skipped: Counter, repaired: Counter) -> None:
        """While preparing, leave the counts of this generator call (maybe in a worker process) for the parent."""
        if self._bad_record_dir is not None:
            counts = {"split": split, "skipped": dict(skipped), "repaired": dict(repaired)}
            Path(self._bad_record_dir, f"{uuid.uuid4().hex}.json").write_text(json.dumps(counts))
        elif skipped or repaired:
            logger.info(f"{self.dataset_name} {split} shard(s): skipped {dict(skipped)}, repaired {dict(repaired)}")

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        with tempfile.TemporaryDirectory(prefix="ecg-bad-records-") as bad_record_dir:
            self._bad_record_dir = bad_record_dir
            try:
                super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
            finally:
                self._bad_record_dir = None
            bad_records = {split: {"skipped": Counter(), "repaired": Counter()} for split in self.info.splits}
            for path in Path(bad_record_dir).glob("*.json"):
                counts = json.loads(path.read_text())
                for kind in ("skipped", "repaired"):
                    bad_records[counts["split"]][kind].update(counts[kind])
        self.info.bad_records = {
            split: {kind: dict(sorted(counter.items())) for kind, counter in kinds.items()}
            for split, kinds in bad_records.items()
        }
        self.info.bad_rows = self.bad_rows.as_dict()
        if self.info.bad_rows:
            logger.warning(f"{self.dataset_name}/{self.config.name}: table rows dropped: {self.info.bad_rows}")
        for split, kinds in self.info.bad_records.items():
            kept = self.info.splits[split].num_examples
            message = (
                f"{self.dataset_name}/{self.config.name} {split}: {kept} records kept, "
                f"skipped {kinds['skipped'] or 'none'}, repaired {kinds['repaired'] or 'none'}"
            )
            (logger.warning if kinds["skipped"] else logger.info)(message)


__all__ = [
    "ECGBuilder",
    "ECGBuilderConfig",
    "ECGDatasetInfo",
    "contiguous_shards",
    "ecg_dataset_schema",
    "label_columns",
    "label_features",
    "label_names",
]
