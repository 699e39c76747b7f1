# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
A report bank: the reports among which the app (`app.py`) finds those nearest to an ECG, by the model's own ECG-text
score. It lives next to a checkpoint as `report_bank.txt` (UTF-8, one report per line, no duplicates, in the form the
model was trained on: a record's statements joined as `join_statements` joins them), so a Hub repository or the
pretraining demo's output folder carries it with the model.
"""

from pathlib import Path

from transformers.utils import cached_file


REPORT_BANK_FILE = "report_bank.txt"


def save_report_bank(reports, directory) -> Path:
    """
    Write `reports` to `directory/report_bank.txt`: line breaks inside a report become spaces, blank reports and
    repeats are dropped (the first occurrence keeps its place). Returns the file's path.
    """
    lines = dict.fromkeys(" ".join(str(report).split()) for report in reports)
    lines.pop("", None)
    path = Path(directory) / REPORT_BANK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def load_report_bank(source) -> list[str] | None:
    """
    The reports of a bank file, or of the `report_bank.txt` beside a checkpoint (a folder or a Hub id); `None` when
    the checkpoint has none. A named file that does not exist is an error.
    """
    path = Path(source)
    if path.suffix == ".txt" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"Report bank {path} does not exist: pass a text file with one report per line.")
    else:
        resolved = cached_file(str(source), REPORT_BANK_FILE, _raise_exceptions_for_missing_entries=False)
        if resolved is None:
            return None
        path = Path(resolved)
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = ["REPORT_BANK_FILE", "load_report_bank", "save_report_bank"]
