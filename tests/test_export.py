"""ONNX export: the encoder and the classifier graphs run in onnxruntime with any batch size and match PyTorch."""

import json
import re

import numpy as np
import onnx
import pytest
import torch

from modeling_dbeta import DBetaFeatureExtractor, DBetaForECGClassification, DBetaForPreTraining
from modeling_dbeta.export import CLASSIFIER_FILE, ENCODER_FILE, export_checkpoint, main, onnx_session
from tests.tiny_models import tiny_config


def save(folder, model):
    model.save_pretrained(folder)
    DBetaFeatureExtractor().save_pretrained(folder)
    return model.eval()


def onnx_outputs(path, ecg_values):
    session = onnx_session(path)
    return session.run(None, {"ecg_values": ecg_values.numpy()})[0]


def test_classifier_checkpoint_exports_encoder_and_classifier(tmp_path):
    torch.manual_seed(0)
    labels = {0: "AF", 1: "LBBB", 2: "normal"}
    model = save(tmp_path / "checkpoint", DBetaForECGClassification(
        tiny_config(num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()},
                    classifier_leads=["I", "II", "V2"], initializer_range=0.3)
    ))
    main(["--model_name_or_path", str(tmp_path / "checkpoint"), "--output_dir", str(tmp_path / "onnx")])
    assert sorted(path.name for path in (tmp_path / "onnx").iterdir()) == [CLASSIFIER_FILE, ENCODER_FILE]

    ecg_values = torch.randn(5, 12, 5000)  # neither the traced batch (2) nor the checked ones (1, 3)
    with torch.no_grad():
        features = model.dbeta.get_ecg_features(ecg_values).pooler_output.numpy()
        logits = model(ecg_values).logits.numpy()
    onnx_dir = tmp_path / "onnx"
    np.testing.assert_allclose(onnx_outputs(onnx_dir / ENCODER_FILE, ecg_values), features, atol=1e-4, rtol=0)
    np.testing.assert_allclose(onnx_outputs(onnx_dir / CLASSIFIER_FILE, ecg_values), logits, atol=1e-4, rtol=0)
    assert np.abs(logits).max() > 1e-2 and features.std(0).mean() > 1e-3  # outputs that could differ, not constants

    # The classifier keeps its lead subset; the encoder sees every lead.
    zeroed = ecg_values.clone()
    zeroed[:, [2, 3, 4, 5, 6, 8, 9, 10, 11]] = 0.0
    np.testing.assert_allclose(onnx_outputs(tmp_path / "onnx" / CLASSIFIER_FILE, zeroed), logits, atol=1e-4, rtol=0)

    metadata = {entry.key: entry.value for entry in onnx.load(tmp_path / "onnx" / CLASSIFIER_FILE).metadata_props}
    assert metadata["lead_order"] == "I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6"
    assert (metadata["sampling_rate_hz"], metadata["num_samples"], metadata["units"]) == ("500", "5000", "mV")
    assert json.loads(metadata["id2label"]) == {"0": "AF", "1": "LBBB", "2": "normal"}


def test_pretraining_checkpoint_exports_its_ecg_tower(tmp_path):
    torch.manual_seed(0)
    model = save(tmp_path / "checkpoint", DBetaForPreTraining(tiny_config(initializer_range=0.3)))
    results = export_checkpoint(tmp_path / "checkpoint", tmp_path / "onnx")
    assert list(results) == [ENCODER_FILE] and results[ENCODER_FILE]["max_abs_difference"] <= 1e-4
    ecg_values = torch.randn(2, 12, 5000)
    with torch.no_grad():
        expected = model.get_ecg_features(ecg_values).pooler_output.numpy()
    np.testing.assert_allclose(onnx_outputs(tmp_path / "onnx" / ENCODER_FILE, ecg_values), expected, atol=1e-4, rtol=0)
    assert "id2label" not in {entry.key for entry in onnx.load(tmp_path / "onnx" / ENCODER_FILE).metadata_props}


def test_export_refuses_a_graph_that_does_not_match(tmp_path, monkeypatch):
    torch.manual_seed(0)
    save(tmp_path / "checkpoint", DBetaForPreTraining(tiny_config()))
    monkeypatch.setattr("modeling_dbeta.export.export_graph", lambda module, example, path, *args: path)
    monkeypatch.setattr("modeling_dbeta.export.max_onnx_difference", lambda *args, **kwargs: 3e-3)
    with pytest.raises(RuntimeError, match=re.escape("ecg_encoder.onnx: onnxruntime differs from PyTorch by 0.003")):
        export_checkpoint(tmp_path / "checkpoint", tmp_path / "onnx")


def test_onnx_sessions_share_the_cpu_with_pytorch(tmp_path):
    """An idle onnxruntime pool spins by default and starves the PyTorch code that runs next in the same process."""
    save(tmp_path / "checkpoint", DBetaForPreTraining(tiny_config()))
    export_checkpoint(tmp_path / "checkpoint", tmp_path / "onnx")
    options = onnx_session(tmp_path / "onnx" / ENCODER_FILE).get_session_options()
    assert options.intra_op_num_threads == torch.get_num_threads()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
