# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Evaluation results as records, one headline number each, shared by the evaluation scripts, the pretraining demo and
the model card, and the one writer of results files.

A results file is a JSON object with a "results" list of records; any other top-level key (per-class scores, the
arguments of the run) is free:

    {"results": [{"task": "zero-shot", "dataset": "ptb-xl/super_class", "metric": "macro_auroc", "value": 0.762,
                  "leads": "12", "split": "test", "train_fraction": null, "weights": "pretrained",
                  "prompts": "descriptions"}],
     "details": {"pretrained": {"per_class_auroc": {...}, ...}}}

Each protocol's output turns itself into records (`to_results`) and per-class details (`details`); `write_evaluation`
writes the outputs of one run (the checkpoint and, with `--baseline untrained`, the same architecture untrained) as
`<name>.json` and `<name>.md`.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Protocol

from transformers.utils import logging

from .lead_subsets import leads_label


logger = logging.get_logger(__name__)

PRETRAINED = "pretrained"
# The headline numbers of a `classification_metrics` result, in the order records list them.
CLASSIFICATION_METRICS = ("macro_auroc", "macro_auprc")


@dataclass(frozen=True)
class EvaluationResult:
    """
    Args:
        task: the protocol, e.g. "zero-shot", "linear-probe", "fine-tune", "retrieval".
        dataset: the data set (a `load_ecg_dataset` name) and task, e.g. "ptb-xl/super_class", "cpsc2018".
        metric: e.g. "macro_auroc", "challenge_score", "ecg_to_report_recall@1".
        value: the number.
        leads: the leads given to the model, "12" or a comma-separated subset such as "I,II,V2".
        split: the split the number was measured on.
        train_fraction: the fraction of the training split used (linear probe, fine-tuning), `None` otherwise.
        weights: whose number it is: "pretrained" (the checkpoint evaluated), or the untrained baseline, the same
            architecture at its seeded random initialisation (`untrained_label`, e.g. "untrained (seed 42)");
            `None` in files written before this field existed.
        prompts: for zero-shot, the prompt set the classes were described with (e.g. "descriptions", ours;
            "condition names"; the name of the user's file).
    """

    task: str
    dataset: str
    metric: str
    value: float
    leads: str = "12"
    split: str = "test"
    train_fraction: float | None = None
    weights: str | None = None
    prompts: str | None = None


def classification_results(
    metrics: Mapping,
    task: str,
    dataset: str,
    leads: list[str] | None = None,
    split: str = "test",
    weights: str = PRETRAINED,
    train_fraction: float | None = None,
    prompts: str | None = None,
) -> list[EvaluationResult]:
    """The records of a `classification_metrics` result: macro AUROC and macro AUPRC, where defined."""
    return [
        EvaluationResult(
            task, dataset, name, metrics[name], leads_label(leads), split, train_fraction, weights, prompts
        )
        for name in CLASSIFICATION_METRICS
        if metrics.get(name) is not None
    ]


def per_class_details(metrics: Mapping) -> dict:
    """The per-class part of a `classification_metrics` result, as results files keep it."""
    return {key: value for key, value in metrics.items() if key not in CLASSIFICATION_METRICS}


class ProtocolOutput(Protocol):
    """What every protocol's output offers the writer."""

    def to_results(self, dataset: str, split: str = "test", weights: str = PRETRAINED) -> list[EvaluationResult]: ...

    def details(self) -> dict: ...


def save_results(results: Iterable[EvaluationResult], path: str | Path, **extra) -> None:
    """Write a results file; `extra` adds free top-level keys (per-class scores, run arguments)."""
    content = {"results": [asdict(result) for result in results], **extra}
    Path(path).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def _parse_record(record, path: Path) -> EvaluationResult:
    known = {field.name for field in fields(EvaluationResult)}
    if not isinstance(record, dict) or not set(record) <= known:
        raise ValueError(f"{path}: a result record must be an object with keys among {sorted(known)}, got {record!r}.")
    try:
        result = EvaluationResult(**record)
    except TypeError as error:
        raise ValueError(f"{path}: incomplete result record {record!r} ({error}).") from error
    if isinstance(result.value, bool) or not isinstance(result.value, int | float):  # a file's content: a ValueError
        raise ValueError(f"{path}: the value of {record!r} must be a number.")
    return result


