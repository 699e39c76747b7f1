# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The metrics of the evaluation protocols, in one place: the library computes every reported number with these
functions, and the local `evaluate` modules (`evaluate_modules/<name>/<name>.py`, loaded with `load_metric`) are thin
wrappers over the same functions for people who prefer `evaluate`'s `add_batch` / `compute` interface.

- `classification`: AUROC, AUPRC and prevalence per class and macro-averaged; the best-threshold F1.
- `retrieval`: recall@k and median rank, ECG -> report and report -> ECG.
- `challenge`: the PhysioNet/CinC 2021 challenge score.
"""

from pathlib import Path

from .challenge import SINUS_RHYTHM, ChallengeWeights, physionet2021_challenge_score
from .classification import classification_metrics, max_f1, multilabel_auroc
from .retrieval import retrieval_metrics


# `evaluate.load("roc_auc")` fetches its script from the Hub and fails offline; these folders load from disk.
LOCAL_METRICS_DIR = Path(__file__).with_name("evaluate_modules")
LOCAL_METRICS = ("multilabel_classification", "max_f1", "retrieval", "physionet2021_challenge")


def local_metric_path(name: str) -> str:
    """The folder to pass to `evaluate.load` for one of `LOCAL_METRICS`."""
    if name not in LOCAL_METRICS:
        raise ValueError(f"Unknown metric {name!r}; the local metrics are {', '.join(LOCAL_METRICS)}.")
    return str(LOCAL_METRICS_DIR / name)


def load_metric(name: str, **kwargs):
    """`evaluate.load` of one of our local metrics; `kwargs` go to `evaluate.load` (e.g. `experiment_id`)."""
    import evaluate  # takes seconds to import; only this function needs it

    return evaluate.load(local_metric_path(name), **kwargs)


__all__ = [
    "LOCAL_METRICS",
    "LOCAL_METRICS_DIR",
    "SINUS_RHYTHM",
    "ChallengeWeights",
    "classification_metrics",
    "load_metric",
    "local_metric_path",
    "max_f1",
    "multilabel_auroc",
    "physionet2021_challenge_score",
    "retrieval_metrics",
]
