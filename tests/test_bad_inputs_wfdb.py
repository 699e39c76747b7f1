"""
Bad WFDB records, as a PhysioNet download or a hand-edited header can hold them, fed to `read_wfdb` +
`prepare_recording` (one record) and to the MIMIC-IV-ECG builder (all of them in one build, whose
`info.bad_records` must count each under its reason, with the build going on).

Each case id starts with its outcome class: `skip-` (a counted skip, the reason asserted), `repair-` (a counted
repair, the record kept), `accept-` (a documented acceptance: read correctly as it is). Reasons are those of
`modeling_dbeta/recording.py`.

| case | outcome |
| --- | --- |
| header states 11 signals (and lists 11) for a 12-signal .dat | skip `header_mismatch` |
| header states half the real sample count | skip `header_mismatch` |
| header states format 212 for format-16 data | skip `header_mismatch` |
| header without a length, .dat not whole frames | skip `header_mismatch` |
| record line declares 11 signals, 12 signal lines follow | skip `unreadable_header` |
| .dat cut short / 0-byte .dat | skip `truncated_signal` |
| 0-byte .hea / .hea is a directory / .hea in UTF-16 | skip `unreadable_header` |
| .dat is a directory | skip `unreadable_signal` |
| signal file named `../../outside.dat` | skip `unreadable_header` (WFDB names are plain) |
| sampling rate 0 / negative | skip `unknown_sampling_rate` |
| units `NU` (not a voltage) | skip `unknown_units` |
| ADC gain 1e-36 (values ~1e38) / microvolts written as mV | skip `implausible_amplitude` |
| every lead zero | skip `no_valid_lead` |
| lead named twice, different samples | skip `duplicate_leads` |
| header declaring more than an hour (sparse file) | skip `too_long` |
| one lead railed at +32767 (164 mV) | repair: lead dropped |
| lead III railed | repair: III derived again from I and II |
| 3-sample 164 mV spike | repair: interpolated |
| an all-zero lead | repair `flat_lead_dropped` |
| a lead stored twice, same samples | repair `duplicate_lead_dropped` |
| 8 leads (I, II, V1-V6) | repair `limb_leads_derived` |
| CRLF header; Latin-1 `µV` units; volts; no units field | accepted, same values as the plain record |
| permission denied on the header | skip `unreadable_header` (one record, monkeypatched: tests run as root) |
"""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from datasets_scripts import load_ecg_dataset
from modeling_dbeta import STANDARD_LEADS, DBetaFeatureExtractor
from modeling_dbeta.ecg_storage import dequantize_ecg
from modeling_dbeta.recording import BadRecord, prepare_recording
from modeling_dbeta.wfdb_reader import read_wfdb
from tests.ecg_fixtures import (
    MIMIC_LEADS,
    ecg_signal,
    mimic_record_path,
    rewrite_header,
    set_signal_field,
    write_mimic_iv_ecg,
)


EXTRACTOR = DBetaFeatureExtractor()
V3, III = MIMIC_LEADS.index("V3"), MIMIC_LEADS.index("III")
EIGHT_LEADS = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]


def signal_lines(edit):
    """A header edit applying `edit(line)` to every signal line."""
    return lambda lines: [lines[0], *(edit(line) for line in lines[1:])]


def record_line(edit):
    return lambda lines: [edit(lines[0].split(" ")), *lines[1:]]


def with_fields(**positions):
    """The record line with fields replaced by position (1: signals, 2: rate, 3: length); `None` removes one."""

    def edit(fields):
        for position, value in positions.items():
            fields[int(position[1:])] = value
        return " ".join(field for field in fields if field is not None)

    return edit


def signal_field(position, value):
    """A corruption setting field `position` of every signal line (1: format, 2: gain(baseline)/units)."""
    return lambda header: rewrite_header(header, signal_lines(lambda line: set_signal_field(line, position, value)))


def record_fields(**positions):
    """A corruption setting fields of the record line (see `with_fields`)."""
    return lambda header: rewrite_header(header, record_line(with_fields(**positions)))


def drop_last_signal(header):
    rewrite_header(header, lambda lines: [with_fields(f1="11")(lines[0].split(" ")), *lines[1:-1]])


