# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
A split read straight from its raw files, one record whenever a batch asks for it, without a prepared copy.

Why a map-style data set and not `datasets`' streaming form: a streamed (`IterableDataset`) split is read in
record-list order, which for MIMIC-IV-ECG is patient order, so it must be shuffled through a buffer; but
`IterableDataset.state_dict()` does not hold the buffer's content ("the shuffle buffer will be refilled", datasets
5.2), so a shuffled stream cannot resume exactly after a pre-emption without being read again from the start. Raw
WFDB records are files, open to random access: listed in a map-style data set, they are shuffled by the Trainer's
seeded sampler (a new permutation every epoch, the same one after a resume), a resume skips to its batch without
reading a record, and every rank and DataLoader worker reads only its own records.

A record that turns out unreadable (the builders' bad-record rules, `modeling_dbeta.recording`) is logged with its
reason and given as `None`, which `DataCollatorForDBetaPretraining` leaves out of its batch.
"""

import os

import torch
from transformers.utils import logging

from modeling_dbeta.recording import BadRecord

from .loading import ECG_BUILDERS


logger = logging.get_logger(__name__)


class RawECGRecords(torch.utils.data.Dataset):
    """
    The records of one split of an ECG builder, each built from its raw files on access by the builder's own
    `_build_example` (the examples are those `load_ecg_dataset` would prepare, value for value).
    """

    def __init__(self, builder, split: str):
        records = builder._records_by_split()
        if builder.bad_rows.counts:
            logger.warning(f"{builder.name}: table rows dropped listing the records: {builder.bad_rows.summary()}")
        if split not in records:
            raise ValueError(f"{builder.name} has no split {split!r}; its splits are {sorted(records)}.")
        self.builder = builder
        self.split = split
        self.records = records[split]
        self.column_names = list(builder.info.features)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict | None:
        repairs = []
        try:
            return self.builder._build_example(self.records[index], repairs)
        except BadRecord as error:
            logger.warning(f"Skipped {self.builder.name} {self.split} record {index}: {error}")
            return None
        except Exception as error:  # noqa: BLE001 (as in the builders: one bad file never ends the run)
            logger.warning(f"Skipped {self.builder.name} {self.split} record {index} (unexpected_error): {error!r}")
            return None


def load_raw_ecg_records(path: str, name: str | None = None, data_dir=None, split: str = "train", **config_kwargs):
    """`RawECGRecords` of a `load_ecg_dataset` data set (same names and config fields); nothing is prepared."""
    if path not in ECG_BUILDERS:
        raise ValueError(f"Unknown ECG data set {path!r}; available: {sorted(ECG_BUILDERS)}.")
    if data_dir is not None:
        data_dir = os.path.abspath(os.path.expanduser(data_dir))
    return RawECGRecords(ECG_BUILDERS[path](config_name=name, data_dir=data_dir, **config_kwargs), split)


__all__ = ["RawECGRecords", "load_raw_ecg_records"]
