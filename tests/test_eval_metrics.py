"""Our metrics against scikit-learn and hand-computed values, through the Python API and `evaluate.load(<folder>)`."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from modeling_dbeta.evaluation import (
    ChallengeWeights,
    classification_metrics,
    max_f1,
    multilabel_auroc,
    physionet2021_challenge_score,
    retrieval_metrics,
)
from modeling_dbeta.evaluation.metrics import LOCAL_METRICS, load_metric, local_metric_path
from modeling_dbeta.evaluation.metrics.retrieval import _ranks_of_matches


@pytest.fixture
def multilabel_data():
    generator = np.random.default_rng(0)
    references = generator.integers(0, 2, size=(60, 4))
    references[:2] = [[0, 0, 0, 0], [1, 1, 1, 1]]  # every class has both values
    scores = references * 0.8 + generator.normal(size=references.shape)
    return references, scores


# AUROC


def test_auroc_matches_sklearn(multilabel_data):
    references, scores = multilabel_data
    result = multilabel_auroc(references, scores, label_names=["AF", "SB", "ST", "RBBB"])
    expected = roc_auc_score(references, scores, average=None)
    np.testing.assert_allclose(list(result["per_class_auroc"].values()), expected)
    assert list(result["per_class_auroc"]) == ["AF", "SB", "ST", "RBBB"]
    assert result["macro_auroc"] == pytest.approx(roc_auc_score(references, scores, average="macro"))
    assert result["undefined_classes"] == []


def test_auroc_hand_computed():
    # Positive-negative pairs ranked right: (0.9 > 0.8), (0.9 > 0.1), (0.4 > 0.1); wrong: (0.4 < 0.8) -> 3 / 4.
    result = multilabel_auroc([[1], [0], [1], [0]], [[0.9], [0.8], [0.4], [0.1]])
    assert result["per_class_auroc"] == {"0": 0.75}


def test_auroc_reports_and_excludes_undefined_classes(multilabel_data):
    references, scores = multilabel_data
    references = references.copy()
    references[:, 1] = 0  # no positive
    references[:, 3] = 1  # no negative
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn is never asked for an undefined AUROC
        result = multilabel_auroc(references, scores, label_names=["a", "b", "c", "d"])
    assert result["undefined_classes"] == ["b", "d"]
    assert result["per_class_auroc"]["b"] is None and result["per_class_auroc"]["d"] is None
    defined = [roc_auc_score(references[:, i], scores[:, i]) for i in (0, 2)]
    assert result["macro_auroc"] == pytest.approx(np.mean(defined))
    assert multilabel_auroc([[0], [0]], [[0.1], [0.2]])["macro_auroc"] is None


def test_auroc_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        multilabel_auroc([[1, 0]], [[0.5]])
    with pytest.raises(ValueError, match="multi-hot"):
        multilabel_auroc([[2], [0]], [[0.5], [0.1]])
    with pytest.raises(ValueError, match="NaN"):
        multilabel_auroc([[1], [0]], [[np.nan], [0.1]])
    with pytest.raises(ValueError, match="label names"):
        multilabel_auroc([[1], [0]], [[0.5], [0.1]], label_names=["a", "b"])


# AUPRC beside AUROC


def test_auprc_matches_sklearn_and_comes_with_prevalence(multilabel_data):
    references, scores = multilabel_data
    result = classification_metrics(references, scores, label_names=["AF", "SB", "ST", "RBBB"])
    expected = [average_precision_score(references[:, i], scores[:, i]) for i in range(4)]
    np.testing.assert_allclose(list(result["per_class_auprc"].values()), expected)
    assert result["macro_auprc"] == pytest.approx(np.mean(expected))
    auroc = multilabel_auroc(references, scores, ["AF", "SB", "ST", "RBBB"])
    assert result["per_class_auroc"] == auroc["per_class_auroc"]
    np.testing.assert_allclose(list(result["per_class_prevalence"].values()), references.mean(axis=0))


def test_auprc_hand_computed():
    # Ranked by score: positive, negative, positive, negative. Precision at each positive: 1/1, 2/3 -> AP 5/6.
    result = classification_metrics([[1], [0], [1], [0]], [[0.9], [0.8], [0.4], [0.1]])
    assert result["per_class_auprc"] == {"0": pytest.approx(5 / 6)} and result["per_class_prevalence"] == {"0": 0.5}


def test_auprc_leaves_out_the_classes_auroc_leaves_out(multilabel_data):
    references, scores = multilabel_data
    references = references.copy()
    references[:, 1] = 0  # no positive: no precision-recall curve
    references[:, 3] = 1  # no negative: AUPRC would be 1 whatever the scores
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = classification_metrics(references, scores, label_names=["a", "b", "c", "d"])
    assert result["undefined_classes"] == ["b", "d"]
    assert result["per_class_auprc"]["b"] is None and result["per_class_auprc"]["d"] is None
    defined = [average_precision_score(references[:, i], scores[:, i]) for i in (0, 2)]
    assert result["macro_auprc"] == pytest.approx(np.mean(defined))


# max-F1


def test_max_f1_hand_computed():
    # Thresholds 0.9, 0.8, 0.4, 0.1 give F1 2/3, 1/2, 4/5, 2/3: the best is 0.8 at 0.4.
    result = max_f1([[1], [0], [1], [0]], [[0.9], [0.8], [0.4], [0.1]], label_names=["AF"])
    assert result["per_class_max_f1"]["AF"] == pytest.approx(0.8)
    assert result["per_class_threshold"]["AF"] == pytest.approx(0.4)


def test_max_f1_matches_sklearn_over_every_threshold(multilabel_data):
    references, scores = multilabel_data
    references = references.copy()
    references[:, 2] = 0
    result = max_f1(references, scores)
    for index in (0, 1, 3):
        column = scores[:, index]
        best = max(f1_score(references[:, index], column >= threshold) for threshold in np.unique(column))
        assert result["per_class_max_f1"][str(index)] == pytest.approx(best)
        threshold = result["per_class_threshold"][str(index)]
        assert f1_score(references[:, index], column >= threshold) == pytest.approx(best)
    assert result["undefined_classes"] == ["2"]
    assert result["macro_max_f1"] == pytest.approx(np.mean([result["per_class_max_f1"][k] for k in "013"]))


# Retrieval

SIMILARITY = np.array(
    [
        [0.9, 0.1, 0.5],
        [0.8, 0.2, 0.3],
        [0.1, 0.7, 0.6],
    ]
)


def test_retrieval_hand_computed():
    # ECG -> report (rows): matches rank 1, 3, 2. Report -> ECG (columns): 1, 2, 1.
    result = retrieval_metrics(SIMILARITY, ks=(1, 2))
    assert result == {
        "ecg_to_report_recall@1": pytest.approx(1 / 3),
        "ecg_to_report_recall@2": pytest.approx(2 / 3),
        "ecg_to_report_median_rank": 2.0,
        "report_to_ecg_recall@1": pytest.approx(2 / 3),
        "report_to_ecg_recall@2": 1.0,
        "report_to_ecg_median_rank": 1.0,
    }


def test_retrieval_groups_make_duplicate_reports_interchangeable():
    # Pairs 0 and 1 share a report: ECG 1 retrieving report 0 (0.8) is a hit. ECG -> report ranks: 1, 1, 2.
    result = retrieval_metrics(SIMILARITY, groups=[7, 7, 3], ks=(1,))
    assert result["ecg_to_report_recall@1"] == pytest.approx(2 / 3)
    assert result["ecg_to_report_median_rank"] == 1.0


def test_retrieval_ties_count_against_the_model():
    result = retrieval_metrics(np.ones((4, 4)), ks=(1,))
    assert result["ecg_to_report_recall@1"] == 0.0
    assert result["report_to_ecg_median_rank"] == 4.0


def test_retrieval_of_known_features():
    # Matched features are identical, others orthogonal: every match ranks first.
    ecg_features = np.eye(12)[:10]
    result = retrieval_metrics(ecg_features @ ecg_features.T)
    assert result["ecg_to_report_recall@1"] == result["report_to_ecg_recall@1"] == 1.0
    assert result["ecg_to_report_median_rank"] == 1.0


def test_retrieval_ranks_do_not_depend_on_the_row_blocks():
    generator = np.random.default_rng(1)
    scores = generator.integers(0, 4, size=(7, 7)).astype(np.float32)  # many ties
    groups = np.array([0, 1, 1, 2, 3, 3, 3])
    np.testing.assert_array_equal(_ranks_of_matches(scores, groups, block_size=2), _ranks_of_matches(scores, groups))


def test_retrieval_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        retrieval_metrics(np.ones((2, 3)))
    with pytest.raises(ValueError, match="groups"):
        retrieval_metrics(np.eye(3), groups=[0, 1])


# PhysioNet/CinC 2021 challenge score

# Classes A (111), B (222 or its equivalent 333) and the normal class N; the real file's layout.
WEIGHTS_CSV = """,111,222|333,426783006
111,1.0,0.5,0.0
222|333,0.5,1.0,0.25
426783006,0.0,0.25,1.0
"""
LABEL_CODES = ["111", "222", "333", "426783006", "999"]  # 999 is not scored; 222 and 333 are one class

# Recording-wise (labels -> outputs): {A} -> {A}; {A, B} -> {B}; {N} -> {A, N}; {B} -> {}.
REFERENCES = np.array(
    [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 1],
        [0, 0, 0, 1, 1],
        [0, 0, 1, 0, 0],
    ]
)
PREDICTIONS = np.array(
    [
        [1, 0, 0, 0, 1],
        [0, 0, 1, 0, 0],
        [1, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
    ]
)
# Observed: 1 + 0.5 * (0.5 + 1.0) + 0.5 * (0 + 1.0) = 9/4.
# Perfect: 1 + 0.5 * (1 + 0.5 + 0.5 + 1) + 1 + 1 = 9/2.
# Always N: {A}: 0; {A, B}: 0.25 / 3; {N}: 1; {B}: 0.25 / 2 -> 29/24.  Score: (9/4 - 29/24) / (9/2 - 29/24) = 25/79.
EXPECTED_CHALLENGE_SCORE = 25 / 79


@pytest.fixture
def weights_file(tmp_path):
    path = tmp_path / "weights.csv"
    path.write_text(WEIGHTS_CSV)
    return path


def test_challenge_weights_from_csv(weights_file):
    weights = ChallengeWeights.from_csv(weights_file)
    assert weights.classes == (("111",), ("222", "333"), ("426783006",))
    assert weights.matrix.shape == (3, 3) and weights.matrix[1, 2] == 0.25


def test_challenge_score_hand_computed(weights_file):
    weights = ChallengeWeights.from_csv(weights_file)
    score = physionet2021_challenge_score(REFERENCES, PREDICTIONS, LABEL_CODES, weights)
    assert score == pytest.approx(EXPECTED_CHALLENGE_SCORE)


def test_challenge_score_bounds(weights_file):
    weights = ChallengeWeights.from_csv(weights_file)
    assert physionet2021_challenge_score(REFERENCES, REFERENCES, LABEL_CODES, weights) == pytest.approx(1.0)
    always_normal = np.zeros_like(REFERENCES)
    always_normal[:, LABEL_CODES.index("426783006")] = 1
    assert physionet2021_challenge_score(REFERENCES, always_normal, LABEL_CODES, weights) == pytest.approx(0.0)
    # Every recording normal: the perfect and the always-normal classifier coincide, and the score is defined as 0.
    assert physionet2021_challenge_score(always_normal, always_normal, LABEL_CODES, weights) == 0.0


def test_challenge_errors(weights_file, tmp_path):
    weights = ChallengeWeights.from_csv(weights_file)
    with pytest.raises(ValueError, match="normal class"):
        physionet2021_challenge_score(REFERENCES, PREDICTIONS, LABEL_CODES, weights, normal_class="1")
    with pytest.raises(ValueError, match="None of"):
        physionet2021_challenge_score(REFERENCES, PREDICTIONS, ["1", "2", "3", "4", "5"], weights)
    with pytest.raises(ValueError, match="one column per label code"):
        physionet2021_challenge_score(REFERENCES, PREDICTIONS, LABEL_CODES[:3], weights)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(",111,222\n222,1.0,0.5\n111,0.5,1.0\n")
    with pytest.raises(ValueError, match="square weight table"):
        ChallengeWeights.from_csv(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=re.escape("empty.csv is not a square weight table")):
        ChallengeWeights.from_csv(empty)
    with pytest.raises(FileNotFoundError, match=re.escape("weights.csv")):
        ChallengeWeights.from_csv(tmp_path / "absent.csv")


# The same metrics through `evaluate.load(<local folder>)`


def test_local_metrics_load_offline_and_match_the_python_api(multilabel_data, weights_file):
    references, scores = multilabel_data
    references = references.copy()
    references[:, 1] = 0

    classification = load_metric("multilabel_classification")
    for start in range(0, len(references), 25):  # batches accumulate like in an evaluation loop
        classification.add_batch(predictions=scores[start : start + 25], references=references[start : start + 25])
    via_evaluate = classification.compute(label_names=["a", "b", "c", "d"])
    assert via_evaluate == classification_metrics(references, scores, label_names=["a", "b", "c", "d"])
    assert via_evaluate["undefined_classes"] == ["b"]

    f1 = load_metric("max_f1").compute(predictions=scores, references=references)
    assert f1["macro_max_f1"] == pytest.approx(max_f1(references, scores)["macro_max_f1"])

    retrieval = load_metric("retrieval").compute(predictions=SIMILARITY, references=[0, 1, 2], ks=(1, 2))
    assert retrieval == pytest.approx(retrieval_metrics(SIMILARITY, ks=(1, 2)))

    challenge = load_metric("physionet2021_challenge").compute(
        predictions=PREDICTIONS, references=REFERENCES, label_codes=LABEL_CODES, weights_path=str(weights_file)
    )
    assert challenge["challenge_score"] == pytest.approx(EXPECTED_CHALLENGE_SCORE)


def test_every_local_metric_ships_its_script():
    for name in LOCAL_METRICS:
        assert (Path(local_metric_path(name)) / f"{name}.py").is_file()
    with pytest.raises(ValueError, match="local metrics are"):
        local_metric_path("roc_auc")
