"""Feature extraction shared by the protocols: lead subsets zero exactly the other leads, the cache, precision."""

import datasets
import numpy as np
import pytest
import torch
from safetensors import safe_open

from datasets_scripts import load_ecg_dataset
from modeling_dbeta import STANDARD_LEADS, DBetaECGModel, DBetaModel
from modeling_dbeta.evaluation import extract_ecg_features, leads_label, parse_leads
from modeling_dbeta.evaluation.features import autocast_dtype, ecg_tower_fingerprint
from tests.evaluation_fixtures import FixedFeatureModel, merl_ptb_xl_rows, save_tiny_checkpoint, write_ptb_xl_subset
from tests.tiny_models import tiny_config


THREE_LEADS = ["I", "II", "V2"]


@pytest.fixture(scope="module")
def ptb_xl_test(tmp_path_factory):
    rows = merl_ptb_xl_rows("super_class", {"train": 1, "validation": 1, "test": 6})
    data_dir = write_ptb_xl_subset(tmp_path_factory.mktemp("ptb-xl"), rows)
    cache_dir = str(tmp_path_factory.mktemp("datasets-cache"))
    return load_ecg_dataset("ptb-xl", name="super_class", data_dir=data_dir, split="test", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("dbeta-tiny"))


def test_parse_leads_gives_standard_names_in_standard_order():
    assert parse_leads("I,II,V2") == THREE_LEADS
    assert parse_leads(" v2, ii ,DI") == THREE_LEADS
    assert parse_leads("avl") == ["aVL"]
    for all_leads in (None, "", "12", "all", ",".join(reversed(STANDARD_LEADS))):
        assert parse_leads(all_leads) is None
    with pytest.raises(ValueError, match="Unknown lead name"):
        parse_leads("I,V7")
    assert leads_label(None) == "12" and leads_label(["V2", "I", "II"]) == "I,II,V2"


def test_lead_subsets_zero_exactly_the_other_leads(ptb_xl_test):
    ecg = torch.as_tensor(np.asarray(ptb_xl_test.with_format("numpy")["ecg"]))
    lead_means = ecg.mean(dim=-1)
    for leads in (THREE_LEADS, ["II"], None):
        features = extract_ecg_features(FixedFeatureModel(), ptb_xl_test, leads=leads, batch_size=4)
        kept = [STANDARD_LEADS.index(name) for name in (leads or STANDARD_LEADS)]
        zeroed = [index for index in range(12) if index not in kept]
        torch.testing.assert_close(features[:, kept], lead_means[:, kept], rtol=0, atol=0)
        assert (features[:, zeroed] == 0).all()
        assert (lead_means[:, zeroed] != 0).all()  # the zeros come from the mask, not from the data


def test_tiny_model_features_equal_those_of_the_masked_input(ptb_xl_test):
    torch.manual_seed(0)
    model = DBetaModel(tiny_config(use_ecg_class_token=False)).eval()  # mean pooling: features follow the input
    ecg = torch.as_tensor(np.asarray(ptb_xl_test.with_format("numpy")["ecg"]))
    masked = ecg.clone()
    masked[:, [index for index in range(12) if STANDARD_LEADS[index] not in THREE_LEADS]] = 0
    with torch.no_grad():
        expected, unmasked = model.get_ecg_features(masked).pooler_output, model.get_ecg_features(ecg).pooler_output
    features = extract_ecg_features(model, ptb_xl_test, leads=THREE_LEADS, batch_size=4)
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-7)
    assert (features - unmasked).abs().max() > 100 * (features - expected).abs().max()


def test_ecg_only_model_gives_the_same_features_and_cache_key(ptb_xl_test, checkpoint):
    full, ecg_only = DBetaModel.from_pretrained(checkpoint), DBetaECGModel.from_pretrained(checkpoint)
    assert ecg_tower_fingerprint(full) == ecg_tower_fingerprint(ecg_only)
    torch.testing.assert_close(extract_ecg_features(full, ptb_xl_test), extract_ecg_features(ecg_only, ptb_xl_test))


def test_features_are_cached_per_weights_data_and_leads(ptb_xl_test, tmp_path):
    model = FixedFeatureModel()
    first = extract_ecg_features(model, ptb_xl_test, leads=THREE_LEADS, cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("*.safetensors")
    with safe_open(cache_file, "pt") as handle:
        assert handle.metadata()["leads"] == "I,II,V2" and handle.metadata()["split"] == "test"
    calls = model.ecg_calls
    again = extract_ecg_features(model, ptb_xl_test, leads=THREE_LEADS, cache_dir=tmp_path)
    assert model.ecg_calls == calls and torch.equal(first, again)

    extract_ecg_features(model, ptb_xl_test, leads=["II"], cache_dir=tmp_path)
    extract_ecg_features(model, ptb_xl_test.select([0, 1]), leads=THREE_LEADS, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 3 and model.ecg_calls > calls

    with torch.no_grad():
        model.scale.mul_(2.0)  # new weights: the cached features no longer apply
    doubled = extract_ecg_features(model, ptb_xl_test, leads=THREE_LEADS, cache_dir=tmp_path)
    torch.testing.assert_close(doubled, 2 * first)


def test_extraction_leaves_the_model_in_its_mode_and_rejects_streams(ptb_xl_test):
    model = FixedFeatureModel().train()
    extract_ecg_features(model, ptb_xl_test)
    assert model.training
    stream = datasets.Dataset.from_dict({"ecg": [np.zeros((12, 5000), np.float32)]}).to_iterable_dataset()
    with pytest.raises(TypeError, match="streaming=False"):
        extract_ecg_features(model, stream)


def test_precision_defaults_to_fp32_on_cpu():
    assert autocast_dtype(torch.device("cpu")) is None
    assert autocast_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        autocast_dtype(torch.device("cpu"), "fp16")


def test_int16_storage_gives_the_features_of_float32_storage(tmp_path, checkpoint):
    from modeling_dbeta.evaluation.finetune import classification_inputs

    model = DBetaModel.from_pretrained(checkpoint)
    options = {"num_records": 12, "seed": 5, "split": "test", "test_fraction": 0.5, "validation_fraction": 0.1}
    full = load_ecg_dataset("synthetic", cache_dir=str(tmp_path / "f32"), **options)
    compact = load_ecg_dataset("synthetic", cache_dir=str(tmp_path / "i16"), storage="int16", **options)
    expected = extract_ecg_features(model, full, batch_size=4)
    torch.testing.assert_close(extract_ecg_features(model, compact, batch_size=4), expected, rtol=1e-4, atol=1e-4)
    decoded = classification_inputs(compact)[:2]
    assert decoded["ecg_values"].shape == (2, 12, 5000) and decoded["ecg_values"].dtype == torch.float32
    torch.testing.assert_close(decoded["ecg_values"], full.with_format("torch")[:2]["ecg"], rtol=0, atol=1e-3)
