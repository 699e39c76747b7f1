"""Retrieval: known features give the expected recall and ranks, identical reports are one group, the command line."""

import json

import numpy as np
import pytest

from datasets_scripts import load_ecg_dataset
from evaluation import retrieval as retrieval_script
from modeling_dbeta.evaluation import retrieval_evaluation
from tests.evaluation_fixtures import (
    FixedFeatureModel,
    save_tiny_checkpoint,
    text_vectors_for,
    tiny_processor,
    write_mimic_pairs,
)


# Machine statements as MIMIC-IV-ECG stores them; the builder normalises them ("Sinus rhythm" -> "sinus rhythm").
REPORTS = [
    "Sinus rhythm",
    "Atrial fibrillation",
    "*** Sinus rhythm ***",
    "Left bundle branch block",
    "Sinus bradycardia",
]
TEXT_VECTORS = {  # one direction per distinct report
    "sinus rhythm": np.eye(12)[0],
    "atrial fibrillation": np.eye(12)[1],
    "left bundle branch block": np.eye(12)[2],
    "sinus bradycardia": np.eye(12)[3],
}
# Lead values (= ECG features of the fixed model). Every ECG points at its own report except ECG 1 (atrial
# fibrillation), which scores "sinus bradycardia" (0.8) above its own report (0.5).
LEAD_VALUES = np.zeros((5, 12))
LEAD_VALUES[[0, 2, 3, 4], [0, 0, 2, 3]] = 1.0
LEAD_VALUES[1, [1, 3]] = [0.5, 0.8]


@pytest.fixture(scope="module")
def mimic_dir(tmp_path_factory):
    return write_mimic_pairs(tmp_path_factory.mktemp("mimic-iv-ecg"), REPORTS, LEAD_VALUES)


def test_known_features_give_the_expected_recall_and_ranks(mimic_dir, tmp_path):
    pairs = load_ecg_dataset(
        "mimic-iv-ecg", data_dir=mimic_dir, split="train", cache_dir=str(tmp_path), validation_fraction=0.0
    )
    assert pairs["report"] == [report.strip("* ").lower() for report in REPORTS]
    processor = tiny_processor()
    model = FixedFeatureModel(text_vectors_for(processor, TEXT_VECTORS))
    output = retrieval_evaluation(model, processor, pairs, ks=(1, 2, 5))
    assert output.num_pairs == 5 and output.num_distinct_reports == 4
    # ECG -> report: ECG 1 ranks its report second (behind "sinus bradycardia"); ECG 0 and ECG 2 share a report text,
    # so either copy of it is a hit. Report -> ECG: every report ranks its ECG first.
    assert output.metrics == {
        "ecg_to_report_recall@1": 0.8,
        "ecg_to_report_recall@2": 1.0,
        "ecg_to_report_recall@5": 1.0,
        "ecg_to_report_median_rank": 1.0,
        "report_to_ecg_recall@1": 1.0,
        "report_to_ecg_recall@2": 1.0,
        "report_to_ecg_recall@5": 1.0,
        "report_to_ecg_median_rank": 1.0,
    }
    cosine = retrieval_evaluation(model, processor, pairs, similarity="cosine", ks=(1,))
    assert cosine.metrics["ecg_to_report_recall@1"] == 0.8  # ECG 1 still prefers "sinus bradycardia"

    only_lead_one = retrieval_evaluation(model, processor, pairs, leads=["II"], ks=(1,))
    # Lead II alone: only ECG 1 has a non-zero feature; every other ECG ties with all reports and ranks them last.
    assert only_lead_one.metrics["ecg_to_report_recall@1"] == 0.2


def test_command_line_on_the_tiny_model(mimic_dir, tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "dbeta-tiny")
    output_dir = tmp_path / "retrieval"
    json_path = retrieval_script.main(
        [
            "--model_name_or_path", str(checkpoint),
            "--dataset", "mimic-iv-ecg",
            "--data_dir", str(mimic_dir),
            "--dataset_cache_dir", str(tmp_path / "datasets-cache"),
            "--feature_cache_dir", str(tmp_path / "features"),
            "--split", "train",
            "--leads", "I,II,V2",
            "--output_dir", str(output_dir),
        ]
    )  # fmt: skip
    content = json.loads(json_path.read_text())
    metrics = {record["metric"]: record["value"] for record in content["results"]}
    assert set(metrics) == {
        f"{direction}_{name}"
        for direction in ("ecg_to_report", "report_to_ecg")
        for name in ("recall@1", "recall@5", "recall@10", "median_rank")
    }
    assert all(record["leads"] == "I,II,V2" and record["split"] == "train" for record in content["results"])
    assert metrics["ecg_to_report_recall@10"] == 1.0  # at most 5 candidates
    details = content["details"]["pretrained"]
    assert details["num_pairs"] >= 2 and details["num_distinct_reports"] <= details["num_pairs"]
    assert "| retrieval | mimic-iv-ecg | I,II,V2 |" in (output_dir / "retrieval.md").read_text()
