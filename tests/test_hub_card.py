"""
Model card (its table and its model-index metadata), upload file list, folder checks and `python -m
modeling_dbeta.publish`, offline (the Hub calls are patched).
"""

import json
import re
import runpy
import sys
from unittest import mock

import pytest
import yaml
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

import modeling_dbeta  # noqa: F401  (registers the Auto classes, so save_pretrained writes `auto_map`)
from modeling_dbeta import (
    DBetaFeatureExtractor,
    DBetaForECGClassification,
    DBetaForPreTraining,
    DBetaProcessor,
    publish,
)
from modeling_dbeta.evaluation import EvaluationResult, load_results, save_results
from modeling_dbeta.hub import build_model_card, check_model_folder, count_parameters, files_to_upload


SAVED_FILES = [
    "config.json", "configuration_dbeta.py", "feature_extraction_dbeta.py", "hospital_exports.py", "losses.py",
    "model.safetensors", "modeling_dbeta.py", "pipeline_dbeta.py", "pipeline_inputs.py", "processing_dbeta.py",
    "processor_config.json", "recording.py", "text_normalization.py", "tokenizer.json", "tokenizer_config.json",
    "wfdb_reader.py",
]


@pytest.fixture
def model(config):
    return DBetaForPreTraining(config)


@pytest.fixture
def model_dir(tmp_path, model, tokenizer):
    directory = tmp_path / "dbeta-tiny"
    model.save_pretrained(directory)
    DBetaProcessor(DBetaFeatureExtractor(), tokenizer).save_pretrained(directory)
    # What a training run leaves beside the model and must stay local: a pickle and a Trainer checkpoint.
    (directory / "training_args.bin").write_bytes(b"pickle")
    (directory / "checkpoint-10").mkdir()
    (directory / "checkpoint-10" / "model.safetensors").write_bytes(b"")
    return directory


@pytest.fixture
def results_dir(tmp_path):
    directory = tmp_path / "results"
    directory.mkdir()
    save_results(
        [EvaluationResult(task="zero-shot", dataset="ptb-xl/super_class", metric="macro_auroc", value=0.7623)],
        directory / "zero_shot.json",
        per_class_auroc={"NORM": 0.8},
    )
    save_results(
        [
            EvaluationResult("linear-probe", "cpsc2018", "macro_auroc", 0.9012, leads="I,II,V2", train_fraction=0.01),
            EvaluationResult("retrieval", "mimic-iv-ecg", "ecg_to_report_median_rank", 12.0, leads="II"),
        ],
        directory / "probe.json",
    )
    (directory / "features_cache.json").write_text(json.dumps({"fingerprint": "abc"}))  # not a results file
    return directory


def test_saved_folder_carries_auto_map_and_its_code(model_dir):
    config = check_model_folder(model_dir)
    assert config["auto_map"]["AutoModel"] == "modeling_dbeta.DBetaModel"
    assert config["auto_map"]["AutoConfig"] == "configuration_dbeta.DBetaConfig"
    assert json.loads((model_dir / "processor_config.json").read_text())["auto_map"]["AutoProcessor"] == (
        "processing_dbeta.DBetaProcessor"
    )


def test_files_to_upload_are_exactly_model_processor_code_and_card(model_dir):
    assert files_to_upload(model_dir) == SAVED_FILES
    (model_dir / "README.md").write_text("card")
    assert files_to_upload(model_dir) == sorted([*SAVED_FILES, "README.md"])


def test_folder_check_names_what_is_missing(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    del config["auto_map"]
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="auto_map"):
        check_model_folder(model_dir)


def test_folder_check_refuses_a_classifier_checkpoint(tmp_path, config):
    DBetaForECGClassification(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"\['DBetaForECGClassification'\] checkpoint"):
        check_model_folder(tmp_path)


def test_folder_check_requires_the_processor(model_dir):
    (model_dir / "processor_config.json").unlink()
    with pytest.raises(ValueError, match="DBetaProcessor"):
        check_model_folder(model_dir)


def test_parameter_count_from_safetensors_headers(model_dir, model):
    assert count_parameters(model_dir) == model.num_parameters()


def test_results_load_from_a_folder_and_reject_bad_records(results_dir, tmp_path):
    results = load_results(results_dir)
    assert [r.task for r in results] == ["linear-probe", "retrieval", "zero-shot"]  # probe.json sorts first
    assert results[0].train_fraction == 0.01
    bad = tmp_path / "bad.json"
    misspelt = {"task": "zero-shot", "dataset": "cpsc2018", "metric": "macro_auroc", "vlaue": 0.8}
    bad.write_text(json.dumps({"results": [misspelt]}))
    with pytest.raises(ValueError, match=re.escape("bad.json")):
        load_results(bad)


