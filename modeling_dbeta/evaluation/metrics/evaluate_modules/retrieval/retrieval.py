# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""ECG-report retrieval as a local `evaluate` module: `evaluate.load("<this folder>")` works offline."""

import datasets
import evaluate

from modeling_dbeta.evaluation.metrics import retrieval_metrics
from modeling_dbeta.evaluation.metrics.metric_info import SCORES_PER_EXAMPLE, metric_info


_DESCRIPTION = """
Recall@k and median rank for ECG -> report and report -> ECG retrieval on a set of ECG-report pairs, from the
similarity matrix of their features. Non-matching candidates that tie with the match rank above it.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): row `i` of the square similarity matrix, ECG `i` against every
        report; pair `i` is ECG `i` with report `i`.
    references (`list` of `int`): a group id per pair; pairs with the same id (e.g. the same report text) are
        interchangeable. Pass `list(range(num_pairs))` when every pair is distinct.
    ks (`tuple` of `int`, *optional*, defaults to `(1, 5, 10)`): cut-offs for recall@k.
Returns:
    ecg_to_report_recall@k, ecg_to_report_median_rank, report_to_ecg_recall@k, report_to_ecg_median_rank.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Retrieval(evaluate.Metric):
    def _info(self):
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            predictions=SCORES_PER_EXAMPLE,
            references=datasets.Value("int64"),
        )

    def _compute(self, predictions, references, ks=(1, 5, 10)):
        return retrieval_metrics(predictions, groups=references, ks=ks)
