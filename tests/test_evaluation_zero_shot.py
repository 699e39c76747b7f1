"""Zero-shot classification: known features give the expected AUROC, lead subsets, descriptions, the command line."""

import json
from types import SimpleNamespace

import datasets
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from datasets_scripts import load_ecg_dataset
from evaluation import zero_shot as zero_shot_script
from modeling_dbeta import DBetaConfig, normalize_report
from modeling_dbeta.evaluation import resolve_similarity, zero_shot_classification
from tests.evaluation_fixtures import (
    FixedFeatureModel,
    constant_leads,
    merl_ptb_xl_rows,
    save_tiny_checkpoint,
    text_vectors_for,
    tiny_processor,
    write_ptb_xl_subset,
)


# Each class's description, and the lead whose mean the fixed model's text vector for it selects.
DESCRIPTIONS = {
    "NORM": "*** Normal EKG ***",  # normalised to "normal ecg", as pretraining reports are
    "MI": "inferior infarct",
    "STTC": "st depression",
    "CD": "left bundle branch block",
    "HYP": "ventricular hypertrophy",
}
LEAD_OF_CLASS = {"NORM": 7, "MI": 0, "STTC": 10, "CD": 3, "HYP": 1}


@pytest.fixture(scope="module")
def ptb_xl(tmp_path_factory):
    """PTB-XL super_class: 10 test records of MERL's split, each holding a known constant per lead."""
    rows = merl_ptb_xl_rows("super_class", {"train": 1, "validation": 1, "test": 10})
    test_rows, class_names = rows["test"]
    generator = np.random.default_rng(0)
    # Distinct multiples of 1 uV (PTB-XL's resolution), so the values survive the WFDB round trip exactly.
    values = generator.choice(np.arange(-2000, 2000), size=(len(test_rows), 12), replace=False) / 1000
    lead_values = dict(zip(test_rows.ecg_id.astype(int), values, strict=True))
    signals = {ecg_id: constant_leads(value) for ecg_id, value in lead_values.items()}
    data_dir = write_ptb_xl_subset(tmp_path_factory.mktemp("ptb-xl"), rows, signals)
    labels = {int(row.ecg_id): row for row in test_rows.itertuples()}
    return {"data_dir": data_dir, "lead_values": lead_values, "labels": labels, "class_names": class_names}


