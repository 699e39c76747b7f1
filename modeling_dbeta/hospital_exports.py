# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Single recordings as hospitals export them: DICOM 12-lead waveforms and GE MUSE / CardioSoft XML.

Each reader returns a `Recording` (millivolts, the file's own rate and lead names, the machine statements found in
the file); `read_hospital_ecg` turns any of them into the model's (12, 5000) float32 input through the same
`prepare_recording` as the data sets, so a hospital file is preprocessed exactly like the training data (MUSE's 8
stored leads, for one, are completed with III, aVR, aVL and aVF there).

A file that cannot be read raises `BadRecord` (a `ValueError`) whose message names the file, what is wrong and the
fix. A lead whose samples cannot be decoded (empty, not base64, not numbers) is read as NaN, so that the data rules
drop that lead rather than the whole recording; leads of unequal length are padded with NaN to the longest.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError

import numpy as np
import pydicom
from defusedxml import DefusedXmlException, ElementTree

from .feature_extraction_dbeta import DBetaFeatureExtractor, canonical_lead_name
from .recording import BadRecord, Recording, prepare_recording
from .wfdb_reader import millivolts_per_unit, to_millivolts


PARENTHESISED = re.compile(r"\(.*?\)")
XML_AMPLITUDE_UNITS = {"MICROVOLTS": "uV", "MILLIVOLTS": "mV", "UVPERLSB": "uV", "MVPERLSB": "mV"}
MUSE = "GE MUSE RestingECG"
CARDIOSOFT = "GE CardioSoft CardiologyXML"


@dataclass
class ExportedECG:
    """
    A hospital recording as model input: `ecg` (12, 5000) float32 mV at 500 Hz, `lead_mask` (12,), the text, and
    the repairs the data rules made (`recording.py`), e.g. `limb_leads_derived` for MUSE's 8 stored leads.
    """

    ecg: np.ndarray
    lead_mask: np.ndarray
    statements: list[str]
    repairs: list[str] = field(default_factory=list)


def require_readable_file(path: Path, kind: str) -> None:
    """`BadRecord` naming `path` when it is absent, not a file, or empty."""
    if not path.exists():
        raise BadRecord("missing_file", f"{path} does not exist")
    if not path.is_file():
        raise BadRecord("unreadable_file", f"{path} is a directory, not a {kind} file")
    if path.stat().st_size == 0:
        raise BadRecord("unreadable_file", f"{path} is empty (0 bytes): copy or export the {kind} file again")


def read_dicom_ecg(path: str | Path) -> Recording:
    """
    A DICOM waveform (12-lead / general ECG IODs): the rhythm multiplex group (else the longest one), channels named
    by their source code meaning ("Lead I (Einthoven)" -> "I"), and the unformatted text annotations as statements.
    """
    path = Path(path)
    require_readable_file(path, "DICOM")
    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:  # noqa: BLE001 (pydicom raises InvalidDicomError, OSError, EOFError, struct.error...)
        raise BadRecord(
            "unreadable_file", f"{path} is not a readable DICOM file ({error}); it may be truncated: export it again"
        ) from None
    if "WaveformSequence" not in dataset:
        raise BadRecord(
            "unreadable_file",
            f"{path} holds no waveform (no WaveformSequence; SOP class {dataset.get('SOPClassUID', 'unknown')}): "
            "export the ECG as a 12-lead or general ECG waveform DICOM",
        )
    groups = dataset.WaveformSequence
    try:
        labels = [str(group.get("MultiplexGroupLabel", "")).upper() for group in groups]
        rhythm = [index for index, label in enumerate(labels) if "RHYTHM" in label]
        index = rhythm[0] if rhythm else max(range(len(groups)), key=lambda i: groups[i].NumberOfWaveformSamples)
        group = groups[index]
        samples = dataset.waveform_array(index).T  # (channels, samples), sensitivity and baseline applied
        channels = group.ChannelDefinitionSequence
        meanings = [PARENTHESISED.sub("", ch.ChannelSourceSequence[0].CodeMeaning).strip() for ch in channels]
        units = [channel.ChannelSensitivityUnitsSequence[0].CodeValue for channel in channels]
        sampling_rate = float(group.SamplingFrequency)
    except Exception as error:  # noqa: BLE001 (a missing or malformed element of the waveform module, any type)
        raise BadRecord(
            "unreadable_file", f"{path}: the waveform module is incomplete or malformed ({error!r}); export it again"
        ) from None
    names = [canonical_lead_name(meaning) or meaning for meaning in meanings]
    statements = [
        str(annotation.UnformattedTextValue).strip()
        for annotation in dataset.get("WaveformAnnotationSequence", [])
        if "UnformattedTextValue" in annotation
    ]
    return Recording(to_millivolts(samples, units, path), sampling_rate, names, statements)


