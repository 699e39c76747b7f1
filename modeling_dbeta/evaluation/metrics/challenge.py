# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The PhysioNet/CinC Challenge 2021 score, written from its public definition (physionetchallenges.org/2021).

Each recording spreads one unit of credit over the pairs (true class, predicted class), divided by the number of
classes that are true or predicted for it; a weight matrix says how much each pair is worth (1 on the diagonal,
partial credit for clinically similar classes). The total is rescaled so that always predicting the normal class
(sinus rhythm) scores 0 and predicting the true labels scores 1.

The weights were set by the organisers and follow no formula, so they are read from the challenge's `weights.csv`
(rows and columns named by SNOMED CT codes; equivalent codes share a row, joined by "|", e.g. "713427006|59118001").
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


SINUS_RHYTHM = "426783006"


@dataclass(frozen=True)
class ChallengeWeights:
    """The scored classes, each a tuple of equivalent SNOMED CT codes, and the `(num_classes, num_classes)` weights."""

    classes: tuple[tuple[str, ...], ...]
    matrix: np.ndarray

    @classmethod
    def from_csv(cls, path: str | Path) -> "ChallengeWeights":
        """Read the challenge's `weights.csv`: a header row of class names, then one named row per class."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Challenge weights file {path} not found. Pass the `weights.csv` of the PhysioNet/CinC Challenge "
                "2021 (github.com/physionetchallenges/evaluation-2021)."
            )
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [[cell.strip() for cell in row] for row in csv.reader(handle) if row]
        column_names, body = (rows[0][1:], rows[1:]) if rows else ([], [])
        row_names = [row[0] for row in body]
        if not column_names or row_names != column_names or any(len(row) != len(column_names) + 1 for row in body):
            raise ValueError(
                f"{path} is not a square weight table: the header row and the first column must name the same classes "
                "in the same order, and every row must hold one weight per class."
            )
        try:
            matrix = np.array([[float(cell) for cell in row[1:]] for row in body])
        except ValueError as error:
            raise ValueError(f"{path} holds a weight that is not a number: {error}") from error
        return cls(classes=tuple(tuple(name.split("|")) for name in column_names), matrix=matrix)

    def class_of_code(self) -> dict[str, int]:
        """SNOMED CT code -> index of its scored class."""
        return {code: index for index, codes in enumerate(self.classes) for code in codes}


def _to_scored_classes(multi_hot: np.ndarray, label_codes, weights: ChallengeWeights) -> np.ndarray:
    """Columns named by SNOMED CT codes -> columns of the scored classes; equivalent codes merge with a logical or."""
    class_of_code = weights.class_of_code()
    projection = np.zeros((len(label_codes), len(weights.classes)))
    for column, code in enumerate(label_codes):
        if code in class_of_code:
            projection[column, class_of_code[code]] = 1
    return (multi_hot.astype(np.float64) @ projection) > 0


def _weighted_credit(labels: np.ndarray, outputs: np.ndarray, weights: np.ndarray) -> float:
    """Sum of weights over the challenge's multi-label confusion matrix (rows: true classes, columns: predicted)."""
    classes_involved = np.maximum((labels | outputs).sum(axis=1), 1)
    confusion = labels.T.astype(np.float64) @ (outputs / classes_involved[:, None])
    return float((weights * confusion).sum())


def physionet2021_challenge_score(
    references, predictions, label_codes, weights: ChallengeWeights, normal_class: str = SINUS_RHYTHM
) -> float:
    """
    The normalised challenge score of binary predictions.

    Args:
        references, predictions: `(num_recordings, num_labels)` multi-hot arrays (predictions already thresholded).
        label_codes: the SNOMED CT code of each column. Codes the weights do not score are ignored, and equivalent
            codes count as one class, as in the challenge.
        weights: the challenge weights, see [`ChallengeWeights.from_csv`].
        normal_class: the class of the reference classifier that scores 0.

    Returns:
        1 for the true labels, 0 for always predicting `normal_class`, lower for worse predictions.
    """
    references, predictions = np.asarray(references), np.asarray(predictions)
    if references.ndim != 2 or references.shape != predictions.shape or references.shape[1] != len(label_codes):
        raise ValueError(
            f"`references` {references.shape} and `predictions` {predictions.shape} must both have shape "
            f"(num_recordings, {len(label_codes)}): one column per label code."
        )
    label_codes = [str(code) for code in label_codes]
    class_of_code = weights.class_of_code()
    if normal_class not in class_of_code:
        raise ValueError(f"The normal class {normal_class} is not one of the scored classes of the weights.")
    if not any(code in class_of_code for code in label_codes):
        raise ValueError("None of `label_codes` is a class scored by the weights: pass the columns' SNOMED CT codes.")
    labels = _to_scored_classes(references, label_codes, weights)
    outputs = _to_scored_classes(predictions, label_codes, weights)
    always_normal = np.zeros_like(labels)
    always_normal[:, class_of_code[normal_class]] = True

    observed = _weighted_credit(labels, outputs, weights.matrix)
    perfect = _weighted_credit(labels, labels, weights.matrix)
    baseline = _weighted_credit(labels, always_normal, weights.matrix)
    # Degenerate case (e.g. every recording is normal): the challenge defines the score as 0.
    return (observed - baseline) / (perfect - baseline) if perfect != baseline else 0.0


__all__ = ["SINUS_RHYTHM", "ChallengeWeights", "physionet2021_challenge_score"]
