# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""ECG data sets as `datasets` builders: MIMIC-IV-ECG pairs, the downstream benchmarks, hospital exports."""

from .builder import ECGBuilder, ECGBuilderConfig, ECGDatasetInfo, label_names
from .code_test import CODETest
from .cpsc2018 import CPSC2018
from .csn import ChapmanShaoxingNingbo
from .hospital_exports import ExportedECG, read_dicom_ecg, read_ge_xml, read_hospital_ecg
from .loading import ECG_BUILDERS, load_ecg_dataset
from .mimic_iv_ecg import MimicIVECG
from .physionet2021 import PhysioNet2021
from .ptb_xl import PTBXL
from .recording import BadRecord, Recording, prepare_recording
from .wfdb_reader import read_wfdb


__all__ = [
    "BadRecord",
    "CODETest",
    "CPSC2018",
    "ChapmanShaoxingNingbo",
    "ECGBuilder",
    "ECGBuilderConfig",
    "ECGDatasetInfo",
    "ECG_BUILDERS",
    "ExportedECG",
    "MimicIVECG",
    "PTBXL",
    "PhysioNet2021",
    "Recording",
    "label_names",
    "load_ecg_dataset",
    "prepare_recording",
    "read_dicom_ecg",
    "read_ge_xml",
    "read_hospital_ecg",
    "read_wfdb",
]
