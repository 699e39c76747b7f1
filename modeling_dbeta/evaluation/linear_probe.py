# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Linear probing: a linear classifier on the frozen unimodal ECG features, trained on 1 %, 10 % and 100 % of the
training split.

- Subsets are drawn as MERL draws them (`train_test_split(train, train_size=fraction, random_state=42)`), so the 1 %
  and 10 % numbers compare with MERL's and the paper's.
- The classifier is an L2-regularised logistic regression per class (scikit-learn's `LogisticRegression(C=...)`
  objective), fitted jointly for all classes by full-batch L-BFGS on standardised features. Being convex, it has no
  epoch to choose; the regularisation strength is chosen from a grid by the validation split's macro AUROC alone,
  and the test split is scored once, with that model. MERL's script prints the best test AUROC over epochs; reporting
  that would select on the test split.
- Features are extracted once per split (and cached, see `extract_ecg_features`), for the training rows that the
  requested fractions use.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass

import datasets
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from .features import extract_ecg_features
from .labels import class_names, multi_hot_labels
from .metrics import classification_metrics, multilabel_auroc
from .results import PRETRAINED, EvaluationResult, classification_results, per_class_details


MERL_SEED = 42
DEFAULT_TRAIN_FRACTIONS = (0.01, 0.1, 1.0)
# Inverse regularisation strengths C (scikit-learn's convention: larger = weaker regularisation).
DEFAULT_INVERSE_REGULARIZATION = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def merl_train_subset(num_rows: int, fraction: float, seed: int = MERL_SEED) -> np.ndarray:
    """
    Row indices of the `fraction` training subset, drawn exactly as MERL draws it from its training table:
    `train_test_split(train, train_size=fraction, random_state=seed)`, in the order that call returns; all rows, in
    order, for a fraction of 1.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"A training fraction must lie in (0, 1], got {fraction}.")
    if fraction == 1:
        return np.arange(num_rows)
    try:
        rows, _ = train_test_split(np.arange(num_rows), train_size=fraction, random_state=seed)
    except ValueError as error:
        raise ValueError(f"Cannot draw a {fraction:.0%} subset of {num_rows} training rows: {error}") from error
    return rows


def fit_logistic_regression(
    features: torch.Tensor,
    labels: torch.Tensor,
    inverse_regularization: float,
    initial: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_iter: int = 1000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    One L2-regularised logistic regression per class, fitted jointly (their objectives are independent): each
    minimises `C * sum(log loss) + ||w||^2 / 2` with an unpenalised intercept, as scikit-learn's
    `LogisticRegression(C=C)` does, here divided by `C * num_rows` so that its scale does not depend on them.

    Returns:
        `weight` `(num_features, num_classes)` and `bias` `(num_classes,)`; the scores are `features @ weight + bias`.
    """
    num_rows, num_features = features.shape
    if initial is None:
        weight = features.new_zeros(num_features, labels.shape[1])
        bias = features.new_zeros(labels.shape[1])
    else:
        weight, bias = (tensor.clone() for tensor in initial)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    penalty = 1.0 / (2.0 * inverse_regularization * num_rows)
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        logits = torch.addmm(bias, features, weight)
        loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / num_rows
        loss = loss + penalty * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weight.detach(), bias.detach()


@dataclass
class LinearProbe:
    """
    A fitted probe: `scores = ((features - mean) / std) @ weight + bias`.

    Args:
        inverse_regularization: the C chosen on the validation split.
        validation_macro_auroc: its validation macro AUROC.
        validation_history: `{C: validation macro AUROC}` for every C tried (`None` where undefined).
    """

    mean: torch.Tensor
    std: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor
    inverse_regularization: float
    validation_macro_auroc: float
    validation_history: dict[float, float | None]

    def decision_function(self, features) -> np.ndarray:
        features = torch.as_tensor(features, dtype=self.weight.dtype, device=self.weight.device)
        return torch.addmm(self.bias, (features - self.mean) / self.std, self.weight).cpu().numpy()