def cut_dat(keep_bytes):
    def corrupt(header):
        data = header.with_suffix(".dat")
        data.write_bytes(data.read_bytes()[:keep_bytes])

    return corrupt


def replace_with_directory(suffix):
    def corrupt(header):
        path = header.with_suffix(suffix)
        path.unlink()
        path.mkdir()

    return corrupt


def sparse_hour(header):
    samples = 3601 * 500
    rewrite_header(header, record_line(with_fields(f3=str(samples))))
    with open(header.with_suffix(".dat"), "r+b") as handle:
        handle.truncate(samples * 12 * 2)


def railed(lead, start=0, stop=None):
    def signal(seed):
        values = ecg_signal(seed)
        values[start:stop, lead] = 32767 / 200  # the ADC's top code at gain 200: 163.8 mV
        return values

    return signal


def zero_lead(lead):
    def signal(seed):
        values = ecg_signal(seed)
        values[:, lead] = 0.0
        return values

    return signal


def case(name, corrupt=None, signal=None, lead_names=None, skip=None, repairs=(), check=None):
    """One record: how it is written (`signal(seed)`, `lead_names`), corrupted (`corrupt(header)`), and judged."""
    return pytest.param(
        {
            "corrupt": corrupt,
            "signal": signal,
            "lead_names": lead_names,
            "skip": skip,
            "repairs": set(repairs),
            "check": check,
        },
        id=name,
    )


def lead_is_absent(name):
    return lambda ecg, lead_mask: (
        not lead_mask[STANDARD_LEADS.index(name)] and not ecg[STANDARD_LEADS.index(name)].any()
    )


def limb_leads_follow_einthoven(ecg, lead_mask):
    lead_i, lead_ii = ecg[0], ecg[1]
    return (
        lead_mask.all()
        and np.allclose(ecg[2], lead_ii - lead_i, atol=1e-5)
        and np.allclose(ecg[5], lead_ii - lead_i / 2, atol=1e-5)
    )


def lead_iii_is_ii_minus_i(ecg, lead_mask):
    return lead_mask.all() and np.allclose(ecg[2], ecg[1] - ecg[0], atol=1e-5)


def same_as_plain_record(ecg, lead_mask):
    expected, _ = EXTRACTOR.preprocess_recording(ecg_signal(0).T, 500, MIMIC_LEADS)  # what was written, in mV
    return lead_mask.all() and np.allclose(ecg, expected, atol=0.5 / 200 + 1e-6)


