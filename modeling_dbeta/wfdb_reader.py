# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Reading WFDB records (`.hea` + `.dat`, and the PhysioNet challenges' `.hea` + `.mat`) fast, and only when the header
agrees with its signal files.

`wfdb.rdrecord` costs ~5-7 ms per 12 x 5000 record (`wfdb.rdheader` alone ~7 ms), below the 300 records/s a
pretraining data loader needs per core. Nearly every ECG data set stores one format-16 file per record (MIMIC-IV-ECG,
PTB-XL; the challenges' `.mat` files are format 16 after a 24-byte MAT v4 header, written `16+24`), which a header
parsed with wfdb's own line patterns and one `np.fromfile` decode to the same values in ~0.1 ms. Anything else
(other formats, several signal files, multi-segment records) goes through `wfdb.rdrecord`.

Before either reads a sample, each signal file's size is checked against what the header claims (signal count,
length, format, byte offset): a header stating 11 signals for a 12-signal file, half the real length or format 212
for format-16 data would otherwise decode to scrambled, halved or garbage signals without an error
(`header_mismatch`; a file too short for the header is `truncated_signal`).
"""

import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io.header import rx_record, rx_signal

from .recording import MAX_RECORD_SECONDS, BadRecord, Recording


FORMAT_16_INVALID_SAMPLE = -32768  # WFDB's "no data" value for format 16, read as NaN (as wfdb does)
DEFAULT_ADC_GAIN = 200.0  # WFDB's rule for a missing or zero gain
MILLIVOLTS_PER_UNIT = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
SUPPORTED_FAST_FORMAT = "16"
BYTES_PER_SAMPLE = 2
# Bits per sample of WFDB's uncompressed formats; the packed ones (212: 2 samples in 3 bytes, 310 / 311: 3 in 4)
# may end with a partly used group. FLAC formats (508, 516, 524) are compressed: their size says nothing.
BITS_PER_SAMPLE = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12, "310": 32 / 3,
                   "311": 32 / 3}
PACKED_FORMAT_SLACK_BYTES = 4


def millivolts_per_unit(unit: str, source) -> float:
    """The factor from `unit` to millivolts; `BadRecord("unknown_units")` for a unit that is not a voltage."""
    scale = MILLIVOLTS_PER_UNIT.get(str(unit).strip().lower())
    if scale is None:
        raise BadRecord(
            "unknown_units", f"{source}: samples in {unit!r}, not a voltage; expected one of mV, uV, V, nV"
        )
    return scale


def to_millivolts(signal: np.ndarray, units: list[str], source="the recording") -> np.ndarray:
    """Scale each lead from its physical unit to millivolts; `BadRecord("unknown_units")` for other units."""
    scales = np.array([millivolts_per_unit(unit, source) for unit in units])
    if np.all(scales == 1.0):
        return signal
    return signal * scales[:, None]


def decode_header_text(data: bytes) -> str:
    """WFDB headers are ASCII; a `µV` unit written in Latin-1 rather than UTF-8 must still read as microvolts."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_header(text: str) -> tuple[dict, list[dict], list[str]]:
    """The record line, the signal lines (as wfdb's header patterns name their fields) and the comment lines."""
    if "\x00" in text:
        raise ValueError("the header holds NUL bytes (UTF-16, or not a header at all); WFDB headers are ASCII text")
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
    if len(lines) - 1 != num_signals:
        raise ValueError(
            f"the record line declares {num_signals} signals but {len(lines) - 1} signal lines follow; "
            "correct the count in the first line"
        )
    signals = []
    for line in lines[1:]:
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


