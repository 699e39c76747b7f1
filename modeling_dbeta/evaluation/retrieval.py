# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
ECG -> report and report -> ECG retrieval on a paired set (e.g. a held-out split of MIMIC-IV-ECG).

Machine reports repeat: many ECGs share one report text. Identical texts (after the normalisation pretraining
applies) form one group, encoded once, and retrieving any member of a query's group counts as a hit, so a model is
not penalised for failing to tell apart texts that are the same.
"""

import os
from dataclasses import dataclass

import datasets
import numpy as np
import torch

from ..text_normalization import normalize_report
from .features import extract_ecg_features, extract_text_features, resolve_similarity, similarity_scores
from .labels import describe_dataset
from .lead_subsets import leads_label
from .metrics import retrieval_metrics
from .results import PRETRAINED, EvaluationResult


@dataclass
class RetrievalOutput:
    """
    Args:
        metrics: `retrieval_metrics`' result, e.g. `ecg_to_report_recall@1`, `report_to_ecg_median_rank`.
        num_pairs: the ECG-report pairs scored (pairs with an empty report are left out).
        num_distinct_reports: the distinct normalised report texts among them.
        leads: the leads the model saw (`None`: all 12).
    """

    metrics: dict[str, float]
    num_pairs: int
    num_distinct_reports: int
    leads: list[str] | None = None

    def to_results(self, dataset: str, split: str = "test", weights: str = PRETRAINED) -> list[EvaluationResult]:
        """One record per metric (recall@k and median rank, both directions)."""
        return [
            EvaluationResult("retrieval", dataset, metric, value, leads_label(self.leads), split, weights=weights)
            for metric, value in self.metrics.items()
        ]

    def details(self) -> dict:
        return {"num_pairs": self.num_pairs, "num_distinct_reports": self.num_distinct_reports}


def retrieval_evaluation(
    model,
    processor,
    dataset: datasets.Dataset,
    report_column: str = "report",
    leads: list[str] | None = None,
    similarity: str = "auto",
    ks=(1, 5, 10),
    batch_size: int = 32,
    precision: str = "auto",
    cache_dir: str | os.PathLike | None = None,
) -> RetrievalOutput:
    """
    Recall@k and median rank in both directions over all pairs of `dataset`.

    Args:
        model: a `DBetaModel` or `DBetaForPreTraining`, on the device to run on.
        processor: the model's `DBetaProcessor`.
        dataset: rows with `ecg` (12, 5000) and a report text column.
        report_column: the column holding each ECG's report.
        leads: leads to keep (others zeroed); all 12 when `None`.
        similarity: "dot" (the paper's score), "cosine", or "auto": the score the model's ETS loss trained
            (`resolve_similarity`).
        ks: the cut-offs of recall@k.
        batch_size, precision, cache_dir: see [`extract_ecg_features`].

    The `(num_pairs, num_pairs)` similarity matrix is held in memory: 400 MB in float32 for 10 000 pairs.
    """
    if report_column not in dataset.column_names:
        raise ValueError(
            f"No {report_column!r} column in {describe_dataset(dataset)} (its columns: "
            f"{', '.join(dataset.column_names)}): pass the column holding the reports with `report_column` "
            "(--report_column), or a data set of ECG-report pairs (--dataset mimic-iv-ecg, ptb-xl, synthetic)."
        )
    normalized = [normalize_report(report or "") for report in dataset[report_column]]
    with_report = [row for row, text in enumerate(normalized) if text]
    if len(with_report) < len(dataset):
        dataset = dataset.select(with_report)
        normalized = [normalized[row] for row in with_report]
    if len(dataset) < 2:
        raise ValueError("Retrieval needs at least two ECG-report pairs with a non-empty report.")
    distinct_reports, groups = np.unique(normalized, return_inverse=True)

    text_features = extract_text_features(model, processor, distinct_reports.tolist(), batch_size, precision)
    ecg_features = extract_ecg_features(model, dataset, leads, batch_size, precision, cache_dir)
    scores = similarity_scores(
        ecg_features, text_features[torch.from_numpy(groups)], resolve_similarity(similarity, model)
    )
    return RetrievalOutput(
        metrics=retrieval_metrics(scores, groups=groups, ks=ks),
        num_pairs=len(dataset),
        num_distinct_reports=len(distinct_reports),
        leads=leads,
    )


__all__ = ["RetrievalOutput", "retrieval_evaluation"]
