"""The zero-shot and feature-extraction pipelines: scores, every input format, batches, lead subsets, bad input, and
loading from a checkpoint folder in a process where this package cannot be imported."""

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from pydicom.data import get_testdata_file
from transformers import pipeline

from modeling_dbeta import (
    STANDARD_LEADS,
    BadRecord,
    DBetaFeatureExtractor,
    DBetaForECGClassification,
    DBetaForPreTraining,
    DBetaModel,
    DBetaProcessor,
    ECGFeatureExtractionPipeline,
    ZeroShotECGClassificationPipeline,
    lead_mask_from_names,
)
from modeling_dbeta.evaluation import resolve_similarity, similarity_scores
from modeling_dbeta.losses import ecg_text_sigmoid_loss
from modeling_dbeta.pipeline_dbeta import ets_logits
from tests.ecg_fixtures import ecg_signal, write_muse_xml, write_wfdb_record
from tests.tiny_models import tiny_config, tiny_t5_tokenizer


DICOM_ECG = get_testdata_file("waveform_ecg.dcm")  # a 12-lead DICOM ECG from a device, 10 s at 1000 Hz
LABELS = ["sinus rhythm", "atrial fibrillation", "left bundle branch block", "normal ecg"]
ZERO_SHOT = "zero-shot-ecg-classification"
FEATURES = "ecg-feature-extraction"


def save_checkpoint(folder, model_class=DBetaForPreTraining, **config_overrides):
    """A tiny random D-BETA with spread-out features (wide init), saved with its processor as training saves it."""
    torch.manual_seed(0)
    model = model_class(tiny_config(initializer_range=0.3, **config_overrides)).eval()
    if getattr(model, "logit_scale", None) is not None:
        with torch.no_grad():
            model.logit_scale.fill_(1.5)
            model.logit_bias.fill_(-2.0)
    model.save_pretrained(folder)
    DBetaProcessor(DBetaFeatureExtractor(), tiny_t5_tokenizer()).save_pretrained(folder)
    return model


@pytest.fixture(scope="module", params=["dbeta", "siglip"])
def checkpoint(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"checkpoint-{request.param}")
    return folder, save_checkpoint(folder, ets_loss_type=request.param)


@pytest.fixture(scope="module")
def classifier(checkpoint):
    folder, model = checkpoint
    processor = DBetaProcessor.from_pretrained(folder)
    return pipeline(ZERO_SHOT, model=model, processor=processor)


def test_checkpoints_list_their_pipelines_and_carry_the_code(tmp_path):
    save_checkpoint(tmp_path / "pretraining")
    config = json.loads((tmp_path / "pretraining" / "config.json").read_text())
    assert config["custom_pipelines"] == {
        FEATURES: {"impl": "pipeline_dbeta.ECGFeatureExtractionPipeline", "pt": ["AutoModel"]},
        ZERO_SHOT: {"impl": "pipeline_dbeta.ZeroShotECGClassificationPipeline", "pt": ["AutoModelForPreTraining"]},
    }
    for module in ("pipeline_dbeta.py", "pipeline_inputs.py", "hospital_exports.py", "wfdb_reader.py", "recording.py"):
        assert (tmp_path / "pretraining" / module).is_file(), module

    save_checkpoint(tmp_path / "base", DBetaModel)
    saved = json.loads((tmp_path / "base" / "config.json").read_text())
    assert saved["custom_pipelines"][ZERO_SHOT]["pt"] == ["AutoModel"]
    save_checkpoint(tmp_path / "classifier", DBetaForECGClassification, num_labels=2)
    # A fine-tuned classifier has no text tower: features only.
    assert list(json.loads((tmp_path / "classifier" / "config.json").read_text())["custom_pipelines"]) == [FEATURES]


def expected_logits(model, processor, ecg_values, texts, lead_mask=None):
    with torch.no_grad():
        ecg = model.get_ecg_features(ecg_values, lead_mask).pooler_output
        encoded = processor(text=texts, return_tensors="pt")
        text = model.get_text_features(encoded["input_ids"], encoded["attention_mask"]).pooler_output
    if model.config.ets_loss_type == "siglip":
        return torch.cosine_similarity(ecg[:, None], text[None], dim=-1) * model.logit_scale.exp() + model.logit_bias
    return ecg @ text.T


