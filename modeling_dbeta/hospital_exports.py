# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Single recordings as hospitals export them: DICOM 12-lead waveforms and GE MUSE / CardioSoft XML.

Each reader returns a `Recording` (millivolts, the file's own rate and lead names, the machine statements found in
the file); `read_hospital_ecg` turns any of them into the model's (12, 5000) float32 input through the same
`prepare_recording` as the data sets, so a hospital file is preprocessed exactly like the training data.
"""

import base64
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from defusedxml import ElementTree

from .feature_extraction_dbeta import DBetaFeatureExtractor, canonical_lead_name

from .recording import Recording, prepare_recording
from .wfdb_reader import to_millivolts


PARENTHESISED = re.compile(r"\(.*?\)")
XML_AMPLITUDE_UNITS = {"MICROVOLTS": "uV", "MILLIVOLTS": "mV", "UVPERLSB": "uV", "MVPERLSB": "mV"}
LIMB_LEADS_FROM_I_AND_II = {
    "III": lambda lead_i, lead_ii: lead_ii - lead_i,
    "aVR": lambda lead_i, lead_ii: -(lead_i + lead_ii) / 2,
    "aVL": lambda lead_i, lead_ii: lead_i - lead_ii / 2,
    "aVF": lambda lead_i, lead_ii: lead_ii - lead_i / 2,
}


@dataclass
class ExportedECG:
    """A hospital recording as model input: `ecg` (12, 5000) float32 mV at 500 Hz, `lead_mask` (12,) and the text."""

    ecg: np.ndarray
    lead_mask: np.ndarray
    statements: list[str]


def read_dicom_ecg(path: str | Path) -> Recording:
    """
    A DICOM waveform (12-lead / general ECG IODs): the rhythm multiplex group (else the longest one), channels named
    by their source code meaning ("Lead I (Einthoven)" -> "I"), and the unformatted text annotations as statements.
    """
    dataset = pydicom.dcmread(path)
    if "WaveformSequence" not in dataset:
        raise ValueError(f"{path} holds no waveform (no WaveformSequence); is it an ECG DICOM file?")
    groups = dataset.WaveformSequence
    labels = [str(group.get("MultiplexGroupLabel", "")).upper() for group in groups]
    rhythm = [index for index, label in enumerate(labels) if "RHYTHM" in label]
    index = rhythm[0] if rhythm else max(range(len(groups)), key=lambda i: groups[i].NumberOfWaveformSamples)
    group = groups[index]

    samples = dataset.waveform_array(index).T  # (channels, samples), sensitivity and baseline applied
    channels = group.ChannelDefinitionSequence
    meanings = [PARENTHESISED.sub("", channel.ChannelSourceSequence[0].CodeMeaning).strip() for channel in channels]
    names = [canonical_lead_name(meaning) or meaning for meaning in meanings]
    units = [channel.ChannelSensitivityUnitsSequence[0].CodeValue for channel in channels]
    statements = [
        str(annotation.UnformattedTextValue).strip()
        for annotation in dataset.get("WaveformAnnotationSequence", [])
        if "UnformattedTextValue" in annotation
    ]
    return Recording(to_millivolts(samples, units), float(group.SamplingFrequency), names, statements)


def derive_limb_leads(signals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add III, aVR, aVL and aVF from I and II (Einthoven, Goldberger) when absent: MUSE stores 8 leads only."""
    if "I" in signals and "II" in signals:
        for name, derive in LIMB_LEADS_FROM_I_AND_II.items():
            signals.setdefault(name, derive(signals["I"], signals["II"]))
    return signals


def _texts(root, path: str) -> list[str]:
    return [element.text.strip() for element in root.findall(path) if element.text and element.text.strip()]


