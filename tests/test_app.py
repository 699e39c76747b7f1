"""The Gradio app: what it shows for an ECG (printout, scores, nearest reports), its handling of uploads and bad
files, and the whole app in a real headless Chromium driven by Playwright against the local server."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from pydicom.data import get_testdata_file
from transformers import pipeline

import app
from modeling_dbeta import STANDARD_LEADS, DBetaProcessor
from modeling_dbeta.report_bank import save_report_bank
from tests.ecg_fixtures import ecg_signal, write_wfdb_record
from tests.test_pipeline import save_checkpoint


REPO = Path(__file__).resolve().parents[1]
DICOM_ECG = get_testdata_file("waveform_ecg.dcm")
REPORTS = ["sinus rhythm. normal ecg", "atrial fibrillation. left axis deviation", "sinus bradycardia",
           "left bundle branch block", "sinus tachycardia. st-t abnormality", "low qrs voltage"]
LABELS = "sinus rhythm\natrial fibrillation\n\nleft bundle branch block\n"
SCREENSHOT = REPO / "outputs" / "test-artifacts" / "app_dicom.png"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-checkpoint")
    model = save_checkpoint(folder, ets_loss_type="siglip")
    save_report_bank(REPORTS, folder)
    return folder, model


@pytest.fixture(scope="module")
def session(checkpoint):
    return app.ModelSession(str(checkpoint[0])).start().wait()


def analyse(session, files, leads=STANDARD_LEADS, **kwargs):
    arguments = {"labels_text": LABELS, "template": "{}", "sampling_rate": None, "lead_names_text": ""} | kwargs
    return app.analyse(session, files, leads=list(leads), **arguments)


def test_scores_and_nearest_reports_are_the_models(session, checkpoint):
    folder, model = checkpoint
    figure, scores, nearest, summary = analyse(session, [DICOM_ECG])
    reference = pipeline("zero-shot-ecg-classification", model=model, processor=DBetaProcessor.from_pretrained(folder))
    expected = reference(
        DICOM_ECG, candidate_labels=["sinus rhythm", "atrial fibrillation", "left bundle branch block"]
    )
    assert list(scores) == [entry["label"] for entry in expected]
    np.testing.assert_allclose(list(scores.values()), [entry["score"] for entry in expected], atol=1e-6)

    inputs = reference.preprocess(DICOM_ECG, candidate_labels=["x"])
    with torch.no_grad():
        ecg_features = model.get_ecg_features(inputs["ecg_values"]).pooler_output
    bank_scores = torch.sigmoid(reference.logits(ecg_features, reference.encode_texts(REPORTS)))[0].numpy()
    order = np.argsort(-bank_scores)[: app.NUM_NEAREST_REPORTS]
    assert [row[2] for row in nearest] == [REPORTS[i] for i in order]
    np.testing.assert_allclose([row[1] for row in nearest], bank_scores[order], atol=1e-4)
    assert [row[0] for row in nearest] == [1, 2, 3, 4, 5]

    assert len(figure.axes[0].lines) > 13 and "waveform_ecg.dcm" in summary and "12 leads used" in summary


def test_a_wfdb_upload_and_a_lead_subset(session, tmp_path):
    # Gradio stores each uploaded file in a folder of its own: the header must find its signal file all the same.
    header = write_wfdb_record(tmp_path / "record", "rec", ecg_signal(1)[:, :8], list(STANDARD_LEADS[:8]), 500)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    uploads = [shutil.copy(header, tmp_path / "a"), shutil.copy(header.with_suffix(".dat"), tmp_path / "b")]
    figure, scores, _, summary = analyse(session, uploads, leads=["I", "II", "V1", "V2"])
    texts = {text.get_text() for text in figure.axes[0].texts}
    assert {"V1", "V3 (absent)", "V2", "III (masked)", "aVR (masked)"} <= texts
    assert "4 leads used" in summary and "missing_leads_zeroed" in summary and len(scores) == 3
    assert analyse(session, uploads, leads=["I", "II", "V1", "V2"])[1] != analyse(session, uploads)[1]


def test_bad_files_and_inputs_get_clear_messages(session, tmp_path):
    (tmp_path / "empty.dcm").write_bytes(b"")
    with pytest.raises(gr.Error, match=r"empty.dcm: unreadable_file: .*empty.dcm is empty \(0 bytes\)"):
        analyse(session, [str(tmp_path / "empty.dcm")])
    np.savetxt(tmp_path / "table.csv", ecg_signal(2), delimiter=",")
    with pytest.raises(gr.Error, match="does not record its sampling rate"):
        analyse(session, [str(tmp_path / "table.csv")])
    assert len(analyse(session, [str(tmp_path / "table.csv")], sampling_rate=500)[1]) == 3
    with pytest.raises(gr.Error, match="Upload one ECG at a time"):
        analyse(session, [DICOM_ECG, str(tmp_path / "table.csv")])
    with pytest.raises(gr.Error, match="at least one candidate label"):
        analyse(session, [DICOM_ECG], labels_text="\n \n")
    with pytest.raises(gr.Error, match="Upload an ECG"):
        analyse(session, None)


def test_examples_are_real_files_of_their_findings(tmp_path):
    examples = app.write_examples(tmp_path)
    assert examples[0] == [DICOM_ECG] and len(examples) == 1 + len(app.EXAMPLE_FINDINGS)
    for files, finding in zip(examples[1:], app.EXAMPLE_FINDINGS, strict=True):
        header = Path(files[0])
        assert header.suffix == ".hea" and Path(files[1]).is_file() and finding.replace(" ", "_") in header.name
        comments = [line for line in header.read_text().splitlines() if line.startswith("#")]
        assert comments[0].startswith("# Findings: ") and finding in comments[0]
        assert comments[1].startswith("# Report: ")


def test_a_checkpoint_that_cannot_load_is_reported(tmp_path):
    session = app.ModelSession(str(tmp_path / "absent")).start()
    assert session.finished(timeout=60)
    assert "could not be loaded" in session.status()
    with pytest.raises(gr.Error, match="could not be loaded"):
        session.wait()


BROWSER_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("DBETA_REQUIRE_BROWSER"):
            pytest.fail("DBETA_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium).")
        pytest.skip("no chromium on this machine (CI installs it: .ci/run)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"app.py exited with {server.returncode}: {server.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"app.py did not serve {url} within {timeout:.0f} s")


def test_app_in_a_headless_browser(checkpoint, capsys):
    """Upload a DICOM file in Chromium; the printout, the scores and the nearest reports appear; a screenshot."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    executable = chromium_path()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    environment = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), "--model_name_or_path", str(checkpoint[0]), "--server_port", str(port)],
        cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="dbeta-chromium-"), executable_path=executable, headless=True,
                args=BROWSER_FLAGS, viewport={"width": 1500, "height": 1400},
            )
            page = browser.new_page()
            page.goto(url)
            page.locator("#model-status").get_by_text("loaded;").wait_for(timeout=60_000)
            page.locator("#ecg-file input[type=file]").set_input_files(DICOM_ECG)
            page.locator("#ecg-plot img").wait_for(timeout=60_000)
            page.locator("#nearest-reports").get_by_text(REPORTS[0]).wait_for(timeout=30_000)
            scores = page.locator("#scores").inner_text()
            for label in app.SYNTHETIC_LABELS:
                assert label in scores
            assert "%" in scores
            image = page.locator("#ecg-plot img")
            assert image.get_attribute("src").startswith("data:image/png;base64,")
            assert image.evaluate("element => element.naturalWidth") > 1000
            assert "waveform_ecg.dcm" in page.locator("#ecg-summary").inner_text()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # A bundled example: a WFDB record (header and signal file) picked from the list.
            page.get_by_text("synthetic_atrial_fibrillation.hea").click()
            page.locator("#ecg-summary").get_by_text("synthetic_atrial_fibrillation.hea").wait_for(timeout=30_000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    with capsys.disabled():
        print(f"\nApp screenshot (test artefact): {SCREENSHOT}")
