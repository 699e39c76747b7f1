"""Record readers (fast WFDB, DICOM, GE XML) and the bad-record rules every data set applies."""

import numpy as np
import pydicom
import pytest
import wfdb
from pydicom.data import get_testdata_file

from modeling_dbeta import STANDARD_LEADS, DBetaFeatureExtractor, wfdb_reader
from modeling_dbeta.hospital_exports import read_dicom_ecg, read_ge_xml, read_hospital_ecg
from modeling_dbeta.recording import BadRecord, Recording, clean_text, prepare_recording
from modeling_dbeta.wfdb_reader import read_wfdb
from tests.ecg_fixtures import (
    MIMIC_LEADS,
    ecg_signal,
    write_cardiosoft_xml,
    write_challenge_record,
    write_muse_xml,
    write_wfdb_record,
)


@pytest.fixture(scope="module")
def extractor():
    return DBetaFeatureExtractor()


def assert_same_as_wfdb(header_path, monkeypatch=None):
    """`read_wfdb` gives wfdb's values; with `monkeypatch`, without calling wfdb (the fast path)."""
    reference = wfdb.rdrecord(str(header_path.with_suffix("")))
    if monkeypatch is not None:
        monkeypatch.setattr(wfdb_reader.wfdb, "rdrecord", lambda *args, **kwargs: pytest.fail("wfdb was called"))
    recording = read_wfdb(header_path)
    np.testing.assert_array_equal(recording.signal, reference.p_signal.T)  # NaNs compare equal
    assert recording.lead_names == reference.sig_name
    assert recording.sampling_rate == reference.fs
    assert recording.comments == reference.comments


def test_fast_reader_matches_wfdb_on_format_16(tmp_path, monkeypatch):
    signal = ecg_signal(0)
    signal[100:110, 7] = np.nan  # stored as -32768, read back as NaN
    wfdb.wrsamp(
        "40689238",
        fs=500,
        units=["mV"] * 12,
        sig_name=MIMIC_LEADS,
        p_signal=signal,
        fmt=["16"] * 12,
        adc_gain=[200.0] * 6 + [400.0] * 6,
        baseline=[0] * 6 + [-12] * 6,
        comments=["Age: 56"],
        write_dir=str(tmp_path),
    )
    assert_same_as_wfdb(tmp_path / "40689238.hea", monkeypatch)
    assert np.isnan(read_wfdb(tmp_path / "40689238").signal[7, 100:110]).all()


def test_fast_reader_matches_wfdb_on_challenge_mat(tmp_path, monkeypatch):
    header = write_challenge_record(tmp_path, "A0001", ecg_signal(1, 7500), STANDARD_LEADS, 500, dx_codes=["59118001"])
    assert_same_as_wfdb(header, monkeypatch)
    assert "Dx: 59118001" in read_wfdb(header).comments


def test_other_formats_fall_back_to_wfdb(tmp_path):
    wfdb.wrsamp(
        "r212",
        fs=500,
        units=["mV"] * 12,
        sig_name=list(STANDARD_LEADS),
        p_signal=ecg_signal(2, 1000),
        fmt=["212"] * 12,
        adc_gain=[200.0] * 12,
        baseline=[0] * 12,
        write_dir=str(tmp_path),
    )
    assert_same_as_wfdb(tmp_path / "r212.hea")


def test_microvolt_records_are_read_in_millivolts(tmp_path):
    signal = ecg_signal(3, 1000) * 1000.0
    wfdb.wrsamp(
        "uv",
        fs=500,
        units=["uV"] * 12,
        sig_name=list(STANDARD_LEADS),
        p_signal=signal,
        fmt=["16"] * 12,
        adc_gain=[1.0] * 12,
        baseline=[0] * 12,
        write_dir=str(tmp_path),
    )
    np.testing.assert_allclose(
        read_wfdb(tmp_path / "uv").signal, wfdb.rdrecord(str(tmp_path / "uv")).p_signal.T / 1000
    )


def truncate(header):
    data = header.with_suffix(".dat")
    data.write_bytes(data.read_bytes()[:5000])


def garble_header(header):
    header.write_bytes(b"\x00\xff this is not a header\n")


def drop_signal_file(header):
    header.with_suffix(".dat").unlink()


