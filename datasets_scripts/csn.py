# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Chapman-Shaoxing-Ningbo (CSN) with MERL's splits: 10 s 500 Hz records, 38 classes."""

from pathlib import PurePosixPath

import datasets

from .merl_tasks import MERLTaskBuilder


RECORDS_FOLDER = "WFDBRecords"


class ChapmanShaoxingNingbo(MERLTaskBuilder):
    """
    The Chapman-Shaoxing-Ningbo 12-lead arrhythmia database (https://physionet.org/content/ecg-arrhythmia/1.0.0/):
    `WFDBRecords/NN/NNN/JSxxxxx.hea` + `.mat`. MERL's files name records `/chapman/WFDBRecords/.../JSxxxxx.mat`.
    """

    VERSION = datasets.Version("1.0.0")
    merl_task = ("chapman", "chapman", ["ecg_path", "age", "diagnose"])
    EXPECTED_LAYOUT = f"{RECORDS_FOLDER}/ (the database's NN/NNN/JSxxxxx.hea + .mat tree)"
    DESCRIPTION = "Chapman-Shaoxing-Ningbo 38-class classification on MERL's splits; 12 x 5000 float32 ECGs (mV)."
    HOMEPAGE = "https://physionet.org/content/ecg-arrhythmia/1.0.0/"
    LICENSE = "Creative Commons Attribution 4.0 (database); MIT (MERL split files)"

    def _split_records(self, data_dir, frame, tables):
        records = []
        for merl_path in frame["ecg_path"]:
            parts = PurePosixPath(merl_path).with_suffix("").parts
            relative = parts[parts.index(RECORDS_FOLDER) :]
            records.append({"path": str(data_dir.joinpath(*relative)), "record_id": relative[-1]})
        return records
