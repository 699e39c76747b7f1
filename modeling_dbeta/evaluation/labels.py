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


def class_names(dataset: datasets.Dataset, label_names: Sequence[str] | None = None) -> list[str]:
    """`label_names` when given, else the names of the data set's `classes` feature, in the order of `labels`."""
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
    if "labels" not in dataset.column_names:
        raise ValueError(f"The data set has no `labels` column; its columns are {dataset.column_names}.")
    labels = np.asarray(dataset.with_format("numpy", columns=["labels"])["labels"], dtype=np.float32)
    if labels.shape != (len(dataset), num_classes):
        raise ValueError(f"`labels` has shape {labels.shape}, expected ({len(dataset)}, {num_classes}).")
    return labels


__all__ = ["class_names", "multi_hot_labels"]