def _texts(root, path: str) -> list[str]:
    return [element.text.strip() for element in root.findall(path) if element.text and element.text.strip()]


def _number(element, tag: str, path: Path, kind: str, what: str, default: str | None = None) -> float:
    """A numeric child of `element`, or a `BadRecord` naming the file and the element."""
    text = element.findtext(tag, default)
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value):
        reason = "unknown_sampling_rate" if what == "sampling rate" else "unreadable_file"
        found = "none" if text is None else repr(text)
        raise BadRecord(reason, f"{path} ({kind}): <{tag}> ({what}) is {found}, not a number; export the file again")
    return value


def _xml_units(text: str | None, default: str, path: Path, kind: str) -> str:
    units = XML_AMPLITUDE_UNITS.get((text or default).strip().upper())
    if units is None:
        expected = sorted(XML_AMPLITUDE_UNITS)
        raise BadRecord("unknown_units", f"{path} ({kind}): amplitude units {text!r}, expected one of {expected}")
    return units


def _muse_lead(lead, path: Path) -> np.ndarray:
    """One MUSE `<LeadData>` in mV; NaN when its samples cannot be decoded (the lead is then dropped, not the file)."""
    units = _xml_units(lead.findtext("LeadAmplitudeUnits"), "MICROVOLTS", path, MUSE)
    try:
        digital = np.frombuffer(base64.b64decode(lead.findtext("WaveFormData", ""), validate=True), dtype="<i2")
        units_per_bit = float(lead.findtext("LeadAmplitudeUnitsPerBit", "1"))
    except (binascii.Error, ValueError):
        return np.full(1, np.nan)
    if digital.size == 0:
        return np.full(1, np.nan)
    return (digital * units_per_bit) * millivolts_per_unit(units, path)


def _read_muse(root, path: Path) -> Recording:
    waveforms = root.findall("Waveform")
    if not waveforms:
        raise BadRecord("unreadable_file", f"{path} ({MUSE}) has no <Waveform>: export it with its waveforms")
    rhythm = [waveform for waveform in waveforms if waveform.findtext("WaveformType", "").strip() == "Rhythm"]
    waveform = (rhythm or waveforms)[0]  # the 10 s rhythm strip, not the median beats
    leads = waveform.findall("LeadData")
    if not leads:
        raise BadRecord(
            "unreadable_file",
            f"{path} ({MUSE}): its {waveform.findtext('WaveformType', '').strip() or 'first'} <Waveform> has no "
            "<LeadData>: export the rhythm waveform with its lead data",
        )
    sampling_rate = _number(waveform, "SampleBase", path, MUSE, "sampling rate")
    signals = [(lead.findtext("LeadID", "").strip(), _muse_lead(lead, path)) for lead in leads]
    statements = _texts(root, "Diagnosis/DiagnosisStatement/StmtText") or _texts(
        root, "OriginalDiagnosis/DiagnosisStatement/StmtText"
    )
    return _recording_from_leads(signals, sampling_rate, statements, path, MUSE)


def _cardiosoft_lead(waveform, units_per_bit: float, units: str, path: Path) -> np.ndarray:
    try:
        values = np.array((waveform.text or "").replace(",", " ").split(), dtype=np.float64)
    except ValueError:
        return np.full(1, np.nan)
    return values * units_per_bit * millivolts_per_unit(units, path) if values.size else np.full(1, np.nan)


