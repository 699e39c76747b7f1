# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Base of the builders whose records and labels come from MERL's split files and whose signals are WFDB records."""

from functools import cached_property
from pathlib import Path

import datasets
import pandas as pd

from modeling_dbeta.wfdb_reader import read_wfdb

from .builder import (
    ECGBuilder,
    ECGDatasetInfo,
    ecg_dataset_schema,
    label_columns,
    label_features,
    require_data_dir,
)
from .splits import MERL_SPLIT_NAMES, merl_class_names, multi_hot, read_merl_split


class MERLTaskBuilder(ECGBuilder):
    """Subclasses name their MERL split files (`merl_task`) and turn a split-file row into a record."""

    EXPECTED_LAYOUT: str
    DESCRIPTION: str
    HOMEPAGE: str
    LICENSE: str
    CITATION: str = ""

    @property
    def merl_task(self) -> tuple[str, str, list[str]]:
        """(folder under `merl_splits/`, file prefix, metadata columns: every other column is a label)."""
        raise NotImplementedError

    @cached_property
    def class_names(self) -> list[str]:
        return merl_class_names(*self.merl_task)

    def _extra_features(self) -> dict:
        return {"record_id": datasets.Value("string")}

    def _read_tables(self, data_dir: Path):
        """The source's own tables that `_split_records` needs, read once for all splits (none by default)."""

    def _split_records(self, data_dir: Path, frame: pd.DataFrame, tables) -> list[dict]:
        """
        One dict per split-file row: `path` (the WFDB record) and the values of `_extra_features`; `tables` is what
        `_read_tables` returned.
        """
        raise NotImplementedError

    def _info(self):
        return ECGDatasetInfo(
            description=self.DESCRIPTION,
            homepage=self.HOMEPAGE,
            license=self.LICENSE,
            citation=self.CITATION,
            features=ecg_dataset_schema(
                self.config.storage, **label_features(self.class_names), **self._extra_features()
            ),
        )

    def _records_by_split(self):
        data_dir = require_data_dir(self.config.data_dir, self.name, self.EXPECTED_LAYOUT)
        folder, prefix, metadata_columns = self.merl_task
        records_by_split = {}
        tables = self._read_tables(data_dir)
        for split in MERL_SPLIT_NAMES:
            frame, _ = read_merl_split(folder, prefix, split, metadata_columns)
            records = self._split_records(data_dir, frame, tables)
            for record, labels in zip(records, multi_hot(frame, self.class_names), strict=True):
                record["labels"] = labels
            records_by_split[split] = records
        return records_by_split

    def _build_example(self, record, repairs):
        columns = dict(record)
        example = self._prepare(read_wfdb(columns.pop("path")), repairs)
        example.update(label_columns(columns.pop("labels"), self.class_names), **columns)
        return example