def test_scores_are_the_sigmoid_of_the_trained_ets_logits(checkpoint, classifier):
    folder, model = checkpoint
    processor = DBetaProcessor.from_pretrained(folder)
    result = classifier(DICOM_ECG, candidate_labels=LABELS, hypothesis_template="{} ecg")

    ecg_values = classifier.preprocess(DICOM_ECG, candidate_labels=LABELS)["ecg_values"]
    logits = expected_logits(model, processor, ecg_values, [f"{label} ecg" for label in LABELS])[0]
    expected = dict(zip(LABELS, torch.sigmoid(logits).tolist(), strict=True))
    assert [entry["label"] for entry in result] == sorted(LABELS, key=lambda label: -expected[label])
    for entry in result:
        assert entry["score"] == pytest.approx(expected[entry["label"]], abs=1e-6)
    assert len({round(entry["score"], 4) for entry in result}) == len(LABELS)  # the tiny model does separate them

    # The labels rank as the zero-shot evaluation ranks them (its similarity for this ETS form).
    with torch.no_grad():
        ecg = model.get_ecg_features(ecg_values).pooler_output
        encoded = processor(text=[f"{label} ecg" for label in LABELS], return_tensors="pt")
        text = model.get_text_features(encoded["input_ids"], encoded["attention_mask"]).pooler_output
    evaluation_scores = similarity_scores(ecg, text, resolve_similarity("auto", model))[0]
    assert [entry["label"] for entry in result] == [LABELS[i] for i in np.argsort(-evaluation_scores)]


@pytest.mark.parametrize("form", ["dbeta", "siglip"])
def test_ets_logits_are_those_the_ets_loss_trains(form):
    generator = torch.Generator().manual_seed(0)
    ecg, text = torch.randn(3, 8, generator=generator), torch.randn(3, 8, generator=generator)
    scale, bias = (torch.tensor(1.2), torch.tensor(-3.0)) if form == "siglip" else (None, None)
    is_aligned = torch.tensor([1.0, 0.0, 1.0])
    logits = ets_logits(ecg, text, scale, bias)
    labels = -torch.ones(3, 3) + torch.diag(2 * is_aligned)
    log_likelihood = torch.nn.functional.logsigmoid(labels * logits)
    expected = -(log_likelihood.sum(1) if form == "siglip" else log_likelihood.mean(1)).mean()
    loss = ecg_text_sigmoid_loss(ecg, text, is_aligned, scale, bias, sum_over_texts=form == "siglip")
    torch.testing.assert_close(loss, expected)


def test_a_label_scores_the_same_whatever_the_other_labels(classifier):
    alone = classifier(DICOM_ECG, candidate_labels="atrial fibrillation")
    among = {entry["label"]: entry["score"] for entry in classifier(DICOM_ECG, candidate_labels=LABELS)}
    assert alone[0]["score"] == pytest.approx(among["atrial fibrillation"], abs=1e-6)
    top = classifier(DICOM_ECG, candidate_labels=LABELS, top_k=2)
    assert [entry["label"] for entry in top] == sorted(among, key=among.get, reverse=True)[:2]


@pytest.fixture(scope="module")
def one_ecg_in_every_format(tmp_path_factory):
    """One 12-lead recording (250 Hz, 10 s) written as WFDB, CSV (with and without a header), NPY and GE MUSE XML."""
    folder = tmp_path_factory.mktemp("formats")
    signal = ecg_signal(3, num_samples=2500, sampling_rate=250.0)  # (samples, leads) mV
    order = [3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]  # aVR first: every reader must order leads by name
    names = [STANDARD_LEADS[i] for i in order]
    files = {
        "wfdb": write_wfdb_record(folder, "rec", signal[:, order], names, 250, gain=1000),
        "csv": folder / "rec.csv",
        "headerless.csv": folder / "headerless.csv",
        "npy": folder / "rec.npy",
        "muse": write_muse_xml(
            folder / "muse.xml", dict(zip(STANDARD_LEADS, signal.T, strict=True)), 250, ["Sinus rhythm"]
        ),
    }
    np.savetxt(files["csv"], signal[:, order], delimiter=",", header=",".join(names), comments="", fmt="%.6f")
    np.savetxt(files["headerless.csv"], signal, delimiter=",", fmt="%.6f")
    np.save(files["npy"], signal[:, order])
    return signal, names, files


