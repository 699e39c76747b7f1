# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""CPSC2018 (ICBEB 2018 challenge) with MERL's splits: variable-length 500 Hz records, 9 classes."""

from dataclasses import dataclass

import datasets

from .builder import ECGBuilderConfig
from .merl_tasks import MERLTaskBuilder


@dataclass
class CPSC2018Config(ECGBuilderConfig):
    """
    Args:
        keep_samples (`int`, defaults to 2500): samples kept from the start of each record (at 500 Hz) before
            zero-padding to 5000. CPSC records last 6-60 s; the D-BETA / MERL protocol keeps the first 2500 (5 s).
            5000 keeps the first 10 s.
    """

    keep_samples: int = 2500


class CPSC2018(MERLTaskBuilder):
    """
    CPSC2018 (http://2018.icbeb.org/Challenge.html) in the WFDB form of the PhysioNet challenges (`A0001.hea` +
    `A0001.mat`), found by record name anywhere under `data_dir` (flat, or the 2021 challenge's `g1/`..`g7/`).
    """

    BUILDER_CONFIG_CLASS = CPSC2018Config
    VERSION = datasets.Version("1.0.0")
    merl_task = ("icbeb", "icbeb", ["patient_id", "ecg_id", "filename", "validation", "age", "sex", "scp_codes"])
    EXPECTED_LAYOUT = "the CPSC2018 records A0001.hea/.mat .. A6877.hea/.mat (in any sub-directories)"
    DESCRIPTION = "CPSC2018 9-class classification on MERL's splits; 12 x 5000 float32 ECGs (mV, 500 Hz)."
    HOMEPAGE = "http://2018.icbeb.org/Challenge.html"
    LICENSE = "Creative Commons Attribution 4.0 (PhysioNet/CinC Challenge 2020 release); MIT (MERL split files)"

    def _split_records(self, data_dir, frame, tables):
        headers = {path.stem: path for path in data_dir.rglob("*.hea")}
        return [
            {"path": str(headers.get(name, data_dir / f"{name}.hea")), "record_id": name} for name in frame["filename"]
        ]

    def _prepare(self, recording, repairs):
        example = super()._prepare(recording, repairs)
        example["ecg"][:, self.config.keep_samples :] = 0.0
        return example
