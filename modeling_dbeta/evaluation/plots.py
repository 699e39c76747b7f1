# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
ROC and training-loss curves as PNG. Drawn on a bare `matplotlib.figure.Figure` (Agg canvas), so nothing depends on
a display or on pyplot's global state.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import auc, roc_curve


def plot_roc_curves(
    references, prediction_scores, label_names: Sequence[str], path: str | Path, title: str | None = None
) -> Path:
    """
    One ROC curve per class, labelled with its AUROC, in a single PNG. Classes whose references hold a single value
    have no curve and are left out, as from the macro AUROC.
    """
    references, prediction_scores = np.asarray(references), np.asarray(prediction_scores)
    figure = Figure(figsize=(7.5, 6.5), layout="constrained")
    axes = figure.subplots()
    for index, name in enumerate(label_names):
        labels = references[:, index]
        if labels.min() == labels.max():
            continue
        false_positive_rate, true_positive_rate, _ = roc_curve(labels, prediction_scores[:, index])
        area = auc(false_positive_rate, true_positive_rate)
        axes.plot(false_positive_rate, true_positive_rate, linewidth=1.2, label=f"{name} ({area:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", linewidth=0.8, color="grey")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate", title=title)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(title="Class (AUROC)", fontsize="small", loc="lower right", ncols=1 + len(label_names) // 20)
    path = Path(path)
    figure.savefig(path, dpi=150)
    return path


def plot_loss_curves(log_history: Sequence[dict], path: str | Path, title: str | None = None) -> Path:
    """
    The training loss and each objective D-BETA logs (`DBetaTrainer`) against the step, from
    `trainer.state.log_history`, in a single PNG; the ETM accuracy on a second axis.
    """
    entries = [entry for entry in log_history if "loss" in entry and "step" in entry]
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    for name in ("loss", "mlm_loss", "mem_loss", "etm_loss", "ets_loss"):
        points = [(entry["step"], entry[name]) for entry in entries if name in entry]
        if points:
            axes.plot(*zip(*points, strict=True), linewidth=1.5 if name == "loss" else 1.0, label=name)
    axes.set(xlabel="Step", ylabel="Loss (log scale)", yscale="log", title=title)
    handles, labels = axes.get_legend_handles_labels()
    accuracy = [(entry["step"], entry["etm_accuracy"]) for entry in entries if "etm_accuracy" in entry]
    if accuracy:
        right = axes.twinx()
        right.plot(*zip(*accuracy, strict=True), linestyle=":", color="black", label="etm_accuracy")
        right.set(ylabel="ETM accuracy", ylim=(0, 1))
        handles, labels = handles + right.get_legend_handles_labels()[0], [*labels, "etm_accuracy"]
    if handles:  # one legend, beside the plot, so that it hides no curve
        axes.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.1, 1.0), fontsize="small")
    path = Path(path)
    figure.savefig(path, dpi=150)
    return path


__all__ = ["plot_loss_curves", "plot_roc_curves"]
