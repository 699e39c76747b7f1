"""
Result records and the one writer: every protocol output becomes records (`to_results`) and details; the untrained
baseline is seeded, reproducible and named in them.
"""

import json

import numpy as np
import pytest
import torch

from modeling_dbeta import DBetaModel
from modeling_dbeta.evaluation import (
    PRETRAINED,
    EvaluationResult,
    LinearProbeOutput,
    LinearProbeResult,
    RetrievalOutput,
    ZeroShotOutput,
    classification_metrics,
    load_results,
    models_to_evaluate,
    untrained_label,
    untrained_model,
    write_evaluation,
)
from modeling_dbeta.evaluation.finetune import FineTuneOutput
from tests.evaluation_fixtures import save_tiny_checkpoint
from tests.tiny_models import tiny_config


REFERENCES = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
SCORES = np.array([[0.9, 0.2], [0.3, 0.8], [0.6, 0.4], [0.1, 0.5]])
METRICS = classification_metrics(REFERENCES, SCORES, label_names=["AF", "SB"])


def test_every_output_becomes_records_with_auroc_and_auprc():
    zero_shot = ZeroShotOutput(["AF", "SB"], SCORES, REFERENCES, METRICS, leads=["II", "I"], prompts="paraphrases")
    assert zero_shot.to_results("synthetic", "test", untrained_label(3)) == [
        EvaluationResult("zero-shot", "synthetic", "macro_auroc", METRICS["macro_auroc"], "I,II", "test", None,
                         "untrained (seed 3)", "paraphrases"),
        EvaluationResult("zero-shot", "synthetic", "macro_auprc", METRICS["macro_auprc"], "I,II", "test", None,
                         "untrained (seed 3)", "paraphrases"),
    ]  # fmt: skip
    assert set(zero_shot.details()) == {
        "per_class_auroc", "per_class_auprc", "per_class_prevalence", "undefined_classes"
    }

    probe = LinearProbeResult(0.1, 30, 1.0, 0.8, {1.0: 0.8}, METRICS)
    records = LinearProbeOutput([probe]).to_results("cpsc2018")
    assert [(r.task, r.metric, r.train_fraction, r.leads, r.weights) for r in records] == [
        ("linear-probe", "macro_auroc", 0.1, "12", PRETRAINED), ("linear-probe", "macro_auprc", 0.1, "12", PRETRAINED)
    ]  # fmt: skip

    finetune = FineTuneOutput(None, ["AF", "SB"], 0.7, [], METRICS, SCORES, REFERENCES, np.zeros(2), 0.42, ["I"], 0.5)
    assert [(r.metric, r.value, r.leads, r.train_fraction) for r in finetune.to_results("physionet2021")] == [
        ("macro_auroc", METRICS["macro_auroc"], "I", 0.5), ("macro_auprc", METRICS["macro_auprc"], "I", 0.5),
        ("challenge_score", 0.42, "I", 0.5),
    ]  # fmt: skip
    assert finetune.details()["validation_thresholds"] == {"AF": 0.0, "SB": 0.0}

    retrieval = RetrievalOutput({"ecg_to_report_recall@1": 0.5}, num_pairs=4, num_distinct_reports=3)
    (record,) = retrieval.to_results("mimic-iv-ecg", "validation")
    assert (record.task, record.metric, record.value, record.split) == ("retrieval", "ecg_to_report_recall@1", 0.5,
                                                                        "validation")  # fmt: skip


def test_undefined_numbers_give_no_record():
    undefined = classification_metrics([[1], [1]], [[0.2], [0.4]])
    assert ZeroShotOutput(["AF"], None, None, undefined).to_results("csn") == []


def test_one_writer_for_every_run(tmp_path):
    outputs = {
        PRETRAINED: ZeroShotOutput(["AF", "SB"], SCORES, REFERENCES, METRICS),
        untrained_label(42): ZeroShotOutput(["AF", "SB"], SCORES[::-1], REFERENCES, METRICS),
    }
    path = write_evaluation(tmp_path / "out", "zero_shot", outputs, "code-test", "test", arguments={"seed": 42})
    content = json.loads(path.read_text())
    assert [r["weights"] for r in content["results"]] == [PRETRAINED] * 2 + ["untrained (seed 42)"] * 2
    assert list(content["details"]) == [PRETRAINED, "untrained (seed 42)"] and content["arguments"] == {"seed": 42}
    assert load_results(path) == [
        result for w, o in outputs.items() for result in o.to_results("code-test", "test", w)
    ]
    table = path.with_suffix(".md").read_text().splitlines()
    assert table[0] == "| Task | Data set | Leads | Train fraction | Weights | Metric | Split | Value |"
    assert [row.split(" | ")[4] for row in table[2:]] == ["pretrained", "untrained (seed 42)"] * 2


def test_files_written_before_weights_were_recorded_still_load(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"results": [{"task": "zero-shot", "dataset": "csn", "metric": "macro_auroc",
                                            "value": 0.7, "leads": "12", "split": "test", "train_fraction": None}]}))
    (result,) = load_results(old)
    assert result.weights is None and result.prompts is None


def test_untrained_baseline_is_reproducible_by_seed_and_leaves_the_global_stream_alone():
    config = tiny_config()
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = untrained_model(config, seed=5).state_dict()
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is untouched
    second = untrained_model(config, seed=5).state_dict()
    other = untrained_model(config, seed=6).state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], other[name]) for name in first)


def test_models_to_evaluate_gives_the_checkpoint_then_its_baseline(tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "dbeta-tiny")
    assert [label for label, _ in models_to_evaluate(DBetaModel, checkpoint)] == [PRETRAINED]
    (_, trained), (label, baseline) = models_to_evaluate(DBetaModel, checkpoint, baseline="untrained", baseline_seed=9)
    assert label == "untrained (seed 9)" and not baseline.training
    weight = "ecg_model.embeddings.conv_layers.0.conv.weight"
    assert not torch.equal(trained.state_dict()[weight], baseline.state_dict()[weight])
    assert torch.equal(baseline.state_dict()[weight], untrained_model(trained.config, 9).state_dict()[weight])
    with pytest.raises(ValueError, match="Unknown baseline 'random'"):
        list(models_to_evaluate(DBetaModel, checkpoint, baseline="random"))
