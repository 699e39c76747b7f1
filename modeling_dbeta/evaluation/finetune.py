# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Fine-tuning: `DBetaForECGClassification` (the whole ECG encoder and a linear head) trained with `Trainer` on a
labelled training split, the checkpoint chosen by the validation split's macro AUROC (`load_best_model_at_end`),
then scored once on the test split.

For PhysioNet 2021 the challenge score needs yes/no predictions: each class's decision threshold is the one that
maximises its F1 on the validation split (0, i.e. a probability of 0.5, for a class without validation positives),
so the test split again plays no part in any choice.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass

import datasets
import numpy as np
import torch
from transformers import EvalPrediction, Trainer, TrainingArguments

from ..ecg_storage import dequantize_ecg
from ..modeling_dbeta import DBetaForECGClassification
from .labels import class_names, multi_hot_labels
from .lead_subsets import leads_label
from .linear_probe import MERL_SEED, merl_train_subset
from .metrics import ChallengeWeights, classification_metrics, max_f1, multilabel_auroc, physionet2021_challenge_score
from .models import read_checkpoint_config
from .results import PRETRAINED, EvaluationResult, classification_results, per_class_details


SELECTION_METRIC = "macro_auroc"

# The protocol's `TrainingArguments`: evaluate and save every epoch, keep the checkpoint with the best validation
# macro AUROC. `evaluation/finetune.py` uses them as its defaults.
PROTOCOL_TRAINING_DEFAULTS = {
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "load_best_model_at_end": True,
    "metric_for_best_model": SELECTION_METRIC,
    "greater_is_better": True,
    "save_total_limit": 1,
    "logging_strategy": "epoch",
}


def classification_inputs(dataset: datasets.Dataset, ecg_column: str = "ecg") -> datasets.Dataset:
    """
    The columns `DBetaForECGClassification.forward` takes: the ECG as `ecg_values` (float32 mV, decoded on the fly
    from int16 storage), and `labels`. The data set's own `lead_mask` (which leads were recorded) is left out, so
    that the classifier's lead subset applies.
    """
    if "ecg_scale" not in dataset.column_names:
        return (
            dataset.select_columns([ecg_column, "labels"]).rename_column(ecg_column, "ecg_values").with_format("torch")
        )

    def decode(batch):
        values = dequantize_ecg(torch.as_tensor(np.asarray(batch[ecg_column])), torch.as_tensor(batch["ecg_scale"]))
        return {"ecg_values": values, "labels": torch.as_tensor(np.asarray(batch["labels"]), dtype=torch.float32)}

    return dataset.select_columns([ecg_column, "ecg_scale", "labels"]).with_transform(decode)


def compute_macro_auroc(prediction: EvalPrediction) -> dict[str, float]:
    """`Trainer`'s `compute_metrics`: the macro AUROC of the logits (NaN when no class has both label values)."""
    value = multilabel_auroc(prediction.label_ids, prediction.predictions)[SELECTION_METRIC]
    return {SELECTION_METRIC: float("nan") if value is None else value}


