# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""The seeded synthetic ECG-report corpus (`synthetic_ecg.py`) as a data set builder, for the offline demo run."""

from dataclasses import dataclass

import datasets
import numpy as np

from modeling_dbeta import STANDARD_LEADS, normalize_report
from modeling_dbeta.recording import Recording

from .builder import (
    ECGBuilder,
    ECGBuilderConfig,
    ECGDatasetInfo,
    ecg_dataset_schema,
    label_columns,
    label_features,
)
from .splits import check_fraction, group_split
from .synthetic_ecg import SYNTHETIC_LABELS, simulate_records, subject_ids


@dataclass
class SyntheticECGConfig(ECGBuilderConfig):
    """
    Args:
        num_records (`int`, defaults to 4000): records simulated (about 240 kB each once prepared).
        seed (`int`, defaults to 0): the corpus; the same seed always gives the same records and splits.
        validation_fraction, test_fraction (`float`, 0.1 each): fractions of the subjects held out (patient-level).
    """

    num_records: int = 4000
    seed: int = 0
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    num_shards: int = 16

    def __post_init__(self):
        super().__post_init__()
        check_fraction("validation_fraction + test_fraction", self.validation_fraction + self.test_fraction)


class SyntheticECG(ECGBuilder):
    """
    Simulated 12-lead ECGs (500 Hz, 10 s) with machine-statement reports and multi-hot labels over
    `SYNTHETIC_LABELS`. Every record has its own random stream, so shards are simulated in parallel (`num_proc`).
    """

    BUILDER_CONFIG_CLASS = SyntheticECGConfig
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        return ECGDatasetInfo(
            description="Synthetic ECG-report pairs: physiology-based 12-lead ECGs with machine-statement reports.",
            features=ecg_dataset_schema(
                self.config.storage,
                report=datasets.Value("string"),
                subject_id=datasets.Value("int64"),
                record_id=datasets.Value("int64"),
                **label_features(list(SYNTHETIC_LABELS)),
            ),
        )

    def _records_by_split(self):
        config = self.config
        subjects = subject_ids(config.num_records, config.seed)
        is_test = group_split(subjects, config.test_fraction, config.seed)
        remaining = np.flatnonzero(~is_test)
        held_out = config.validation_fraction / max(1e-9, 1.0 - config.test_fraction)
        is_validation = np.zeros(config.num_records, dtype=bool)
        is_validation[remaining] = group_split(subjects[remaining], held_out, config.seed + 1)
        is_train = ~is_test & ~is_validation
        return {
            name: [int(i) for i in np.flatnonzero(mask)]
            for name, mask in (("train", is_train), ("validation", is_validation), ("test", is_test))
        }

    def _build_example(self, record_id, repairs):
        config = self.config
        subjects = subject_ids(config.num_records, config.seed)
        simulated = simulate_records(np.array([record_id]), subjects, config.seed, 500, 5000)
        recording = Recording(simulated["ecg"][0], 500.0, list(STANDARD_LEADS))
        example = self._prepare(recording, repairs)
        example.update(
            report=normalize_report(simulated["report"][0]),
            subject_id=int(simulated["subject_id"][0]),
            record_id=record_id,
            **label_columns(simulated["labels"][0], list(SYNTHETIC_LABELS)),
        )
        return example


__all__ = ["SyntheticECG", "SyntheticECGConfig"]
