# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Reading WFDB records (`.hea` + `.dat`, and the PhysioNet challenges' `.hea` + `.mat`) fast.

`wfdb.rdrecord` costs ~5-7 ms per 12 x 5000 record (`wfdb.rdheader` alone ~7 ms), below the 300 records/s a
pretraining data loader needs per core. Nearly every ECG data set stores one format-16 file per record (MIMIC-IV-ECG,
PTB-XL; the challenges' `.mat` files are format 16 after a 24-byte MAT v4 header, written `16+24`), which a header
parsed with wfdb's own line patterns and one `np.fromfile` decode to the same values in ~0.1 ms. Anything else
(other formats, several signal files, multi-segment records) goes through `wfdb.rdrecord`.
"""

import re
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io.header import rx_record, rx_signal

from .recording import BadRecord, Recording


FORMAT_16_INVALID_SAMPLE = -32768  # WFDB's "no data" value for format 16, read as NaN (as wfdb does)
DEFAULT_ADC_GAIN = 200.0  # WFDB's rule for a missing or zero gain
MILLIVOLTS_PER_UNIT = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
SUPPORTED_FAST_FORMAT = "16"
BYTES_PER_SAMPLE = 2


def to_millivolts(signal: np.ndarray, units: list[str]) -> np.ndarray:
    """Scale each lead from its physical unit to millivolts (unknown units are left as they are)."""
    scales = np.array([MILLIVOLTS_PER_UNIT.get(str(unit).strip().lower(), 1.0) for unit in units])
    if np.all(scales == 1.0):
        return signal
    return signal * scales[:, None]


def parse_header(text: str) -> tuple[dict, list[dict], list[str]]:
    """The record line, the signal lines (as wfdb's header patterns name their fields) and the comment lines."""
    lines, comments = [], []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("#"):
            comments.append(line.lstrip("#").strip())
        elif line:
            lines.append(line)
    if not lines:
        raise ValueError("no record line")
    record_match = rx_record.match(lines[0])
    if record_match is None:
        raise ValueError(f"bad record line {lines[0]!r}")
    record = record_match.groupdict()
    if record["n_seg"]:
        return record, [], comments
    num_signals = int(record["n_sig"])
    if len(lines) - 1 < num_signals:
        raise ValueError(f"the record line declares {num_signals} signals but {len(lines) - 1} signal lines follow")
    signals = []
    for line in lines[1 : 1 + num_signals]:
        signal_match = rx_signal.match(line)
        if signal_match is None:
            raise ValueError(f"bad signal line {line!r}")
        signals.append(signal_match.groupdict())
    return record, signals, comments


def _fast_path_applies(record: dict, signals: list[dict]) -> bool:
    return (
        not record["n_seg"]
        and len(signals) > 0
        and len({signal["file_name"] for signal in signals}) == 1
        and all(
            signal["fmt"] == SUPPORTED_FAST_FORMAT and not signal["samps_per_frame"] and not signal["skew"]
            for signal in signals
        )
    )


def _decode_format_16(header_path: Path, record: dict, signals: list[dict]) -> np.ndarray:
    """(signals, samples) in the header's physical units, exactly as `wfdb.rdrecord(...).p_signal.T`."""
    data_path = header_path.parent / signals[0]["file_name"]
    if not data_path.is_file():
        raise BadRecord("missing_file", f"{data_path} (named by {header_path}) does not exist")
    num_signals = len(signals)
    offset = int(signals[0]["byte_offset"] or 0)
    available = (data_path.stat().st_size - offset) // (BYTES_PER_SAMPLE * num_signals)
    declared = int(record["sig_len"]) if record["sig_len"] else available
    if available < declared:
        raise BadRecord(
            "truncated_signal", f"{data_path} holds {available} of the {declared} samples declared by {header_path}"
        )
    try:
        digital = np.fromfile(data_path, dtype="<i2", count=declared * num_signals, offset=offset)
    except OSError as error:
        raise BadRecord("unreadable_signal", f"{data_path}: {error}") from None
    digital = digital.reshape(declared, num_signals).T

    gains = np.array([float(signal["adc_gain"] or 0) or DEFAULT_ADC_GAIN for signal in signals])
    baselines = np.array([int(signal["baseline"] or signal["adc_zero"] or 0) for signal in signals], dtype=np.float64)
    physical = (digital - baselines[:, None]) / gains[:, None]
    physical[digital == FORMAT_16_INVALID_SAMPLE] = np.nan
    return physical


def _read_with_wfdb(header_path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """(signals, samples) physical values, channel names and units, read by `wfdb.rdrecord`."""
    try:
        record = wfdb.rdrecord(str(header_path.with_suffix("")))
    except FileNotFoundError as error:
        raise BadRecord("missing_file", f"{error} (named by {header_path})") from None
    except Exception as error:  # wfdb raises many types for a corrupt file; any of them makes the record unusable
        raise BadRecord("unreadable_signal", f"wfdb could not read {header_path}: {error!r}") from None
    if record.p_signal is None:
        raise BadRecord("unreadable_signal", f"{header_path} has no single-frequency signal")
    return record.p_signal.T, list(record.sig_name), list(record.units)


def read_wfdb(record_path: str | Path) -> Recording:
    """
    A WFDB record (path with or without `.hea`) in millivolts. Raises `BadRecord` (missing files, an unreadable
    header, a truncated signal file) with the path in the message.
    """
    header_path = Path(record_path)
    if header_path.suffix != ".hea":
        header_path = header_path.with_name(header_path.name + ".hea")
    try:
        text = header_path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise BadRecord("missing_file", f"{header_path} does not exist") from None
    except OSError as error:
        raise BadRecord("unreadable_header", f"{header_path}: {error}") from None
    try:
        record, signals, comments = parse_header(text)
        # A header without a rate means 250 Hz to WFDB; no ECG data set relies on that, so it is treated as unknown.
        sampling_rate = float(record["fs"]) if record["fs"] else None
        signal = _decode_format_16(header_path, record, signals) if _fast_path_applies(record, signals) else None
    except ValueError as error:  # a malformed line, or a field the line patterns accept that is no number ("." gain)
        raise BadRecord("unreadable_header", f"{header_path}: {error}") from None

    if signal is not None:
        lead_names = [signal_spec["sig_name"].strip() for signal_spec in signals]
        units = [signal_spec["units"] or "mV" for signal_spec in signals]
    else:
        signal, lead_names, units = _read_with_wfdb(header_path)
    return Recording(to_millivolts(signal, units), sampling_rate, lead_names, comments)


DIAGNOSIS_COMMENT = re.compile(r"^\s*Dx\s*:\s*(.*)$", re.IGNORECASE)


def diagnosis_codes(comments: list[str]) -> list[str] | None:
    """The SNOMED CT codes of a `#Dx:` header comment (PhysioNet challenges, CPSC2018, CSN), or `None` if absent."""
    for comment in comments:
        match = DIAGNOSIS_COMMENT.match(comment)
        if match:
            return [code.strip() for code in match.group(1).split(",") if code.strip()]
    return None


__all__ = ["read_wfdb", "parse_header", "diagnosis_codes", "to_millivolts"]
