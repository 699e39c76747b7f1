# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""ECG -> report and report -> ECG retrieval: recall@k and median rank from a similarity matrix."""

import numpy as np


def _ranks_of_matches(scores: np.ndarray, groups: np.ndarray, block_size: int = 1024) -> np.ndarray:
    """
    1-based rank of each query's best-scoring match among its candidates (rows are queries, a match is a candidate
    of the query's group). Rows go in blocks so that memory stays at a few blocks, not several N x N copies.

    A non-matching candidate that ties with the match counts as ranked above it, so a collapsed encoder that gives
    every pair the same score ranks each match last instead of first.
    """
    ranks = np.empty(len(scores), dtype=np.int64)
    for start in range(0, len(scores), block_size):
        block = scores[start : start + block_size]
        same_group = groups[start : start + block_size, None] == groups[None, :]
        best_match_score = np.where(same_group, block, -np.inf).max(axis=1, keepdims=True)
        ranks[start : start + block_size] = 1 + ((block >= best_match_score) & ~same_group).sum(axis=1)
    return ranks


def retrieval_metrics(similarity, groups=None, ks=(1, 5, 10)) -> dict[str, float]:
    """
    Recall@k and median rank in both directions.

    Args:
        similarity: `(num_pairs, num_pairs)` scores, `similarity[i, j]` between ECG `i` and report `j`; pair `i` is
            ECG `i` with report `i` (the diagonal).
        groups: optional `(num_pairs,)` ids; pairs with the same id are interchangeable (typically: the same report
            text, frequent in MIMIC-IV-ECG), so retrieving any of them counts as a hit. Every pair is its own
            group by default.
        ks: the cut-offs for recall@k.

    Returns:
        `{"ecg_to_report_recall@1": ..., "ecg_to_report_median_rank": ..., "report_to_ecg_recall@1": ..., ...}`;
        recall@k is the fraction of queries whose match ranks within the first k, ranks start at 1.
    """
    similarity = np.asarray(similarity)
    if not np.issubdtype(similarity.dtype, np.floating):
        similarity = similarity.astype(np.float64)
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"`similarity` must be a square (num_pairs, num_pairs) matrix, got shape {similarity.shape}.")
    if not np.isfinite(similarity).all():
        raise ValueError("`similarity` contains NaN or infinite values.")
    groups = np.arange(len(similarity)) if groups is None else np.asarray(groups)
    if groups.shape != (len(similarity),):
        raise ValueError(f"`groups` must hold one id per pair ({len(similarity)}), got shape {groups.shape}.")
    metrics = {}
    for direction, scores in (("ecg_to_report", similarity), ("report_to_ecg", similarity.T)):
        ranks = _ranks_of_matches(scores, groups)
        for k in ks:
            metrics[f"{direction}_recall@{k}"] = float(np.mean(ranks <= k))
        metrics[f"{direction}_median_rank"] = float(np.median(ranks))
    return metrics


__all__ = ["retrieval_metrics"]
