# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Zero-shot classification as in the paper: the text tower encodes one description per class, each ECG is scored
against every class by the dot product of its unimodal ECG features with the class's text features, and each class's
scores are summarised by their AUROC and AUPRC. No label of the data set is used for anything but these numbers.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import datasets
import numpy as np

from .features import extract_ecg_features, extract_text_features, resolve_similarity, similarity_scores
from .labels import class_names, describe_dataset, multi_hot_labels
from .metrics import classification_metrics
from .results import PRETRAINED, EvaluationResult, classification_results, per_class_details


@dataclass
class ZeroShotOutput:
    """
    Args:
        label_names: the classes, in the order of the columns of `scores` and `references`.
        scores: `(num_rows, num_classes)` ECG-description similarities.
        references: `(num_rows, num_classes)` multi-hot labels.
        metrics: `classification_metrics`' result: `macro_auroc`, `macro_auprc`, their per-class values, the
            classes' prevalence, `undefined_classes`.
        leads: the leads the model saw (`None`: all 12).
        prompts: the name of the prompt set the classes were described with, recorded with the results.
    """

    label_names: list[str]
    scores: np.ndarray
    references: np.ndarray
    metrics: dict
    leads: list[str] | None = None
    prompts: str | None = None

    def to_results(self, dataset: str, split: str = "test", weights: str = PRETRAINED) -> list[EvaluationResult]:
        """The macro AUROC and AUPRC as records, `dataset` naming the data set ("ptb-xl/super_class")."""
        return classification_results(
            self.metrics, "zero-shot", dataset, self.leads, split, weights, prompts=self.prompts
        )

    def details(self) -> dict:
        """Per-class AUROC, AUPRC and prevalence, and the undefined classes."""
        return per_class_details(self.metrics)


def zero_shot_classification(
    model,
    processor,
    dataset: datasets.Dataset,
    descriptions: Mapping[str, str],
    label_names: Sequence[str] | None = None,
    leads: list[str] | None = None,
    similarity: str = "auto",
    batch_size: int = 32,
    precision: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    prompts: str | None = None,
) -> ZeroShotOutput:
    """
    Score every ECG of `dataset` against a description of every class and measure per-class and macro AUROC and
    AUPRC.

    Args:
        model: a `DBetaModel` or `DBetaForPreTraining` (both towers), on the device to run on.
        processor: the model's `DBetaProcessor`; it normalises and tokenises the descriptions as pretraining did.
        dataset: rows with `ecg` (12, 5000) and multi-hot `labels`, e.g. a split of `load_ecg_dataset` or an
            in-memory `datasets.Dataset`.
        descriptions: `{class name: description}`, e.g. from `load_label_descriptions`; every class needs one,
            descriptions of other classes are ignored.
        label_names: the class of each `labels` column; read from the data set's `classes` feature when `None`.
        leads: leads to keep (others zeroed), e.g. `["I", "II", "V2"]`; all 12 when `None`.
        similarity: "dot" (the paper's score), "cosine", or "auto": the score the model's ETS loss trained
            (`resolve_similarity`).
        batch_size, precision, cache_dir: see [`extract_ecg_features`].
        prompts: a name for the descriptions ("descriptions", "condition names"), recorded with the results.
    """
    names = class_names(dataset, label_names)
    missing = [name for name in names if name not in descriptions]
    if missing:
        raise ValueError(
            f"No description for the class(es) {missing}. Give one description per class of the data set "
            f"({', '.join(names)})."
        )
    references = multi_hot_labels(dataset, len(names))
    if not any(column.min() != column.max() for column in references.T):
        raise ValueError(
            f"No class of {describe_dataset(dataset)} has both positive and negative examples, so no AUROC is "
            "defined: score a larger split."
        )
    class_texts = [descriptions[name] for name in names]
    text_features = extract_text_features(model, processor, class_texts, batch_size, precision)
    ecg_features = extract_ecg_features(model, dataset, leads, batch_size, precision, cache_dir)
    scores = similarity_scores(ecg_features, text_features, resolve_similarity(similarity, model))
    return ZeroShotOutput(
        label_names=names,
        scores=scores,
        references=references,
        metrics=classification_metrics(references, scores, label_names=names),
        leads=leads,
        prompts=prompts,
    )


__all__ = ["ZeroShotOutput", "zero_shot_classification"]
