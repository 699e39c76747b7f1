# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
One description per class for zero-shot classification: the text tower encodes it, and each ECG is scored against it.

Ours (`label_descriptions.json`) cover every label of the PTB-XL super_class / sub_class / form / rhythm tasks,
CPSC2018, Chapman-Shaoxing-Ningbo and CODE-test, keyed by the data set names of `load_ecg_dataset` ("ptb-xl/<task>",
"cpsc2018", "csn", "code-test"), with the labels named exactly as in the label columns of the MERL splits and of
CODE-test's `gold_standard.csv`. They are written like the ECG machine statements D-BETA is pretrained on: the
statement, then its defining criteria.
"""

import json
from pathlib import Path


DEFAULT_LABEL_DESCRIPTIONS = Path(__file__).with_name("label_descriptions.json")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"Label description file {path} not found.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def load_label_descriptions(dataset: str, config: str | None = None, path: str | Path | None = None) -> dict[str, str]:
    """
    The `{label: description}` mapping of a data set.

    Args:
        dataset: "ptb-xl", "cpsc2018", "csn" or "code-test" (the names of `load_ecg_dataset`).
        config: the PTB-XL task ("super_class", "sub_class", "form", "rhythm"); `None` for the other data sets.
        path: a JSON file of your own, either `{label: description}` for this data set or, like ours, keyed by
            "<dataset>" or "<dataset>/<config>" with a `{label: description}` mapping each.
    """
    path = DEFAULT_LABEL_DESCRIPTIONS if path is None else Path(path)
    content = _read_json(path)
    if not isinstance(content, dict):
        raise ValueError(f"{path} must hold a JSON object, of label descriptions or of data sets.")
    if all(isinstance(value, str) for value in content.values()):
        descriptions = content
    else:
        key = dataset if config is None else f"{dataset}/{config}"
        if key not in content:
            raise KeyError(f"{path} has no descriptions for {key!r}; it covers: {', '.join(sorted(content))}.")
        descriptions = content[key]
        if not isinstance(descriptions, dict):
            raise ValueError(f"{path}: the entry for {key!r} must be a {{label: description}} object.")
    empty = [label for label, text in descriptions.items() if not isinstance(text, str) or not text.strip()]
    if not descriptions or empty:
        raise ValueError(f"{path}: every label needs a non-empty description; missing or empty for {empty or 'all'}.")
    return dict(descriptions)


__all__ = ["DEFAULT_LABEL_DESCRIPTIONS", "load_label_descriptions"]
