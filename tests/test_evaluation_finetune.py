"""Fine-tuning: the PhysioNet 2021 protocol on the tiny model, lead subsets, selection, MERL training subsets."""

import json

import datasets
import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split
from transformers import TrainingArguments

from datasets_scripts import load_ecg_dataset
from evaluation import finetune as finetune_script
from modeling_dbeta import STANDARD_LEADS, DBetaForECGClassification
from modeling_dbeta.evaluation import ChallengeWeights, classification_metrics, finetune, physionet2021_challenge_score
from modeling_dbeta.evaluation.finetune import PROTOCOL_TRAINING_DEFAULTS, check_protocol
from tests.evaluation_fixtures import save_tiny_checkpoint, write_challenge_weights, write_physionet2021


def test_protocol_requires_selection_by_validation_auroc(tmp_path):
    check_protocol(
        TrainingArguments(
            output_dir=str(tmp_path), eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
            metric_for_best_model="macro_auroc",
        )
    )  # fmt: skip
    by_loss = {"load_best_model_at_end": True, "metric_for_best_model": "loss"}
    for wrong in ({"load_best_model_at_end": False}, by_loss):
        with pytest.raises(ValueError, match="best validation macro AUROC"):
            check_protocol(TrainingArguments(str(tmp_path), eval_strategy="epoch", save_strategy="epoch", **wrong))


def test_physionet2021_command_line_on_the_tiny_model(tmp_path):
    data_dir = write_physionet2021(tmp_path / "physionet2021", num_records=36)
    weights_path = write_challenge_weights(tmp_path / "weights.csv")
    checkpoint = save_tiny_checkpoint(tmp_path / "dbeta-tiny")
    output_dir, dataset_cache = tmp_path / "finetune", str(tmp_path / "datasets-cache")
    json_path = finetune_script.main(
        [
            "--model_name_or_path", str(checkpoint),
            "--dataset", "physionet2021",
            "--data_dir", str(data_dir),
            "--dataset_cache_dir", dataset_cache,
            "--challenge_weights", str(weights_path),
            "--leads", "II",
            "--output_dir", str(output_dir),
            "--max_steps", "2",  # two optimiser steps, each followed by an evaluation and a checkpoint
            "--eval_strategy", "steps",
            "--eval_steps", "1",
            "--save_strategy", "steps",
            "--save_steps", "1",
            "--per_device_train_batch_size", "4",
            "--learning_rate", "1e-3",
            "--seed", "0",
            "--dataloader_pin_memory", "false",
        ]
    )  # fmt: skip
    content = json.loads(json_path.read_text())
    assert [(r["task"], r["metric"], r["leads"], r["dataset"], r["weights"]) for r in content["results"]] == [
        ("fine-tune", "macro_auroc", "II", "physionet2021", "pretrained"),
        ("fine-tune", "macro_auprc", "II", "physionet2021", "pretrained"),
        ("fine-tune", "challenge_score", "II", "physionet2021", "pretrained"),
    ]
    details = content["details"]["pretrained"]

    # The checkpoint kept is the one with the best validation macro AUROC of the epochs evaluated.
    history = [entry["macro_auroc"] for entry in details["validation_history"]]
    assert [entry["step"] for entry in details["validation_history"]] == [1, 2]
    assert details["validation_macro_auroc"] == max(history)

    # The saved model sees lead II only, and the reported numbers are that model's on the test split.
    model = DBetaForECGClassification.from_pretrained(output_dir).eval()
    assert model.config.classifier_leads == ["II"]
    seen = {}
    model.dbeta.ecg_model.register_forward_pre_hook(lambda module, args: seen.setdefault("ecg", args[0]))
    test = load_ecg_dataset("physionet2021", data_dir=data_dir, split="test", cache_dir=dataset_cache)
    ecg = torch.as_tensor(np.asarray(test.with_format("numpy")["ecg"]))
    with torch.no_grad():
        logits = model(ecg).logits.numpy()
    lead_ii = STANDARD_LEADS.index("II")
    assert (np.delete(seen["ecg"].numpy(), lead_ii, axis=1) == 0).all()
    torch.testing.assert_close(seen["ecg"][:, lead_ii], ecg[:, lead_ii])

    labels, names = np.asarray(test["labels"]), list(model.config.id2label.values())
    records = {record["metric"]: record["value"] for record in content["results"]}
    expected = classification_metrics(labels, logits)
    assert records["macro_auroc"] == pytest.approx(expected["macro_auroc"], abs=1e-5)
    assert records["macro_auprc"] == pytest.approx(expected["macro_auprc"], abs=1e-5)
    thresholds = np.array([details["validation_thresholds"][name] for name in names])
    expected_score = physionet2021_challenge_score(
        labels, logits >= thresholds, [name.split("|")[0] for name in names], ChallengeWeights.from_csv(weights_path)
    )
    assert records["challenge_score"] == pytest.approx(expected_score)


def rows_with_ids(ids, seed: int) -> datasets.Dataset:
    """ECGs whose first sample of lead I is the row's id, with labels giving both classes positives and negatives."""
    ecg = np.random.default_rng(seed).normal(0, 0.1, (len(ids), 12, 5000)).astype(np.float32)
    ecg[:, 0, 0] = ids
    labels = np.stack([np.arange(len(ids)) % 2, (np.arange(len(ids)) // 2) % 2], axis=1).astype(np.float32)
    features = datasets.Features(
        {"ecg": datasets.Array2D((12, 5000), "float32"), "labels": datasets.Sequence(datasets.Value("float32"))}
    )
    return datasets.Dataset.from_dict({"ecg": ecg, "labels": labels}, features=features)


def test_train_fraction_trains_on_the_merl_subset_only(tmp_path, monkeypatch):
    seen = {}

    class RecordingTrainer(finetune.Trainer):
        def __init__(self, *args, train_dataset=None, **kwargs):
            seen["train_ids"] = train_dataset[:]["ecg_values"][:, 0, 0].round().long().tolist()
            super().__init__(*args, train_dataset=train_dataset, **kwargs)

    monkeypatch.setattr(finetune, "Trainer", RecordingTrainer)
    train, validation, test = rows_with_ids(range(40), 0), rows_with_ids(range(8), 1), rows_with_ids(range(8), 2)
    args = TrainingArguments(
        str(tmp_path), **PROTOCOL_TRAINING_DEFAULTS, num_train_epochs=1, per_device_train_batch_size=5,
        use_cpu=True, report_to="none", dataloader_pin_memory=False,
    )  # fmt: skip
    output = finetune.finetune_classifier(
        save_tiny_checkpoint(tmp_path / "dbeta-tiny"), train, validation, test, args, label_names=["a", "b"],
        train_fraction=0.25,
    )  # fmt: skip
    expected, _ = train_test_split(np.arange(40), train_size=0.25, random_state=42)  # MERL's draw
    assert seen["train_ids"] == expected.tolist()
    assert output.test_logits.shape == (8, 2)