def _read_cardiosoft(root, path: Path) -> Recording:
    strip = root.find("StripData")
    if strip is None:
        raise BadRecord("unreadable_file", f"{path} ({CARDIOSOFT}) has no <StripData>: export the rhythm strip")
    units_per_bit = _number(strip, "Resolution", path, CARDIOSOFT, "amplitude resolution")
    resolution = strip.find("Resolution")
    units = _xml_units(resolution.get("units"), "uVperLsb", path, CARDIOSOFT)
    waveforms = strip.findall("WaveformData")
    if not waveforms:
        raise BadRecord(
            "unreadable_file", f"{path} ({CARDIOSOFT}): <StripData> has no <WaveformData>: export the rhythm strip"
        )
    sampling_rate = _number(strip, "SampleRate", path, CARDIOSOFT, "sampling rate")
    signals = [(wave.get("lead", ""), _cardiosoft_lead(wave, units_per_bit, units, path)) for wave in waveforms]
    statements = _texts(root, "Interpretation/Diagnosis/DiagnosisText") + _texts(
        root, "Interpretation/Conclusion/ConclusionText"
    )
    return _recording_from_leads(signals, sampling_rate, statements, path, CARDIOSOFT)


def _recording_from_leads(
    signals: list[tuple[str, np.ndarray]], sampling_rate: float, statements, path: Path, kind: str
) -> Recording:
    """Leads padded with NaN to the longest (the gap rule judges the missing tail), in file order."""
    if all(np.isnan(samples).all() for _, samples in signals):
        raise BadRecord("unreadable_file", f"{path} ({kind}): no lead's samples could be decoded; export it again")
    length = max(len(samples) for _, samples in signals)
    stacked = np.full((len(signals), length), np.nan)
    for row, (_, samples) in enumerate(signals):
        stacked[row, : len(samples)] = samples
    return Recording(stacked, sampling_rate, [name for name, _ in signals], statements)


def read_ge_xml(path: str | Path) -> Recording:
    """A GE MUSE (`<RestingECG>`, base64 int16 leads) or CardioSoft (`<CardiologyXML>`) export, parsed safely."""
    path = Path(path)
    require_readable_file(path, "XML")
    try:
        root = ElementTree.parse(path).getroot()
    except DefusedXmlException as error:
        raise BadRecord(
            "unsafe_file",
            f"{path} declares XML entities or external references ({error}), which can expand without bound or read "
            "other files; refused. Export the ECG again from the cart or MUSE (its exports declare none)",
        ) from None
    except (ParseError, UnicodeDecodeError) as error:
        raise BadRecord(
            "unreadable_file", f"{path} is not well-formed XML ({error}): it may be truncated; export it again"
        ) from None
    if root.tag == "RestingECG":
        return _read_muse(root, path)
    if root.tag == "CardiologyXML":
        return _read_cardiosoft(root, path)
    raise BadRecord(
        "unsupported_file",
        f"{path}: root element <{root.tag}> is neither GE MUSE <RestingECG> nor CardioSoft <CardiologyXML>",
    )


def read_hospital_ecg(path: str | Path, feature_extractor: DBetaFeatureExtractor | None = None) -> ExportedECG:
    """
    A DICOM (`.dcm`) or GE XML (`.xml`) recording as model input. Raises `BadRecord` (a `ValueError`) naming the
    file for a file that cannot be read, a file of another kind, or a recording that breaks the data sets' rules
    (e.g. no standard lead, under 1 s).
    """
    path = Path(path)
    require_readable_file(path, "DICOM or XML")
    if path.suffix.lower() == ".xml":
        recording = read_ge_xml(path)
    elif path.suffix.lower() == ".dcm" or pydicom.misc.is_dicom(path):
        recording = read_dicom_ecg(path)
    else:
        raise BadRecord(
            "unsupported_file", f"{path}: expected a DICOM waveform (.dcm) or a GE MUSE / CardioSoft export (.xml)"
        )
    repairs = []
    try:
        ecg, lead_mask = prepare_recording(recording, feature_extractor or DBetaFeatureExtractor(), repairs)
    except BadRecord as error:
        raise BadRecord(error.reason, f"{path}: {error.message}") from None
    return ExportedECG(ecg=ecg, lead_mask=lead_mask, statements=recording.comments, repairs=repairs)


__all__ = ["ExportedECG", "read_dicom_ecg", "read_ge_xml", "read_hospital_ecg"]
