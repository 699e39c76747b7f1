# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Evaluation: the paper's protocols (zero-shot, linear probe, retrieval here; fine-tuning in `.finetune`), the feature
extraction they share, the models they score (a checkpoint and its untrained baseline), metrics, zero-shot prompts,
result records and their writer.

Each protocol returns an output with `to_results(dataset, split, weights)` (the records) and `details()` (per-class
numbers); `write_evaluation` / `write_results` write them as JSON and Markdown, and `modeling_dbeta.hub` puts the
records into the model card. Kept out of this import because they take long to import: fine-tuning (`.finetune`,
`Trainer`) and ROC plots (`.plots`, matplotlib); `.metrics.load_metric` imports `evaluate` only when called.
"""

from .features import extract_ecg_features, extract_text_features, resolve_similarity, similarity_scores
from .label_descriptions import DEFAULT_LABEL_DESCRIPTIONS, load_label_descriptions, load_prompt_sets
from .lead_subsets import leads_label, parse_leads
from .linear_probe import (
    LinearProbe,
    LinearProbeOutput,
    LinearProbeResult,
    fit_linear_probe,
    linear_probe,
    merl_train_subset,
)
from .metrics import (
    SINUS_RHYTHM,
    ChallengeWeights,
    classification_metrics,
    max_f1,
    multilabel_auroc,
    physionet2021_challenge_score,
    retrieval_metrics,
)
from .models import load_model, load_processor, models_to_evaluate, untrained_label, untrained_model
from .results import (
    PRETRAINED,
    EvaluationResult,
    load_results,
    results_table,
    save_results,
    write_evaluation,
    write_results,
)
from .retrieval import RetrievalOutput, retrieval_evaluation
from .zero_shot import ZeroShotOutput, zero_shot_classification


__all__ = [
    "DEFAULT_LABEL_DESCRIPTIONS",
    "PRETRAINED",
    "SINUS_RHYTHM",
    "ChallengeWeights",
    "EvaluationResult",
    "LinearProbe",
    "LinearProbeOutput",
    "LinearProbeResult",
    "RetrievalOutput",
    "ZeroShotOutput",
    "classification_metrics",
    "extract_ecg_features",
    "extract_text_features",
    "fit_linear_probe",
    "leads_label",
    "linear_probe",
    "load_label_descriptions",
    "load_model",
    "load_processor",
    "load_prompt_sets",
    "load_results",
    "max_f1",
    "merl_train_subset",
    "models_to_evaluate",
    "multilabel_auroc",
    "parse_leads",
    "physionet2021_challenge_score",
    "resolve_similarity",
    "results_table",
    "retrieval_evaluation",
    "retrieval_metrics",
    "save_results",
    "similarity_scores",
    "untrained_label",
    "untrained_model",
    "write_evaluation",
    "write_results",
    "zero_shot_classification",
]
