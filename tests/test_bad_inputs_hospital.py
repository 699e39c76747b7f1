"""
Bad hospital files (DICOM, GE MUSE / CardioSoft XML) fed to `read_hospital_ecg`, and bad arrays fed to the feature
extractor, the processor and the int16 storage. A single file read by a user cannot be "skipped": what the data
sets would skip is an error here, one `BadRecord` (a `ValueError`) naming the file, what is wrong and the fix.
Case ids start with the outcome class (`error-`, `repair-`: read, the repair listed in `ExportedECG.repairs`,
`accept-`).

| case | outcome |
| --- | --- |
| DICOM of 0 bytes / cut in half / without a waveform (a CT image) / absent / a directory | error |
| XML cut in half / with an entity expansion / with an external entity (XXE) / with a foreign root | error |
| MUSE without `<LeadData>` / without `<SampleBase>` / in unknown units / with no decodable lead | error |
| MUSE in microvolts declared as millivolts (every lead beyond 20 mV) | error `implausible_amplitude` |
| CardioSoft without `<WaveformData>` / without `<SampleRate>`; a text file | error |
| MUSE lead with empty / non-base64 data | repair: that lead dropped, the record kept |
| MUSE leads of unequal length | repair: the short tail interpolated |
| MUSE 8 leads | repair `limb_leads_derived` |
| MUSE lead stored twice | repair `duplicate_lead_dropped` |
| CardioSoft lead with text samples | repair: that lead dropped |
| MUSE export in UTF-16 | accept |
| feature extractor / processor: microvolts, a railed lead, all NaN, not numbers | error |
| feature extractor: an inf sample; `max_amplitude_mv=None` with normalisation | accept |
| int16 storage of inf; a batch with a NaN (`require_finite_ecg`, for the collator) | error |
"""

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from modeling_dbeta import STANDARD_LEADS, DBetaFeatureExtractor, DBetaProcessor
from modeling_dbeta.ecg_storage import quantize_ecg, require_finite_ecg
from modeling_dbeta.hospital_exports import read_hospital_ecg
from modeling_dbeta.recording import BadRecord
from tests.ecg_fixtures import ecg_signal, write_cardiosoft_xml, write_muse_xml


DICOM_ECG = get_testdata_file("waveform_ecg.dcm")
EIGHT_LEADS = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]


def muse(tmp_path, leads=EIGHT_LEADS, seconds=10, edit=None, encoding=None):
    signal = ecg_signal(0, num_samples=500 * seconds, num_leads=len(leads)).T
    path = write_muse_xml(tmp_path / "muse.xml", dict(zip(leads, signal, strict=True)), 500, ["Sinus rhythm"])
    if edit or encoding:
        text = path.read_text(encoding="ISO-8859-1")
        text = edit(text) if edit else text
        if encoding:
            path.write_bytes(text.replace('encoding="ISO-8859-1"', f'encoding="{encoding}"').encode(encoding))
        else:
            path.write_text(text, encoding="ISO-8859-1")
    return path


def cardiosoft(tmp_path, edit):
    signal = ecg_signal(1, 2500, 250.0).T
    leads = dict(zip(STANDARD_LEADS, signal, strict=True))
    path = write_cardiosoft_xml(tmp_path / "ukb.xml", leads, 250, ["Sinus rhythm"])
    path.write_text(edit(path.read_text()))
    return path


def lead_block(text, name):
    """The `<LeadData>` block of lead `name` in a MUSE export."""
    end = text.index(f"<LeadID>{name}</LeadID>")
    start = text.rindex("<LeadData>", 0, end)
    return text[start : text.index("</LeadData>", end) + len("</LeadData>")]


def with_lead_data(name, data):
    def edit(text):
        block = lead_block(text, name)
        start = block.index("<WaveFormData>") + len("<WaveFormData>")
        return text.replace(block, block[:start] + data + block[block.index("</WaveFormData>") :])

    return edit


def without_rhythm_tag(tag):
    def edit(text):
        rhythm = text.index("<WaveformType>Rhythm</WaveformType>")
        start = text.index(f"<{tag}>", rhythm)
        return text[:start] + text[text.index(f"</{tag}>", start) + len(f"</{tag}>") :]

    return edit


def without_lead_data(text):
    while "<LeadData>" in text:
        start = text.index("<LeadData>")
        text = text[:start] + text[text.index("</LeadData>") + len("</LeadData>") :]
    return text


def copy_of(path, keep_bytes=None, tmp_path=None, name="copy.dcm"):
    with open(path, "rb") as handle:
        data = handle.read()
    target = tmp_path / name
    target.write_bytes(data if keep_bytes is None else data[:keep_bytes])
    return target


def xml_file(tmp_path, text, name="export.xml"):
    path = tmp_path / name
    path.write_text(text)
    return path


BOMB = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><RestingECG>&b;</RestingECG>'
XXE = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><RestingECG>&x;</RestingECG>'


