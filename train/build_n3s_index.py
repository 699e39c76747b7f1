# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Build a corpus's N3S index once, before pretraining: distinct normalised reports, their frozen-encoder embeddings,
a FAISS index and each report's 64 farthest reports (see `modeling_dbeta/n3s.py`).

    python train/build_n3s_index.py --reports mimic-iv-ecg/machine_measurements.csv --output_dir n3s/mimic-iv-ecg

`--reports` is a text file (one report per line), a CSV file (a `report` column, or MIMIC-IV-ECG's `report_0` ..
`report_17` statements, joined in order), or a `datasets` dataset saved with `save_to_disk` that has a `report`
column. Text files and CSV tables are read exactly as the data set builders read them (`datasets_scripts.tables`:
byte-order marks, gzip, undecodable bytes dropped and counted, cut or malformed rows dropped and counted), and a
`machine_measurements.csv` through the MIMIC-IV-ECG builder's own reader, so that the index holds the reports the
pairs are built from. The counts and the timings of each stage are printed at the end as JSON.
"""

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datasets import DatasetDict, load_from_disk
from transformers import HfArgumentParser

from datasets_scripts.mimic_iv_ecg import read_machine_measurements
from datasets_scripts.tables import BadRows, open_text, read_header, read_table
from modeling_dbeta import normalize_report
from modeling_dbeta.n3s import DEFAULT_ENCODER, N3SIndex
from modeling_dbeta.recording import clean_text


@dataclass
class BuildArguments:
    reports: str = field(
        metadata={"help": "Text file (one report per line), CSV file, or a dataset saved with `save_to_disk`."}
    )
    output_dir: str = field(metadata={"help": "Where the index is written (created if absent)."})
    encoder: str = field(
        default=DEFAULT_ENCODER,
        metadata={"help": "Frozen text encoder (Hub id or folder), any model AutoModelForTextEncoding loads."},
    )
    report_column: str = field(default="report", metadata={"help": "Column holding the report (CSV or dataset)."})
    split: str = field(default="train", metadata={"help": "Split to read when the dataset on disk is a DatasetDict."})
    num_candidates: int = field(default=64, metadata={"help": "Farthest reports kept per report."})
    batch_size: int = field(default=256, metadata={"help": "Reports per encoder forward pass."})
    search_batch_size: int = field(default=1024, metadata={"help": "Queries per FAISS search."})
    max_length: int = field(default=512, metadata={"help": "Reports are truncated to this many tokens."})
    device: str | None = field(default=None, metadata={"help": "Encoder device; default CUDA when available."})


def read_csv_reports(path: Path, report_column: str, bad_rows: BadRows) -> list[str]:
    header = read_header(path)
    if report_column in header:
        table = read_table(path, [report_column])
        for row, problem in table.problems.items():
            bad_rows.add(path, problem, table.lines[row])
        return [text for row, text in enumerate(table.columns[report_column]) if row not in table.problems]
    if "report_0" in header:
        measurements = read_machine_measurements(path, bad_rows)
        for _ in measurements.conflicting:
            bad_rows.add(path, "conflicting_reports")  # the builder skips these studies too
        return [report for study, report in measurements.reports.items() if study not in measurements.conflicting]
    raise ValueError(
        f"{path} has neither a {report_column!r} column nor MIMIC-IV-ECG's report_0 .. report_17 columns "
        f"(found: {', '.join(header)}). Name the report column with --report_column."
    )


def read_dataset_reports(path: Path, report_column: str, split: str) -> list[str]:
    try:
        dataset = load_from_disk(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is a folder but not a dataset saved with `save_to_disk` (no dataset_info.json / "
            "dataset_dict.json): pass a text file, a CSV file or such a folder."
        ) from None
    if isinstance(dataset, DatasetDict):
        if split not in dataset:
            raise ValueError(f"{path} has no split {split!r} (found: {', '.join(dataset)}). Choose one with --split.")
        dataset = dataset[split]
    if report_column not in dataset.column_names:
        raise ValueError(
            f"{path} has no {report_column!r} column (found: {', '.join(dataset.column_names)}). "
            "Name the report column with --report_column."
        )
    return dataset[report_column][:]


def read_reports(
    path: str | Path, report_column: str = "report", split: str = "train", counts: Counter | None = None
) -> list[str]:
    """
    Every report of the corpus the pairs would be trained on, duplicates included (the index counts them before
    de-duplicating): undecodable bytes dropped, empty reports left out, as the builders do. `counts` (optional)
    receives `non_utf8_text`, `empty_report` and the dropped table rows (`<table>: <reason>`).
    """
    path = Path(path)
    counts = Counter() if counts is None else counts
    if not path.exists():
        raise FileNotFoundError(f"No reports at {path}: pass a text file, a CSV file or a dataset folder.")
    bad_rows = BadRows()
    is_table = path.is_dir() or path.name.endswith((".csv", ".csv.gz"))
    if path.is_dir():
        raw = read_dataset_reports(path, report_column, split)
    elif is_table:
        raw = read_csv_reports(path, report_column, bad_rows)
    else:
        with open_text(path) as stream:
            raw = stream.read().splitlines()
    for table, reasons in bad_rows.as_dict().items():
        counts.update({f"{table}: {reason}": count for reason, count in reasons.items()})
    reports = []
    for raw_text in raw:
        repairs = []
        text = clean_text(raw_text, repairs)
        counts.update(repairs)
        if normalize_report(text):
            reports.append(text)
        elif is_table or text.strip():  # a blank line of a text file is no report
            counts["empty_report"] += 1
    return reports


def main(args: list[str] | None = None) -> dict:
    (build_args,) = HfArgumentParser(BuildArguments).parse_args_into_dataclasses(args=args)

    start = time.perf_counter()
    counts = Counter()
    reports = read_reports(build_args.reports, build_args.report_column, build_args.split, counts)
    read_seconds = time.perf_counter() - start

    index = N3SIndex.build(
        reports,
        build_args.encoder,
        batch_size=build_args.batch_size,
        num_candidates=build_args.num_candidates,
        search_batch_size=build_args.search_batch_size,
        max_length=build_args.max_length,
        device=build_args.device,
    )

    start = time.perf_counter()
    index.save(build_args.output_dir)
    save_seconds = time.perf_counter() - start

    summary = {
        "arguments": asdict(build_args),
        "num_input_reports": index.info["num_input_reports"],
        "reports_dropped_or_repaired": dict(sorted(counts.items())),
        "num_reports": index.info["num_reports"],
        "num_candidates": index.info["num_candidates"],
        "seconds": {"read": read_seconds, **index.info["build_seconds"], "save": save_seconds},
    }
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as error:  # a bad --reports file: the message names it and the fix
        raise SystemExit(f"build_n3s_index.py: {error}") from None
