# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""PTB-XL with MERL's splits and labels for the superclass, subclass, form and rhythm tasks."""

from typing import ClassVar

import datasets

from modeling_dbeta.recording import clean_text

from .builder import ECGBuilderConfig, path_inside
from .merl_tasks import MERLTaskBuilder
from .tables import find_table, parse_id, read_table


TASKS = ("super_class", "sub_class", "form", "rhythm")
DATABASE_COLUMNS = ["ecg_id", "report"]


class PTBXL(MERLTaskBuilder):
    """
    PTB-XL (https://physionet.org/content/ptb-xl/1.0.3/): 10 s 12-lead records at 500 Hz (`records500/`). MERL's
    split files choose the records and give the labels; the free-text `report` (German or English) comes from
    `ptbxl_database.csv`. The config name (`super_class`, `sub_class`, `form`, `rhythm`) picks the task.
    """

    BUILDER_CONFIGS: ClassVar[list[ECGBuilderConfig]] = [
        ECGBuilderConfig(name=task, description=f"PTB-XL {task} statements") for task in TASKS
    ]
    DEFAULT_CONFIG_NAME = "super_class"
    VERSION = datasets.Version("1.0.0")
    EXPECTED_LAYOUT = "ptbxl_database.csv and records500/"
    DESCRIPTION = "PTB-XL statement classification on MERL's splits; 12 x 5000 float32 ECGs (mV, 500 Hz)."
    HOMEPAGE = "https://physionet.org/content/ptb-xl/1.0.3/"
    LICENSE = "Creative Commons Attribution 4.0 (PTB-XL); MIT (MERL split files)"
    CITATION = "Wagner et al., PTB-XL, a large publicly available electrocardiography dataset, Sci Data 2020."

    @property
    def merl_task(self):
        task = self.config.name
        return (
            f"ptbxl/{task}",
            f"ptbxl_{task}",
            ["ecg_id", "patient_id", "strat_fold", "filename_lr", "filename_hr", task],
        )

    def _extra_features(self):
        return {
            "ecg_id": datasets.Value("int64"),
            "patient_id": datasets.Value("int64"),
            "strat_fold": datasets.Value("int8"),
            "report": datasets.Value("string"),
        }

    def _read_tables(self, data_dir) -> dict[int, str]:
        """{ecg_id: free-text report} from `ptbxl_database.csv`; unreadable rows are counted in `bad_rows`."""
        database_path = find_table(data_dir, "ptbxl_database.csv")
        database = read_table(database_path, DATABASE_COLUMNS)
        reports = {}
        for row in range(len(database)):
            ecg_id, problem = parse_id(database.columns["ecg_id"][row])
            problem = database.problems.get(row) or problem or ("duplicate_row" if ecg_id in reports else None)
            if problem:
                self.bad_rows.add(database_path, problem, database.lines[row])
                continue
            reports[ecg_id] = database.columns["report"][row]
        return reports

    def _split_records(self, data_dir, frame, reports):
        return [
            {
                "path": str(path_inside(data_dir, row.filename_hr)),
                "ecg_id": int(row.ecg_id),
                "patient_id": int(row.patient_id),
                "strat_fold": int(row.strat_fold),
                "report": reports.get(row.ecg_id, ""),
            }
            for row in frame.itertuples(index=False)
        ]

    def _build_example(self, record, repairs):
        example = super()._build_example(record, repairs)
        example["report"] = clean_text(example["report"], repairs)
        return example
