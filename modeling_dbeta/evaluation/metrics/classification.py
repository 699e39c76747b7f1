# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Multi-label classification metrics, per class and macro-averaged, computed with scikit-learn: AUROC, AUPRC and the
best-threshold F1.

AUROC alone flatters a model on rare classes (a class of 2 % prevalence can reach 0.9 AUROC at a precision far below
any use), so every protocol reports the area under the precision-recall curve beside it (scikit-learn's
`average_precision_score`, no interpolation); a class's AUPRC is compared with its prevalence, the AUPRC of random
scores, which is reported with it.

A class whose labels are all negative (or all positive) has no ROC curve: scikit-learn 1.9 returns NaN with a
warning, older versions raise. Such classes are reported as undefined (`None`) for both areas and left out of both
macro averages, so a small test split gives numbers together with the list of classes they do not cover.
"""

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def _as_multilabel_arrays(references, prediction_scores) -> tuple[np.ndarray, np.ndarray]:
    references = np.asarray(references)
    prediction_scores = np.asarray(prediction_scores, dtype=np.float64)
    if references.ndim != 2 or references.shape != prediction_scores.shape:
        raise ValueError(
            "`references` and `prediction_scores` must both have shape (num_examples, num_classes), got "
            f"{references.shape} and {prediction_scores.shape}."
        )
    if not np.isin(references, (0, 1)).all():
        raise ValueError("`references` must be multi-hot: every entry 0 or 1.")
    if not np.isfinite(prediction_scores).all():
        raise ValueError("`prediction_scores` contain NaN or infinite values.")
    return references.astype(np.int64), prediction_scores


def _label_names(label_names, num_classes: int) -> list[str]:
    if label_names is None:
        return [str(index) for index in range(num_classes)]
    if len(label_names) != num_classes:
        raise ValueError(f"Got {len(label_names)} label names for {num_classes} classes.")
    return [str(name) for name in label_names]


def _macro(per_class: dict[str, float | None]) -> float | None:
    defined = [value for value in per_class.values() if value is not None]
    return float(np.mean(defined)) if defined else None


def _per_class_areas(area, references: np.ndarray, prediction_scores: np.ndarray, names: list[str]) -> dict:
    """`{name: area(labels, scores)}`, `None` for a class whose labels hold a single value."""
    per_class = {}
    for index, name in enumerate(names):
        labels = references[:, index]
        defined = labels.min() != labels.max()
        per_class[name] = float(area(labels, prediction_scores[:, index])) if defined else None
    return per_class


def multilabel_auroc(references, prediction_scores, label_names=None) -> dict:
    """
    Per-class and macro AUROC.

    Args:
        references: `(num_examples, num_classes)` multi-hot labels.
        prediction_scores: `(num_examples, num_classes)` scores, higher meaning more likely (logits, probabilities
            or similarities alike: AUROC only uses their order).
        label_names: class names used as keys; the column indices as strings by default.

    Returns:
        `{"macro_auroc": float | None, "per_class_auroc": {name: float | None}, "undefined_classes": [name, ...]}`,
        where a class is undefined when its references hold a single value.
    """
    references, prediction_scores = _as_multilabel_arrays(references, prediction_scores)
    names = _label_names(label_names, references.shape[1])
    per_class = _per_class_areas(roc_auc_score, references, prediction_scores, names)
    return {
        "macro_auroc": _macro(per_class),
        "per_class_auroc": per_class,
        "undefined_classes": [name for name, value in per_class.items() if value is None],
    }


def classification_metrics(references, prediction_scores, label_names=None) -> dict:
    """
    What every classification protocol reports: per-class and macro AUROC and AUPRC, and each class's prevalence.

    Args: as [`multilabel_auroc`].

    Returns:
        `{"macro_auroc", "macro_auprc", "per_class_auroc", "per_class_auprc", "per_class_prevalence",
        "undefined_classes"}`; AUROC and AUPRC are `None` for the undefined classes (a single label value), which
        both macro averages leave out.
    """
    references, prediction_scores = _as_multilabel_arrays(references, prediction_scores)
    names = _label_names(label_names, references.shape[1])
    per_class_auroc = _per_class_areas(roc_auc_score, references, prediction_scores, names)
    per_class_auprc = _per_class_areas(average_precision_score, references, prediction_scores, names)
    return {
        "macro_auroc": _macro(per_class_auroc),
        "macro_auprc": _macro(per_class_auprc),
        "per_class_auroc": per_class_auroc,
        "per_class_auprc": per_class_auprc,
        "per_class_prevalence": dict(zip(names, references.mean(axis=0).tolist(), strict=True)),
        "undefined_classes": [name for name, value in per_class_auroc.items() if value is None],
    }


def max_f1(references, prediction_scores, label_names=None) -> dict:
    """
    Per-class F1 at the class's best decision threshold, and its macro average.

    The threshold is chosen on the data scored, so this is an optimistic summary meant for comparing models on the
    same split, not an operating point. A class without positive examples has no F1 and is reported as undefined.

    Returns:
        `{"macro_max_f1": float | None, "per_class_max_f1": {name: float | None},
        "per_class_threshold": {name: float | None}, "undefined_classes": [name, ...]}`; a class is positive when
        its score is >= its threshold.
    """
    references, prediction_scores = _as_multilabel_arrays(references, prediction_scores)
    names = _label_names(label_names, references.shape[1])
    per_class, thresholds = {}, {}
    for index, name in enumerate(names):
        labels = references[:, index]
        if not labels.any():
            per_class[name], thresholds[name] = None, None
            continue
        precision, recall, candidate_thresholds = precision_recall_curve(labels, prediction_scores[:, index])
        # The last precision/recall pair (recall 0) belongs to no threshold.
        precision, recall = precision[:-1], recall[:-1]
        denominator = precision + recall
        f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
        best = int(np.argmax(f1))
        per_class[name], thresholds[name] = float(f1[best]), float(candidate_thresholds[best])
    return {
        "macro_max_f1": _macro(per_class),
        "per_class_max_f1": per_class,
        "per_class_threshold": thresholds,
        "undefined_classes": [name for name, value in per_class.items() if value is None],
    }


__all__ = ["classification_metrics", "max_f1", "multilabel_auroc"]