@pytest.mark.parametrize(
    "make, reason, message",
    [
        pytest.param(
            lambda t: copy_of(DICOM_ECG, 0, t), "unreadable_file", r"is empty \(0 bytes\)", id="error-dicom_zero_bytes"
        ),
        pytest.param(
            lambda t: copy_of(DICOM_ECG, 150_000, t),
            "unreadable_file",
            "is not a readable DICOM file.*export it again",
            id="error-dicom_cut_in_half",
        ),
        pytest.param(
            lambda t: copy_of(get_testdata_file("CT_small.dcm"), None, t),
            "unreadable_file",
            "holds no waveform.*export the ECG as a 12-lead",
            id="error-dicom_without_waveform",
        ),
        pytest.param(lambda t: t / "absent.dcm", "missing_file", "does not exist", id="error-dicom_absent"),
        pytest.param(
            lambda t: (t / "folder.dcm").mkdir() or t / "folder.dcm",
            "unreadable_file",
            "is a directory",
            id="error-dicom_path_is_a_directory",
        ),
        pytest.param(
            lambda t: xml_file(t, muse(t).read_text(encoding="ISO-8859-1")[:3000]),
            "unreadable_file",
            "is not well-formed XML.*truncated",
            id="error-xml_cut_in_half",
        ),
        pytest.param(
            lambda t: xml_file(t, BOMB),
            "unsafe_file",
            "declares XML entities.*refused",
            id="error-xml_entity_expansion",
        ),
        pytest.param(
            lambda t: xml_file(t, XXE), "unsafe_file", "declares XML entities.*refused", id="error-xml_external_entity"
        ),
        pytest.param(
            lambda t: xml_file(t, "<AnnotatedECG/>"),
            "unsupported_file",
            "neither GE MUSE",
            id="error-xml_foreign_root",
        ),
        pytest.param(
            lambda t: muse(t, edit=without_lead_data),
            "unreadable_file",
            "has no <LeadData>: export the rhythm",
            id="error-muse_without_lead_data",
        ),
        pytest.param(
            lambda t: muse(t, edit=without_rhythm_tag("SampleBase")),
            "unknown_sampling_rate",
            r"<SampleBase> \(sampling rate\) is none",
            id="error-muse_without_sample_base",
        ),
        pytest.param(
            lambda t: muse(t, edit=lambda x: x.replace("MICROVOLTS", "COUNTS")),
            "unknown_units",
            "amplitude units 'COUNTS'",
            id="error-muse_unknown_amplitude_units",
        ),
        pytest.param(
            lambda t: muse(t, edit=lambda x: x.replace("<WaveFormData>", "<WaveFormData>!")),
            "unreadable_file",
            "no lead's samples could be decoded",
            id="error-muse_no_decodable_lead",
        ),
        pytest.param(
            lambda t: muse(
                t, edit=lambda x: x.replace("<LeadAmplitudeUnitsPerBit>4.88", "<LeadAmplitudeUnitsPerBit>4880")
            ),
            "implausible_amplitude",
            "every lead exceeds 20 mV.*wrong units",
            id="error-muse_microvolts_as_millivolts",
        ),
        pytest.param(
            lambda t: cardiosoft(t, lambda x: x.replace("WaveformData", "Waveform")),
            "unreadable_file",
            "has no <WaveformData>",
            id="error-cardiosoft_without_waveform_data",
        ),
        pytest.param(
            lambda t: cardiosoft(
                t, lambda x: x.replace('<SampleRate units="Hz">250</SampleRate>', "")
            ),
            "unknown_sampling_rate",
            r"<SampleRate> \(sampling rate\) is none",
            id="error-cardiosoft_without_sample_rate",
        ),
        pytest.param(
            lambda t: xml_file(t, "Sinus rhythm", "notes.txt"),
            "unsupported_file",
            "expected a DICOM",
            id="error-text_file",
        ),
    ],
)
def test_unreadable_hospital_files_are_one_clear_error(tmp_path, make, reason, message):
    path = make(tmp_path)
    with pytest.raises(BadRecord, match=message) as error:
        read_hospital_ecg(path)
    assert error.value.reason == reason and str(path) in str(error.value) and isinstance(error.value, ValueError)


def duplicate_lead(name):
    def edit(text):
        block = lead_block(text, name)
        return text.replace(block, block + block)

    return edit


def shorter_lead(name, samples):
    def edit(text):
        import base64

        block = lead_block(text, name)
        start = block.index("<WaveFormData>") + len("<WaveFormData>")
        data = base64.b64decode(block[start : block.index("</WaveFormData>")])[: -2 * samples]
        return with_lead_data(name, base64.b64encode(data).decode())(text)

    return edit