def test_model_card_content(model_dir, model, config, results_dir):
    card = build_model_card(model_dir, "someone/dbeta-tiny", license="cc-by-nc-4.0", results=load_results(results_dir))
    assert card.data.license == "cc-by-nc-4.0"
    assert card.data.library_name == "transformers"
    text = card.text
    assert "# dbeta-tiny" in text
    assert "| Architecture | `DBetaForPreTraining` |" in text
    assert f"| Parameters | {model.num_parameters():,} (0.1 M) |" in text
    assert (
        f"| ECG encoder | {config.num_hidden_layers} transformer layers, hidden size {config.hidden_size}, "
        f"{config.num_attention_heads} heads, feed-forward {config.intermediate_size} |" in text
    )
    assert "| Text encoder | `t5`, 2 layers, hidden size 32 |" in text
    assert "MIMIC-IV-ECG v1.0" in text
    assert 'DBetaForPreTraining.from_pretrained("someone/dbeta-tiny")' in text
    assert 'AutoModel.from_pretrained("someone/dbeta-tiny", trust_remote_code=True)' in text
    assert "| zero-shot | ptb-xl/super_class | 12 |  |  | macro_auroc | test | 0.7623 |" in text
    assert "| linear-probe | cpsc2018 | I,II,V2 | 1% |  | macro_auroc | test | 0.9012 |" in text
    assert "| retrieval | mimic-iv-ecg | II |  |  | ecg_to_report_median_rank | test | 12 |" in text
    assert "`cc-by-nc-4.0`" in text
    assert "untrained" not in text  # no baseline, no note about one


def test_model_card_without_results(model_dir):
    card = build_model_card(model_dir, "someone/dbeta-tiny", license="apache-2.0", training_data="PTB-XL reports.")
    assert "No evaluation results were provided." in card.text
    assert "PTB-XL reports." in card.text and "MIMIC-IV-ECG" not in card.text


# Results the Hub can read: the card's model-index, parsed back from its YAML front matter.

BASELINE = "untrained (seed 42)"
RUN_RESULTS = [
    EvaluationResult(
        "zero-shot", "ptb-xl/super_class", "macro_auroc", 0.76, weights="pretrained", prompts="descriptions"
    ),
    EvaluationResult(
        "zero-shot", "ptb-xl/super_class", "macro_auprc", 0.41, weights="pretrained", prompts="descriptions"
    ),
    EvaluationResult("zero-shot", "ptb-xl/super_class", "macro_auroc", 0.52, weights=BASELINE, prompts="descriptions"),
    EvaluationResult("zero-shot", "ptb-xl/super_class", "macro_auroc", 0.70, leads="I,II,V2", weights="pretrained"),
    EvaluationResult("linear-probe", "cpsc2018", "macro_auroc", 0.85, train_fraction=0.01, weights="pretrained"),
    EvaluationResult("linear-probe", "cpsc2018", "macro_auroc", 0.91, train_fraction=0.1, weights="pretrained"),
    EvaluationResult("linear-probe", "cpsc2018", "macro_auroc", 0.83, train_fraction=0.1, weights=BASELINE),
    EvaluationResult("fine-tune", "physionet2021", "challenge_score", 0.61, train_fraction=1.0, weights="pretrained"),
    EvaluationResult("retrieval", "mimic-iv-ecg", "ecg_to_report_recall@1", 0.12, split="validation"),
]


def front_matter(card_text: str) -> dict:
    _, metadata, _ = card_text.split("---\n", 2)
    return yaml.safe_load(metadata)