CASES = [
    case("skip-hea_states_11_signals_for_a_12_signal_dat", drop_last_signal, skip="header_mismatch"),
    case(
        "skip-hea_states_half_the_samples",
        record_fields(f3="2500"),
        skip="header_mismatch",
    ),
    case(
        "skip-hea_states_format_212_for_format_16_data",
        signal_field(1, "212"),
        skip="header_mismatch",
    ),
    case(
        "skip-hea_without_length_dat_not_whole_frames",
        lambda header: (
            rewrite_header(header, record_line(with_fields(f3=None))),
            header.with_suffix(".dat").write_bytes(header.with_suffix(".dat").read_bytes() + b"\x00"),
        ),
        skip="header_mismatch",
    ),
    case(
        "skip-record_line_declares_11_of_12_signal_lines",
        record_fields(f1="11"),
        skip="unreadable_header",
    ),
    case("skip-dat_cut_short", cut_dat(5000), skip="truncated_signal"),
    case("skip-dat_zero_bytes", cut_dat(0), skip="truncated_signal"),
    case("skip-hea_zero_bytes", lambda header: header.write_bytes(b""), skip="unreadable_header"),
    case("skip-hea_is_a_directory", replace_with_directory(".hea"), skip="unreadable_header"),
    case(
        "skip-hea_in_utf16",
        lambda header: header.write_bytes(header.read_text().encode("utf-16")),
        skip="unreadable_header",
    ),
    case("skip-dat_is_a_directory", replace_with_directory(".dat"), skip="unreadable_signal"),
    case(
        "skip-signal_file_outside_the_directory",
        signal_field(0, "../../out.dat"),
        skip="unreadable_header",
    ),
    case(
        "skip-sampling_rate_zero",
        record_fields(f2="0"),
        skip="unknown_sampling_rate",
    ),
    case(
        "skip-sampling_rate_negative",
        record_fields(f2="-500"),
        skip="unknown_sampling_rate",
    ),
    case(
        "skip-units_not_a_voltage",
        lambda header: rewrite_header(header, signal_lines(lambda line: line.replace("/mV", "/NU"))),
        skip="unknown_units",
    ),
    case(
        "skip-adc_gain_1e-36",
        signal_field(2, "1e-36(0)/mV"),
        skip="implausible_amplitude",
    ),
    case(
        "skip-microvolts_written_as_millivolts",
        signal_field(2, "0.2(0)/mV"),
        skip="implausible_amplitude",
    ),
    case("skip-every_lead_zero", signal=lambda seed: np.zeros((5000, 12)), skip="no_valid_lead"),
    case(
        "skip-lead_named_twice_with_different_samples",
        lambda header: rewrite_header(header, lambda lines: [*lines[:-1], lines[-1].replace(" V6", " V5")]),
        skip="duplicate_leads",
    ),
    case("skip-header_declares_more_than_an_hour", sparse_hour, skip="too_long"),
    case(
        "repair-lead_railed_at_32767",
        signal=railed(V3),
        repairs={"implausible_amplitude_removed", "long_gap_lead_dropped"},
        check=lead_is_absent("V3"),
    ),
    case(
        "repair-lead_III_railed_is_derived_again",
        signal=railed(III),
        repairs={"implausible_amplitude_removed", "long_gap_lead_dropped", "limb_leads_derived"},
        check=lead_iii_is_ii_minus_i,
    ),
    case(
        "repair-three_sample_164_mV_spike",
        signal=railed(V3, 2000, 2003),
        repairs={"implausible_amplitude_removed", "non_finite_interpolated"},
        check=lambda ecg, lead_mask: lead_mask.all() and np.abs(ecg).max() < 5,
    ),
    case("repair-all_zero_lead", signal=zero_lead(V3), repairs={"flat_lead_dropped"}, check=lead_is_absent("V3")),
    case(
        "repair-lead_stored_twice_with_the_same_samples",
        lambda header: rewrite_header(header, lambda lines: [*lines[:-1], lines[-1].replace(" copy", " II")]),
        signal=lambda seed: np.concatenate([ecg_signal(seed), ecg_signal(seed)[:, 1:2]], axis=1),
        lead_names=[*MIMIC_LEADS, "copy"],  # wfdb writes unique names only: renamed II in the header
        repairs={"duplicate_lead_dropped"},
        check=lambda ecg, lead_mask: lead_mask.all(),
    ),
    case(
        "repair-eight_leads_I_II_V1_V6",
        signal=lambda seed: ecg_signal(seed, num_leads=8),
        lead_names=EIGHT_LEADS,
        repairs={"limb_leads_derived"},
        check=limb_leads_follow_einthoven,
    ),
    case(
        "accept-crlf_header",
        lambda header: rewrite_header(header, lambda lines: lines, newline="\r\n"),
        check=same_as_plain_record,
    ),
    case(
        "accept-latin1_microvolt_units",
        lambda header: rewrite_header(
            header, signal_lines(lambda line: set_signal_field(line, 2, "0.2(0)/µV")), encoding="latin-1"
        ),
        check=same_as_plain_record,
    ),
    case(
        "accept-units_in_volts",
        signal_field(2, "200000(0)/V"),
        check=same_as_plain_record,
    ),
    case(
        "accept-no_units_field_means_millivolts",
        lambda header: rewrite_header(header, signal_lines(lambda line: line.replace("/mV", ""))),
        check=same_as_plain_record,
    ),
]
SPECS = [param.values[0] for param in CASES]
for index, spec in enumerate(SPECS):
    spec["index"] = index  # record `index` of the build below is this case


def subject(index):
    return 11_000_000 + index


def study(index):
    return 41_000_000 + index