def test_every_input_format_gives_the_model_the_same_ecg(classifier, one_ecg_in_every_format):
    signal, names, files = one_ecg_in_every_format
    reference = classifier.preprocess(signal, candidate_labels=LABELS, sampling_rate=250)["ecg_values"]
    assert reference.shape == (1, 12, 5000) and reference[0, :, :5000].abs().sum() > 0

    table = {"sampling_rate": 250}
    inputs = {
        "wfdb .hea": (files["wfdb"], {}),
        "wfdb record name": (str(files["wfdb"].with_suffix("")), {}),
        "wfdb .dat": (files["wfdb"].with_suffix(".dat"), {}),
        "csv with header": (files["csv"], table),
        "csv without header": (files["headerless.csv"], table),
        "npy": (files["npy"], {**table, "lead_names": names}),
        "array, leads x samples": (signal.T, table),
        "muse xml": (files["muse"], {}),
    }
    for name, (ecg, kwargs) in inputs.items():
        values = classifier.preprocess(ecg, candidate_labels=LABELS, **kwargs)["ecg_values"]
        quantum = 4.88e-3 if name == "muse xml" else 1e-3  # the file's resolution in mV
        torch.testing.assert_close(values, reference, atol=quantum, rtol=0, msg=name)


def test_dicom_scores_as_its_samples_do(classifier):
    import pydicom

    raw = pydicom.dcmread(DICOM_ECG).waveform_array(0) / 1000.0  # the rhythm group in uV at 1000 Hz
    from_file = classifier(DICOM_ECG, candidate_labels=LABELS)
    from_array = classifier(raw, candidate_labels=LABELS, sampling_rate=1000, lead_names=list(STANDARD_LEADS))
    assert from_file == from_array


def test_batches_and_lead_subsets(checkpoint, classifier, one_ecg_in_every_format):
    signal, _, files = one_ecg_in_every_format
    ecgs = [DICOM_ECG, files["wfdb"], files["muse"]]
    singles = [classifier(ecg, candidate_labels=LABELS) for ecg in ecgs]
    for batched in (
        classifier(ecgs, candidate_labels=LABELS), classifier(ecgs, candidate_labels=LABELS, batch_size=2)
    ):
        assert [[e["label"] for e in r] for r in batched] == [[e["label"] for e in r] for r in singles]
        for result, single in zip(batched, singles, strict=True):
            np.testing.assert_allclose([e["score"] for e in result], [e["score"] for e in single], atol=1e-5)
    stacked = np.stack([signal.T, signal.T[::-1]])  # (batch, leads, samples)
    assert len(classifier(stacked, candidate_labels=LABELS, sampling_rate=250)) == 2

    # A lead subset is the evaluation's: the prepared ECG with the other leads zeroed (`lead_mask_from_names`).
    # (Not the same as zeroing them in the input: the readers then derive III, aVR, aVL, aVF from I and II.)
    subset = ["I", "II", "V2"]
    with_subset = classifier(signal, candidate_labels=LABELS, sampling_rate=250, leads=subset)
    ecg_values = classifier.preprocess(signal, candidate_labels=LABELS, sampling_rate=250)["ecg_values"]
    logits = expected_logits(
        checkpoint[1], DBetaProcessor.from_pretrained(checkpoint[0]), ecg_values, LABELS, lead_mask_from_names(subset)
    )[0]
    expected = dict(zip(LABELS, torch.sigmoid(logits).tolist(), strict=True))
    assert [entry["label"] for entry in with_subset] == sorted(LABELS, key=lambda label: -expected[label])
    for entry in with_subset:
        assert entry["score"] == pytest.approx(expected[entry["label"]], abs=1e-6)
    assert with_subset == classifier(signal, candidate_labels=LABELS, sampling_rate=250, leads="i, II ,v2")
    assert with_subset != classifier(signal, candidate_labels=LABELS, sampling_rate=250)