def validation_thresholds(references: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Per-class logit thresholds maximising each class's validation F1; 0 for a class without positives."""
    thresholds = max_f1(references, logits)["per_class_threshold"].values()
    return np.array([0.0 if threshold is None else threshold for threshold in thresholds])


@dataclass
class FineTuneOutput:
    """
    Args:
        model: the selected classifier (also saved to `training_args.output_dir`).
        label_names: the classes, in the order of the logits.
        validation_macro_auroc: the selected checkpoint's validation macro AUROC.
        validation_history: `{"epoch", "step", "macro_auroc"}` of every evaluation, the record of the selection.
        test_metrics: `classification_metrics` of the selected model on the test split (AUROC and AUPRC).
        test_logits, test_references: `(num_test_rows, num_classes)`.
        thresholds: per-class logit thresholds chosen on the validation split (see [`validation_thresholds`]).
        challenge_score: the PhysioNet/CinC 2021 score of the thresholded test predictions, when weights were given.
        leads: the leads the classifier sees (`None`: all 12).
        train_fraction: the fraction of the training split it was trained on.
    """

    model: DBetaForECGClassification
    label_names: list[str]
    validation_macro_auroc: float
    validation_history: list[dict]
    test_metrics: dict
    test_logits: np.ndarray
    test_references: np.ndarray
    thresholds: np.ndarray
    challenge_score: float | None = None
    leads: list[str] | None = None
    train_fraction: float = 1.0

    def to_results(self, dataset: str, split: str = "test", weights: str = PRETRAINED) -> list[EvaluationResult]:
        """The test macro AUROC and AUPRC, and the challenge score when it was computed, as records."""
        results = classification_results(
            self.test_metrics, "fine-tune", dataset, self.leads, split, weights, train_fraction=self.train_fraction
        )
        if self.challenge_score is not None:
            results.append(
                EvaluationResult(
                    "fine-tune", dataset, "challenge_score", self.challenge_score, leads_label(self.leads), split,
                    self.train_fraction, weights,
                )
            )  # fmt: skip
        return results

    def details(self) -> dict:
        """The selection (validation AUROC of every evaluation), per-class test numbers, the validation thresholds."""
        return {
            "validation_macro_auroc": self.validation_macro_auroc,
            "validation_history": self.validation_history,
            **{f"test_{key}": value for key, value in per_class_details(self.test_metrics).items()},
            "validation_thresholds": dict(zip(self.label_names, self.thresholds.tolist(), strict=True)),
        }


def check_protocol(training_args: TrainingArguments):
    """Fine-tuning results are only comparable when the checkpoint is chosen by validation macro AUROC."""
    if (
        not training_args.load_best_model_at_end
        or training_args.metric_for_best_model not in (SELECTION_METRIC, f"eval_{SELECTION_METRIC}")
        or not training_args.greater_is_better
    ):
        raise ValueError(
            "Fine-tuning selects the checkpoint with the best validation macro AUROC: set "
            f"load_best_model_at_end=True, metric_for_best_model={SELECTION_METRIC!r} and greater_is_better=True, "
            "with the same eval_strategy and save_strategy (`PROTOCOL_TRAINING_DEFAULTS` holds them)."
        )


def finetune_classifier(
    model_name_or_path: str | os.PathLike,
    train_dataset: datasets.Dataset,
    validation_dataset: datasets.Dataset,
    test_dataset: datasets.Dataset,
    training_args: TrainingArguments,
    label_names: Sequence[str] | None = None,
    leads: list[str] | None = None,
    train_fraction: float = 1.0,
    seed: int = MERL_SEED,
    challenge_weights: ChallengeWeights | None = None,
) -> FineTuneOutput:
    """
    Fine-tune a D-BETA checkpoint's ECG tower with a new linear head, select on validation, score on test.

    Args:
        model_name_or_path: any D-BETA checkpoint (pretraining, base or ECG-only); its ECG tower is loaded.
        train_dataset, validation_dataset, test_dataset: rows with `ecg` (12, 5000) and multi-hot `labels`.
        training_args: `Trainer` arguments following the protocol, e.g.
            `TrainingArguments(output_dir, **PROTOCOL_TRAINING_DEFAULTS, num_train_epochs=..., learning_rate=...)`.
        label_names: the class of each `labels` column; read from the data set's `classes` feature when `None`.
        leads: the leads the classifier sees (saved as `config.classifier_leads`; the others are zeroed).
        train_fraction, seed: train on the MERL-style subset [`merl_train_subset`] of the training split.
        challenge_weights: PhysioNet 2021's weights; adds the challenge score. The class names must then be SNOMED CT
            codes, equivalent codes joined by "|", as the `physionet2021` data set names them.
    """
    check_protocol(training_args)
    read_checkpoint_config(model_name_or_path)  # a clear error for a folder that is not a D-BETA checkpoint
    names = class_names(train_dataset, label_names)
    multi_hot_labels(train_dataset, len(names))  # checked before training, as the other splits' labels
    validation_references = multi_hot_labels(validation_dataset, len(names))
    test_references = multi_hot_labels(test_dataset, len(names))
    if train_fraction != 1:
        train_dataset = train_dataset.select(merl_train_subset(len(train_dataset), train_fraction, seed))
    model = DBetaForECGClassification.from_pretrained(
        model_name_or_path,
        num_labels=len(names),
        problem_type="multi_label_classification",
        id2label=dict(enumerate(names)),
        label2id={name: index for index, name in enumerate(names)},
        classifier_leads=leads,
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=classification_inputs(train_dataset),
        eval_dataset=classification_inputs(validation_dataset),
        compute_metrics=compute_macro_auroc,
    )
    trainer.train()
    trainer.save_model()

    validation_logits = trainer.predict(classification_inputs(validation_dataset)).predictions
    test_logits = trainer.predict(classification_inputs(test_dataset)).predictions
    thresholds = validation_thresholds(validation_references, validation_logits)
    challenge_score = None
    if challenge_weights is not None:
        challenge_score = physionet2021_challenge_score(
            test_references,
            test_logits >= thresholds,
            label_codes=[name.split("|")[0] for name in names],
            weights=challenge_weights,
        )
    return FineTuneOutput(
        model=trainer.model,
        label_names=names,
        validation_macro_auroc=trainer.state.best_metric,
        validation_history=[
            {"epoch": entry["epoch"], "step": entry["step"], SELECTION_METRIC: entry[f"eval_{SELECTION_METRIC}"]}
            for entry in trainer.state.log_history
            if f"eval_{SELECTION_METRIC}" in entry
        ],
        test_metrics=classification_metrics(test_references, test_logits, label_names=names),
        test_logits=test_logits,
        test_references=test_references,
        thresholds=thresholds,
        challenge_score=challenge_score,
        leads=leads,
        train_fraction=train_fraction,
    )


__all__ = [
    "PROTOCOL_TRAINING_DEFAULTS",
    "SELECTION_METRIC",
    "FineTuneOutput",
    "check_protocol",
    "classification_inputs",
    "compute_macro_auroc",
    "finetune_classifier",
    "validation_thresholds",
]
