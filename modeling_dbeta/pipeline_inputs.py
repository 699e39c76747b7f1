# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
What the pipelines accept as one ECG, turned into the model's input by the data sets' own readers and rules.

A file path of any format the project reads (a WFDB record, DICOM, GE MUSE / CardioSoft XML, or a `.csv` / `.npy` of
samples x leads, which need the caller's `sampling_rate` and `lead_names`), a NumPy array, or a `Recording`. Every
one goes through `prepare_recording`, so a hospital file, an array and a training record are judged by the same
bad-record rules and preprocessed identically; errors are the readers' `BadRecord` / `ValueError`, naming the file.
This module only dispatches: reading and judging live in `wfdb_reader`, `hospital_exports` and `recording`.
"""

import os
from pathlib import Path

import numpy as np
import pydicom

from .feature_extraction_dbeta import STANDARD_LEADS, DBetaFeatureExtractor
from .hospital_exports import read_hospital_ecg, require_readable_file
from .recording import BadRecord, Recording, prepare_recording
from .wfdb_reader import read_wfdb


FILE_FORMATS = (
    "a WFDB record (.hea), a DICOM waveform (.dcm), a GE MUSE / CardioSoft export (.xml), or a .csv / .npy table of "
    "samples x leads"
)
WFDB_SUFFIXES = (".hea", ".dat", ".mat")
SAMPLE_TABLE_SUFFIXES = (".csv", ".npy")
HOSPITAL_EXPORT_SUFFIXES = (".dcm", ".xml")


def recording_from_array(
    signal, sampling_rate: float | None, lead_names=None, source: str = "the array", leads_axis: int | None = None
) -> Recording:
    """
    An array of one recording as a `Recording`, its channels named by `lead_names` (the 12 standard leads in order
    by default). `leads_axis` is the axis holding them; when `None`, the axis of that size (leads x samples or
    samples x leads, as the feature extractor accepts them).
    """
    signal = np.asarray(signal)
    if lead_names is None:
        names = list(STANDARD_LEADS)
    else:
        names = [lead_names] if isinstance(lead_names, str) else list(lead_names)
    if signal.ndim == 1 and len(names) == 1:
        signal = signal[None, :]
    if not np.issubdtype(signal.dtype, np.number) or signal.ndim != 2:
        raise ValueError(
            f"{source}: an ECG must be a 2-D numeric array (samples x leads), got {signal.dtype} {signal.shape}."
        )
    if sampling_rate is None:
        raise ValueError(f"{source} does not record its sampling rate: pass `sampling_rate=` (Hz).")
    if leads_axis is None:
        leads_axis = 0 if signal.shape[0] == len(names) else 1
    if signal.shape[leads_axis] != len(names):
        raise ValueError(
            f"{source} of shape {signal.shape} has {signal.shape[leads_axis]} leads but {len(names)} lead names "
            f"({names}): pass `lead_names=` naming its channels in order."
        )
    return Recording(np.moveaxis(signal, leads_axis, 0), float(sampling_rate), names)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_sample_table(path: Path, sampling_rate: float | None, lead_names=None) -> Recording:
    """
    A `.npy` array or a `.csv` table of samples x leads. A CSV's first row may name the leads (used when `lead_names`
    is not given); neither format records the sampling rate.
    """
    try:
        if path.suffix.lower() == ".npy":
            signal = np.load(path, allow_pickle=False)
        else:
            with open(path, encoding="utf-8", errors="replace") as handle:
                first_row = [field.strip().strip('"') for field in handle.readline().split(",")]
            has_header = not all(_is_number(field) for field in first_row)
            if has_header and lead_names is None:
                lead_names = first_row
            signal = np.loadtxt(path, delimiter=",", skiprows=int(has_header), ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as error:
        raise BadRecord("unreadable_signal", f"{path}: {error}") from None
    return recording_from_array(signal, sampling_rate, lead_names, source=str(path), leads_axis=1)


def wfdb_header(path: Path) -> Path | None:
    """The header of a WFDB record named by its `.hea`, its signal file or its extension-less record name."""
    suffix = path.suffix.lower()
    if suffix in WFDB_SUFFIXES:
        return path.with_suffix(".hea")
    record_header = path.with_name(path.name + ".hea")
    return record_header if not path.exists() and record_header.is_file() else None


def load_ecg(
    ecg,
    feature_extractor: DBetaFeatureExtractor,
    sampling_rate: float | None = None,
    lead_names=None,
    repairs: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """
    One pipeline input as the model's input: `(feature_size, num_samples)` float32 and the `(feature_size,)` lead
    presence flags. `sampling_rate` and `lead_names` describe arrays and sample tables (the standard lead order by
    default); the other formats state their own. The repairs the data rules made (e.g. `limb_leads_derived`) are
    appended to `repairs`. Raises `BadRecord` for a recording the data sets would skip and `ValueError` for input
    that is not an ECG.
    """
    repairs = [] if repairs is None else repairs
    if isinstance(ecg, (str, os.PathLike)):
        path = Path(ecg)
        header = wfdb_header(path)
        if header is not None:
            recording = read_wfdb(header)
        else:
            require_readable_file(path, "recording")
            suffix = path.suffix.lower()
            if suffix in HOSPITAL_EXPORT_SUFFIXES or (
                suffix not in SAMPLE_TABLE_SUFFIXES and pydicom.misc.is_dicom(path)
            ):
                exported = read_hospital_ecg(path, feature_extractor)
                repairs.extend(exported.repairs)
                return exported.ecg, exported.lead_mask
            if suffix not in SAMPLE_TABLE_SUFFIXES:
                raise ValueError(f"{path}: not an ECG file the pipelines read; expected {FILE_FORMATS}.")
            recording = read_sample_table(path, sampling_rate, lead_names)
        source = str(path)
    elif isinstance(ecg, Recording):
        recording, source = ecg, "the recording"
    elif isinstance(ecg, np.ndarray) or hasattr(ecg, "__array__"):
        recording, source = recording_from_array(ecg, sampling_rate, lead_names), "the array"
    else:
        raise ValueError(
            f"Cannot read an ECG from a {type(ecg).__name__}: pass a file path ({FILE_FORMATS}) or an array."
        )
    try:
        return prepare_recording(recording, feature_extractor, repairs)
    except BadRecord as error:
        if source in error.message:
            raise
        raise BadRecord(error.reason, f"{source}: {error.message}") from None


__all__ = ["FILE_FORMATS", "load_ecg", "read_sample_table", "recording_from_array", "wfdb_header"]
