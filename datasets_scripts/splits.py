# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Where the splits come from: MERL's published split files (shipped with this package) and seeded group splits."""

from importlib.resources import files

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit


MERL_SPLIT_NAMES = {"train": "train", "validation": "val", "test": "test"}


def merl_split_path(folder: str, prefix: str, split: str):
    """The packaged MERL split file, e.g. `merl_splits/ptbxl/form/ptbxl_form_test.csv`."""
    return files(__package__).joinpath("merl_splits", folder, f"{prefix}_{MERL_SPLIT_NAMES[split]}.csv")


def read_merl_split(
    folder: str, prefix: str, split: str, metadata_columns: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """
    One MERL split file and its label columns (every column that is not metadata), read by name: the files do not
    share a column order (e.g. PTB-XL sub_class train vs. test).
    """
    path = merl_split_path(folder, prefix, split)
    with path.open("rb") as handle:
        frame = pd.read_csv(handle)
    missing = [column for column in metadata_columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"MERL split file {path} lacks the column(s) {missing}; it should start with {metadata_columns}."
        )
    return frame, [column for column in frame.columns if column not in metadata_columns]


def merl_class_names(folder: str, prefix: str, metadata_columns: list[str]) -> list[str]:
    """The class names of a MERL task in the order of its training file; other splits are checked to match as sets."""
    _, names = read_merl_split(folder, prefix, "train", metadata_columns)
    for split in ("validation", "test"):
        _, other = read_merl_split(folder, prefix, split, metadata_columns)
        if set(other) != set(names):
            raise ValueError(
                f"MERL {folder} {split} labels {sorted(other)} differ from the training labels {sorted(names)}."
            )
    return names


def multi_hot(frame: pd.DataFrame, class_names: list[str]) -> np.ndarray:
    """(rows, classes) float32 labels taken from the frame's columns by name."""
    return frame[class_names].to_numpy(dtype=np.float32)


def check_fraction(name: str, value: float) -> None:
    """A held-out share must be in [0, 1): 0 leaves the split out, 1 would leave nothing to train on."""
    if not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1) (0 means no such split), got {value!r}.")


def group_split(groups, validation_fraction: float, seed: int) -> np.ndarray:
    """
    A boolean "is validation" mask over rows such that every group (e.g. a patient) lies on one side; the same
    groups and seed always give the same split. A fraction of 0 (or no rows) holds nothing out.
    """
    groups = np.asarray(groups)
    if validation_fraction <= 0 or len(groups) == 0:
        return np.zeros(len(groups), dtype=bool)
    if validation_fraction >= 1:
        return np.ones(len(groups), dtype=bool)
    splitter = GroupShuffleSplit(n_splits=1, test_size=validation_fraction, random_state=seed)
    try:
        _, validation_rows = next(splitter.split(np.zeros(len(groups)), groups=groups))
    except ValueError as error:  # e.g. too few groups for the fraction to leave any for training
        raise ValueError(
            f"Cannot hold out {validation_fraction:g} of {len(np.unique(groups))} groups (patients / records): "
            f"{error} Lower the fraction or set it to 0."
        ) from None
    is_validation = np.zeros(len(groups), dtype=bool)
    is_validation[validation_rows] = True
    return is_validation


__all__ = ["check_fraction", "group_split", "merl_class_names", "merl_split_path", "multi_hot", "read_merl_split"]
