# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Publishing a saved D-BETA folder (model, processor, code) on the Hugging Face Hub with a generated model card.

Everything up to the upload is local and checkable offline: the folder is validated (weights, processor, `auto_map`
and the code it points to, so `trust_remote_code=True` works for people without this package), the card is built
from the config and the evaluation result files, and the upload sends exactly `files_to_upload(model_dir)`.

The card carries the results twice: as a table for people, and as `model-index` metadata (huggingface_hub's
`EvalResult`s) for the Hub, which renders it and lists the model under the data sets. The Hub groups metrics by task
and data set (its type, config and split), so the lead subset and the training fraction are part of the data set's
config ("super_class;leads=I,II,V2;train_fraction=0.01"): one entry per protocol, data set, lead subset and training
fraction, whose metrics are the checkpoint's and, named as such, its untrained baseline's.
"""

import math
import re
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path

from huggingface_hub import CommitInfo, CommitOperationAdd, EvalResult, HfApi, ModelCard, ModelCardData
from safetensors import safe_open

from .configuration_dbeta import DBetaConfig
from .evaluation.models import UNTRAINED, read_checkpoint_config
from .evaluation.results import PRETRAINED, EvaluationResult, results_table
from .feature_extraction_dbeta import STANDARD_LEADS


DEFAULT_TRAINING_DATA = (
    "MIMIC-IV-ECG v1.0: about 780 k 12-lead ECGs (10 s at 500 Hz) from 161 k patients, each paired with its "
    "machine-generated report (the `report_0` .. `report_17` statements of `machine_measurements.csv`, joined in "
    "order)."
)

# Checkpoints that hold both towers, which the card's loading and zero-shot examples are written for. A fine-tuned
# `DBetaForECGClassification` loads through `AutoModelForAudioClassification` but would need a card of its own.
PUBLISHABLE_ARCHITECTURES = ("DBetaModel", "DBetaForPreTraining")

# Top-level files a model repository needs: config and processor JSON, safetensors weights, the code files named in
# `auto_map`, tokenizer vocabularies and the card. Pickled files (`training_args.bin`, optimizer states) and
# sub-folders (Trainer checkpoints) stay local.
UPLOAD_PATTERNS = ("*.json", "*.safetensors", "*.py", "*.model", "*.txt", "README.md")

# Protocol -> (Hub task type, task name) of the model-index. Zero-shot is the Hub's `zero-shot-classification`; the
# Hub has no ECG tasks, so the others are named after the protocol.
PROTOCOL_TASKS = {
    "zero-shot": ("zero-shot-classification", "Zero-shot ECG classification"),
    "linear-probe": ("ecg-linear-probe", "Linear probe on frozen ECG features"),
    "fine-tune": ("ecg-classification", "Fine-tuned ECG classification"),
    "retrieval": ("ecg-report-retrieval", "ECG-report retrieval"),
}
# Our metric -> (Hub metric id, its config, a name to show); other metrics keep their own name.
HUB_METRICS = {
    "macro_auroc": ("roc_auc", "macro", "macro AUROC"),
    "macro_auprc": ("average_precision", "macro", "macro AUPRC"),
    "challenge_score": ("physionet2021_challenge_score", None, "PhysioNet/CinC 2021 challenge score"),
}

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

A [D-BETA](https://arxiv.org/abs/2410.02131) model ("Boosting Masked ECG-Text Auto-Encoders as Discriminative
Learners", ICML 2025): an ECG transformer and a text encoder joined by co-attention fusion layers, pretrained on
ECG-report pairs with masked language modelling, masked ECG modelling, ECG-text matching and the ECG-text sigmoid
loss. Its unimodal ECG and text features score ECGs against class descriptions (zero-shot), feed linear probes, and
retrieve reports for ECGs and ECGs for reports.

## Model details

| | |
| --- | --- |
| Architecture | `{{ architecture }}` |
| Parameters | {{ num_parameters }} |
| ECG input | {{ ecg_input }} |
| ECG encoder | {{ ecg_encoder }} |
| Text encoder | {{ text_encoder }} |
| Fusion | {{ fusion }} |
| Unimodal feature size | {{ feature_size }} |

## Training data

{{ training_data }}

## How to use

With the `dbeta` package installed (it registers the model with the Auto classes):

```python
import modeling_dbeta
from modeling_dbeta import {{ architecture }}, DBetaProcessor

model = {{ architecture }}.from_pretrained("{{ repo_id }}")
processor = DBetaProcessor.from_pretrained("{{ repo_id }}")
```

Without it, the code stored in this repository is used:

```python
import torch
from transformers import AutoModel, AutoProcessor

model = AutoModel.from_pretrained("{{ repo_id }}", trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained("{{ repo_id }}", trust_remote_code=True)

# `signal`: one recording, (leads, samples) or (samples, leads), at any sampling rate, leads named in any order.
inputs = processor(ecg=signal, sampling_rate=500, lead_names=lead_names,
                   text=["atrial fibrillation", "sinus rhythm"], return_tensors="pt")
with torch.inference_mode():
    ecg_features = model.get_ecg_features(inputs["ecg_values"]).pooler_output
    text_features = model.get_text_features(inputs["input_ids"], inputs["attention_mask"]).pooler_output
scores = ecg_features @ text_features.T  # zero-shot: one description per class, the highest score wins
```

## Evaluation results

{{ results_table }}
{{ baseline_note }}

## Licence

The weights are released under `{{ license }}`. The training data keep their own terms of use, which users of the
model must respect.

## Intended use and limitations

For research on ECG and report representation learning. This model is not a medical device: it has not been
validated for clinical use and must not guide the diagnosis or treatment of patients. ECGs recorded with other
devices, populations or reporting conventions than the training data may be scored less reliably.

## Citation

```bibtex
@inproceedings{pham2025dbeta,
  title = {Boosting Masked ECG-Text Auto-Encoders as Discriminative Learners},
  author = {Pham, Hung Manh and Saeed, Aaqib and Ma, Dong},
  booktitle = {Proceedings of the 42nd International Conference on Machine Learning},
  year = {2025},
  eprint = {2410.02131},
  archivePrefix = {arXiv}
}
```
"""


