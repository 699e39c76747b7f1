"""
Bad input to the evaluation scripts and protocols (issue #14): each gives one clear message that names the file,
split or argument and says what to do, before any long work starts, and nothing non-finite leaves the features.
"""

import json

import datasets
import numpy as np
import pytest
import torch
from transformers import TrainingArguments

from evaluation import linear_probe as linear_probe_script
from evaluation import retrieval as retrieval_script
from evaluation import zero_shot as zero_shot_script
from modeling_dbeta import DBetaForECGClassification
from modeling_dbeta.evaluation import extract_ecg_features, fit_linear_probe, zero_shot_classification
from modeling_dbeta.evaluation.finetune import PROTOCOL_TRAINING_DEFAULTS, finetune_classifier
from tests.evaluation_fixtures import (
    FixedFeatureModel,
    merl_ptb_xl_rows,
    save_tiny_checkpoint,
    text_vectors_for,
    tiny_processor,
    write_mimic_pairs,
    write_ptb_xl_subset,
)
from tests.tiny_models import tiny_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny PTB-XL and MIMIC-IV-ECG trees, a datasets cache shared by the tests, and a tiny checkpoint."""
    root = tmp_path_factory.mktemp("bad-input")
    rows = merl_ptb_xl_rows("super_class", {"train": 4, "validation": 4, "test": 6})
    return {
        "ptb_xl": write_ptb_xl_subset(root / "ptb-xl", rows),
        "mimic": write_mimic_pairs(
            root / "mimic-iv-ecg", ["Sinus rhythm", "Atrial fibrillation", "Sinus bradycardia"]
        ),
        "cache": str(root / "datasets-cache"),
        "checkpoint": save_tiny_checkpoint(root / "dbeta-tiny"),
        "root": root,
    }


def ptb_xl_flags(data, model_path, output_dir) -> list[str]:
    return [
        "--model_name_or_path", str(model_path), "--dataset", "ptb-xl", "--dataset_config", "super_class",
        "--data_dir", str(data["ptb_xl"]), "--dataset_cache_dir", data["cache"],
        "--feature_cache_dir", str(output_dir / "features"), "--output_dir", str(output_dir),
    ]  # fmt: skip


# A missing column


def test_zero_shot_on_a_data_set_without_labels_names_the_split_and_the_fix(data, tmp_path):
    flags = [
        "--model_name_or_path", str(data["checkpoint"]), "--dataset", "mimic-iv-ecg", "--data_dir", str(data["mimic"]),
        "--dataset_cache_dir", data["cache"], "--split", "train", "--output_dir", str(tmp_path),
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"No `labels` column in the train split of mimic_iv_ecg .*--dataset ptb-xl"):
        zero_shot_script.main(flags)


def test_retrieval_without_the_report_column_names_the_argument(data, tmp_path):
    flags = [*ptb_xl_flags(data, data["checkpoint"], tmp_path), "--report_column", "notes"]
    with pytest.raises(ValueError, match=r"No 'notes' column in the validation split of ptb_xl \(super_class\).*"
                                         r"--report_column"):  # fmt: skip
        retrieval_script.main(flags)


# A split the data set lacks


def test_a_split_the_data_set_lacks_names_the_flag_and_the_splits_it_has(data, tmp_path):
    flags = [*ptb_xl_flags(data, data["checkpoint"], tmp_path), "--validation_split", "valid"]
    with pytest.raises(ValueError, match=r"ptb-xl/super_class has no 'valid' split \(--validation_split valid\).*"
                                         r"'train', 'validation', 'test'"):  # fmt: skip
        linear_probe_script.main(flags)


# A model folder that is not a D-BETA checkpoint


def test_a_folder_without_a_config_is_not_a_checkpoint(data, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        ValueError, match=r"empty is not a D-BETA checkpoint: it holds no config.json.*save_pretrained"
    ):
        zero_shot_script.main(ptb_xl_flags(data, empty, tmp_path))


def test_a_checkpoint_of_another_model_type_is_refused_by_name(data, tmp_path):
    other = tmp_path / "bert-base"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    with pytest.raises(ValueError, match=r"bert-base/config.json describes a 'bert' model, not a D-BETA one"):
        linear_probe_script.main(ptb_xl_flags(data, other, tmp_path))
    training_args = TrainingArguments(str(tmp_path / "finetune"), **PROTOCOL_TRAINING_DEFAULTS, use_cpu=True)
    with pytest.raises(ValueError, match=r"describes a 'bert' model"):
        finetune_classifier(other, None, None, None, training_args)


def test_a_classifier_checkpoint_has_no_text_tower_for_zero_shot(data, tmp_path):
    classifier = tmp_path / "classifier"
    DBetaForECGClassification(tiny_config()).save_pretrained(classifier)
    tiny_processor().save_pretrained(classifier)
    with pytest.raises(ValueError, match=r"\['DBetaForECGClassification'\] checkpoint, which has no text tower"):
        zero_shot_script.main(ptb_xl_flags(data, classifier, tmp_path))


def test_a_missing_checkpoint_folder_or_processor_is_named(data, tmp_path):
    with pytest.raises(ValueError, match=r"Checkpoint folder .*absent not found"):
        linear_probe_script.main(ptb_xl_flags(data, tmp_path / "absent", tmp_path))
    without_processor = tmp_path / "without-processor"
    save_tiny_checkpoint(without_processor)
    (without_processor / "processor_config.json").unlink()
    with pytest.raises(ValueError, match=r"without-processor has no processor_config.json: save the processor"):
        retrieval_script.main(ptb_xl_flags(data, without_processor, tmp_path))


# A descriptions file without some class


def test_descriptions_without_a_class_name_the_file_before_the_model_loads(data, tmp_path):
    descriptions = tmp_path / "my_descriptions.json"
    descriptions.write_text(json.dumps({"NORM": "normal ecg", "MI": "infarct", "CD": "block", "HYP": "hypertrophy"}))
    flags = [*ptb_xl_flags(data, tmp_path / "never-loaded", tmp_path), "--descriptions", str(descriptions)]
    with pytest.raises(ValueError, match=r"my_descriptions.json .* no description for the class\(es\) \['STTC'\] of "
                                         r"ptb-xl/super_class: add them"):  # fmt: skip
        zero_shot_script.main(flags)


# NaN features


def ecg_rows(num_rows: int, nan_rows=()) -> datasets.Dataset:
    ecg = np.random.default_rng(0).normal(size=(num_rows, 12, 50)).astype(np.float32)
    ecg[list(nan_rows), 3, 7] = np.nan
    return datasets.Dataset.from_dict({"ecg": ecg, "labels": [[float(row % 2)] for row in range(num_rows)]})


def test_nan_in_the_ecgs_names_the_rows(tmp_path):
    with pytest.raises(ValueError, match=r"Rows \[1, 5\] of the data set hold NaN or infinite ECG samples"):
        extract_ecg_features(FixedFeatureModel(), ecg_rows(8, nan_rows=(1, 5)), batch_size=8, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing cached


def test_a_model_giving_nan_features_is_named_with_the_fix(tmp_path):
    processor = tiny_processor()
    broken = FixedFeatureModel(text_vectors_for(processor, {"atrial fibrillation": np.eye(12)[0]}))
    with torch.no_grad():
        broken.scale.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"NaN or infinite features for 6 of 6 ECGs .*check that the checkpoint's "
                                         r"weights are finite"):  # fmt: skip
        extract_ecg_features(broken, ecg_rows(6), cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"rerun with --precision fp32"):
        extract_ecg_features(broken, ecg_rows(6), precision="bf16")
    with pytest.raises(ValueError, match=r"NaN or infinite features"):
        zero_shot_classification(broken, processor, ecg_rows(6), {"AF": "atrial fibrillation"}, ["AF"])
    assert list(tmp_path.iterdir()) == []


def test_a_probe_refuses_nan_features_by_name():
    features, labels = np.random.default_rng(0).normal(size=(20, 3)), (np.arange(20) % 2)[:, None].astype(float)
    features[4, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"`train_features` hold NaN or infinite values in 1 of 20 rows \(first: \[4\]"
    ):
        fit_linear_probe(features, labels, features[5:], labels[5:])
