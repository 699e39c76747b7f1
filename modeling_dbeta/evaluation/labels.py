# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Class names and multi-hot labels of a labelled ECG data set. The names travel with the data (the `classes` column of
the data set builders is a list of `ClassLabel`s), so scores are always matched to classes by name, never by a
column order assumed elsewhere.
"""

from collections.abc import Sequence

import datasets
import numpy as np


def describe_dataset(dataset: datasets.Dataset) -> str:
    """How messages name a data set: "the test split of ptb_xl (super_class)", or "the data set" when in memory."""
    info, split = dataset.info, dataset.split
    if not info.builder_name:
        return "the data set" if split is None else f"the {split} split"
    name = info.builder_name + ("" if info.config_name in (None, "default") else f" ({info.config_name})")
    return name if split is None else f"the {split} split of {name}"


def require_labels(dataset: datasets.Dataset):
    """A clear error for a data set without the `labels` column the classification protocols score."""
    if "labels" not in dataset.column_names:
        raise ValueError(
            f"No `labels` column in {describe_dataset(dataset)} (its columns: {', '.join(dataset.column_names)}): "
            "this protocol scores labelled ECGs; pass a labelled data set (--dataset ptb-xl, cpsc2018, csn, "
            "code-test, physionet2021, synthetic)."
        )


def class_names(dataset: datasets.Dataset, label_names: Sequence[str] | None = None) -> list[str]:
    """`label_names` when given, else the names of the data set's `classes` feature, in the order of `labels`."""
    require_labels(dataset)
    if label_names is not None:
        return [str(name) for name in label_names]
    classes = dataset.features.get("classes")
    if not isinstance(getattr(classes, "feature", None), datasets.ClassLabel):
        raise ValueError(
            "The data set carries no class names (a `classes` column of `ClassLabel`s, as the ECG data set builders "
            "write it): pass `label_names`, one per column of `labels`."
        )
    return list(classes.feature.names)


def multi_hot_labels(dataset: datasets.Dataset, num_classes: int) -> np.ndarray:
    """The `labels` column as a `(num_rows, num_classes)` float32 array."""
    require_labels(dataset)
    labels = np.asarray(dataset.with_format("numpy", columns=["labels"])["labels"], dtype=np.float32)
    if labels.shape != (len(dataset), num_classes):
        raise ValueError(f"`labels` has shape {labels.shape}, expected ({len(dataset)}, {num_classes}).")
    return labels


__all__ = ["class_names", "describe_dataset", "multi_hot_labels", "require_labels"]
