# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""CODE-test: 827 Brazilian 12-lead ECGs (400 Hz, zero-padded to 4096 samples) labelled by cardiologists."""

from dataclasses import dataclass, field

import datasets
import h5py
import numpy as np
import pandas as pd

from .builder import (
    ECGBuilder,
    ECGBuilderConfig,
    ECGDatasetInfo,
    ecg_features,
    label_columns,
    label_features,
    require_columns,
    require_data_dir,
    require_file,
)
from modeling_dbeta.recording import BadRecord, Recording


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
            features=ecg_features(
                self.config.storage, **label_features(CLASS_NAMES), exam_index=datasets.Value("int32")
            ),
        )

    def _records_by_split(self):
        data_dir = require_data_dir(self.config.data_dir, "code-test", f"{TRACINGS_FILE} and {GOLD_STANDARD_FILE}")
        tracings_path = require_file(data_dir / TRACINGS_FILE, "CODE-test's tracings (HDF5 dataset `tracings`)")
        gold_standard_path = require_file(data_dir / GOLD_STANDARD_FILE, "CODE-test's cardiologist labels")
        gold_standard = pd.read_csv(gold_standard_path)
        require_columns(gold_standard, CLASS_NAMES, gold_standard_path)
        with h5py.File(tracings_path, "r") as tracings_file:
            if "tracings" not in tracings_file:
                raise ValueError(f"{tracings_path} has no `tracings` dataset; found {list(tracings_file)}.")
            shape = tracings_file["tracings"].shape
        if len(shape) != 3 or shape[2] != len(self.config.lead_names) or shape[0] != len(gold_standard):
            raise ValueError(
                f"{tracings_path} holds `tracings` of shape {shape}; expected (exams, samples, "
                f"{len(self.config.lead_names)}) with one exam per row of {gold_standard_path} ({len(gold_standard)})."
            )
        labels = gold_standard[CLASS_NAMES].to_numpy(dtype=np.float32)
        records = [{"path": str(tracings_path), "exam_index": row, "labels": labels[row]} for row in range(shape[0])]
        return {"test": records}

    def _build_example(self, record, repairs):
        try:
            with h5py.File(record["path"], "r") as tracings_file:
                tracing = tracings_file["tracings"][record["exam_index"]]
        except OSError as error:  # h5py's error for a corrupt chunk
            raise BadRecord("unreadable_signal", f"{record['path']} exam {record['exam_index']}: {error}") from None
        recording = Recording(strip_zero_padding(tracing).T, SAMPLING_RATE, list(self.config.lead_names))
        example = self._prepare(recording, repairs)
        example.update(label_columns(record["labels"], CLASS_NAMES), exam_index=record["exam_index"])
        return example