def _read_results_file(path: Path) -> list | None:
    """The "results" list of a results file, `None` if the file is JSON of another kind."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if isinstance(content, dict) and isinstance(content.get("results"), list):
        return content["results"]
    return None


def load_results(path: str | Path) -> list[EvaluationResult]:
    """
    The records of a results file, or of every results file under a folder (sorted by path). In a folder, JSON
    files that hold no "results" list (caches, configs) are skipped with a warning.
    """
    path = Path(path)
    if path.is_file():
        records = _read_results_file(path)
        if records is None:
            raise ValueError(f'{path} is not a results file: expected a JSON object with a "results" list.')
        return [_parse_record(record, path) for record in records]
    if not path.is_dir():
        raise FileNotFoundError(f"Results path {path} not found.")
    results = []
    for file in sorted(path.rglob("*.json")):
        records = _read_results_file(file)
        if records is None:
            logger.warning(f'Skipping {file}: no "results" list in it.')
            continue
        results.extend(_parse_record(record, file) for record in records)
    return results


def _sort_key(result: EvaluationResult) -> tuple:
    return (
        result.task, result.dataset, result.leads, result.train_fraction or 0.0, result.prompts or "", result.metric,
        result.weights or "",
    )  # fmt: skip


def results_table(results: Iterable[EvaluationResult]) -> str:
    """A Markdown table of the records, grouped by task, data set and leads, each baseline beside its checkpoint."""
    header = [
        "| Task | Data set | Leads | Train fraction | Weights | Metric | Split | Value |",
        "| --- | --- | --- | --- | --- | --- | --- | ---: |",
    ]
    rows = [
        f"| {r.task}{'' if r.prompts is None else f', {r.prompts}'} | {r.dataset} | {r.leads} | "
        f"{'' if r.train_fraction is None else f'{r.train_fraction:.0%}'} | {r.weights or ''} | {r.metric} | "
        f"{r.split} | {r.value:.4g} |"
        for r in sorted(results, key=_sort_key)
    ]
    return "\n".join([*header, *rows])


def write_results(output_dir: str | Path, name: str, results: Iterable[EvaluationResult], **extra) -> Path:
    """`<output_dir>/<name>.json` (`save_results`, with `extra` as free keys) and `<name>.md` (the results table)."""
    results = list(results)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path = output_dir / f"{name}.json"
    save_results(results, json_path, **extra)
    table = results_table(results)
    (output_dir / f"{name}.md").write_text(table + "\n", encoding="utf-8")
    logger.info(f"Results written to {json_path}:\n{table}")
    return json_path


def write_evaluation(
    output_dir: str | Path,
    name: str,
    outputs: Mapping[str, ProtocolOutput],
    dataset: str,
    split: str = "test",
    **extra,
) -> Path:
    """
    Write one run of a protocol: `outputs` maps each weights label ("pretrained", "untrained (seed 42)") to its
    output; their records go to "results", their `details()` to "details" under the same labels. `extra` adds free
    keys (the descriptions used, the run's arguments).
    """
    results = [result for weights, output in outputs.items() for result in output.to_results(dataset, split, weights)]
    details = {weights: output.details() for weights, output in outputs.items()}
    return write_results(output_dir, name, results, details=details, **extra)


__all__ = [
    "CLASSIFICATION_METRICS",
    "PRETRAINED",
    "EvaluationResult",
    "ProtocolOutput",
    "classification_results",
    "load_results",
    "per_class_details",
    "results_table",
    "save_results",
    "write_evaluation",
    "write_results",
]