def drop_signal_line(header):
    header.write_text("\n".join(header.read_text().splitlines()[:-1]) + "\n")


@pytest.mark.parametrize(
    "corrupt, reason",
    [
        (truncate, "truncated_signal"),
        (garble_header, "unreadable_header"),
        (drop_signal_file, "missing_file"),
        (drop_signal_line, "unreadable_header"),
        (lambda header: header.unlink(), "missing_file"),
    ],
)
def test_bad_files_raise_bad_record_with_reason(tmp_path, corrupt, reason):
    header = write_wfdb_record(tmp_path, "bad", ecg_signal(4), STANDARD_LEADS, 500)
    corrupt(header)
    with pytest.raises(BadRecord, match=str(tmp_path)) as error:
        read_wfdb(header)
    assert error.value.reason == reason


def test_header_without_rate_is_an_unknown_rate(tmp_path, extractor):
    header = write_wfdb_record(tmp_path, "norate", ecg_signal(5), STANDARD_LEADS, 500)
    lines = header.read_text().splitlines()
    header.write_text("\n".join(["norate 12", *lines[1:]]) + "\n")
    recording = read_wfdb(header)
    assert recording.sampling_rate is None and recording.signal.shape == (12, 5000)  # length from the file size
    with pytest.raises(BadRecord) as error:
        prepare_recording(recording, extractor, [])
    assert error.value.reason == "unknown_sampling_rate"


def recording_with(signal=None, lead_names=STANDARD_LEADS, rate=500.0):
    return Recording(ecg_signal(6).T if signal is None else signal, rate, list(lead_names))


def test_short_non_finite_runs_are_interpolated(extractor):
    signal = ecg_signal(6).T
    signal[3, 1000:1100] = np.nan  # 0.2 s
    signal[8, 2000] = np.inf
    repairs = []
    ecg, lead_mask = prepare_recording(recording_with(signal), extractor, repairs)
    assert repairs == ["non_finite_interpolated"] and lead_mask.all() and np.isfinite(ecg).all()
    np.testing.assert_allclose(ecg[3, 999:1101], np.linspace(signal[3, 999], signal[3, 1100], 102), atol=1e-5)


def test_long_non_finite_runs_drop_the_lead(extractor):
    signal = ecg_signal(6).T
    signal[10, 1000:1300] = np.nan  # 0.6 s > 0.5 s
    repairs = []
    ecg, lead_mask = prepare_recording(recording_with(signal), extractor, repairs)
    assert repairs == ["long_gap_lead_dropped"]
    assert not lead_mask[10] and lead_mask.sum() == 11 and (ecg[10] == 0).all()
    np.testing.assert_allclose(ecg[9], signal[9], atol=1e-6)


def test_leads_are_selected_by_name(extractor):
    names = ["V1", "II", "vx", "I", "vy"]  # Frank leads ignored, I, II and V1 placed, limb leads derived, rest zeroed
    signal = ecg_signal(7, num_leads=5).T
    repairs = []
    ecg, lead_mask = prepare_recording(recording_with(signal, names), extractor, repairs)
    assert sorted(repairs) == ["extra_leads_ignored", "limb_leads_derived", "missing_leads_zeroed"]
    assert [STANDARD_LEADS[i] for i in np.flatnonzero(lead_mask)] == ["I", "II", "III", "aVR", "aVL", "aVF", "V1"]
    np.testing.assert_allclose(ecg[[0, 1, 6]], signal[[3, 1, 0]], atol=1e-6)
    np.testing.assert_allclose(ecg[2], signal[1] - signal[3], atol=1e-6)
    assert (ecg[~lead_mask] == 0).all()


@pytest.mark.parametrize(
    "recording, reason",
    [
        (recording_with(lead_names=[f"ch{i}" for i in range(12)]), "no_standard_leads"),
        (recording_with(rate=0.0), "unknown_sampling_rate"),
        (recording_with(rate=float("nan")), "unknown_sampling_rate"),
        (recording_with(signal=ecg_signal(8, 300).T), "too_short"),
        (recording_with(signal=np.full((12, 5000), np.nan)), "no_valid_lead"),
        (recording_with(lead_names=["I"] * 12), "duplicate_leads"),
        (recording_with(signal=np.full((12, 5000), "n/a")), "invalid_signal"),
    ],
)
def test_unusable_recordings_are_refused_with_reason(extractor, recording, reason):
    with pytest.raises(BadRecord) as error:
        prepare_recording(recording, extractor, [])
    assert error.value.reason == reason


