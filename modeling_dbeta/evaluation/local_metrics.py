# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Our metrics as local `evaluate` modules. `evaluate.load("roc_auc")` fetches its script from the Hub and fails
offline; a metric folder shipped in this package loads from disk.
"""

from pathlib import Path

import evaluate


LOCAL_METRICS_DIR = Path(__file__).with_name("metrics")
LOCAL_METRICS = ("multilabel_auroc", "max_f1", "retrieval", "physionet2021_challenge")


def local_metric_path(name: str) -> str:
    """The folder to pass to `evaluate.load` for one of `LOCAL_METRICS`."""
    if name not in LOCAL_METRICS:
        raise ValueError(f"Unknown metric {name!r}; the local metrics are {', '.join(LOCAL_METRICS)}.")
    return str(LOCAL_METRICS_DIR / name)


def load_metric(name: str, **kwargs) -> evaluate.EvaluationModule:
    """`evaluate.load` of one of our local metrics; `kwargs` go to `evaluate.load` (e.g. `experiment_id`)."""
    return evaluate.load(local_metric_path(name), **kwargs)


__all__ = ["LOCAL_METRICS", "LOCAL_METRICS_DIR", "load_metric", "local_metric_path"]