def test_bad_input_gets_the_readers_errors(classifier, tmp_path):
    labels = {"candidate_labels": LABELS}
    with pytest.raises(BadRecord, match=r"missing_file: .*absent\.dcm does not exist"):
        classifier(str(tmp_path / "absent.dcm"), **labels)
    with pytest.raises(BadRecord, match="too_short: the array: 100 samples at 500 Hz"):
        classifier(np.zeros((100, 12)), sampling_rate=500, **labels)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(BadRecord, match=r"unreadable_file: .*empty.csv is empty \(0 bytes\)"):
        classifier(tmp_path / "empty.csv", sampling_rate=500, **labels)
    with pytest.raises(BadRecord, match=r"missing_file: .*absent\.hea does not exist"):
        classifier(tmp_path / "absent.hea", **labels)
    (tmp_path / "notes.txt").write_text("not an ecg")
    with pytest.raises(ValueError, match=r"notes.txt: not an ECG file .* WFDB record \(.hea\), a DICOM"):
        classifier(tmp_path / "notes.txt", **labels)
    np.savetxt(tmp_path / "rate.csv", np.zeros((5000, 12)), delimiter=",")
    with pytest.raises(
        ValueError, match=re.escape("rate.csv does not record its sampling rate: pass `sampling_rate=`")
    ):
        classifier(tmp_path / "rate.csv", **labels)
    with pytest.raises(ValueError, match=r"has 12 leads but 3 lead names"):
        classifier(np.zeros((5000, 12)), sampling_rate=500, lead_names=["I", "II", "V1"], **labels)
    (tmp_path / "broken.csv").write_text("I,II\n0.1,abc\n")
    with pytest.raises(BadRecord, match=r"unreadable_signal: .*broken\.csv"):
        classifier(tmp_path / "broken.csv", sampling_rate=500, **labels)
    with pytest.raises(ValueError, match="Unknown lead name"):
        classifier(DICOM_ECG, leads=["I", "Z"], **labels)
    with pytest.raises(ValueError, match="Pass `candidate_labels`"):
        classifier(DICOM_ECG)
    with pytest.raises(ValueError, match=re.escape("has no '{}'")):
        classifier(DICOM_ECG, hypothesis_template="an ecg", **labels)


def test_checkpoints_the_zero_shot_pipeline_cannot_serve(tmp_path):
    processor = DBetaProcessor(DBetaFeatureExtractor(), tiny_t5_tokenizer())
    ecg_only = DBetaForECGClassification(tiny_config(num_labels=2))
    with pytest.raises(ValueError, match=r"no text tower .* 'ecg-feature-extraction'"):
        pipeline(ZERO_SHOT, model=ecg_only, processor=processor)
    siglip_without_head = DBetaModel(tiny_config(ets_loss_type="siglip"))
    with pytest.raises(ValueError, match="SigLIP's learned temperature and bias"):
        pipeline(ZERO_SHOT, model=siglip_without_head, processor=processor)


def test_feature_extraction_gives_the_unimodal_ecg_features(checkpoint, tmp_path):
    folder, model = checkpoint
    extractor = pipeline(FEATURES, model=model, feature_extractor=DBetaFeatureExtractor())
    assert isinstance(extractor, ECGFeatureExtractionPipeline)
    ecg_values = extractor.preprocess(DICOM_ECG)["ecg_values"]
    with torch.no_grad():
        expected = model.get_ecg_features(ecg_values)
    torch.testing.assert_close(extractor(DICOM_ECG, return_tensors=True), expected.pooler_output[0])
    assert extractor(DICOM_ECG) == expected.pooler_output[0].tolist()
    assert extractor(DICOM_ECG, pool=False, return_tensors=True).shape == expected.last_hidden_state.shape[1:]

    # A fine-tuned classifier's features are its ECG tower's.
    classifier_model = DBetaForECGClassification.from_pretrained(folder, num_labels=2).eval()
    features = pipeline(FEATURES, model=classifier_model, feature_extractor=DBetaFeatureExtractor())
    torch.testing.assert_close(features(DICOM_ECG, return_tensors=True), expected.pooler_output[0])


