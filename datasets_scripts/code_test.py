# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""CODE-test: 827 Brazilian 12-lead ECGs (400 Hz, zero-padded to 4096 samples) labelled by cardiologists."""

from dataclasses import dataclass, field

import datasets
import h5py
import numpy as np

from modeling_dbeta.recording import BadRecord, Recording

from .builder import (
    ECGBuilder,
    ECGBuilderConfig,
    ECGDatasetInfo,
    ecg_dataset_schema,
    label_columns,
    label_features,
    require_data_dir,
    require_file,
)
from .tables import find_table, read_table


CLASS_NAMES = ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]
SAMPLING_RATE = 400.0
TRACINGS_FILE = "ecg_tracings.hdf5"
GOLD_STANDARD_FILE = "annotations/gold_standard.csv"


@dataclass
class CODETestConfig(ECGBuilderConfig):
    """
    Args:
        lead_names (`list[str]`): the channel order of `tracings`, as the data set's README gives it. It is a field
            so that a different order can be declared without code changes.
    """

    lead_names: list[str] = field(
        default_factory=lambda: ["DI", "DII", "DIII", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    )


def strip_zero_padding(tracing: np.ndarray) -> np.ndarray:
    """
    (samples, leads) without the all-zero samples the data set adds on both sides: kept, they would shift the
    recording and the crop to 10 s would cut its end instead of the padding.
    """
    active = np.flatnonzero(np.any(tracing != 0, axis=1))
    if active.size == 0:
        return tracing
    return tracing[active[0] : active[-1] + 1]


def tracings_shape(path) -> tuple:
    """The shape of the HDF5 file's `tracings`, or an error naming the file and the fix."""
    try:
        with h5py.File(path, "r") as tracings_file:
            if "tracings" not in tracings_file:
                raise ValueError(f"{path} has no `tracings` dataset; found {list(tracings_file)}.")
            return tracings_file["tracings"].shape
    except OSError as error:  # h5py: "file signature not found" (not HDF5, 0 bytes), "truncated file", ...
        raise ValueError(
            f"{path} is not a readable HDF5 file ({error}); it is empty, truncated or not HDF5: download and unzip "
            "CODE-test's data.zip (Zenodo 3765780) again."
        ) from None


def gold_standard_labels(table, row: int) -> np.ndarray | str:
    """One exam's 0/1 labels, or why they cannot be read (the exam is then skipped as `bad_label`)."""
    if row in table.problems:
        return f"line {table.lines[row]}: {table.problems[row]}"
    values = [table.columns[name][row].strip() for name in CLASS_NAMES]
    try:
        labels = np.array([float(value) for value in values], dtype=np.float32)
    except ValueError:
        labels = None
    if labels is None or not np.isin(labels, (0.0, 1.0)).all():
        return f"line {table.lines[row]}: labels {values} are not all 0 or 1"
    return labels


class CODETest(ECGBuilder):
    """
    CODE-test (https://doi.org/10.5281/zenodo.3765780): `ecg_tracings.hdf5` (`tracings`: 827 x 4096 x 12, mV, 400 Hz)
    and `annotations/gold_standard.csv` (one row per tracing, columns 1dAVb, RBBB, LBBB, SB, AF, ST). Test split only.
    """

    BUILDER_CONFIG_CLASS = CODETestConfig
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        return ECGDatasetInfo(
            description="CODE-test 6-class evaluation set; 12 x 5000 float32 ECGs (mV, resampled to 500 Hz).",
            homepage="https://doi.org/10.5281/zenodo.3765780",
            license="Creative Commons Attribution 4.0",
            citation="Ribeiro et al., Automatic diagnosis of the 12-lead ECG using a deep neural network, "
            "Nat Commun 2020.",
            features=ecg_dataset_schema(
                self.config.storage, **label_features(CLASS_NAMES), exam_index=datasets.Value("int32")
            ),
        )

    def _records_by_split(self):
        data_dir = require_data_dir(self.config.data_dir, "code-test", f"{TRACINGS_FILE} and {GOLD_STANDARD_FILE}")
        tracings_path = require_file(data_dir / TRACINGS_FILE, "CODE-test's tracings (HDF5 dataset `tracings`)")
        gold_standard_path = find_table(data_dir, GOLD_STANDARD_FILE)
        gold_standard = read_table(gold_standard_path, CLASS_NAMES)
        shape = tracings_shape(tracings_path)
        if len(shape) != 3 or shape[2] != len(self.config.lead_names) or shape[0] != len(gold_standard):
            raise ValueError(
                f"{tracings_path} holds `tracings` of shape {shape}; expected (exams, samples, "
                f"{len(self.config.lead_names)}) with one exam per row of {gold_standard_path} ({len(gold_standard)})."
            )
        # Rows are exams by position: a row that cannot be read skips its exam and shifts no other.
        records = [
            {"path": str(tracings_path), "exam_index": row, "labels": gold_standard_labels(gold_standard, row)}
            for row in range(shape[0])
        ]
        return {"test": records}

    def _build_example(self, record, repairs):
        if isinstance(record["labels"], str):
            raise BadRecord("bad_label", f"{GOLD_STANDARD_FILE}, exam {record['exam_index']}: {record['labels']}")
        try:
            with h5py.File(record["path"], "r") as tracings_file:
                tracing = tracings_file["tracings"][record["exam_index"]]
        except OSError as error:  # h5py's error for a corrupt chunk
            raise BadRecord("unreadable_signal", f"{record['path']} exam {record['exam_index']}: {error}") from None
        recording = Recording(strip_zero_padding(tracing).T, SAMPLING_RATE, list(self.config.lead_names))
        example = self._prepare(recording, repairs)
        example.update(label_columns(record["labels"], CLASS_NAMES), exam_index=record["exam_index"])
        return example
