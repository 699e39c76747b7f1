# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""ECG data sets as `datasets` builders: MIMIC-IV-ECG pairs and the downstream benchmarks (the record readers they use
are `modeling_dbeta`'s, which also reads single hospital files)."""

from .builder import ECGBuilder, ECGBuilderConfig, ECGDatasetInfo, label_names
from .code_test import CODETest
from .cpsc2018 import CPSC2018
from .csn import ChapmanShaoxingNingbo
from .loading import ECG_BUILDERS, load_ecg_dataset
from .mimic_iv_ecg import MimicIVECG
from .physionet2021 import PhysioNet2021
from .ptb_xl import PTBXL


__all__ = [
    "CPSC2018",
    "ECG_BUILDERS",
    "PTBXL",
    "CODETest",
    "ChapmanShaoxingNingbo",
    "ECGBuilder",
    "ECGBuilderConfig",
    "ECGDatasetInfo",
    "MimicIVECG",
    "PhysioNet2021",
    "label_names",
    "load_ecg_dataset",
]