REMOTE_SCRIPT = """
import json, sys
import torch
from transformers import pipeline
folder, ecg = sys.argv[1], sys.argv[2]
classifier = pipeline("zero-shot-ecg-classification", model=folder, trust_remote_code=True)
extractor = pipeline("ecg-feature-extraction", model=folder, trust_remote_code=True)
results = {
    "scores": classifier(ecg, candidate_labels=json.loads(sys.argv[3])),
    "batch": classifier([ecg, ecg], candidate_labels=["sinus rhythm"], batch_size=2),
    "features": extractor(ecg),
    "model": type(classifier.model).__module__,
    "pipeline": type(classifier).__module__,
    "package_imported": any(name.split(".")[0] == "modeling_dbeta" for name in sys.modules),
}
print(json.dumps(results))
"""

# Put on the child's path as `sitecustomize`: this package (installed editable, and in the working directory) cannot
# be imported, as on a machine that only has transformers and the checkpoint.
BLOCK_PACKAGE = """
import importlib.abc, sys
class BlockPackage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("modeling_dbeta", "datasets_scripts"):
            raise ImportError(f"{name} must not be imported here")
sys.meta_path.insert(0, BlockPackage())
"""


def test_pipeline_from_a_checkpoint_folder_without_the_package(tmp_path):
    model = save_checkpoint(tmp_path / "checkpoint", ets_loss_type="siglip")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(textwrap.dedent(BLOCK_PACKAGE))
    (tmp_path / "remote.py").write_text(REMOTE_SCRIPT)
    environment = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf_home"),
                   "PYTHONPATH": str(tmp_path / "site")}
    result = subprocess.run(
        [sys.executable, str(tmp_path / "remote.py"), str(tmp_path / "checkpoint"), DICOM_ECG, json.dumps(LABELS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=environment, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.splitlines()[-1])
    assert not remote["package_imported"]
    assert remote["model"].startswith("transformers_modules") and remote["pipeline"].startswith("transformers_modules")

    local = pipeline(ZERO_SHOT, model=model, processor=DBetaProcessor.from_pretrained(tmp_path / "checkpoint"))
    expected = local(DICOM_ECG, candidate_labels=LABELS)
    assert [entry["label"] for entry in remote["scores"]] == [entry["label"] for entry in expected]
    np.testing.assert_allclose([e["score"] for e in remote["scores"]], [e["score"] for e in expected], atol=1e-6)
    assert len(remote["batch"]) == 2 and remote["batch"][0] == remote["batch"][1]
    with torch.no_grad():
        features = model.get_ecg_features(local.preprocess(DICOM_ECG, candidate_labels=LABELS)["ecg_values"])
    np.testing.assert_allclose(remote["features"], features.pooler_output[0].numpy(), atol=1e-6)
    assert isinstance(local, ZeroShotECGClassificationPipeline)


def test_preprocess_reports_what_the_readers_repaired(classifier, tmp_path):
    signal = ecg_signal(5)  # (5000, 12) at 500 Hz
    kept = [name for name in STANDARD_LEADS if name not in ("III", "aVR", "aVL", "aVF", "V3")]
    stored = signal[:, [STANDARD_LEADS.index(n) for n in kept]]
    header = write_wfdb_record(tmp_path, "seven", stored, kept, 500, gain=1000)
    inputs = classifier.preprocess(header, candidate_labels=LABELS)
    presence = dict(zip(STANDARD_LEADS, inputs["lead_presence"][0].tolist(), strict=True))
    assert {name for name, present in presence.items() if not present} == {"V3"}
    assert set(inputs["repairs"]) == {"limb_leads_derived", "missing_leads_zeroed"}
    assert inputs["ecg_values"][0, STANDARD_LEADS.index("V3")].abs().max() == 0
    assert classifier.preprocess(DICOM_ECG, candidate_labels=LABELS)["repairs"] == []
