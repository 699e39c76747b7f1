# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Evaluation results as records, one headline number each, shared by the evaluation scripts and the model card.

A results file is a JSON object with a "results" list of records; any other top-level key (per-class scores, the
arguments of the run) is free:

    {"results": [{"task": "zero-shot", "dataset": "ptb-xl/super_class", "metric": "macro_auroc", "value": 0.762,
                  "leads": "12", "split": "test", "train_fraction": null}], "per_class_auroc": {...}}
"""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from transformers.utils import logging


logger = logging.get_logger(__name__)


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
    """

    task: str
    dataset: str
    metric: str
    value: float
    leads: str = "12"
    split: str = "test"
    train_fraction: float | None = None


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
    if isinstance(result.value, bool) or not isinstance(result.value, int | float):
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


def results_table(results: Iterable[EvaluationResult]) -> str:
    """A Markdown table of the records, grouped by task, data set and leads."""
    header = [
        "| Task | Data set | Leads | Train fraction | Metric | Split | Value |",
        "| --- | --- | --- | --- | --- | --- | ---: |",
    ]
    ordered = sorted(results, key=lambda r: (r.task, r.dataset, r.leads, r.train_fraction or 0.0, r.metric))
    rows = [
        f"| {r.task} | {r.dataset} | {r.leads} | "
        f"{'' if r.train_fraction is None else f'{r.train_fraction:.0%}'} | {r.metric} | {r.split} | {r.value:.4g} |"
        for r in ordered
    ]
    return "\n".join([*header, *rows])


__all__ = ["EvaluationResult", "load_results", "results_table", "save_results"]
