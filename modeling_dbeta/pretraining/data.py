# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""The ECG-report pairs a pretraining run reads, and the N3S index of their reports."""

from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import TrainingArguments
from transformers.utils import logging

from ..n3s import N3SIndex
from .arguments import PretrainingDataArguments
from .models import resolve_encoder


logger = logging.get_logger(__name__)

PAIR_COLUMNS = ("ecg", "ecg_scale", "report")


def pretraining_pairs(dataset, description: str):
    """
    The columns pretraining reads (`ecg`, `ecg_scale` for int16 storage, `report`) of a prepared split, as NumPy
    arrays; a split read from raw records (anything with `column_names` that is not a `datasets.Dataset`) as it is.
    """
    if "report" not in dataset.column_names:
        raise ValueError(
            f"{description} has no `report` column (its columns: {dataset.column_names}): pretraining needs "
            "ECG-report pairs, e.g. --dataset mimic-iv-ecg or synthetic."
        )
    if isinstance(dataset, datasets.Dataset):
        columns = [column for column in PAIR_COLUMNS if column in dataset.column_names]
        return dataset.select_columns(columns).with_format("numpy")
    return dataset


def evaluation_subset(dataset, max_samples: int | None, seed: int):
    """A fixed random subset of `max_samples` rows (all rows when `None`): the record list is in patient order."""
    if max_samples is None or max_samples >= len(dataset):
        return dataset
    rows = np.sort(np.random.default_rng(seed).permutation(len(dataset))[:max_samples])
    if isinstance(dataset, datasets.Dataset):
        return dataset.select(rows)
    return torch.utils.data.Subset(dataset, rows.tolist())


def load_or_build_n3s_index(
    data_args: PretrainingDataArguments, training_args: TrainingArguments, *splits
) -> N3SIndex | None:
    """
    The N3S index in `--n3s_index_dir` (default `<output_dir>/n3s`): loaded if built before, otherwise built once (by
    the main process) from the reports of the prepared `splits` (training and evaluation: evaluation batches draw
    their negatives from it too) and saved there. Raw records are not read twice for it: build their index from the
    data set's report table with `train/build_n3s_index.py`.
    """
    if not data_args.use_n3s:
        return None
    index_dir = Path(data_args.n3s_index_dir or Path(training_args.output_dir) / "n3s")
    with training_args.main_process_first(desc="N3S index"):
        if not (index_dir / "n3s_config.json").is_file():
            prepared = [split for split in splits if isinstance(split, datasets.Dataset)]
            if len(prepared) < len([split for split in splits if split is not None]):
                raise ValueError(
                    f"No N3S index at {index_dir}: with --raw_records, build it once with train/build_n3s_index.py "
                    "(e.g. from MIMIC-IV-ECG's machine_measurements.csv) and pass --n3s_index_dir."
                )
            reports = [report for split in prepared for report in split["report"]]
            logger.info(f"Building the N3S index of {len(reports)} reports with {data_args.n3s_encoder} ...")
            N3SIndex.build(reports, resolve_encoder(data_args.n3s_encoder)).save(index_dir)
        return N3SIndex.load(index_dir)


__all__ = ["evaluation_subset", "load_or_build_n3s_index", "pretraining_pairs"]