def _read_muse(root, path) -> Recording:
    waveforms = root.findall("Waveform")
    if not waveforms:
        raise ValueError(f"{path} (GE MUSE RestingECG) has no <Waveform>.")
    rhythm = [waveform for waveform in waveforms if waveform.findtext("WaveformType", "").strip() == "Rhythm"]
    waveform = (rhythm or waveforms)[0]  # the 10 s rhythm strip, not the median beats
    signals = {}
    for lead in waveform.findall("LeadData"):
        digital = np.frombuffer(base64.b64decode(lead.findtext("WaveFormData", "")), dtype="<i2")
        units_per_bit = float(lead.findtext("LeadAmplitudeUnitsPerBit", "1"))
        units = XML_AMPLITUDE_UNITS.get(lead.findtext("LeadAmplitudeUnits", "MICROVOLTS").strip().upper(), "uV")
        signals[lead.findtext("LeadID", "").strip()] = to_millivolts((digital * units_per_bit)[None, :], [units])[0]
    statements = _texts(root, "Diagnosis/DiagnosisStatement/StmtText") or _texts(
        root, "OriginalDiagnosis/DiagnosisStatement/StmtText"
    )
    return _recording_from_leads(derive_limb_leads(signals), float(waveform.findtext("SampleBase", "nan")), statements)


def _read_cardiosoft(root, path) -> Recording:
    strip = root.find("StripData")
    if strip is None:
        raise ValueError(f"{path} (GE CardioSoft CardiologyXML) has no <StripData>.")
    resolution = strip.find("Resolution")
    if resolution is None:
        raise ValueError(f"{path} (GE CardioSoft CardiologyXML) has no <StripData><Resolution>.")
    units_per_bit = float(resolution.text)
    units = XML_AMPLITUDE_UNITS.get(resolution.get("units", "uVperLsb").upper(), "uV")
    signals = {
        waveform.get("lead", ""): to_millivolts(
            (np.array(waveform.text.replace(",", " ").split(), dtype=np.float64) * units_per_bit)[None, :], [units]
        )[0]
        for waveform in strip.findall("WaveformData")
    }
    statements = _texts(root, "Interpretation/Diagnosis/DiagnosisText") + _texts(
        root, "Interpretation/Conclusion/ConclusionText"
    )
    return _recording_from_leads(derive_limb_leads(signals), float(strip.findtext("SampleRate", "nan")), statements)


def _recording_from_leads(signals: dict[str, np.ndarray], sampling_rate: float, statements: list[str]) -> Recording:
    length = min(len(signal) for signal in signals.values())
    names = list(signals)
    return Recording(np.stack([signals[name][:length] for name in names]), sampling_rate, names, statements)


def read_ge_xml(path: str | Path) -> Recording:
    """A GE MUSE (`<RestingECG>`, base64 int16 leads) or CardioSoft (`<CardiologyXML>`) export, parsed safely."""
    root = ElementTree.parse(path).getroot()
    if root.tag == "RestingECG":
        return _read_muse(root, path)
    if root.tag == "CardiologyXML":
        return _read_cardiosoft(root, path)
    raise ValueError(
        f"{path}: root element <{root.tag}> is neither GE MUSE <RestingECG> nor CardioSoft <CardiologyXML>."
    )


def read_hospital_ecg(path: str | Path, feature_extractor: DBetaFeatureExtractor | None = None) -> ExportedECG:
    """
    A DICOM (`.dcm`) or GE XML (`.xml`) recording as model input. Raises `BadRecord` for a recording that breaks
    the data sets' rules (e.g. no standard lead, under 1 s) and `ValueError` for a file of another kind.
    """
    path = Path(path)
    if path.suffix.lower() == ".xml":
        recording = read_ge_xml(path)
    elif pydicom.misc.is_dicom(path):
        recording = read_dicom_ecg(path)
    else:
        raise ValueError(f"{path}: expected a DICOM waveform (.dcm) or a GE MUSE / CardioSoft export (.xml).")
    ecg, lead_mask = prepare_recording(recording, feature_extractor or DBetaFeatureExtractor(), repairs=[])
    return ExportedECG(ecg=ecg, lead_mask=lead_mask, statements=recording.comments)


__all__ = ["ExportedECG", "derive_limb_leads", "read_dicom_ecg", "read_ge_xml", "read_hospital_ecg"]
