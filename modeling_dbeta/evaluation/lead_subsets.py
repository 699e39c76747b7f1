# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Lead subsets of the evaluation protocols ("I,II,V2", "II", all 12). The model always receives 12 leads: the leads left
out are zeroed, as in the paper's reduced-lead experiments, so one pretrained model serves every subset.
"""

from ..feature_extraction_dbeta import STANDARD_LEADS, lead_indices


ALL_LEADS_LABEL = "12"


def parse_leads(text: str | None) -> list[str] | None:
    """
    "I,II,V2" -> `["I", "II", "V2"]` in the standard order and spelling; `None`, "", "all" or "12" -> `None` (all
    leads). Unknown or repeated names raise a `ValueError` that lists the valid ones.
    """
    if text is None or text.strip().lower() in ("", "all", ALL_LEADS_LABEL):
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    positions = sorted(lead_indices(names))
    if len(positions) == len(STANDARD_LEADS):
        return None
    return [STANDARD_LEADS[position] for position in positions]


def leads_label(leads: list[str] | None) -> str:
    """How results name a subset: "12" for all leads, else the comma-separated standard names ("I,II,V2")."""
    if leads is None:
        return ALL_LEADS_LABEL
    positions = sorted(lead_indices(leads))
    return ALL_LEADS_LABEL if len(positions) == len(STANDARD_LEADS) else ",".join(STANDARD_LEADS[p] for p in positions)


__all__ = ["ALL_LEADS_LABEL", "leads_label", "parse_leads"]
