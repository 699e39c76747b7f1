# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""MIMIC-IV-ECG v1.0: ECG-report pairs for pretraining (machine statements `report_0`..`report_17` joined in order)."""

from dataclasses import dataclass

import datasets
import pandas as pd

from modeling_dbeta import join_statements, normalize_report

from .builder import (
    ECGBuilder,
    ECGBuilderConfig,
    ECGDatasetInfo,
    ecg_features,
    require_columns,
    require_data_dir,
    require_file,
)
from modeling_dbeta.recording import BadRecord, clean_text
from .splits import group_split
from modeling_dbeta.wfdb_reader import read_wfdb


NUM_REPORT_COLUMNS = 18
REPORT_COLUMNS = [f"report_{index}" for index in range(NUM_REPORT_COLUMNS)]
RECORD_LIST_COLUMNS = ["subject_id", "study_id", "path"]


@dataclass
class MimicIVECGConfig(ECGBuilderConfig):
    """
    Args:
        validation_fraction (`float`, defaults to 0.01): share of patients held out as the validation split; a
            patient's records are all on one side.
        seed (`int`, defaults to 42): seed of the patient-level split.
    """

    validation_fraction: float = 0.01
    seed: int = 42


class MimicIVECG(ECGBuilder):
    """
    MIMIC-IV-ECG (https://physionet.org/content/mimic-iv-ecg/1.0/): ~800 k 10 s 12-lead records at 500 Hz with the
    cart's machine statements. Leads are reordered by the header's names (MIMIC stores aVF before aVL).
    """

    BUILDER_CONFIG_CLASS = MimicIVECGConfig
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        return ECGDatasetInfo(
            description="MIMIC-IV-ECG ECG-report pairs: 12 x 5000 float32 ECGs (mV, 500 Hz) and normalised reports.",
            homepage="https://physionet.org/content/mimic-iv-ecg/1.0/",
            license="Open Data Commons Open Database License v1.0",
            features=ecg_features(
                self.config.storage,
                report=datasets.Value("string"),
                subject_id=datasets.Value("int64"),
                study_id=datasets.Value("int64"),
            ),
        )

    def _records_by_split(self):
        data_dir = require_data_dir(
            self.config.data_dir, "mimic-iv-ecg", "record_list.csv, machine_measurements.csv and files/"
        )
        record_list_path = require_file(data_dir / "record_list.csv", "MIMIC-IV-ECG's record list")
        measurements_path = require_file(data_dir / "machine_measurements.csv", "MIMIC-IV-ECG's machine measurements")

        record_list = pd.read_csv(record_list_path, usecols=lambda column: column in RECORD_LIST_COLUMNS)
        require_columns(record_list, RECORD_LIST_COLUMNS, record_list_path)
        measurements = pd.read_csv(
            measurements_path,
            usecols=lambda column: column == "study_id" or column in REPORT_COLUMNS,
            dtype=str,
            encoding_errors="replace",
        )
        require_columns(measurements, ["study_id", "report_0"], measurements_path)
        statement_columns = [column for column in REPORT_COLUMNS if column in measurements.columns]
        measurements["report"] = [join_statements(row) for row in measurements[statement_columns].itertuples(False)]
        measurements["study_id"] = measurements["study_id"].astype("int64")

        # A record without a measurements row keeps an empty report and is skipped (and counted) when generated.
        pairs = record_list.merge(measurements[["study_id", "report"]], on="study_id", how="left")
        pairs["report"] = pairs["report"].fillna("")
        pairs["path"] = [str(data_dir / path) for path in pairs["path"]]
        is_validation = group_split(pairs["subject_id"], self.config.validation_fraction, self.config.seed)
        records = pairs[["path", "report", "subject_id", "study_id"]].to_dict("records")
        return {
            "train": [record for record, held_out in zip(records, is_validation) if not held_out],
            "validation": [record for record, held_out in zip(records, is_validation) if held_out],
        }

    def _build_example(self, record, repairs):
        report = normalize_report(clean_text(record["report"], repairs))
        if not report:
            raise BadRecord("empty_report", f"{record['path']} has no machine statement")
        example = self._prepare(read_wfdb(record["path"]), repairs)
        example.update(report=report, subject_id=record["subject_id"], study_id=record["study_id"])
        return example
