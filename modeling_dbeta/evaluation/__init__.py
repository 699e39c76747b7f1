# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Evaluation building blocks: metrics, zero-shot class descriptions and result records.

The metrics also ship as local `evaluate` modules (`modeling_dbeta.evaluation.local_metrics.load_metric`), kept out
of this import because `evaluate` takes seconds to import.
"""

from .challenge_metric import SINUS_RHYTHM, ChallengeWeights, physionet2021_challenge_score
from .classification_metrics import max_f1, multilabel_auroc
from .label_descriptions import DEFAULT_LABEL_DESCRIPTIONS, load_label_descriptions
from .results import EvaluationResult, load_results, results_table, save_results
from .retrieval_metrics import retrieval_metrics


__all__ = [
    "ChallengeWeights",
    "DEFAULT_LABEL_DESCRIPTIONS",
    "EvaluationResult",
    "SINUS_RHYTHM",
    "load_label_descriptions",
    "load_results",
    "max_f1",
    "multilabel_auroc",
    "physionet2021_challenge_score",
    "results_table",
    "retrieval_metrics",
    "save_results",
]