def check_model_folder(model_dir: str | Path) -> dict:
    """
    Check that a folder holds what a published D-BETA repository needs, and return its `config.json`.

    Raises `ValueError` naming the missing piece and how to produce it.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ValueError(f"{model_dir} is not a folder: pass the folder written by `save_pretrained`.")
    config = read_checkpoint_config(model_dir)
    config_file = model_dir / "config.json"
    architectures = config.get("architectures") or []
    if not set(architectures) <= set(PUBLISHABLE_ARCHITECTURES) or not architectures:
        raise ValueError(
            f"{config_file} holds a {architectures} checkpoint; only {list(PUBLISHABLE_ARCHITECTURES)} can be "
            "published with this card (it shows both towers; fine-tuned classifiers are not covered yet)."
        )
    auto_map = config.get("auto_map", {})
    if not {"AutoConfig", "AutoModel"} <= set(auto_map):
        raise ValueError(
            f"{config_file} has no `auto_map` for AutoConfig and AutoModel, so `trust_remote_code=True` cannot load "
            "it: `import modeling_dbeta` (which registers the classes for the Auto API) before `save_pretrained`."
        )
    code_files = sorted({reference.split(".")[0] + ".py" for reference in auto_map.values()})
    missing_code = [name for name in code_files if not (model_dir / name).is_file()]
    if missing_code:
        raise ValueError(
            f"{model_dir} lacks {missing_code}, named in `auto_map`: save the model again with `save_pretrained`."
        )
    if not list(model_dir.glob("*.safetensors")):
        raise ValueError(f"{model_dir} holds no safetensors weights: save the model with `save_pretrained`.")
    if not (model_dir / "processor_config.json").is_file():
        raise ValueError(
            f"{model_dir / 'processor_config.json'} not found: save the processor beside the model with "
            f"`DBetaProcessor(feature_extractor, tokenizer).save_pretrained({str(model_dir)!r})`."
        )
    return config


def count_parameters(model_dir: str | Path) -> int:
    """Number of stored parameters, read from the safetensors headers without loading the weights."""
    total = 0
    for weights_file in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(weights_file, framework="pt") as weights:
            # `safe_open` is not iterable: `.keys()` is needed.
            total += sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())  # noqa: SIM118
    return total


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9@]+", "-", text.lower()).strip("-")


def hub_eval_result(result: EvaluationResult) -> EvalResult:
    """
    One record as a model-index `EvalResult`: the protocol as the task; the data set, its config, lead subset and
    training fraction as the data set; the metric, named with its prompts and, for a baseline, its weights.
    """
    task_type, task_name = PROTOCOL_TASKS.get(result.task, (_slug(result.task), result.task))
    dataset_type, _, config = result.dataset.partition("/")
    subset = {"leads": result.leads, "train_fraction": result.train_fraction}
    subset = {key: value for key, value in subset.items() if value is not None}
    leads = "12 leads" if result.leads == "12" else f"leads {result.leads}"
    fraction = "" if result.train_fraction is None else f", {result.train_fraction:.0%} of the training split"
    metric_type, metric_config, metric_name = HUB_METRICS.get(result.metric, (result.metric, None, result.metric))
    if result.prompts is not None:
        metric_name += f", {result.prompts} prompts"
    if result.weights not in (None, PRETRAINED):
        metric_name += f" [{result.weights} baseline]"
    metric_args = {key: value for key, value in (("weights", result.weights), ("prompts", result.prompts)) if value}
    return EvalResult(
        task_type=task_type,
        task_name=task_name,
        dataset_type=dataset_type,
        dataset_name=f"{result.dataset}, {leads}{fraction}",
        dataset_config=";".join([config or "default", *(f"{key}={value}" for key, value in subset.items())]),
        dataset_split=result.split,
        dataset_args=subset,
        metric_type=metric_type,
        metric_value=result.value,
        metric_name=metric_name,
        metric_config=metric_config,
        metric_args=metric_args or None,
    )


def build_model_card(
    model_dir: str | Path,
    repo_id: str,
    license: str,
    results: Sequence[EvaluationResult] = (),
    training_data: str = DEFAULT_TRAINING_DATA,
) -> ModelCard:
    """
    The model card of a saved D-BETA folder.

    Args:
        model_dir: the folder written by `save_pretrained` (model and processor).
        repo_id: the Hub repository, used in the loading examples.
        license: a Hub licence identifier, e.g. "apache-2.0"; weights converted from the authors' release are
            "cc-by-nc-4.0".
        results: evaluation records, shown as a table and written as `model-index` metadata (see
            `modeling_dbeta.evaluation.load_results`).
        training_data: a description of the data the weights were trained on.
    """
    config_dict = check_model_folder(model_dir)
    config = DBetaConfig.from_pretrained(model_dir)
    text_config = config.text_config
    num_parameters = count_parameters(model_dir)
    model_name = repo_id.split("/")[-1]
    card_data = ModelCardData(
        license=license,
        library_name="transformers",
        pipeline_tag="feature-extraction",
        tags=["ecg", "electrocardiogram", "d-beta", "multimodal", "medical", "zero-shot-classification"],
        model_name=model_name,
        eval_results=[hub_eval_result(result) for result in results] or None,
    )
    baselines = sorted({r.weights for r in results if r.weights and r.weights.startswith(UNTRAINED)})
    baseline_note = (
        f"Rows whose weights read {' / '.join(f'`{label}`' for label in baselines)} score the same architecture "
        "untrained, its weights as initialised under that seed (by `--baseline untrained` of the evaluation scripts, "
        "or, where the label says so, the weights a pretraining run started from): the baseline that each number of "
        "the checkpoint should be compared with."
        if baselines
        else ""
    )
    return ModelCard.from_template(
        card_data,
        template_str=MODEL_CARD_TEMPLATE,
        model_name=model_name,
        repo_id=repo_id,
        architecture=config_dict["architectures"][0],
        num_parameters=f"{num_parameters:,} ({num_parameters / 1e6:.1f} M)",
        ecg_input=(
            f"{config.num_leads} leads ({', '.join(STANDARD_LEADS[: config.num_leads])}), "
            f"{config.sampling_rate} Hz, {config.num_samples} samples"
        ),
        ecg_encoder=(
            f"{config.num_hidden_layers} transformer layers, hidden size {config.hidden_size}, "
            f"{config.num_attention_heads} heads, feed-forward {config.intermediate_size}"
        ),
        text_encoder=(
            f"`{text_config.model_type}`, {text_config.num_hidden_layers} layers, "
            f"hidden size {text_config.hidden_size}"
        ),
        fusion=(
            f"{config.fusion_num_hidden_layers} co-attention layers per modality, hidden size "
            f"{config.fusion_hidden_size}, {config.fusion_num_attention_heads} heads"
        ),
        feature_size=config.fusion_hidden_size,
        training_data=training_data,
        results_table=results_table(results) if results else "No evaluation results were provided.",
        baseline_note=baseline_note,
    )


def files_to_upload(model_dir: str | Path) -> list[str]:
    """The file names `push_model_folder` sends: top-level files matching `UPLOAD_PATTERNS`, sorted."""
    return sorted(
        path.name
        for path in Path(model_dir).iterdir()
        if path.is_file() and any(fnmatch(path.name, pattern) for pattern in UPLOAD_PATTERNS)
    )


def push_model_folder(
    model_dir: str | Path,
    repo_id: str,
    private: bool = False,
    commit_message: str = "Upload D-BETA model",
    token: str | None = None,
) -> CommitInfo:
    """Create the repository if needed and upload `files_to_upload(model_dir)` in one commit."""
    model_dir = Path(model_dir)
    check_model_folder(model_dir)
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, repo_type="model", exist_ok=True)
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(model_dir / name))
        for name in files_to_upload(model_dir)
    ]
    return api.create_commit(repo_id, operations, commit_message=commit_message, repo_type="model")


__all__ = [
    "DEFAULT_TRAINING_DATA",
    "build_model_card",
    "check_model_folder",
    "count_parameters",
    "files_to_upload",
    "hub_eval_result",
    "push_model_folder",
]