def fit_linear_probe(
    train_features,
    train_labels,
    validation_features,
    validation_labels,
    inverse_regularization: Sequence[float] = DEFAULT_INVERSE_REGULARIZATION,
) -> LinearProbe:
    """
    Fit a logistic regression for every C of `inverse_regularization` (weakening the regularisation step by step,
    each fit starting from the previous solution) and keep the one with the best validation macro AUROC; on a tie,
    the more regularised. The test split plays no part.
    """
    if not inverse_regularization:
        raise ValueError("Give at least one inverse regularisation strength C to try.")
    for name, features in (("train_features", train_features), ("validation_features", validation_features)):
        non_finite = ~np.isfinite(np.asarray(features)).all(axis=1)
        if non_finite.any():
            raise ValueError(
                f"`{name}` hold NaN or infinite values in {int(non_finite.sum())} of {len(non_finite)} rows (first: "
                f"{np.flatnonzero(non_finite)[:5].tolist()}): drop or repair those rows before fitting a probe."
            )
    train_features = torch.as_tensor(train_features, dtype=torch.float64)
    train_labels = torch.as_tensor(train_labels, dtype=torch.float64)
    mean = train_features.mean(dim=0)
    std = train_features.std(dim=0, correction=0).clamp_min(1e-6)  # constant features, e.g. from zeroed leads
    standardized_train = (train_features - mean) / std
    standardized_validation = (torch.as_tensor(validation_features, dtype=torch.float64) - mean) / std

    history, best, solution = {}, None, None
    for inverse in tqdm(sorted(inverse_regularization), desc="Linear probe (C grid)", unit="C"):
        solution = fit_logistic_regression(standardized_train, train_labels, inverse, initial=solution)
        validation_scores = torch.addmm(solution[1], standardized_validation, solution[0]).numpy()
        history[inverse] = multilabel_auroc(validation_labels, validation_scores)["macro_auroc"]
        if history[inverse] is not None and (best is None or history[inverse] > history[best[0]]):
            best = (inverse, solution)
    if best is None:
        raise ValueError(
            "No class of the validation split has both positive and negative examples, so no model can be selected."
        )
    inverse, (weight, bias) = best
    return LinearProbe(mean, std, weight, bias, inverse, history[inverse], history)


@dataclass
class LinearProbeResult:
    """
    Args:
        train_fraction: the fraction of the training split used.
        num_train_examples: the rows it holds.
        inverse_regularization, validation_macro_auroc, validation_history: the selection, see [`LinearProbe`].
        test_metrics: `classification_metrics` of the selected probe on the test split (AUROC and AUPRC).
        leads: the leads the model saw (`None`: all 12).
    """

    train_fraction: float
    num_train_examples: int
    inverse_regularization: float
    validation_macro_auroc: float
    validation_history: dict[float, float | None]
    test_metrics: dict
    leads: list[str] | None = None

    def to_results(self, dataset: str, split: str = "test", weights: str = PRETRAINED) -> list[EvaluationResult]:
        """The test macro AUROC and AUPRC of this fraction's probe as records."""
        return classification_results(
            self.test_metrics, "linear-probe", dataset, self.leads, split, weights, train_fraction=self.train_fraction
        )

    def details(self) -> dict:
        """The selection (C, the validation AUROC of every C tried) and the per-class test numbers."""
        return {
            "train_fraction": self.train_fraction,
            "num_train_examples": self.num_train_examples,
            "selected_inverse_regularization": self.inverse_regularization,
            "validation_macro_auroc": self.validation_macro_auroc,
            "validation_macro_auroc_by_inverse_regularization": {
                str(inverse): value for inverse, value in self.validation_history.items()
            },
            **{f"test_{key}": value for key, value in per_class_details(self.test_metrics).items()},
        }