@pytest.fixture(scope="module")
def test_split(ptb_xl, tmp_path_factory):
    cache_dir = str(tmp_path_factory.mktemp("datasets-cache"))
    return load_ecg_dataset("ptb-xl", "super_class", data_dir=ptb_xl["data_dir"], split="test", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def fixed_model():
    processor = tiny_processor()
    vectors = {normalize_report(DESCRIPTIONS[name]): np.eye(12)[lead] for name, lead in LEAD_OF_CLASS.items()}
    return FixedFeatureModel(text_vectors_for(processor, vectors)), processor


def expected_aurocs(ptb_xl, ecg_ids, score_of):
    """Per-class AUROC computed from the designed lead values and MERL's labels, without the pipeline."""
    values = np.stack([ptb_xl["lead_values"][ecg_id] for ecg_id in ecg_ids])
    expected = {}
    for name in ptb_xl["class_names"]:
        labels = np.array([getattr(ptb_xl["labels"][ecg_id], name) for ecg_id in ecg_ids])
        defined = 0 < labels.sum() < len(labels)
        expected[name] = roc_auc_score(labels, score_of(values, LEAD_OF_CLASS[name])) if defined else None
    return expected


@pytest.mark.parametrize(
    "similarity, score_of",
    [
        ("dot", lambda values, lead: values[:, lead]),
        ("cosine", lambda values, lead: values[:, lead] / np.linalg.norm(values, axis=1)),
    ],
)
def test_known_features_give_the_expected_auroc(ptb_xl, test_split, fixed_model, similarity, score_of):
    model, processor = fixed_model
    output = zero_shot_classification(model, processor, test_split, DESCRIPTIONS, similarity=similarity)
    expected = expected_aurocs(ptb_xl, test_split["ecg_id"], score_of)
    assert output.label_names == ptb_xl["class_names"] and set(expected) == set(DESCRIPTIONS)
    assert output.metrics["per_class_auroc"] == pytest.approx(expected)
    defined = [value for value in expected.values() if value is not None]
    assert output.metrics["macro_auroc"] == pytest.approx(np.mean(defined))
    assert len(set(np.round(defined, 6))) > 2  # the classes really are told apart by different leads


def test_auto_similarity_is_the_score_the_ets_loss_trained(test_split, fixed_model):
    assert resolve_similarity("auto", SimpleNamespace(config=DBetaConfig(ets_loss_type="siglip"))) == "cosine"
    assert resolve_similarity("auto", SimpleNamespace(config=DBetaConfig(ets_loss_type="dbeta"))) == "dot"
    assert resolve_similarity("cosine", SimpleNamespace(config=DBetaConfig())) == "cosine"
    with pytest.raises(ValueError, match="Unknown similarity"):
        resolve_similarity("euclidean", None)
    model, processor = fixed_model  # no config: the authors' dot product
    auto = zero_shot_classification(model, processor, test_split, DESCRIPTIONS)
    dot = zero_shot_classification(model, processor, test_split, DESCRIPTIONS, similarity="dot")
    np.testing.assert_array_equal(auto.scores, dot.scores)


def test_lead_subset_scores_only_through_the_kept_leads(ptb_xl, test_split, fixed_model):
    model, processor = fixed_model
    output = zero_shot_classification(model, processor, test_split, DESCRIPTIONS, leads=["II"])
    hyp = ptb_xl["class_names"].index("HYP")  # described by lead II's vector
    assert (np.delete(output.scores, hyp, axis=1) == 0).all()
    expected = expected_aurocs(ptb_xl, test_split["ecg_id"], lambda values, lead: values[:, lead])
    assert output.metrics["per_class_auroc"]["HYP"] == pytest.approx(expected["HYP"])
    assert all(value in (0.5, None) for name, value in output.metrics["per_class_auroc"].items() if name != "HYP")


def test_in_memory_dataset_with_label_names(fixed_model):
    """The pretraining demo's case: an in-memory data set and its own class names."""
    model, processor = fixed_model
    ecg = np.zeros((4, 12, 5000), np.float32)
    ecg[:, LEAD_OF_CLASS["MI"]] = np.array([0.1, 0.9, 0.2, 0.8])[:, None]
    dataset = datasets.Dataset.from_dict({"ecg": ecg, "labels": [[0.0], [1.0], [0.0], [1.0]]})
    with pytest.raises(ValueError, match="pass `label_names`"):
        zero_shot_classification(model, processor, dataset, DESCRIPTIONS)
    output = zero_shot_classification(model, processor, dataset, DESCRIPTIONS, label_names=["MI"])
    assert output.metrics["per_class_auroc"] == {"MI": 1.0}


def test_every_class_needs_a_description(test_split, fixed_model):
    model, processor = fixed_model
    partial = {name: text for name, text in DESCRIPTIONS.items() if name != "STTC"}
    with pytest.raises(ValueError, match=r"No description for the class\(es\) \['STTC'\]"):
        zero_shot_classification(model, processor, test_split, partial)


def test_command_line_on_the_tiny_model_with_its_untrained_baseline(ptb_xl, tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "dbeta-tiny")
    descriptions = tmp_path / "descriptions.json"
    descriptions.write_text(json.dumps(DESCRIPTIONS | {"OTHER": "unused"}))
    output_dir = tmp_path / "zero-shot"
    json_path = zero_shot_script.main(
        [
            "--model_name_or_path", str(checkpoint),
            "--dataset", "ptb-xl",
            "--dataset_config", "super_class",
            "--data_dir", str(ptb_xl["data_dir"]),
            "--dataset_cache_dir", str(tmp_path / "datasets-cache"),
            "--feature_cache_dir", str(tmp_path / "features"),
            "--descriptions", str(descriptions),
            "--leads", "V2,I,II",
            "--batch_size", "4",
            "--baseline", "untrained",
            "--baseline_seed", "7",
            "--output_dir", str(output_dir),
        ]
    )  # fmt: skip
    content = json.loads(json_path.read_text())
    records = content["results"]
    assert [(r["weights"], r["metric"]) for r in records] == [
        ("pretrained", "macro_auroc"), ("pretrained", "macro_auprc"),
        ("untrained (seed 7)", "macro_auroc"), ("untrained (seed 7)", "macro_auprc"),
    ]  # fmt: skip
    assert {(r["task"], r["dataset"], r["leads"], r["split"], r["train_fraction"], r["prompts"]) for r in records} == {
        ("zero-shot", "ptb-xl/super_class", "I,II,V2", "test", None, "descriptions.json")
    }
    assert all(0 <= r["value"] <= 1 for r in records)
    assert records[0]["value"] != records[2]["value"]  # the baseline is another model
    for weights in ("pretrained", "untrained (seed 7)"):
        details = content["details"][weights]
        assert set(details["per_class_auroc"]) == set(details["per_class_auprc"]) == set(DESCRIPTIONS)
        assert details["per_class_prevalence"] == {
            name: np.mean([getattr(row, name) for row in ptb_xl["labels"].values()]) for name in DESCRIPTIONS
        }
    assert content["descriptions"] == DESCRIPTIONS
    assert content["arguments"]["baseline"] == "untrained" and content["arguments"]["baseline_seed"] == 7
    table = (output_dir / "zero_shot.md").read_text()
    line = "| zero-shot, descriptions.json | ptb-xl/super_class | I,II,V2 |  | untrained (seed 7) | macro_auprc |"
    assert line in table
    for name in ("roc_curves.png", "roc_curves_untrained.png"):
        assert (output_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((tmp_path / "features").glob("*.safetensors"))) == 2  # one per model
