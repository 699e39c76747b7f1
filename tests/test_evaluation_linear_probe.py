"""Linear probe: MERL's subsets, the logistic regression, selection by the validation split only, the command line."""

import json

import datasets
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from datasets_scripts.splits import read_merl_split
from evaluation import linear_probe as linear_probe_script
from modeling_dbeta.evaluation import fit_linear_probe, linear_probe, merl_train_subset, multilabel_auroc
from modeling_dbeta.evaluation.linear_probe import fit_logistic_regression
from tests.evaluation_fixtures import (
    PTB_XL_METADATA,
    FixedFeatureModel,
    merl_ptb_xl_rows,
    save_tiny_checkpoint,
    write_ptb_xl_subset,
)


GRID = (1e-4, 1e-2, 1.0, 100.0)


@pytest.mark.parametrize(
    "folder, prefix, metadata, key",
    [
        ("ptbxl/super_class", "ptbxl_super_class", [*PTB_XL_METADATA, "super_class"], "ecg_id"),
        ("chapman", "chapman", ["ecg_path", "age", "diagnose"], "ecg_path"),
    ],
)
@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_subsets_are_merl_subsets(folder, prefix, metadata, key, fraction):
    """MERL: `train_test_split(train_csv, train_size=ratio / 100, random_state=42)` on its packaged training table."""
    frame, _ = read_merl_split(folder, prefix, "train", metadata)
    merl_subset, _ = train_test_split(frame, train_size=fraction, random_state=42)
    rows = merl_train_subset(len(frame), fraction)
    assert frame.iloc[rows][key].tolist() == merl_subset[key].tolist()
    assert len(rows) == int(fraction * len(frame))  # scikit-learn rounds the training size down


def test_subset_edge_cases():
    np.testing.assert_array_equal(merl_train_subset(5, 1.0), np.arange(5))
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        merl_train_subset(100, 0.0)
    with pytest.raises(ValueError, match="1% subset of 50 training rows"):
        merl_train_subset(50, 0.01)


def test_logistic_regression_matches_scikit_learn():
    generator = np.random.default_rng(0)
    features = generator.normal(size=(300, 6))
    labels = (features[:, :2] @ [[1.0, -0.5], [0.5, 2.0]] + generator.normal(size=(300, 2)) > 0).astype(float)
    for inverse in (0.05, 1.0):
        weight, bias = fit_logistic_regression(torch.tensor(features), torch.tensor(labels), inverse)
        for column in range(2):
            reference = LogisticRegression(C=inverse, tol=1e-10, max_iter=10_000).fit(features, labels[:, column])
            np.testing.assert_allclose(weight[:, column].numpy(), reference.coef_[0], atol=1e-4)
            np.testing.assert_allclose(bias[column].item(), reference.intercept_[0], atol=1e-4)


def disagreeing_splits(num_rows=300, seed=0):
    """
    Features (s + n, n) with a strong nuisance n. Training and validation labels are s > 0, which only a weakly
    regularised probe recovers (weight ~ (1, -1)); test labels are s + n > 0, which the strongly regularised probe
    (weight ~ the class-mean difference, (1, 0)) matches. Validation and test therefore disagree on the best C.
    """
    generator = np.random.default_rng(seed)
    splits = {}
    for split in ("train", "validation", "test"):
        signal, nuisance = generator.normal(size=num_rows), 3 * generator.normal(size=num_rows)
        features = np.stack([signal + nuisance, nuisance], axis=1)
        target = signal + nuisance if split == "test" else signal
        target = target + 0.2 * generator.normal(size=num_rows)  # label noise: no split is linearly separable
        splits[split] = (features, (target > 0).astype(np.float32)[:, None])
    return splits


def test_probe_is_selected_on_validation_even_where_test_disagrees():
    splits = disagreeing_splits()
    probe = fit_linear_probe(*splits["train"], *splits["validation"], inverse_regularization=GRID)
    assert set(probe.validation_history) == set(GRID)
    selected = probe.inverse_regularization
    assert selected == max(GRID, key=probe.validation_history.get) >= 1.0  # weakly regularised
    assert probe.validation_macro_auroc == probe.validation_history[selected] > 0.95

    def test_auroc(selected):
        return multilabel_auroc(splits["test"][1], selected.decision_function(splits["test"][0]))["macro_auroc"]

    test_by_inverse = {
        inverse: test_auroc(fit_linear_probe(*splits["train"], *splits["validation"], [inverse])) for inverse in GRID
    }
    assert max(test_by_inverse, key=test_by_inverse.get) == 1e-4  # the test split would have picked another C
    assert test_auroc(probe) == test_by_inverse[selected] < test_by_inverse[1e-4] - 0.2


