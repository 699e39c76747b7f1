# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""The `evaluate.MetricInfo` the local `evaluate` modules share: their inputs are one of a few column types."""

import datasets
import evaluate


SCORES_PER_EXAMPLE = datasets.List(datasets.Value("float64"))  # per example: a score per class (or per candidate)
MULTI_HOT = datasets.List(datasets.Value("int32"))  # multi-hot labels (or thresholded predictions), per example


def metric_info(
    description: str, inputs_description: str, predictions, references, citation: str = "", reference_urls=()
):
    """The `_info()` of a local metric whose `predictions` and `references` have the given feature types."""
    return evaluate.MetricInfo(
        description=description,
        citation=citation,
        inputs_description=inputs_description,
        features=datasets.Features({"predictions": predictions, "references": references}),
        reference_urls=list(reference_urls),
    )


__all__ = ["MULTI_HOT", "SCORES_PER_EXAMPLE", "metric_info"]
