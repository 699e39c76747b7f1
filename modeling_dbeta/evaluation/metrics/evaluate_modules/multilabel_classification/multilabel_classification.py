# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Multi-label AUROC and AUPRC as a local `evaluate` module: `evaluate.load("<this folder>")` works offline."""

import evaluate

from modeling_dbeta.evaluation.metrics import classification_metrics
from modeling_dbeta.evaluation.metrics.metric_info import MULTI_HOT, SCORES_PER_EXAMPLE, metric_info


_DESCRIPTION = """
Per-class and macro-averaged areas under the ROC curve and under the precision-recall curve (average precision) for
multi-label classification, computed with scikit-learn, and each class's prevalence (the AUPRC of random scores).
Classes whose references hold a single value have neither curve: they are returned as `None`, listed in
`undefined_classes` and left out of the macro averages.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): scores per example and class, higher meaning more likely.
    references (`list` of `list` of `int`): multi-hot labels per example.
    label_names (`list` of `str`, *optional*): class names, the keys of the per-class results.
Returns:
    macro_auroc, macro_auprc (`float` or `None`), per_class_auroc, per_class_auprc, per_class_prevalence (`dict`),
    undefined_classes (`list`).
Example:
    >>> metric = evaluate.load("modeling_dbeta/evaluation/metrics/evaluate_modules/multilabel_classification")
    >>> result = metric.compute(
    ...     predictions=[[0.9, 0.2], [0.1, 0.3]], references=[[1, 0], [0, 0]], label_names=["AF", "SB"]
    ... )
    >>> result["per_class_auroc"], result["undefined_classes"]
    ({'AF': 1.0, 'SB': None}, ['SB'])
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MultilabelClassification(evaluate.Metric):
    def _info(self):
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            predictions=SCORES_PER_EXAMPLE,
            references=MULTI_HOT,
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.roc_auc_score.html",
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.average_precision_score.html",
            ],
        )

    def _compute(self, predictions, references, label_names=None):
        return classification_metrics(references, predictions, label_names=label_names)
