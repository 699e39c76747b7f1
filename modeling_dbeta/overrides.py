# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
`field=value` overrides, the one syntax of every command line that sets config fields: `--config_overrides` and
`--dataset_kwargs` of `train/pretrain.py`, `--config` of `python -m datasets_scripts`.

transformers' `PreTrainedConfig.update_from_string` reads the same syntax but splits at every comma, so it cannot take
a list (`conv_layers=[[64,10,5],[128,5,2]]`), and it converts by the type of the config's current value; here values
are read as JSON, commas inside brackets belong to the value, and `config_field_overrides` converts them by the
dataclass field's declared type.
"""

import dataclasses
import json
from collections.abc import Iterable


def split_top_level(text: str) -> list[str]:
    """'a=1,b=[1,2]' -> ['a=1', 'b=[1,2]']: commas inside brackets or braces belong to the value."""
    items, depth, current = [], 0, ""
    for character in text:
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(character, 0)
        if character == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += character
    items.append(current)
    return [item for item in items if item.strip()]


def parse_overrides(overrides: str | Iterable[str] | None) -> dict:
    """
    'a=1,b=x,c=[[16,2,2]]' (or the items as a list, as `nargs="*"` gives them) -> {'a': 1, 'b': 'x',
    'c': [[16, 2, 2]]}. A value is read as JSON when it is JSON, and kept as a string otherwise. A JSON object
    ('{"a": 1, "b": "x"}') is read as it is.
    """
    if overrides is None:
        return {}
    if isinstance(overrides, str) and overrides.lstrip().startswith("{"):
        try:
            return json.loads(overrides)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"Overrides {overrides[:60]!r} look like a JSON object but are not one: {error}."
            ) from None
    items = split_top_level(overrides) if isinstance(overrides, str) else [item for item in overrides if item.strip()]
    parsed = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"Override {item!r} is not of the form field=value.")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value.strip()
    return parsed


def config_field_overrides(config_class, overrides: str | Iterable[str] | None) -> dict:
    """
    `parse_overrides` for a dataclass config (`DBetaConfig`, a builder config): a whole number given to a float field
    (`mlm_loss_weight=0`) becomes a float, so strict configs accept it; an unknown field is an error naming the known
    ones.
    """
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    parsed = parse_overrides(overrides)
    unknown = sorted(set(parsed) - set(fields))
    if unknown:
        raise ValueError(
            f"{config_class.__name__} has no field(s) {unknown}; its fields are {sorted(name for name in fields)}."
        )
    return {
        key: float(value)
        if fields[key].type in (float, "float") and isinstance(value, int) and not isinstance(value, bool)
        else value
        for key, value in parsed.items()
    }


__all__ = ["config_field_overrides", "parse_overrides", "split_top_level"]
