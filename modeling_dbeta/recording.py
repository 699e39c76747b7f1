# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
One raw recording, the rules that repair or reject it, and its conversion to the model's input.

Every source (WFDB, HDF5, DICOM, XML) produces a `Recording`; `prepare_recording` is the one place where bad
records are judged, so the rules below hold for every data set and every hospital file. Readers mark samples they
cannot decode as NaN and leave the judging to these rules. Reasons are plain strings so that they can be counted,
saved in the dataset info and read back as JSON. Whatever passes is finite float32 millivolts.

Skipped (the record is left out of the data set; a single file read by a user raises `BadRecord`):
- `missing_file`: a record listed by the data set's index has no header or signal file.
- `unreadable_header`: the header cannot be parsed, or contradicts itself (more signal lines than it declares).
- `unreadable_signal` / `unreadable_file`: the signal file (or the DICOM / XML / HDF5 file) cannot be decoded, is a
  directory or cannot be opened.
- `truncated_signal`: the signal file holds fewer samples than the header declares.
- `header_mismatch`: the signal file's size is not what the header's signal count, length and format imply (e.g.
  11 signals declared for a 12-signal file, half the real length, format 212 for format-16 data): read anyway, the
  samples would be scrambled, halved or garbage.
- `unknown_sampling_rate`: no sampling rate, or one outside [50, 20000] Hz.
- `unknown_units`: a lead in units other than volts (`mV`, `uV`, `V`, ...), which cannot be converted to mV.
- `no_standard_leads`: none of the channels is one of the 12 standard leads.
- `duplicate_leads`: a lead named twice with different samples (which one is right is unknown).
- `implausible_amplitude`: every lead is lost to the amplitude rule below (wrong units, a broken gain).
- `no_valid_lead`: every lead is empty, all zero, or lost to the long-gap rule below.
- `too_short` / `too_long`: shorter than the feature extractor's minimum duration (1 s), or longer than
  `MAX_RECORD_SECONDS` (1 hour: the model reads 10 s, and reading days of signal could exhaust memory).
- `invalid_signal`: any other signal the feature extractor refuses.
- `empty_report` / `no_report_row` / `conflicting_reports` / `missing_diagnosis` / `bad_label`: the text or the
  labels the data set exists for are absent, ambiguous or unreadable.

