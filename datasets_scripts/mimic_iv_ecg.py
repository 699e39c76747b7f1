# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
MIMIC-IV-ECG v1.0: ECG-report pairs for pretraining (machine statements `report_0`..`report_17` joined in order).

`read_machine_measurements` is the one reading of `machine_measurements.csv`, shared with `train/build_n3s_index.py`
so that the N3S index holds exactly the reports the pairs are built from. Table rows that cannot be used (rules of
`tables.py`: cut or malformed rows, blank or non-numeric ids, a path outside `data_dir`, a repeated study) are dropped
and counted in `info.bad_rows`; a record left without a usable report is skipped as `no_report_row`, one whose study
has several different reports as `conflicting_reports`. Each study is one pair, however often its rows repeat.
"""

from dataclasses import dataclass, field
from pathlib import Path

import datasets

from modeling_dbeta import join_statements, normalize_report
from modeling_dbeta.recording import BadRecord, clean_text
from modeling_dbeta.wfdb_reader import read_wfdb

from .builder import (
    ECGBuilder,
    ECGBuilderConfig,
    ECGDatasetInfo,
    ecg_dataset_schema,
    path_inside,
    require_data_dir,
)
from .splits import check_fraction, group_split
from .tables import BadRows, find_table, parse_id, read_table


logger = datasets.logging.get_logger(__name__)

NUM_REPORT_COLUMNS = 18
REPORT_COLUMNS = [f"report_{index}" for index in range(NUM_REPORT_COLUMNS)]
RECORD_LIST_COLUMNS = ["subject_id", "study_id", "path"]


@dataclass
class MachineMeasurements:
    """{study_id: its statements joined (undecodable bytes still U+FFFD)}, and the studies with conflicting rows."""

    reports: dict[int, str] = field(default_factory=dict)
    conflicting: set[int] = field(default_factory=set)

    def problem(self, study_id: int) -> str | None:
        """Why a study has no usable report (`conflicting_reports`, `no_report_row`), or `None`."""
        if study_id in self.conflicting:
            return "conflicting_reports"
        return "no_report_row" if study_id not in self.reports else None


def report_columns(header: list[str], path: Path) -> list[str]:
    """The statement columns, which must be `report_0`..`report_k` without a gap (a gap would reorder the text)."""
    present = [column for column in REPORT_COLUMNS if column in header]
    if present != REPORT_COLUMNS[: len(present)]:
        missing = [column for column in REPORT_COLUMNS[: REPORT_COLUMNS.index(present[-1])] if column not in present]
        raise ValueError(
            f"{path} has {present} but lacks {missing} between them: the report joins the statements in order, so "
            "a gap would change it. Use MIMIC-IV-ECG's full machine_measurements.csv (report_0 .. report_17)."
        )
    if len(present) < NUM_REPORT_COLUMNS:
        logger.warning(
            f"{path} has the statement columns report_0 .. report_{len(present) - 1} only (MIMIC-IV-ECG has 18): "
            "reports are those joined."
        )
    return present


def read_machine_measurements(path: Path, bad_rows: BadRows) -> MachineMeasurements:
    """
    Every study's report from MIMIC-IV-ECG's `machine_measurements.csv` (`report_0`.. joined by `join_statements`);
    the rows dropped are counted in `bad_rows`.
    """
    table = read_table(path, ["study_id", "report_0"], optional=REPORT_COLUMNS[1:])
    statement_columns = report_columns(table.header, path)
    measurements = MachineMeasurements()
    for row in range(len(table)):
        line = table.lines[row]
        if row in table.problems:
            bad_rows.add(path, table.problems[row], line)
            continue
        study_id, problem = parse_id(table.columns["study_id"][row])
        if problem:
            bad_rows.add(path, problem, line)
            continue
        report = join_statements(table.columns[column][row] for column in statement_columns)
        if study_id in measurements.reports:
            bad_rows.add(path, "duplicate_row", line)
            if measurements.reports[study_id] != report:
                measurements.conflicting.add(study_id)
            continue
        measurements.reports[study_id] = report
    return measurements


@dataclass
class MimicIVECGConfig(ECGBuilderConfig):
    """
    Args:
        validation_fraction (`float`, defaults to 0.01): share of patients held out as the validation split, in
            [0, 1); a patient's records are all on one side. With 0 there is no validation split.
        seed (`int`, defaults to 42): seed of the patient-level split.
    """

    validation_fraction: float = 0.01
    seed: int = 42

    def __post_init__(self):
        super().__post_init__()
        check_fraction("validation_fraction", self.validation_fraction)


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
            features=ecg_dataset_schema(
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
        record_list_path = find_table(data_dir, "record_list.csv")
        measurements = read_machine_measurements(find_table(data_dir, "machine_measurements.csv"), self.bad_rows)
        table = read_table(record_list_path, RECORD_LIST_COLUMNS)
        records, seen = [], set()
        for row in range(len(table)):
            line = table.lines[row]
            if row in table.problems:
                self.bad_rows.add(record_list_path, table.problems[row], line)
                continue
            (subject_id, subject_problem), (study_id, study_problem) = (
                parse_id(table.columns[column][row]) for column in ("subject_id", "study_id")
            )
            relative = table.columns["path"][row]
            path = path_inside(data_dir, relative)
            problem = subject_problem or study_problem
            if not problem and path is None:
                problem = "unsafe_path" if relative.strip() else "blank_path"
            if not problem and study_id in seen:
                problem = "duplicate_row"
            if problem:
                self.bad_rows.add(record_list_path, problem, line)
                continue
            seen.add(study_id)
            # A record whose report is missing or ambiguous is skipped (and counted) when generated.
            report = measurements.reports.get(study_id)
            records.append(
                {
                    "path": str(path),
                    "report": report,
                    "problem": measurements.problem(study_id),
                    "subject_id": subject_id,
                    "study_id": study_id,
                }
            )
        subjects = [record["subject_id"] for record in records]
        is_validation = group_split(subjects, self.config.validation_fraction, self.config.seed)
        return {
            "train": [record for record, held_out in zip(records, is_validation, strict=True) if not held_out],
            "validation": [record for record, held_out in zip(records, is_validation, strict=True) if held_out],
        }

    def _build_example(self, record, repairs):
        if record["problem"]:
            raise BadRecord(record["problem"], f"study {record['study_id']} in machine_measurements.csv")
        report = normalize_report(clean_text(record["report"], repairs))
        if not report:
            raise BadRecord("empty_report", f"{record['path']} has no machine statement")
        example = self._prepare(read_wfdb(record["path"]), repairs)
        example.update(report=report, subject_id=record["subject_id"], study_id=record["study_id"])
        return example