@pytest.fixture(scope="module")
def mimic_dir(tmp_path_factory):
    """One MIMIC-IV-ECG tree holding every case, each corrupted as its case says (seed 0 for the plain records)."""
    root = tmp_path_factory.mktemp("bad-wfdb")
    records = [
        {
            "subject_id": subject(index),
            "study_id": study(index),
            "signal": (spec["signal"] or ecg_signal)(0),
            "lead_names": spec["lead_names"] or MIMIC_LEADS,
            "statements": ["Sinus rhythm"],
        }
        for index, spec in enumerate(SPECS)
    ]
    write_mimic_iv_ecg(root, records)
    for index, spec in enumerate(SPECS):
        if spec["corrupt"]:
            spec["corrupt"](header_of(root, index))
    return root


def header_of(root, index) -> Path:
    return root / f"{mimic_record_path(subject(index), study(index))}.hea"


@pytest.fixture(scope="module")
def built(mimic_dir, tmp_path_factory):
    # validation_fraction=0: the build has no validation split (and does not fail on an empty one).
    return load_ecg_dataset(
        "mimic-iv-ecg", data_dir=mimic_dir, cache_dir=str(tmp_path_factory.mktemp("cache")), validation_fraction=0
    )


def judge(header):
    repairs = []
    try:
        ecg, lead_mask = prepare_recording(read_wfdb(header), EXTRACTOR, repairs)
    except BadRecord as error:
        return error, None, None, None
    return None, ecg, lead_mask, set(repairs)


@pytest.mark.parametrize("spec", CASES)
def test_each_record_is_judged_by_its_rule(spec, mimic_dir):
    header = header_of(mimic_dir, spec["index"])
    error, ecg, lead_mask, repairs = judge(header)
    if spec["skip"]:
        assert error is not None and error.reason == spec["skip"], error
        if error.reason not in ("unknown_sampling_rate", "implausible_amplitude", "no_valid_lead", "duplicate_leads"):
            assert header.name in str(error)  # the reader's message names the file (the builder logs the others')
        return
    assert error is None, error
    assert repairs == spec["repairs"]
    assert np.isfinite(ecg).all() and ecg.dtype == np.float32 and np.abs(ecg).max() <= 20
    if spec["check"]:
        assert spec["check"](ecg, lead_mask)


def test_one_build_counts_every_case_and_keeps_the_rest(built):
    assert set(built) == {"train"}  # validation_fraction=0: no empty validation split, no error
    info = built["train"].info.bad_records["train"]
    specs = SPECS
    assert info["skipped"] == dict(sorted(Counter(spec["skip"] for spec in specs if spec["skip"]).items()))
    repaired = Counter(reason for spec in specs if not spec["skip"] for reason in spec["repairs"])
    assert info["repaired"] == dict(sorted(repaired.items()))
    kept = {study(index) for index, spec in enumerate(specs) if not spec["skip"]}
    assert sorted(built["train"]["study_id"]) == sorted(kept)
    ecg = built["train"].with_format("numpy")["ecg"]
    assert np.isfinite(ecg).all() and np.abs(ecg).max() <= 20


def test_int16_storage_never_holds_a_non_finite_value(mimic_dir, tmp_path, built):
    compact = load_ecg_dataset(
        "mimic-iv-ecg",
        data_dir=mimic_dir,
        cache_dir=str(tmp_path),
        validation_fraction=0,
        storage="int16",
        split="train",
    ).with_format("numpy")
    decoded = dequantize_ecg(compact["ecg"], compact["ecg_scale"])
    assert np.isfinite(decoded).all() and np.isfinite(compact["ecg_scale"]).all()
    assert compact.info.bad_records == built["train"].info.bad_records


def test_skip_permission_denied_on_the_header(tmp_path, monkeypatch):
    root = write_mimic_iv_ecg(tmp_path, [{"subject_id": 1, "study_id": 2, "signal": ecg_signal(0), "statements": []}])
    header = root / f"{mimic_record_path(1, 2)}.hea"
    real_read_bytes = Path.read_bytes

    def read_bytes(path):
        if path == header:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(BadRecord, match=f"{header}: Permission denied") as error:
        read_wfdb(header)
    assert error.value.reason == "unreadable_header"
