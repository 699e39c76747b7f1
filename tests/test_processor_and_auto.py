"""Processor, Auto classes and loading a saved checkpoint with trust_remote_code where the package is absent."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import torch
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForPreTraining, AutoProcessor

import modeling_dbeta  # noqa: F401  (registers "dbeta")
from modeling_dbeta import (
    DBetaFeatureExtractor,
    DBetaForECGClassification,
    DBetaForPreTraining,
    DBetaModel,
    DBetaProcessor,
    join_statements,
    normalize_report,
)


def test_normalize_report():
    assert normalize_report("*** Sinus rhythm. Abnormal EKG ***") == "sinus rhythm. abnormal ecg"
    assert normalize_report("=-  Normal   ECG =") == "normal ecg"
    assert normalize_report("Left axis deviation") == "left axis deviation"


def test_join_statements_in_order_without_empty_or_decoration():
    statements = ["Sinus rhythm.", "*** Poor data quality ***", None, float("nan"), "  ", "--- Abnormal ECG ---"]
    assert join_statements(statements) == "Sinus rhythm. Poor data quality. Abnormal ECG"


def test_processor_normalises_text_and_extracts_features(tokenizer):
    processor = DBetaProcessor(DBetaFeatureExtractor(), tokenizer)
    signal = np.random.randn(12, 5000)
    inputs = processor(ecg=signal, sampling_rate=500, text=["*** Sinus Rhythm ***"], return_tensors="pt")
    assert set(inputs) == {"ecg_values", "input_ids", "attention_mask"}
    assert inputs.ecg_values.shape == (1, 12, 5000)
    assert tokenizer.decode(inputs.input_ids[0], skip_special_tokens=True) == "sinus rhythm"
    raw = processor(text="Sinus Rhythm", normalize_text=False)
    assert tokenizer.unk_token_id in raw["input_ids"][0]


def test_auto_classes_resolve_dbeta(config, tokenizer, tmp_path):
    model = DBetaForPreTraining(config)
    model.save_pretrained(tmp_path)
    DBetaProcessor(DBetaFeatureExtractor(), tokenizer).save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)).__name__ == "DBetaConfig"
    assert isinstance(AutoModel.from_pretrained(tmp_path), DBetaModel)
    assert isinstance(AutoModelForPreTraining.from_pretrained(tmp_path), DBetaForPreTraining)
    assert isinstance(AutoFeatureExtractor.from_pretrained(tmp_path), DBetaFeatureExtractor)
    assert isinstance(AutoProcessor.from_pretrained(tmp_path), DBetaProcessor)


def test_trust_remote_code_load_without_the_package(config, tokenizer, tmp_path, batch):
    model = DBetaForPreTraining(config).eval()
    model.save_pretrained(tmp_path)
    DBetaProcessor(DBetaFeatureExtractor(), tokenizer).save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModelForPreTraining"] == "modeling_dbeta.DBetaForPreTraining"
    assert auto_map["AutoModel"] == "modeling_dbeta.DBetaModel"
    for module in ("configuration_dbeta.py", "modeling_dbeta.py", "losses.py", "feature_extraction_dbeta.py"):
        assert (tmp_path / module).is_file(), module
    classifier = DBetaForECGClassification.from_pretrained(tmp_path, num_labels=3).eval()
    classifier.save_pretrained(tmp_path / "classifier")
    classifier_map = json.loads((tmp_path / "classifier" / "config.json").read_text())["auto_map"]
    assert classifier_map["AutoModelForAudioClassification"] == "modeling_dbeta.DBetaForECGClassification"
    assert classifier_map["AutoModel"] == "modeling_dbeta.DBetaECGModel"
    with torch.no_grad():
        expected = model(**batch)
        expected_features = model.get_ecg_features(batch["ecg_values"]).pooler_output
        expected_logits = classifier(batch["ecg_values"]).logits
    torch.save(dict(batch), tmp_path / "batch.pt")

    script = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "modeling_dbeta" or name.startswith("modeling_dbeta."):
                    raise ImportError("the package must not be used here")
        sys.meta_path.insert(0, Block())
        import numpy as np, torch
        from transformers import AutoModel, AutoModelForAudioClassification, AutoModelForPreTraining, AutoProcessor
        folder = {str(tmp_path)!r}
        model = AutoModelForPreTraining.from_pretrained(folder, trust_remote_code=True).eval()
        base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
        batch = torch.load(folder + "/batch.pt", weights_only=True)
        classifier = AutoModelForAudioClassification.from_pretrained(folder + "/classifier", trust_remote_code=True)
        with torch.no_grad():
            out = model(**batch)
            features = base.get_ecg_features(batch["ecg_values"]).pooler_output
            logits = classifier.eval()(batch["ecg_values"]).logits
        inputs = processor(ecg=np.zeros((5000, 12)), sampling_rate=500, text="sinus rhythm", return_tensors="pt")
        assert "modeling_dbeta" not in sys.modules
        print(type(model).__module__, type(processor).__name__, inputs["ecg_values"].shape[-1])
        torch.save({{"loss": out.loss, "mem_logits": out.mem_logits, "features": features, "logits": logits}},
                   folder + "/remote.pt")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf_home")},
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "transformers_modules" in result.stdout and "DBetaProcessor 5000" in result.stdout
    remote = torch.load(tmp_path / "remote.pt", weights_only=True)
    torch.testing.assert_close(remote["loss"], expected.loss)
    torch.testing.assert_close(remote["mem_logits"], expected.mem_logits)
    torch.testing.assert_close(remote["features"], expected_features)
    torch.testing.assert_close(remote["logits"], expected_logits)
