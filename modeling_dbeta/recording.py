# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
One raw recording, the rules that repair or reject it, and its conversion to the model's input.

Every source (WFDB, HDF5, DICOM, XML) produces a `Recording`; `prepare_recording` is the one place where bad
records are judged, so the rules below hold for every data set. Reasons are plain strings so that they can be
counted, saved in the dataset info and read back as JSON.

Skipped (the record is left out of the data set):
- `missing_file`: a record listed by the data set's index has no header or signal file.
- `unreadable_header`: the header cannot be parsed.
- `unreadable_signal`: the signal file cannot be decoded.
- `truncated_signal`: the signal file holds fewer samples than the header declares.
- `unknown_sampling_rate`: no sampling rate, or one outside [50, 20000] Hz.
- `no_standard_leads`: none of the channels is one of the 12 standard leads.
- `no_valid_lead`: every lead is empty, or lost to the long-gap rule below.
- `too_short`: shorter than the feature extractor's minimum duration (1 s).
- `invalid_signal`: any other signal the feature extractor refuses (e.g. a lead named twice).
- `empty_report` / `missing_diagnosis`: the text or the labels the data set exists for are absent.

Repaired (the record is kept; the repair is counted):
- `non_finite_interpolated`: NaN / inf runs of at most `max_gap_seconds` are interpolated linearly (by the
  feature extractor).
- `long_gap_lead_dropped`: a lead with a longer NaN / inf run is zeroed and flagged absent in `lead_mask`; filling
  more than `max_gap_seconds` would invent signal, and the model is trained with random lead masking.
- `missing_leads_zeroed`: standard leads the recording does not have are zeroed and flagged absent.
- `extra_leads_ignored`: channels that are not standard leads (e.g. Frank leads) are ignored.
- `non_utf8_text`: undecodable bytes in text are dropped.
"""

from dataclasses import dataclass, field

import numpy as np

from .feature_extraction_dbeta import (
    MAX_SAMPLING_RATE,
    MIN_SAMPLING_RATE,
    STANDARD_LEADS,
    DBetaFeatureExtractor,
    canonical_lead_name,
)


DEFAULT_MAX_GAP_SECONDS = 0.5


class BadRecord(Exception):
    """A record that cannot be used; `reason` is one of the skip reasons in this module's docstring."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass
class Recording:
    """A recording as stored: (leads, samples) in millivolts, its rate, its channel names and any free text."""

    signal: np.ndarray
    sampling_rate: float
    lead_names: list[str]
    comments: list[str] = field(default_factory=list)


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of `True` in a 1-D boolean array."""
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def prepare_recording(
    recording: Recording,
    feature_extractor: DBetaFeatureExtractor,
    repairs: list[str],
    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS,
) -> tuple[np.ndarray, np.ndarray]:
    """
    The model's input for one recording: ((12, 5000) float32, (12,) bool lead mask), through
    `DBetaFeatureExtractor.preprocess_recording`. Appends the repairs it made to `repairs`; raises `BadRecord`.
    """
    standard_names = [canonical_lead_name(name) for name in recording.lead_names]
    kept = [index for index, name in enumerate(standard_names) if name is not None]
    if not kept:
        raise BadRecord("no_standard_leads", f"channels {recording.lead_names} hold none of {list(STANDARD_LEADS)}")
    if len(kept) < len(standard_names):
        repairs.append("extra_leads_ignored")

    rate = recording.sampling_rate
    if rate is None or not np.isfinite(rate) or not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise BadRecord("unknown_sampling_rate", f"sampling rate {rate!r} Hz")
    signal = np.asarray(recording.signal, dtype=np.float64)[kept]
    if signal.shape[1] < feature_extractor.min_duration * rate:
        raise BadRecord("too_short", f"{signal.shape[1]} samples at {rate:g} Hz")

    non_finite = ~np.isfinite(signal)
    leads_with_gaps = np.flatnonzero(non_finite.any(axis=1))
    if leads_with_gaps.size:
        long_gaps = [lead for lead in leads_with_gaps if longest_run(non_finite[lead]) > max_gap_seconds * rate]
        if long_gaps:
            signal[long_gaps] = np.nan  # `signal` is a copy (fancy indexing above)
            repairs.append("long_gap_lead_dropped")
        if len(long_gaps) < leads_with_gaps.size:
            repairs.append("non_finite_interpolated")

    try:
        ecg, present = feature_extractor.preprocess_recording(signal, rate, [standard_names[i] for i in kept])
    except ValueError as error:
        raise BadRecord("invalid_signal", str(error)) from None
    if not present.any():
        raise BadRecord("no_valid_lead", "no lead holds a finite sample")
    if len(kept) < feature_extractor.feature_size:
        repairs.append("missing_leads_zeroed")
    return ecg, present


def clean_text(text, repairs: list[str]) -> str:
    """Text as read with undecodable bytes replaced (U+FFFD), with those replacements dropped and counted."""
    text = "" if text is None else str(text)
    if "\ufffd" in text:
        repairs.append("non_utf8_text")
        text = text.replace("\ufffd", "")
    return text


__all__ = ["BadRecord", "Recording", "clean_text", "prepare_recording", "DEFAULT_MAX_GAP_SECONDS"]