def check_signal_files(header_path: Path, record: dict, signals: list[dict]) -> int:
    """
    The record's length in samples once every signal file's size agrees with the header; `BadRecord` otherwise
    (`missing_file`, `unreadable_signal`, `truncated_signal`, `header_mismatch`).
    """
    by_file = defaultdict(list)
    for signal in signals:
        by_file[signal["file_name"]].append(signal)
    declared = int(record["sig_len"]) if record["sig_len"] else None
    lengths = []
    for file_name, file_signals in by_file.items():
        data_path = header_path.parent / file_name
        if not data_path.exists():
            raise BadRecord("missing_file", f"{data_path} (named by {header_path}) does not exist")
        if not data_path.is_file():
            raise BadRecord("unreadable_signal", f"{data_path} (named by {header_path}) is not a file")
        formats = {signal["fmt"] for signal in file_signals}
        if not formats <= BITS_PER_SAMPLE.keys():
            continue  # compressed or null signals: wfdb reads and checks them
        offset = int(file_signals[0]["byte_offset"] or 0)
        bits_per_frame = sum(
            BITS_PER_SAMPLE[signal["fmt"]] * int(signal["samps_per_frame"] or 1) for signal in file_signals
        )
        size = data_path.stat().st_size - offset
        described = (
            f"{len(file_signals)} signal(s) of format {'/'.join(sorted(formats))}"
            + (f" x {declared} samples" if declared is not None else "")
        )
        packed = any(BITS_PER_SAMPLE[fmt] % 8 for fmt in formats)
        if declared is None:
            if packed or size % (bits_per_frame // 8):
                raise BadRecord(
                    "header_mismatch",
                    f"{data_path} holds {size} bytes, not a whole number of frames of the {described} that "
                    f"{header_path} declares",
                )
            lengths.append(size * 8 // bits_per_frame)
            continue
        expected = math.ceil(declared * bits_per_frame / 8)
        if size < expected:
            raise BadRecord(
                "truncated_signal",
                f"{data_path} holds {size} bytes of the {expected} that {header_path} declares ({described})",
            )
        if size > expected + (PACKED_FORMAT_SLACK_BYTES if packed else 0):
            raise BadRecord(
                "header_mismatch",
                f"{data_path} holds {size} bytes but {header_path} declares {described} ({expected} bytes): the "
                "signal count, length or format in the header is wrong, and reading would scramble the samples",
            )
        lengths.append(declared)
    return declared if declared is not None else min(lengths, default=0)


def _decode_format_16(header_path: Path, record: dict, signals: list[dict], length: int) -> np.ndarray:
    """(signals, samples) in the header's physical units, exactly as `wfdb.rdrecord(...).p_signal.T`."""
    data_path = header_path.parent / signals[0]["file_name"]
    offset = int(signals[0]["byte_offset"] or 0)
    try:
        digital = np.fromfile(data_path, dtype="<i2", count=length * len(signals), offset=offset)
    except OSError as error:
        raise BadRecord("unreadable_signal", f"{data_path}: {error}") from None
    digital = digital.reshape(length, len(signals)).T

    gains = np.array([float(signal["adc_gain"] or 0) or DEFAULT_ADC_GAIN for signal in signals])
    baselines = np.array([int(signal["baseline"] or signal["adc_zero"] or 0) for signal in signals], dtype=np.float64)
    with np.errstate(over="ignore"):  # an absurd gain overflows to inf: judged by the amplitude rule, not here
        physical = (digital - baselines[:, None]) / gains[:, None]
    physical[digital == FORMAT_16_INVALID_SAMPLE] = np.nan
    return physical


def _read_with_wfdb(header_path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """(signals, samples) physical values, channel names and units, read by `wfdb.rdrecord`."""
    try:
        record = wfdb.rdrecord(str(header_path.with_suffix("")))
    except FileNotFoundError as error:
        raise BadRecord("missing_file", f"{error} (named by {header_path})") from None
    except Exception as error:  # noqa: BLE001 (wfdb raises many types for a corrupt file; each makes it unusable)
        raise BadRecord("unreadable_signal", f"wfdb could not read {header_path}: {error!r}") from None
    if record.p_signal is None:
        raise BadRecord("unreadable_signal", f"{header_path} has no single-frequency signal")
    return record.p_signal.T, list(record.sig_name), list(record.units)


def read_wfdb(record_path: str | Path) -> Recording:
    """
    A WFDB record (path with or without `.hea`) in millivolts. Raises `BadRecord` (missing files, an unreadable
    header, a header that disagrees with its signal files, units that are not volts) with the path in the message.
    """
    header_path = Path(record_path)
    if header_path.suffix != ".hea":
        header_path = header_path.with_name(header_path.name + ".hea")
    try:
        text = decode_header_text(header_path.read_bytes())
    except FileNotFoundError:
        raise BadRecord("missing_file", f"{header_path} does not exist") from None
    except OSError as error:  # a directory, no permission, an I/O error
        raise BadRecord("unreadable_header", f"{header_path}: {error.strerror or error}") from None
    try:
        record, signals, comments = parse_header(text)
        # A header without a rate means 250 Hz to WFDB; no ECG data set relies on that, so it is treated as unknown.
        sampling_rate = float(record["fs"]) if record["fs"] else None
        for signal in signals:
            float(signal["adc_gain"] or 0)  # the line patterns accept gains that are no number (".")
    except ValueError as error:
        raise BadRecord("unreadable_header", f"{header_path}: {error}") from None
    if record["sig_len"] and sampling_rate and int(record["sig_len"]) > MAX_RECORD_SECONDS * sampling_rate:
        raise BadRecord(
            "too_long", f"{header_path} declares {int(record['sig_len']) / sampling_rate:.0f} s of signal, more than "
            f"the {MAX_RECORD_SECONDS:g} s read for an ECG"
        )

    if _fast_path_applies(record, signals):
        length = check_signal_files(header_path, record, signals)
        signal = _decode_format_16(header_path, record, signals, length)
        lead_names = [signal_spec["sig_name"].strip() for signal_spec in signals]
        units = [signal_spec["units"] or "mV" for signal_spec in signals]
    else:
        if signals:
            check_signal_files(header_path, record, signals)
        signal, lead_names, units = _read_with_wfdb(header_path)
    return Recording(to_millivolts(signal, units, header_path), sampling_rate, lead_names, comments)


DIAGNOSIS_COMMENT = re.compile(r"^\s*Dx\s*:\s*(.*)$", re.IGNORECASE)


def diagnosis_codes(comments: list[str]) -> list[str] | None:
    """The SNOMED CT codes of a `#Dx:` header comment (PhysioNet challenges, CPSC2018, CSN), or `None` if absent."""
    for comment in comments:
        match = DIAGNOSIS_COMMENT.match(comment)
        if match:
            return [code.strip() for code in match.group(1).split(",") if code.strip()]
    return None


__all__ = ["check_signal_files", "diagnosis_codes", "parse_header", "read_wfdb", "to_millivolts"]