Repaired (the record is kept; the repair is counted, once per record):
- `implausible_amplitude_removed`: samples beyond +-`max_amplitude_mv` (the feature extractor's field, 20 mV) are
  physically impossible on the body surface (the tallest QRS complexes of ventricular hypertrophy reach ~5 mV): they
  are railed ADC values (+-32767 at gain 200 is 164 mV), artefacts, or a broken gain, and are treated as missing
  samples (next rules); a lead with more than `max_gap_seconds` of them in total is dropped.
- `non_finite_interpolated`: NaN / inf runs of at most `max_gap_seconds` are interpolated linearly (by the
  feature extractor).
- `long_gap_lead_dropped`: a lead with a longer NaN / inf run (or no data at all) is zeroed and flagged absent in
  `lead_mask`; filling more than `max_gap_seconds` would invent signal, and the model is trained with random lead
  masking.
- `flat_lead_dropped`: a lead whose samples are all zero (a lead the device did not record, as exports write it)
  carries no signal and is flagged absent in `lead_mask`, not fed as a present flat line. (A lead constant at
  another value is kept: it is no recording an export writes for a missing lead.)
- `duplicate_lead_dropped`: a lead stored twice with the same samples (e.g. a rhythm-strip copy of II) is kept once.
- `limb_leads_derived`: III, aVR, aVL, aVF absent (8-lead records: I, II, V1-V6, as GE MUSE stores them) or
  dropped by a rule above are derived from I and II (Einthoven, Goldberger), which are valid.
- `missing_leads_zeroed`: standard leads the recording does not have (and cannot derive) are zeroed and flagged
  absent.
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
MAX_RECORD_SECONDS = 3600.0
LIMB_LEADS_FROM_I_AND_II = {
    "III": lambda lead_i, lead_ii: lead_ii - lead_i,
    "aVR": lambda lead_i, lead_ii: -(lead_i + lead_ii) / 2,
    "aVL": lambda lead_i, lead_ii: lead_i - lead_ii / 2,
    "aVF": lambda lead_i, lead_ii: lead_ii - lead_i / 2,
}


class BadRecord(ValueError):
    """A record that cannot be used; `reason` is one of the skip reasons in this module's docstring."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


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


def _note(repairs: list[str], reason: str) -> None:
    if reason not in repairs:
        repairs.append(reason)


def standard_leads_of(recording: Recording, repairs: list[str]) -> dict[str, np.ndarray]:
    """{standard name: float64 copy of its samples}; extra channels ignored, a lead stored twice kept once."""
    signal = np.asarray(recording.signal)
    if signal.ndim != 2 or signal.shape[0] != len(recording.lead_names):
        raise BadRecord(
            "invalid_signal", f"signal of shape {signal.shape} for {len(recording.lead_names)} channel names"
        )
    try:
        signal = signal.astype(np.float64)  # a copy: the rules below write into it
    except (TypeError, ValueError):
        raise BadRecord("invalid_signal", f"samples of type {signal.dtype} are not numbers") from None
    leads = {}
    for name, samples in zip(recording.lead_names, signal, strict=True):
        standard = canonical_lead_name(name)
        if standard is None:
            _note(repairs, "extra_leads_ignored")
        elif standard not in leads:
            leads[standard] = samples
        elif np.array_equal(leads[standard], samples, equal_nan=True):
            _note(repairs, "duplicate_lead_dropped")
        else:
            raise BadRecord("duplicate_leads", f"lead {standard} is stored twice with different samples")
    if not leads:
        raise BadRecord("no_standard_leads", f"channels {recording.lead_names} hold none of {list(STANDARD_LEADS)}")
    return leads


def drop_invalid_samples_and_leads(
    leads: dict[str, np.ndarray], rate: float, repairs: list[str], max_gap_seconds: float, max_amplitude_mv: float
) -> dict[str, str]:
    """
    Apply the amplitude, gap and flat-lead rules in place (a dropped lead becomes all NaN); returns {dropped lead:
    why} with why in "amplitude", "gap", "flat".
    """
    dropped = {}
    for name, samples in leads.items():
        implausible = np.isfinite(samples)
        implausible[implausible] = np.abs(samples[implausible]) > max_amplitude_mv
        if implausible.any():
            samples[implausible] = np.nan
            _note(repairs, "implausible_amplitude_removed")
        missing = ~np.isfinite(samples)
        if missing.any():
            # Short implausible stretches between plausible ones (a lead in the wrong units crossing zero) would
            # interpolate garbage: for those the limit applies to their total, for NaN runs to the longest.
            too_many = implausible.sum() > max_gap_seconds * rate or longest_run(missing) > max_gap_seconds * rate
            if missing.all() or too_many:
                samples[:] = np.nan
                dropped[name] = "amplitude" if implausible.any() else "gap"
                _note(repairs, "long_gap_lead_dropped")
                continue
            _note(repairs, "non_finite_interpolated")
        if not samples[~missing].any():
            samples[:] = np.nan
            dropped[name] = "flat"
            _note(repairs, "flat_lead_dropped")
    return dropped


def derive_limb_leads(leads: dict[str, np.ndarray], usable: set[str]) -> list[str]:
    """
    Fill III, aVR, aVL and aVF from I and II (Einthoven, Goldberger) where they are not `usable` (absent or
    dropped) and I and II are; returns the names derived.
    """
    if not {"I", "II"} <= usable:
        return []
    derived = [name for name in LIMB_LEADS_FROM_I_AND_II if name not in usable]
    for name in derived:
        leads[name] = LIMB_LEADS_FROM_I_AND_II[name](leads["I"], leads["II"])
    return derived


def prepare_recording(
    recording: Recording,
    feature_extractor: DBetaFeatureExtractor,
    repairs: list[str],
    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS,
) -> tuple[np.ndarray, np.ndarray]:
    """
    The model's input for one recording: ((12, 5000) finite float32, (12,) bool lead mask), through the rules of this
    module's docstring and `DBetaFeatureExtractor.preprocess_recording` (whose `max_amplitude_mv` is the amplitude
    rule's threshold). Appends the repairs it made to `repairs`; raises `BadRecord`.
    """
    max_amplitude_mv = feature_extractor.max_amplitude_mv
    max_amplitude_mv = np.inf if max_amplitude_mv is None else max_amplitude_mv
    rate = recording.sampling_rate
    if rate is None or not np.isfinite(rate) or not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise BadRecord(
            "unknown_sampling_rate", f"sampling rate {rate!r} Hz, not in {MIN_SAMPLING_RATE:g}-{MAX_SAMPLING_RATE:g}"
        )
    leads = standard_leads_of(recording, repairs)
    num_samples = len(next(iter(leads.values())))
    if num_samples < feature_extractor.min_duration * rate:
        raise BadRecord("too_short", f"{num_samples} samples at {rate:g} Hz")
    if num_samples > MAX_RECORD_SECONDS * rate:
        raise BadRecord("too_long", f"{num_samples / rate:.0f} s at {rate:g} Hz (more than {MAX_RECORD_SECONDS:g} s)")

    dropped = drop_invalid_samples_and_leads(leads, rate, repairs, max_gap_seconds, max_amplitude_mv)
    derived = derive_limb_leads(leads, {name for name in leads if name not in dropped})
    if derived:
        _note(repairs, "limb_leads_derived")
        for name in derived:
            dropped.pop(name, None)
        # I - II can exceed the threshold where neither does; a derived lead obeys the same rules as a recorded one.
        dropped.update(
            drop_invalid_samples_and_leads(
                {name: leads[name] for name in derived}, rate, repairs, max_gap_seconds, max_amplitude_mv
            )
        )
    if len(dropped) == len(leads):
        if all(why == "amplitude" for why in dropped.values()):
            peak = np.nanmax(np.abs(np.asarray(recording.signal, dtype=np.float64)))
            raise BadRecord(
                "implausible_amplitude",
                f"every lead exceeds {max_amplitude_mv:g} mV (peak {peak:.3g}): wrong units or ADC gain in the file?",
            )
        why = ", ".join(f"{name}: {reason}" for name, reason in dropped.items())
        raise BadRecord("no_valid_lead", f"no lead holds signal ({why})")

    names = list(leads)
    try:
        ecg, present = feature_extractor.preprocess_recording(np.stack([leads[n] for n in names]), rate, names)
    except ValueError as error:
        raise BadRecord("invalid_signal", str(error)) from None
    if not np.isfinite(ecg).all():  # cannot happen for bounded finite input; a guarantee, not a repair
        raise BadRecord("invalid_signal", "preprocessing produced non-finite values")
    if len(names) < feature_extractor.feature_size:
        _note(repairs, "missing_leads_zeroed")
    return ecg, present


def clean_text(text, repairs: list[str]) -> str:
    """Text as read with undecodable bytes replaced (U+FFFD), with those replacements dropped and counted."""
    text = "" if text is None else str(text)
    if "\ufffd" in text:
        _note(repairs, "non_utf8_text")
        text = text.replace("\ufffd", "")
    return text


__all__ = [
    "DEFAULT_MAX_GAP_SECONDS",
    "MAX_RECORD_SECONDS",
    "BadRecord",
    "Recording",
    "clean_text",
    "derive_limb_leads",
    "prepare_recording",
]