@dataclass
class LinearProbeOutput:
    """The probes of one model, one per training fraction (iterating gives them in the order of the fractions)."""

    probes: list[LinearProbeResult]

    def __iter__(self):
        return iter(self.probes)

    def to_results(self, dataset: str, split: str = "test", weights: str = PRETRAINED) -> list[EvaluationResult]:
        return [result for probe in self.probes for result in probe.to_results(dataset, split, weights)]

    def details(self) -> list[dict]:
        return [probe.details() for probe in self.probes]


def linear_probe(
    model,
    train_dataset: datasets.Dataset,
    validation_dataset: datasets.Dataset,
    test_dataset: datasets.Dataset,
    train_fractions: Sequence[float] = DEFAULT_TRAIN_FRACTIONS,
    label_names: Sequence[str] | None = None,
    leads: list[str] | None = None,
    inverse_regularization: Sequence[float] = DEFAULT_INVERSE_REGULARIZATION,
    seed: int = MERL_SEED,
    batch_size: int = 32,
    precision: str = "auto",
    cache_dir: str | os.PathLike | None = None,
) -> LinearProbeOutput:
    """
    The linear-probe protocol: one probe per training fraction, selected on the validation split, scored on the test
    split.

    Args:
        model: a D-BETA model with an ECG tower (`DBetaECGModel`, `DBetaModel`, `DBetaForPreTraining`), on the
            device to run on; it stays frozen.
        train_dataset, validation_dataset, test_dataset: rows with `ecg` (12, 5000) and multi-hot `labels` over the
            same classes in the same order, e.g. the splits of `load_ecg_dataset` or in-memory `datasets.Dataset`s.
        train_fractions: fractions of the training split, each subset drawn by [`merl_train_subset`].
        label_names: the class of each `labels` column; read from the data sets' `classes` feature when `None`.
        leads: leads to keep (others zeroed); all 12 when `None`.
        inverse_regularization: the grid of C searched on the validation split.
        seed: the subsets' `random_state` (MERL's is 42).
        batch_size, precision, cache_dir: see [`extract_ecg_features`].
    """
    names = class_names(train_dataset, label_names)
    for split_name, split in (("validation", validation_dataset), ("test", test_dataset)):
        if class_names(split, label_names) != names:
            raise ValueError(
                f"The {split_name} split's classes {class_names(split)} differ from the training split's {names}."
            )
    subsets = {fraction: merl_train_subset(len(train_dataset), fraction, seed) for fraction in train_fractions}
    # Only the rows some fraction uses are encoded: a 1 % run costs 1 % of the training split.
    needed = np.unique(np.concatenate(list(subsets.values())))
    train_part = train_dataset if len(needed) == len(train_dataset) else train_dataset.select(needed)

    def features_of(dataset):
        return extract_ecg_features(model, dataset, leads, batch_size, precision, cache_dir)

    train_features = features_of(train_part)
    validation_features, test_features = features_of(validation_dataset), features_of(test_dataset)
    train_labels = multi_hot_labels(train_dataset, len(names))
    validation_labels = multi_hot_labels(validation_dataset, len(names))
    test_labels = multi_hot_labels(test_dataset, len(names))

    probes = []
    for fraction, rows in subsets.items():
        probe = fit_linear_probe(
            train_features[np.searchsorted(needed, rows)],
            train_labels[rows],
            validation_features,
            validation_labels,
            inverse_regularization,
        )
        probes.append(
            LinearProbeResult(
                train_fraction=fraction,
                num_train_examples=len(rows),
                inverse_regularization=probe.inverse_regularization,
                validation_macro_auroc=probe.validation_macro_auroc,
                validation_history=probe.validation_history,
                test_metrics=classification_metrics(
                    test_labels, probe.decision_function(test_features), label_names=names
                ),
                leads=leads,
            )
        )
    return LinearProbeOutput(probes)


__all__ = [
    "DEFAULT_INVERSE_REGULARIZATION",
    "DEFAULT_TRAIN_FRACTIONS",
    "MERL_SEED",
    "LinearProbe",
    "LinearProbeOutput",
    "LinearProbeResult",
    "fit_linear_probe",
    "fit_logistic_regression",
    "linear_probe",
    "merl_train_subset",
]