def as_ecg_dataset(features, labels):
    """Rows whose lead means are `features` (the fixed model reads them back), one sample per lead."""
    ecg = np.zeros((len(features), 12, 1), np.float32)
    ecg[:, : features.shape[1], 0] = features
    return datasets.Dataset.from_dict({"ecg": ecg, "labels": labels})


def test_protocol_on_in_memory_data_selects_on_validation_and_encodes_only_the_rows_used():
    splits = {name: as_ecg_dataset(*arrays) for name, arrays in disagreeing_splits().items()}
    model = FixedFeatureModel()
    (tenth,) = linear_probe(
        model, splits["train"], splits["validation"], splits["test"], train_fractions=[0.1],
        label_names=["s > 0"], inverse_regularization=GRID,
    )  # fmt: skip
    assert model.ecg_rows == 30 + 300 + 300  # 10 % of the training rows, then validation and test
    assert tenth.num_train_examples == 30 and tenth.train_fraction == 0.1
    assert tenth.inverse_regularization == max(GRID, key=tenth.validation_history.get)

    (full,) = linear_probe(
        model, splits["train"], splits["validation"], splits["test"], train_fractions=[1.0],
        label_names=["s > 0"], inverse_regularization=GRID,
    )  # fmt: skip
    arrays = disagreeing_splits()
    direct = fit_linear_probe(*arrays["train"], *arrays["validation"], GRID)
    assert full.inverse_regularization == direct.inverse_regularization >= 1.0
    expected = multilabel_auroc(arrays["test"][1], direct.decision_function(arrays["test"][0]))
    assert full.test_metrics["per_class_auroc"]["s > 0"] == pytest.approx(expected["macro_auroc"])


@pytest.fixture(scope="module")
def ptb_xl_dir(tmp_path_factory):
    rows = merl_ptb_xl_rows("super_class", {"train": 16, "validation": 10, "test": 10})
    return write_ptb_xl_subset(tmp_path_factory.mktemp("ptb-xl"), rows)


def test_command_line_on_the_tiny_model_with_its_untrained_baseline(ptb_xl_dir, tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "dbeta-tiny")
    output_dir = tmp_path / "linear-probe"
    json_path = linear_probe_script.main(
        [
            "--model_name_or_path", str(checkpoint),
            "--dataset", "ptb-xl",
            "--dataset_config", "super_class",
            "--data_dir", str(ptb_xl_dir),
            "--dataset_cache_dir", str(tmp_path / "datasets-cache"),
            "--feature_cache_dir", str(tmp_path / "features"),
            "--train_fractions", "0.5", "1.0",
            "--inverse_regularization", "0.01", "1",
            "--leads", "II",
            "--baseline", "untrained",
            "--output_dir", str(output_dir),
        ]
    )  # fmt: skip
    content = json.loads(json_path.read_text())
    keys = [(r["weights"], r["train_fraction"], r["metric"]) for r in content["results"]]
    assert keys == [
        (weights, fraction, metric)
        for weights in ("pretrained", "untrained (seed 42)")
        for fraction in (0.5, 1.0)
        for metric in ("macro_auroc", "macro_auprc")
    ]
    assert {(r["task"], r["leads"], r["split"], r["prompts"]) for r in content["results"]} == {
        ("linear-probe", "II", "test", None)
    }
    for weights in ("pretrained", "untrained (seed 42)"):
        probes = content["details"][weights]
        assert [probe["num_train_examples"] for probe in probes] == [8, 16]
        for probe in probes:
            history = probe["validation_macro_auroc_by_inverse_regularization"]
            assert set(history) == {"0.01", "1.0"}
            assert probe["validation_macro_auroc"] == max(value for value in history.values() if value is not None)
            assert set(probe["test_per_class_auprc"]) == set(probe["test_per_class_auroc"])
    table = (output_dir / "linear_probe.md").read_text()
    assert "| linear-probe | ptb-xl/super_class | II | 50% | untrained (seed 42) | macro_auroc |" in table
    assert len(list((tmp_path / "features").glob("*.safetensors"))) == 6  # train, validation, test per model