@pytest.mark.parametrize(
    "make, repairs, present",
    [
        pytest.param(
            lambda t: muse(t, edit=with_lead_data("V3", "")),
            {"limb_leads_derived", "long_gap_lead_dropped"},
            [lead != "V3" for lead in STANDARD_LEADS],
            id="repair-muse_lead_without_data",
        ),
        pytest.param(
            lambda t: muse(t, edit=with_lead_data("V3", "not base64!")),
            {"limb_leads_derived", "long_gap_lead_dropped"},
            [lead != "V3" for lead in STANDARD_LEADS],
            id="repair-muse_lead_not_base64",
        ),
        pytest.param(
            lambda t: muse(t, edit=shorter_lead("V6", 100)),
            {"limb_leads_derived", "non_finite_interpolated"},
            [True] * 12,
            id="repair-muse_leads_of_unequal_length",
        ),
        pytest.param(muse, {"limb_leads_derived"}, [True] * 12, id="repair-muse_eight_leads"),
        pytest.param(
            lambda t: muse(t, edit=duplicate_lead("II")),
            {"limb_leads_derived", "duplicate_lead_dropped"},
            [True] * 12,
            id="repair-muse_lead_stored_twice",
        ),
        pytest.param(
            lambda t: cardiosoft(t, lambda x: x.replace('<WaveformData lead="V2">', '<WaveformData lead="V2">n/a ')),
            {"long_gap_lead_dropped"},
            [lead != "V2" for lead in STANDARD_LEADS],
            id="repair-cardiosoft_lead_with_text",
        ),
        pytest.param(
            lambda t: muse(t, encoding="UTF-16"), {"limb_leads_derived"}, [True] * 12, id="accept-muse_export_in_utf16"
        ),
    ],
)
def test_damaged_leads_lose_the_lead_not_the_recording(tmp_path, make, repairs, present):
    exported = read_hospital_ecg(make(tmp_path))
    assert set(exported.repairs) == repairs and exported.lead_mask.tolist() == present
    assert np.isfinite(exported.ecg).all() and exported.statements == ["Sinus rhythm"]
    assert not exported.ecg[~exported.lead_mask].any()


# ---------------------------------------------------------------- arrays: feature extractor, processor, storage


def railed_lead():
    signal = ecg_signal(2).T
    signal[4] = 32767 / 200
    return signal


@pytest.mark.parametrize(
    "signal, message",
    [
        pytest.param(
            ecg_signal(2).T * 1000, r"exceed 20 mV.*divide microvolts by 1000", id="error-extractor_microvolts"
        ),
        pytest.param(
            railed_lead(),
            r"Lead\(s\) \['aVL'\] exceed 20 mV \(lead aVL peaks at 163.8\)",
            id="error-extractor_railed_lead",
        ),
        pytest.param(np.full((12, 5000), np.nan), "No lead holds a finite sample", id="error-extractor_all_nan"),
        pytest.param(np.full((12, 5000), "n/a"), "A recording must hold numbers", id="error-extractor_not_numbers"),
    ],
)
def test_feature_extractor_refuses_what_no_ecg_is(signal, message):
    with pytest.raises(ValueError, match=message):
        DBetaFeatureExtractor()(signal, sampling_rate=500)


def test_error_processor_microvolts(tokenizer):
    processor = DBetaProcessor(DBetaFeatureExtractor(), tokenizer)
    with pytest.raises(ValueError, match=r"exceed 20 mV.*pass millivolts"):
        processor(ecg=ecg_signal(3).T * 1000, sampling_rate=500, text=["sinus rhythm"])


def test_accept_extractor_inf_sample_is_interpolated():
    signal = ecg_signal(4).T
    signal[3, 100] = np.inf
    values = DBetaFeatureExtractor()(signal, sampling_rate=500).ecg_values[0]
    assert np.isfinite(values).all() and abs(values[3, 100] - (signal[3, 99] + signal[3, 101]) / 2) < 1e-4


def test_accept_extractor_without_amplitude_check_for_other_units():
    extractor = DBetaFeatureExtractor(max_amplitude_mv=None, do_normalize=True)
    values = extractor(ecg_signal(5).T * 1000, sampling_rate=500).ecg_values[0]
    np.testing.assert_allclose(values.std(axis=1), 1, atol=1e-3)


def test_error_int16_storage_of_inf():
    ecg = ecg_signal(6).T.astype(np.float32)
    ecg[2, 10] = np.inf
    with pytest.raises(ValueError, match=r"int16 storage cannot hold NaN / inf.*prepare_recording"):
        quantize_ecg(ecg)


def test_error_batch_with_a_nan_names_the_example():
    import torch

    batch = torch.zeros(4, 12, 5000)
    batch[2, 5, 7] = float("nan")
    with pytest.raises(ValueError, match=r"the ECG batch holds 1 NaN / inf value\(s\) \(example\(s\) \[2\]\)"):
        require_finite_ecg(batch)
    require_finite_ecg(torch.zeros(2, 12, 5000))  # finite: no error
