# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""The one normalisation every report goes through: pretraining, N3S indexing, zero-shot prompts and inference."""

import re


# Machine statements are framed by decoration such as "*** ... ***", "=-" or "=" (MIMIC-IV-ECG).
EDGE_DECORATION = re.compile(r"^[\s*=\-]+|[\s*=\-]+$")
WHITESPACE = re.compile(r"\s+")


def normalize_report(text: str) -> str:
    """Lower-case, "ekg" -> "ecg", decoration stripped from both ends, whitespace collapsed."""
    text = WHITESPACE.sub(" ", str(text).lower().replace("ekg", "ecg"))
    return EDGE_DECORATION.sub("", text)


def join_statements(statements) -> str:
    """
    Join a record's machine statements (e.g. MIMIC's report_0..report_17) in order; empty ones, and the decoration
    framing any one of them ("*** ... ***"), are dropped.
    """
    parts = []
    for statement in statements:
        text = EDGE_DECORATION.sub("", "" if statement is None else str(statement))
        if text and text.lower() != "nan":
            parts.append(text.rstrip("."))
    return ". ".join(parts)


__all__ = ["join_statements", "normalize_report"]
