# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Build a corpus's N3S index once, before pretraining: distinct normalised reports, their frozen-encoder embeddings,
a FAISS index and each report's 64 farthest reports (see `modeling_dbeta/n3s.py`).

    python train/build_n3s_index.py --reports mimic-iv-ecg/machine_measurements.csv --output_dir n3s/mimic-iv-ecg

`--reports` is a text file (one report per line), a CSV file (a `report` column, or MIMIC-IV-ECG's `report_0` ..
`report_17` statements, joined in order), or a `datasets` dataset saved with `save_to_disk` that has a `report`
column. The timings of each stage are printed at the end as JSON.
"""

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from datasets import DatasetDict, load_from_disk
from transformers import HfArgumentParser

from modeling_dbeta import join_statements
from modeling_dbeta.n3s import DEFAULT_ENCODER, N3SIndex


STATEMENT_COLUMN = re.compile(r"report_(\d+)")


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


def read_csv_reports(path: Path, report_column: str) -> list[str]:
    header = pd.read_csv(path, nrows=0).columns
    statements = sorted((c for c in header if STATEMENT_COLUMN.fullmatch(c)), key=lambda c: int(c.split("_")[1]))
    if report_column in header:
        columns = [report_column]
    elif statements:
        columns = statements
    else:
        raise ValueError(
            f"{path} has neither a {report_column!r} column nor MIMIC-IV-ECG's report_0 .. report_17 columns "
            f"(found: {', '.join(header)}). Name the report column with --report_column."
        )
    table = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False)[columns]
    if columns == [report_column]:
        return table[report_column].tolist()
    return [join_statements(row) for row in table.itertuples(index=False, name=None)]


def read_dataset_reports(path: Path, report_column: str, split: str) -> list[str]:
    dataset = load_from_disk(path)
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


def read_reports(path: str | Path, report_column: str = "report", split: str = "train") -> list[str]:
    """Every report of the corpus, duplicates included (the index counts them before de-duplicating)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No reports at {path}: pass a text file, a CSV file or a dataset folder.")
    if path.is_dir():
        return read_dataset_reports(path, report_column, split)
    if path.name.endswith((".csv", ".csv.gz")):
        return read_csv_reports(path, report_column)
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(args: list[str] | None = None) -> dict:
    (build_args,) = HfArgumentParser(BuildArguments).parse_args_into_dataclasses(args=args)

    start = time.perf_counter()
    reports = read_reports(build_args.reports, build_args.report_column, build_args.split)
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
        "num_reports": index.info["num_reports"],
        "num_candidates": index.info["num_candidates"],
        "seconds": {"read": read_seconds, **index.info["build_seconds"], "save": save_seconds},
    }
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
