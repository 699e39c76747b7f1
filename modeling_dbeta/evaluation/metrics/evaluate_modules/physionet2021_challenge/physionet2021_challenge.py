# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""The PhysioNet/CinC Challenge 2021 score as a local `evaluate` module: `evaluate.load("<this folder>")`."""

import evaluate

from modeling_dbeta.evaluation.metrics import SINUS_RHYTHM, ChallengeWeights, physionet2021_challenge_score
from modeling_dbeta.evaluation.metrics.metric_info import MULTI_HOT, metric_info


_DESCRIPTION = """
The PhysioNet/CinC Challenge 2021 metric: a weighted multi-label confusion matrix that gives partial credit to
clinically similar mistakes, normalised so that always predicting sinus rhythm scores 0 and the true labels score 1.
The weights are the challenge's `weights.csv`, which the user provides.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `int`): binary predictions per recording and label column.
    references (`list` of `list` of `int`): multi-hot labels per recording.
    label_codes (`list` of `str`): the SNOMED CT code of each column; codes the weights do not score are ignored.
    weights_path (`str`): path to the challenge's `weights.csv`.
    normal_class (`str`, *optional*, defaults to `"426783006"`, sinus rhythm): the class of the 0-score baseline.
Returns:
    challenge_score (`float`).
"""

_CITATION = """
@inproceedings{reyna2021will,
  title = {Will Two Do? Varying Dimensions in Electrocardiography:
           The PhysioNet/Computing in Cardiology Challenge 2021},
  author = {Reyna, Matthew A. and others},
  booktitle = {Computing in Cardiology},
  year = {2021}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Physionet2021Challenge(evaluate.Metric):
    def _info(self):
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            predictions=MULTI_HOT,
            references=MULTI_HOT,
            citation=_CITATION,
            reference_urls=["https://physionetchallenges.org/2021/"],
        )

    def _compute(self, predictions, references, label_codes, weights_path, normal_class=SINUS_RHYTHM):
        weights = ChallengeWeights.from_csv(weights_path)
        score = physionet2021_challenge_score(references, predictions, label_codes, weights, normal_class=normal_class)
        return {"challenge_score": score}
