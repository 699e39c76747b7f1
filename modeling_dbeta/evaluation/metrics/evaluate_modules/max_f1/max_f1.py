# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Best-threshold F1 per class as a local `evaluate` module: `evaluate.load("<this folder>")` works offline."""

import evaluate

from modeling_dbeta.evaluation.metrics import max_f1
from modeling_dbeta.evaluation.metrics.metric_info import MULTI_HOT, SCORES_PER_EXAMPLE, metric_info


_DESCRIPTION = """
Per-class F1 at each class's best decision threshold (computed with scikit-learn's precision-recall curve), and
its macro average. The thresholds are chosen on the scored data: an optimistic summary for comparing models on one
split. Classes without positive examples are returned as `None` and left out of the macro average.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): scores per example and class, higher meaning more likely.
    references (`list` of `list` of `int`): multi-hot labels per example.
    label_names (`list` of `str`, *optional*): class names, the keys of the per-class results.
Returns:
    macro_max_f1 (`float` or `None`), per_class_max_f1 (`dict`), per_class_threshold (`dict`; positive when
    score >= threshold), undefined_classes (`list`).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MaxF1(evaluate.Metric):
    def _info(self):
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            predictions=SCORES_PER_EXAMPLE,
            references=MULTI_HOT,
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.precision_recall_curve.html"
            ],
        )

    def _compute(self, predictions, references, label_names=None):
        return max_f1(references, predictions, label_names=label_names)