def test_undecodable_text_is_cleaned_and_counted():
    repairs = []
    assert clean_text(b"Sinus rhythm \xe9".decode("utf-8", errors="replace"), repairs) == "Sinus rhythm "
    assert repairs == ["non_utf8_text"]
    assert clean_text(None, repairs) == "" and repairs == ["non_utf8_text"]


def test_dicom_waveform_from_pydicom(extractor):
    path = get_testdata_file("waveform_ecg.dcm")
    recording = read_dicom_ecg(path)
    assert recording.lead_names == list(STANDARD_LEADS) and recording.sampling_rate == 1000.0
    assert recording.signal.shape == (12, 10000)

    exported = read_hospital_ecg(path)
    assert exported.ecg.shape == (12, 5000) and exported.ecg.dtype == np.float32 and exported.lead_mask.all()
    assert exported.statements == ["RITMO SINUSALE", "ECG NORMALE"]
    raw = pydicom.dcmread(path).waveform_array(0).T / 1000.0
    expected, _ = extractor.preprocess_recording(raw, 1000.0, STANDARD_LEADS)
    np.testing.assert_array_equal(exported.ecg, expected)  # raw: the rhythm group in uV at 1000 Hz
    assert 0.05 < np.abs(exported.ecg).max() < 10  # millivolts, not microvolts


def test_muse_xml_derives_limb_leads(tmp_path, extractor):
    stored = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]  # MUSE keeps the 8 independent leads
    signal = ecg_signal(9, num_leads=8).T
    leads = dict(zip(stored, signal, strict=True))
    path = write_muse_xml(tmp_path / "muse.xml", leads, 500, ["Sinus rhythm", "Normal ECG"])

    exported = read_hospital_ecg(path)
    assert exported.statements == ["Sinus rhythm", "Normal ECG"] and exported.lead_mask.all()
    lead_i, lead_ii = exported.ecg[0], exported.ecg[1]
    quantum = 4.88e-3  # mV per bit
    np.testing.assert_allclose(lead_i, signal[0], atol=quantum)
    np.testing.assert_allclose(exported.ecg[STANDARD_LEADS.index("V6")], signal[7], atol=quantum)
    np.testing.assert_allclose(exported.ecg[2], lead_ii - lead_i, atol=1e-5)  # III
    np.testing.assert_allclose(exported.ecg[3], -(lead_i + lead_ii) / 2, atol=1e-5)  # aVR
    np.testing.assert_allclose(exported.ecg[5], lead_ii - lead_i / 2, atol=1e-5)  # aVF


def test_cardiosoft_xml(tmp_path):
    signal = ecg_signal(10, 2500, 250.0).T
    leads = dict(zip(STANDARD_LEADS, signal, strict=True))
    path = write_cardiosoft_xml(tmp_path / "ukb.xml", leads, 250, ["Sinus rhythm"])
    recording = read_ge_xml(path)
    assert recording.sampling_rate == 250.0 and recording.lead_names == list(STANDARD_LEADS)
    np.testing.assert_allclose(recording.signal, signal, atol=5e-3)
    assert read_hospital_ecg(path).statements == ["Sinus rhythm"]


def test_xml_readers_refuse_unsafe_or_foreign_files(tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><RestingECG>&b;</RestingECG>'
    )
    with pytest.raises(BadRecord, match=f"{bomb} declares XML entities.*refused") as error:
        read_ge_xml(bomb)
    assert error.value.reason == "unsafe_file" and isinstance(error.value, ValueError)
    other = tmp_path / "other.xml"
    other.write_text("<AnnotatedECG/>")
    with pytest.raises(ValueError, match="neither GE MUSE"):
        read_ge_xml(other)
    text = tmp_path / "notes.txt"
    text.write_text("Sinus rhythm")
    with pytest.raises(ValueError, match="expected a DICOM"):
        read_hospital_ecg(text)
