# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
D-BETA in the browser (a Gradio app, ready to run as a Hugging Face Space): upload an ECG file or pick an example,
see it as an ECG printout, its zero-shot scores for labels you write, and the reports nearest to it.

    python app.py --model_name_or_path outputs/dbeta-demo [--report_bank reports.txt] [--server_port 7860]

Everything runs locally; nothing needs the network when the checkpoint is a folder. The page serves at once while
the model loads in the background (its progress shows on the page and in the console). The nearest reports come
from the checkpoint's `report_bank.txt` (see `modeling_dbeta.report_bank`) or `--report_bank`; without one, the
app leaves that panel empty and says why. On a Space, `DBETA_MODEL` names the checkpoint (a Hub id) when the
command line does not.
"""

import argparse
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import torch
import wfdb
from pydicom.data import get_testdata_file
from tqdm.auto import tqdm
from transformers import AutoConfig, pipeline

import modeling_dbeta
from datasets_scripts.synthetic_ecg import SYNTHETIC_LABELS, generate_synthetic_corpus
from modeling_dbeta import STANDARD_LEADS, DBetaProcessor
from modeling_dbeta.ecg_paper_plot import plot_ecg_paper
from modeling_dbeta.pipeline_dbeta import TEXT_BATCH_SIZE, ZERO_SHOT_TASK
from modeling_dbeta.pipeline_inputs import FILE_FORMATS
from modeling_dbeta.report_bank import REPORT_BANK_FILE, load_report_bank


logger = logging.getLogger("dbeta.app")

DEFAULT_MODEL = "outputs/dbeta-demo"
NUM_NEAREST_REPORTS = 5
# Synthetic examples (the demo corpus's simulator, a seed the demo does not train on), one per finding shown.
EXAMPLE_SEED = 2026
EXAMPLE_FINDINGS = ("atrial fibrillation", "left bundle branch block", "sinus bradycardia", "normal ecg")
REPORT_BANK_CHUNK = 8 * TEXT_BATCH_SIZE


class ModelSession:
    """
    The zero-shot pipeline and the report bank's text features, loaded once in a background thread, so that the
    page is up while a large checkpoint loads; `progress` says how far it got, `wait()` blocks until it is done.
    """

    def __init__(self, model_name_or_path: str, report_bank: str | None = None):
        self.model_name_or_path = model_name_or_path
        self.report_bank = report_bank or model_name_or_path
        self.progress = (0.0, "Waiting to start")
        self.error = None
        self.classifier = None
        self.reports = []
        self.report_features = None
        self._done = threading.Event()

    def start(self) -> "ModelSession":
        threading.Thread(target=self._load, name="load-model", daemon=True).start()
        return self

    def _step(self, fraction: float, description: str):
        self.progress = (fraction, description)
        logger.info("%s", description)

    def _load(self):
        try:
            self._step(0.05, f"Reading the configuration of {self.model_name_or_path}")
            config = AutoConfig.from_pretrained(self.model_name_or_path)
            architecture = (config.architectures or ["DBetaModel"])[0]
            model_class = getattr(modeling_dbeta, architecture, None)
            if model_class is None or not hasattr(model_class, "from_pretrained"):
                raise ValueError(f"{self.model_name_or_path} holds a {architecture}, not a D-BETA model.")
            self._step(0.15, f"Loading the weights ({architecture})")
            model = model_class.from_pretrained(self.model_name_or_path).eval()
            self._step(0.55, "Loading the processor")
            processor = DBetaProcessor.from_pretrained(self.model_name_or_path)
            self.classifier = pipeline(ZERO_SHOT_TASK, model=model, processor=processor)
            self._encode_report_bank()
            self._step(1.0, "Ready")
        except Exception as error:  # shown on the page: the server keeps running and says what went wrong
            logger.exception("Loading %s failed", self.model_name_or_path)
            self.error = error
        finally:
            self._done.set()

    def _encode_report_bank(self):
        self.reports = load_report_bank(self.report_bank) or []
        chunks = []
        starts = range(0, len(self.reports), REPORT_BANK_CHUNK)
        for start in tqdm(starts, desc="Report bank", unit="chunk", disable=len(starts) < 2):
            self._step(
                0.6 + 0.4 * start / len(self.reports), f"Encoding the report bank: {start} of {len(self.reports)}"
            )
            chunks.append(self.classifier.encode_texts(self.reports[start : start + REPORT_BANK_CHUNK]))
        self.report_features = torch.cat(chunks) if chunks else None

    def finished(self, timeout: float | None = None) -> bool:
        """Whether loading has ended (successfully or not), waiting up to `timeout` seconds."""
        return self._done.wait(timeout)

    def wait(self):
        self._done.wait()
        if self.error is not None:
            raise gr.Error(f"The model could not be loaded from {self.model_name_or_path}: {self.error}")
        return self

    def status(self) -> str:
        if self.error is not None:
            return f"**The model could not be loaded** from `{self.model_name_or_path}`: {self.error}"
        model = self.classifier.model
        size = sum(parameter.numel() for parameter in model.parameters()) / 1e6
        bank = (
            f"{len(self.reports):,} reports in the report bank"
            if self.reports
            else f"no report bank (put `{REPORT_BANK_FILE}` beside the checkpoint or pass `--report_bank`)"
        )
        return f"Model `{self.model_name_or_path}` ({type(model).__name__}, {size:.1f} M parameters) loaded; {bank}."

    def nearest_reports(self, ecg_features: torch.Tensor, k: int = NUM_NEAREST_REPORTS) -> list[list]:
        """[rank, score, report] of the `k` bank reports the model scores highest for this ECG."""
        if self.report_features is None:
            return []
        scores = torch.sigmoid(self.classifier.logits(ecg_features, self.report_features)[0])
        best = torch.topk(scores, min(k, len(self.reports)))
        return [[rank + 1, round(score, 4), self.reports[index]]
                for rank, (score, index) in enumerate(zip(best.values.tolist(), best.indices.tolist(), strict=True))]


def write_examples(directory: Path) -> list[list[str]]:
    """A DICOM ECG from a device (pydicom's test file) and synthetic WFDB records, as the file lists of examples."""
    directory.mkdir(parents=True, exist_ok=True)
    examples = [[get_testdata_file("waveform_ecg.dcm")]]
    corpus = generate_synthetic_corpus(60, seed=EXAMPLE_SEED)
    for finding in EXAMPLE_FINDINGS:
        rows = np.flatnonzero(corpus["labels"][:, SYNTHETIC_LABELS.index(finding)])
        row = int(rows[np.argmin(corpus["labels"][rows].sum(1))])  # the record with the fewest other findings
        name = f"synthetic_{finding.replace(' ', '_')}"
        findings = [label for label, present in zip(SYNTHETIC_LABELS, corpus["labels"][row], strict=True) if present]
        wfdb.wrsamp(name, fs=500, units=["mV"] * 12, sig_name=list(STANDARD_LEADS), p_signal=corpus["ecg"][row].T,
                    fmt=["16"] * 12, write_dir=str(directory),
                    comments=[f"Findings: {', '.join(findings)}", f"Report: {corpus['report'][row]}"])
        examples.append([str(directory / f"{name}.hea"), str(directory / f"{name}.dat")])
    return examples


def gather_files(files) -> Path:
    """
    The ECG among uploaded files, after copying them into one folder: Gradio stores each upload in a folder of its
    own, and a WFDB header must sit beside its signal file. The header when there is one, else the only file.
    """
    paths = [Path(file) for file in (files if isinstance(files, list) else [files])]
    folder = Path(tempfile.mkdtemp(prefix="dbeta-upload-"))
    for path in paths:
        shutil.copy(path, folder / path.name)
    headers = [path for path in paths if path.suffix.lower() == ".hea"]
    if len(headers) > 1 or (not headers and len(paths) > 1):
        raise gr.Error(
            f"Upload one ECG at a time: a single file, or a WFDB .hea with its signal file ({len(paths)} given)."
        )
    return folder / (headers[0] if headers else paths[0]).name


def parse_lead_names(text: str) -> list[str] | None:
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    return names or None


def analyse(session: ModelSession, files, labels_text, template, leads, sampling_rate, lead_names_text):
    """The printout, the scores and the nearest reports of one uploaded ECG (bad input becomes a message)."""
    if not files:
        raise gr.Error(f"Upload an ECG ({FILE_FORMATS}) or pick an example.")
    classifier = session.wait().classifier
    labels = [label.strip() for label in (labels_text or "").splitlines() if label.strip()]
    if not labels:
        raise gr.Error("Write at least one candidate label, one per line (e.g. 'atrial fibrillation').")
    if not leads:
        raise gr.Error("Keep at least one lead.")
    path = gather_files(files)
    try:
        inputs = classifier.preprocess(
            path, candidate_labels=labels, hypothesis_template=template or "{}", sampling_rate=sampling_rate or None,
            lead_names=parse_lead_names(lead_names_text), leads=None if len(leads) == len(STANDARD_LEADS) else leads,
        )
        outputs = classifier.forward(inputs)
    except ValueError as error:  # the readers' BadRecord and the pipeline's argument errors
        raise gr.Error(f"{path.name}: {error}") from None
    scores = classifier.postprocess(outputs)

    feature_extractor = classifier.feature_extractor
    present = inputs["lead_presence"][0].tolist()
    kept = inputs["lead_mask"][0].tolist()
    notes = {
        name: "absent" if not is_present else "masked"
        for name, is_present, is_kept in zip(feature_extractor.standard_leads, present, kept, strict=True)
        if not is_present or not is_kept
    }
    figure = plot_ecg_paper(inputs["ecg_values"][0].float().numpy(), feature_extractor.sampling_rate,
                            feature_extractor.standard_leads, lead_notes=notes, title=path.name, dpi=130)
    repairs = ", ".join(sorted(set(inputs["repairs"]))) or "none"
    used = len(feature_extractor.standard_leads) - len(notes)
    summary = f"`{path.name}`: {used} leads used; repairs by the readers: {repairs}."
    nearest = session.nearest_reports(outputs["ecg_features"])
    return figure, {entry["label"]: entry["score"] for entry in scores}, nearest, summary


def build_app(session: ModelSession, examples: list[list[str]]) -> gr.Blocks:
    with gr.Blocks(title="D-BETA: zero-shot ECG classification", analytics_enabled=False) as app:  # no network
        gr.Markdown(
            "# D-BETA: ECG + report foundation model\n"
            f"Upload {FILE_FORMATS} (a WFDB record: the `.hea` with its signal file). Scores are the model's "
            "probability that the ECG and each label's text form a matching pair (independent sigmoids, as D-BETA's "
            "ECG-text sigmoid loss trains them): they need not sum to one. A research model, not a diagnostic device."
        )
        status = gr.Markdown("Loading the model ...", elem_id="model-status")
        with gr.Row():
            with gr.Column(scale=1):
                files = gr.File(label="ECG file", file_count="multiple", elem_id="ecg-file")
                gr.Examples(examples=[[example] for example in examples], inputs=[files], label="Examples")
                labels = gr.Textbox("\n".join(SYNTHETIC_LABELS), lines=8, label="Candidate labels, one per line",
                                    elem_id="candidate-labels")
                template = gr.Textbox("{}", label="Hypothesis template ('{}' is the label)")
                leads = gr.CheckboxGroup(list(STANDARD_LEADS), value=list(STANDARD_LEADS), label="Leads to use")
                with gr.Accordion(".csv / .npy tables and arrays", open=False):
                    sampling_rate = gr.Number(None, label="Sampling rate (Hz)")
                    lead_names = gr.Textbox("", label="Lead names in column order, comma-separated (default: the "
                                            "CSV header, else the standard order)")
                score = gr.Button("Score", variant="primary")
            with gr.Column(scale=3):
                plot = gr.Plot(label="12-lead ECG (25 mm/s, 10 mm/mV)", format="png", elem_id="ecg-plot")
                summary = gr.Markdown(elem_id="ecg-summary")
                scores = gr.Label(label="Zero-shot scores", elem_id="scores")
                nearest = gr.Dataframe(headers=["rank", "score", "report"], label="Nearest reports in the report bank",
                                       datatype=["number", "number", "str"], wrap=True, elem_id="nearest-reports")

        def run(*values):
            return analyse(session, *values)

        def run_on_new_file(*values):  # an upload or a picked example; clearing the file clears the results
            return run(*values) if values[0] else (None, None, None, "")

        def show_loading(progress=gr.Progress()):  # noqa: B008 (Gradio finds its progress tracker in the signature)
            while not session.finished(timeout=0.25):
                progress(*session.progress)
            return session.status()

        inputs = [files, labels, template, leads, sampling_rate, lead_names]
        outputs = [plot, scores, nearest, summary]
        app.load(show_loading, outputs=status)
        score.click(run, inputs, outputs)
        files.change(run_on_new_file, inputs, outputs)
    return app


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", default=os.environ.get("DBETA_MODEL", DEFAULT_MODEL),
                        help="A D-BETA checkpoint folder or Hub id with a text tower "
                             "(default: $DBETA_MODEL, else %(default)s).")
    parser.add_argument("--report_bank", default=None,
                        help=f"A text file of reports, one per line (default: the checkpoint's {REPORT_BANK_FILE}).")
    parser.add_argument("--server_name", default=None,
                        help="Interface to listen on (Gradio's default: 127.0.0.1, or $GRADIO_SERVER_NAME).")
    parser.add_argument("--server_port", type=int, default=None,
                        help="Port (Gradio's default: 7860, or $GRADIO_SERVER_PORT).")
    return parser.parse_args(argv)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    session = ModelSession(args.model_name_or_path, args.report_bank).start()
    examples = write_examples(Path(tempfile.mkdtemp(prefix="dbeta-examples-")))
    build_app(session, examples).launch(server_name=args.server_name, server_port=args.server_port)


if __name__ == "__main__":
    main()
