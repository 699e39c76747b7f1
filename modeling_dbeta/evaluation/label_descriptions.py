# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Zero-shot prompts: one description per class, which the text tower encodes and each ECG is scored against.

Ours (`label_descriptions.json`) cover every label of the PTB-XL super_class / sub_class / form / rhythm tasks,
CPSC2018, Chapman-Shaoxing-Ningbo, CODE-test and the synthetic corpus, keyed by the data set names of
`load_ecg_dataset` ("ptb-xl/<task>", "cpsc2018", "csn", "code-test", "synthetic"), with the labels named exactly as in
the label columns of the MERL splits, of CODE-test's `gold_standard.csv` and of the synthetic corpus. The benchmark
descriptions are written like the ECG machine statements D-BETA is pretrained on: the statement, then its defining
criteria.

A data set's entry is either one `{label: description}` prompt set (called "descriptions") or several named ones:
the synthetic corpus has "condition names" (each label as its own prompt, CLIP's default) and "paraphrases" (worded
unlike any report statement, to test how far the text tower's general language carries beyond the reports' wording).
"""

import json
from pathlib import Path


DEFAULT_LABEL_DESCRIPTIONS = Path(__file__).with_name("label_descriptions.json")
DESCRIPTIONS = "descriptions"  # the name of a data set's single prompt set


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"Label description file {path} not found.")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(content, dict):  # a file's content, not an argument's type: a ValueError
        raise ValueError(f"{path} must hold a JSON object, of label descriptions or of data sets.")
    return content


def _is_prompt_set(value) -> bool:
    return isinstance(value, dict) and all(isinstance(text, str) for text in value.values())


def _checked(descriptions: dict, path: Path, where: str) -> dict[str, str]:
    if not _is_prompt_set(descriptions):
        raise ValueError(f"{path}: {where} must be a {{label: description}} object.")
    empty = [label for label, text in descriptions.items() if not text.strip()]
    if not descriptions or empty:
        raise ValueError(f"{path}: every label needs a non-empty description; missing or empty for {empty or 'all'}.")
    return dict(descriptions)


def load_prompt_sets(dataset: str, config: str | None = None, path: str | Path | None = None) -> dict[str, dict]:
    """
    The zero-shot prompt sets of a data set, by name, in the file's order: `{"descriptions": {label: text}}` for a
    data set with one set (every benchmark), `{"condition names": {...}, "paraphrases": {...}}` for "synthetic".

    Args:
        dataset: a `load_ecg_dataset` name: "ptb-xl", "cpsc2018", "csn", "code-test", "synthetic".
        config: the PTB-XL task ("super_class", "sub_class", "form", "rhythm"); `None` for the other data sets.
        path: a JSON file of your own, either `{label: description}` for this data set or, like ours, keyed by
            "<dataset>" or "<dataset>/<config>"; a single prompt set of your file is named after the file.
    """
    path = DEFAULT_LABEL_DESCRIPTIONS if path is None else Path(path)
    content = _read_json(path)
    single_set_name = DESCRIPTIONS if path == DEFAULT_LABEL_DESCRIPTIONS else path.name
    if _is_prompt_set(content):
        return {single_set_name: _checked(content, path, "the file")}
    key = dataset if config is None else f"{dataset}/{config}"
    if key not in content:
        raise KeyError(f"{path} has no descriptions for {key!r}; it covers: {', '.join(sorted(content))}.")
    entry = content[key]
    if _is_prompt_set(entry):
        return {single_set_name: _checked(entry, path, f"the entry for {key!r}")}
    if not isinstance(entry, dict) or not entry:
        raise ValueError(f"{path}: the entry for {key!r} must be a {{label: description}} object or named ones.")
    return {name: _checked(prompts, path, f"the prompt set {key!r} / {name!r}") for name, prompts in entry.items()}


def load_label_descriptions(
    dataset: str,
    config: str | None = None,
    path: str | Path | None = None,
    prompt_set: str | None = None,
    labels=None,
) -> dict[str, str]:
    """
    One `{label: description}` prompt set of a data set (see [`load_prompt_sets`]): `prompt_set` by name, the first
    by default.

    Args:
        labels: the classes that need a description (e.g. the data set's class names): a class the set does not
            describe raises a `ValueError` naming the file and the missing classes.
    """
    prompt_sets = load_prompt_sets(dataset, config, path)
    name = next(iter(prompt_sets)) if prompt_set is None else prompt_set
    if name not in prompt_sets:
        raise KeyError(f"No prompt set {name!r} for {dataset!r}; it has: {', '.join(prompt_sets)}.")
    descriptions = prompt_sets[name]
    missing = [label for label in labels or () if label not in descriptions]
    if missing:
        source = DEFAULT_LABEL_DESCRIPTIONS if path is None else path
        key = dataset if config is None else f"{dataset}/{config}"
        raise ValueError(
            f"{source} ({name}) has no description for the class(es) {missing} of {key}: "
            f'add them (e.g. {{"{missing[0]}": "..."}}) or pass --descriptions with a file that describes every '
            "class."
        )
    return descriptions


__all__ = ["DEFAULT_LABEL_DESCRIPTIONS", "DESCRIPTIONS", "load_label_descriptions", "load_prompt_sets"]
