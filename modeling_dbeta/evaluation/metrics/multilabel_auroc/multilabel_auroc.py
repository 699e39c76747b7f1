# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Multi-label AUROC as a local `evaluate` module: `evaluate.load("<this folder>")` works offline."""

import datasets
import evaluate

from modeling_dbeta.evaluation.classification_metrics import multilabel_auroc


_DESCRIPTION = """
Per-class and macro-averaged area under the ROC curve for multi-label classification, computed with scikit-learn.
Classes whose references hold a single value have no ROC curve: they are returned as `None`, listed in
`undefined_classes` and left out of the macro average.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): scores per example and class, higher meaning more likely.
    references (`list` of `list` of `int`): multi-hot labels per example.
    label_names (`list` of `str`, *optional*): class names, the keys of the per-class results.
Returns:
    macro_auroc (`float` or `None`), per_class_auroc (`dict`), undefined_classes (`list`).
Example:
    >>> metric = evaluate.load("modeling_dbeta/evaluation/metrics/multilabel_auroc")
    >>> metric.compute(predictions=[[0.9, 0.2], [0.1, 0.3]], references=[[1, 0], [0, 0]], label_names=["AF", "SB"])
    {'macro_auroc': 1.0, 'per_class_auroc': {'AF': 1.0, 'SB': None}, 'undefined_classes': ['SB']}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MultilabelAuroc(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.List(datasets.Value("float64")),
                    "references": datasets.List(datasets.Value("int32")),
                }
            ),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.roc_auc_score.html"],
        )

    def _compute(self, predictions, references, label_names=None):
        return multilabel_auroc(references, predictions, label_names=label_names)
