# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""PhysioNet/CinC Challenge 2021: 12-lead records from several sources and rates, the 26 scored classes."""

from dataclasses import dataclass

import datasets
import numpy as np

from modeling_dbeta.recording import BadRecord
from modeling_dbeta.wfdb_reader import diagnosis_codes, read_wfdb

from .builder import (
    ECGBuilder,
    ECGBuilderConfig,
    ECGDatasetInfo,
    ecg_dataset_schema,
    label_columns,
    label_features,
    require_data_dir,
)
from .splits import check_fraction, group_split


# The challenge's scored classes, in the order of its `weights.csv`; "a|b" are codes it scores as one class.
SCORED_CLASSES = {
    "164889003": "AF",
    "164890007": "AFL",
    "6374002": "BBB",
    "426627000": "Brady",
    "733534002|164909002": "CLBBB|LBBB",
    "713427006|59118001": "CRBBB|RBBB",
    "270492004": "IAVB",
    "713426002": "IRBBB",
    "39732003": "LAD",
    "445118002": "LAnFB",
    "164947007": "LPR",
    "251146004": "LQRSV",
    "111975006": "LQT",
    "698252002": "NSIVCB",
    "426783006": "NSR",
    "284470004|63593006": "PAC|SVPB",
    "10370003": "PR",
    "365413008": "PRWP",
    "427172004|17338001": "PVC|VPB",
    "164917005": "QAb",
    "47665007": "RAD",
    "427393009": "SA",
    "426177001": "SB",
    "427084000": "STach",
    "164934002": "TAb",
    "59931005": "TInv",
}
CLASS_NAMES = list(SCORED_CLASSES)
CLASS_OF_CODE = {code: index for index, codes in enumerate(CLASS_NAMES) for code in codes.split("|")}


def scored_labels(codes: list[str]) -> np.ndarray:
    """Multi-hot over the 26 scored classes; unscored codes are ignored, as in the challenge."""
    labels = np.zeros(len(CLASS_NAMES), dtype=np.float32)
    labels[[CLASS_OF_CODE[code] for code in codes if code in CLASS_OF_CODE]] = 1.0
    return labels


@dataclass
class PhysioNet2021Config(ECGBuilderConfig):
    """
    Args:
        sources (`list[str]`, *optional*): sub-directories of `data_dir` to use (e.g. `["cpsc_2018", "georgia"]`,
            the fine-tuning sources of fairseq-signals); all of them when `None`.
        validation_fraction, test_fraction (`float`, default 0.1 each): shares of records held out, as in
            fairseq-signals' random 80/10/10 split.
        seed (`int`, defaults to 42): seed of the split.
    """

    sources: list[str] | None = None
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 42

    def __post_init__(self):
        super().__post_init__()
        check_fraction("validation_fraction", self.validation_fraction)
        check_fraction("test_fraction", self.test_fraction)
        check_fraction("validation_fraction + test_fraction", self.validation_fraction + self.test_fraction)


class PhysioNet2021(ECGBuilder):
    """
    The challenge's training data (https://physionet.org/content/challenge-2021/1.0.3/): `data_dir/<source>/**/*.hea`
    + `.mat`, 257-1000 Hz, 6 s to 30 min, diagnoses as SNOMED CT codes in `#Dx:`. Labels are the 26 scored classes
    with the challenge's equivalent codes merged; class names are the codes (`features["classes"]`), their
    abbreviations are `SCORED_CLASSES`.
    """

    BUILDER_CONFIG_CLASS = PhysioNet2021Config
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        return ECGDatasetInfo(
            description="PhysioNet/CinC 2021 26-class classification; 12 x 5000 float32 ECGs (mV, 500 Hz).",
            homepage="https://physionet.org/content/challenge-2021/1.0.3/",
            license="Creative Commons Attribution 4.0",
            citation="Reyna et al., Will Two Do? Varying Dimensions in Electrocardiography: the PhysioNet/Computing "
            "in Cardiology Challenge 2021, CinC 2021.",
            features=ecg_dataset_schema(
                self.config.storage,
                **label_features(CLASS_NAMES),
                record_id=datasets.Value("string"),
                source=datasets.Value("string"),
            ),
        )

    def _records_by_split(self):
        data_dir = require_data_dir(self.config.data_dir, "physionet2021", "one directory per source (cpsc_2018, ...)")
        available = sorted(path.name for path in data_dir.iterdir() if path.is_dir())
        sources = self.config.sources or available
        unknown = sorted(set(sources) - set(available))
        if unknown:
            raise FileNotFoundError(f"Source(s) {unknown} not found in {data_dir}; it holds {available}.")
        records = [
            {"record_id": path.stem, "path": str(path), "source": source}
            for source in sources
            for path in sorted((data_dir / source).rglob("*.hea"))
        ]
        record_ids = [record["record_id"] for record in records]
        held_out_fraction = self.config.validation_fraction + self.config.test_fraction
        is_held_out = group_split(record_ids, held_out_fraction, self.config.seed)
        held_out_ids = [record_id for record_id, held_out in zip(record_ids, is_held_out, strict=True) if held_out]
        test_share = self.config.test_fraction / held_out_fraction if held_out_fraction else 0.0
        is_test = dict(zip(held_out_ids, group_split(held_out_ids, test_share, self.config.seed), strict=True))
        splits = {"train": [], "validation": [], "test": []}
        for record, held_out in zip(records, is_held_out, strict=True):
            split = "train" if not held_out else "test" if is_test[record["record_id"]] else "validation"
            splits[split].append(record)
        return splits

    def _build_example(self, record, repairs):
        recording = read_wfdb(record["path"])
        codes = diagnosis_codes(recording.comments)
        if not codes:
            raise BadRecord("missing_diagnosis", f"{record['path']} has no '#Dx:' line, or an empty one")
        example = self._prepare(recording, repairs)
        example.update(
            label_columns(scored_labels(codes), CLASS_NAMES), record_id=record["record_id"], source=record["source"]
        )
        return example