def test_model_index_has_one_entry_per_protocol_dataset_leads_and_fraction(model_dir):
    card = build_model_card(model_dir, "someone/dbeta-tiny", license="apache-2.0", results=RUN_RESULTS)
    (model_index,) = front_matter(str(card))["model-index"]
    assert model_index["name"] == "dbeta-tiny"
    entries = {(e["task"]["type"], e["dataset"]["type"], e["dataset"]["config"]): e for e in model_index["results"]}
    assert list(entries) == [
        ("zero-shot-classification", "ptb-xl", "super_class;leads=12"),
        ("zero-shot-classification", "ptb-xl", "super_class;leads=I,II,V2"),
        ("ecg-linear-probe", "cpsc2018", "default;leads=12;train_fraction=0.01"),
        ("ecg-linear-probe", "cpsc2018", "default;leads=12;train_fraction=0.1"),
        ("ecg-classification", "physionet2021", "default;leads=12;train_fraction=1.0"),
        ("ecg-report-retrieval", "mimic-iv-ecg", "default;leads=12"),
    ]
    zero_shot = entries[("zero-shot-classification", "ptb-xl", "super_class;leads=12")]
    assert zero_shot["task"]["name"] == "Zero-shot ECG classification"
    assert zero_shot["dataset"] | {"args": None} == {
        "name": "ptb-xl/super_class, 12 leads", "type": "ptb-xl", "config": "super_class;leads=12", "split": "test",
        "args": None,
    }  # fmt: skip
    assert [(m["type"], m["config"], m["name"], m["value"]) for m in zero_shot["metrics"]] == [
        ("roc_auc", "macro", "macro AUROC, descriptions prompts", 0.76),
        ("average_precision", "macro", "macro AUPRC, descriptions prompts", 0.41),
        ("roc_auc", "macro", f"macro AUROC, descriptions prompts [{BASELINE} baseline]", 0.52),
    ]
    assert zero_shot["metrics"][2]["args"] == {"weights": BASELINE, "prompts": "descriptions"}
    probe = entries[("ecg-linear-probe", "cpsc2018", "default;leads=12;train_fraction=0.1")]
    assert probe["dataset"]["name"] == "cpsc2018, 12 leads, 10% of the training split"
    assert probe["dataset"]["args"] == {"leads": "12", "train_fraction": 0.1}
    assert [(m["name"], m["value"]) for m in probe["metrics"]] == [
        ("macro AUROC", 0.91), (f"macro AUROC [{BASELINE} baseline]", 0.83)
    ]
    finetune = entries[("ecg-classification", "physionet2021", "default;leads=12;train_fraction=1.0")]
    assert [(m["type"], m["value"]) for m in finetune["metrics"]] == [("physionet2021_challenge_score", 0.61)]
    retrieval = entries[("ecg-report-retrieval", "mimic-iv-ecg", "default;leads=12")]
    assert retrieval["dataset"]["split"] == "validation"
    assert [(m["type"], m["name"]) for m in retrieval["metrics"]] == [("ecg_to_report_recall@1",) * 2]

    # huggingface_hub reads the same entries back, one EvalResult per record.
    _, parsed = model_index_to_eval_results([model_index])
    assert sorted(result.metric_value for result in parsed) == sorted(result.value for result in RUN_RESULTS)
    assert card.data.eval_results is not None and len(card.data.eval_results) == len(RUN_RESULTS)

    # The people-facing table marks the baseline too, and the card says what it is.
    assert f"| linear-probe | cpsc2018 | 12 | 10% | {BASELINE} | macro_auroc | test | 0.83 |" in card.text
    assert f"`{BASELINE}` score the same architecture untrained, its weights as initialised" in card.text


def test_a_card_without_results_has_no_model_index(model_dir):
    card = build_model_card(model_dir, "someone/dbeta-tiny", license="apache-2.0")
    assert "model-index" not in front_matter(str(card))


def test_publish_runs_as_a_module(monkeypatch):
    monkeypatch.delitem(sys.modules, "modeling_dbeta.publish")  # run it as `python -m` would: fresh, as __main__
    with mock.patch.object(sys, "argv", ["modeling_dbeta.publish", "--help"]), pytest.raises(SystemExit) as exit_info:
        runpy.run_module("modeling_dbeta.publish", run_name="__main__")
    assert exit_info.value.code == 0


def test_publish_writes_the_card_and_uploads_exactly_the_folder_files(model_dir, results_dir):
    commit = mock.Mock(commit_url="https://huggingface.co/someone/dbeta-tiny/commit/0")
    with (
        mock.patch.object(HfApi, "create_repo", autospec=True) as create_repo,
        mock.patch.object(HfApi, "create_commit", autospec=True, return_value=commit) as create_commit,
    ):
        returned = publish.main(
            [
                "--model_dir", str(model_dir), "--repo_id", "someone/dbeta-tiny", "--license", "apache-2.0",
                "--results_dir", str(results_dir), "--private",
            ]
        )
    assert returned is commit
    create_repo.assert_called_once_with(mock.ANY, "someone/dbeta-tiny", private=True, repo_type="model", exist_ok=True)
    (_, repo_id, operations), kwargs = create_commit.call_args
    assert repo_id == "someone/dbeta-tiny" and kwargs["repo_type"] == "model"
    assert [operation.path_in_repo for operation in operations] == sorted([*SAVED_FILES, "README.md"])
    assert {operation.path_or_fileobj for operation in operations} == {
        str(model_dir / operation.path_in_repo) for operation in operations
    }
    card = ModelCard.load(model_dir / "README.md")
    assert card.data.license == "apache-2.0"
    assert "| zero-shot | ptb-xl/super_class |" in card.text
    assert [result.dataset_type for result in card.data.eval_results] == ["cpsc2018", "mimic-iv-ecg", "ptb-xl"]


def test_publish_requires_a_licence(model_dir):
    with pytest.raises(SystemExit):
        publish.main(["--model_dir", str(model_dir), "--repo_id", "someone/dbeta-tiny"])
