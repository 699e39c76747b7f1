# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Evaluation: the paper's protocols (zero-shot, linear probe, retrieval here; fine-tuning in `.finetune`), the feature
extraction they share, metrics, zero-shot class descriptions and result records.

Kept out of this import because they take long to import: the local `evaluate` modules of the metrics
(`.local_metrics.load_metric`, `evaluate` takes seconds), fine-tuning (`.finetune`, `Trainer`), ROC plots (`.plots`,
matplotlib) and the command-line plumbing of `evaluation/*.py` (`.arguments`).
"""

from .challenge_metric import SINUS_RHYTHM, ChallengeWeights, physionet2021_challenge_score
from .classification_metrics import max_f1, multilabel_auroc
from .features import extract_ecg_features, extract_text_features, resolve_similarity, similarity_scores
from .label_descriptions import DEFAULT_LABEL_DESCRIPTIONS, load_label_descriptions
from .lead_subsets import leads_label, parse_leads
from .linear_probe import LinearProbe, LinearProbeResult, fit_linear_probe, linear_probe, merl_train_subset
from .results import EvaluationResult, load_results, results_table, save_results
from .retrieval import RetrievalOutput, retrieval_evaluation
from .retrieval_metrics import retrieval_metrics
from .zero_shot import ZeroShotOutput, zero_shot_classification


__all__ = [
    "ChallengeWeights",
    "DEFAULT_LABEL_DESCRIPTIONS",
    "EvaluationResult",
    "LinearProbe",
    "LinearProbeResult",
    "RetrievalOutput",
    "SINUS_RHYTHM",
    "ZeroShotOutput",
    "extract_ecg_features",
    "extract_text_features",
    "fit_linear_probe",
    "leads_label",
    "linear_probe",
    "load_label_descriptions",
    "load_results",
    "max_f1",
    "merl_train_subset",
    "multilabel_auroc",
    "parse_leads",
    "physionet2021_challenge_score",
    "results_table",
    "retrieval_evaluation",
    "retrieval_metrics",
    "save_results",
    "resolve_similarity",
    "similarity_scores",
    "zero_shot_classification",
]
