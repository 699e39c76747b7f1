"""
Bad inputs of the downstream sources (PTB-XL, CODE-test, PhysioNet 2021), in their real layouts, fed to
`load_ecg_dataset`. Case ids start with the outcome class (`skip-`, `repair-`, `accept-`, `error-`, as in
`test_bad_inputs_tables.py`).

| case | outcome |
| --- | --- |
| ptbxl_database.csv: non-numeric ecg_id, cut last row, Latin-1 report | rows counted in `bad_rows`, report repaired |
| PTB-XL record whose header states 11 of its 12 signals | skip `header_mismatch` |
| CODE-test label `x` / a short gold-standard row | skip `bad_label`, the other exams keep their own labels |
| CODE-test all-zero tracing (no exam) | skip `no_valid_lead` |
| CODE-test tracing with a 1 s NaN run in one lead | repair `long_gap_lead_dropped` |
| CODE-test HDF5 of 0 bytes / cut in half / a directory | error naming the file and the fix |
| PhysioNet 2021 `#Dx:` line empty | skip `missing_diagnosis` (was kept with no label) |
| PhysioNet 2021 `.hea` that is a directory | skip `unreadable_header` |
| PhysioNet 2021 `.mat` header stating 11 of 12 signals | skip `header_mismatch` |
| PhysioNet 2021 CRLF header | accept: the same values as the LF one |
| PhysioNet 2021 validation and test fractions 0 | accept: a train split only |
| PhysioNet 2021 fractions adding up to 1 | error |
"""

import h5py
import numpy as np
import pytest

from datasets_scripts import load_ecg_dataset
from datasets_scripts.splits import read_merl_split
from modeling_dbeta import STANDARD_LEADS
from tests.ecg_fixtures import (
    code_test_tracing,
    ecg_signal,
    rewrite_header,
    write_challenge_record,
    write_code_test,
    write_ptb_xl,
)


PTB_XL_METADATA = ["ecg_id", "patient_id", "strat_fold", "filename_lr", "filename_hr", "super_class"]


def drop_last_signal(header):
    """The record line states 11 signals and the 12th signal line is gone; the signal file still holds 12."""

    def edit(lines):
        last_signal = max(i for i, line in enumerate(lines) if not line.startswith("#"))
        return [lines[0].replace(" 12 ", " 11 ", 1), *lines[1:last_signal], *lines[last_signal + 1 :]]

    rewrite_header(header, edit)


# ---------------------------------------------------------------- PTB-XL


@pytest.fixture(scope="module")
def ptb_xl(tmp_path_factory):
    root = tmp_path_factory.mktemp("ptb-xl")
    rows = {
        split: read_merl_split("ptbxl/super_class", "ptbxl_super_class", split, PTB_XL_METADATA)[0].iloc[0]
        for split in ("train", "validation", "test")
    }
    records = [
        {
            "ecg_id": int(row.ecg_id),
            "patient_id": row.patient_id,
            "strat_fold": row.strat_fold,
            "report": "sinusrhythmus NON_UTF8",
            "signal": ecg_signal(int(row.ecg_id)),
            "scp_codes": {"NORM": 100.0},
        }
        for row in rows.values()
    ]
    write_ptb_xl(root, records)
    drop_last_signal(root / f"{rows['train'].filename_hr}.hea")
    database = root / "ptbxl_database.csv"
    text = database.read_text().replace("NON_UTF8", "\x00")
    text += "x12,1.0,56.0,1,bad row,{},1,records100/x,records500/x\n99999,1.0,56"  # a non-numeric id; a cut last row
    database.write_bytes(text.encode().replace(b"\x00", b"\xe9"))
    dataset = load_ecg_dataset("ptb-xl", name="super_class", data_dir=root, cache_dir=str(root / "cache"))
    return rows, dataset


def test_ptb_xl_database_rows_are_counted_and_reports_repaired(ptb_xl):
    rows, dataset = ptb_xl
    assert dataset["test"].info.bad_rows == {"ptbxl_database.csv": {"non_numeric_id": 1, "truncated_row": 1}}
    (test_example,) = list(dataset["test"])
    assert test_example["ecg_id"] == rows["test"].ecg_id and test_example["report"] == "sinusrhythmus "
    assert dataset["test"].info.bad_records["test"]["repaired"] == {"non_utf8_text": 1}


def test_skip_ptb_xl_header_stating_11_of_12_signals(ptb_xl):
    _, dataset = ptb_xl
    assert "train" not in dataset  # its one record was skipped: the split is absent, not an error
    assert dataset["test"].info.bad_records["train"]["skipped"]["header_mismatch"] == 1


# ---------------------------------------------------------------- CODE-test

CODE_LABELS = np.array(
    [[1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1]]
)


@pytest.fixture(scope="module")
def code_test(tmp_path_factory):
    root = tmp_path_factory.mktemp("code-test")
    tracings = np.stack([code_test_tracing(seed, 10.0) for seed in range(5)])
    tracings[3] = 0.0  # no exam: the zero padding of a missing tracing
    tracings[4, 100:500, 7] = np.nan  # 1 s of V2 missing
    write_code_test(root, tracings, CODE_LABELS)
    gold = root / "annotations" / "gold_standard.csv"
    lines = gold.read_text().splitlines()
    lines[2] = lines[2].replace("1", "x", 1)  # exam 1: a label that is no number
    lines[3] = lines[3].rsplit(",", 2)[0]  # exam 2: a short row
    gold.write_text("\n".join(lines) + "\n")
    return root, load_ecg_dataset("code-test", data_dir=root, cache_dir=str(root / "cache"), split="test")


@pytest.mark.parametrize(
    "exam, outcome",
    [
        pytest.param(1, "bad_label", id="skip-code_test_label_that_is_no_number"),
        pytest.param(2, "bad_label", id="skip-code_test_short_gold_standard_row"),
        pytest.param(3, "no_valid_lead", id="skip-code_test_all_zero_tracing"),
        pytest.param(4, "long_gap_lead_dropped", id="repair-code_test_one_second_nan_run"),
    ],
)
def test_code_test_exams_are_judged_one_by_one(code_test, exam, outcome):
    _, dataset = code_test
    rows = {row["exam_index"]: row for row in dataset.with_format("numpy")}
    info = dataset.info.bad_records["test"]
    assert info == {"skipped": {"bad_label": 2, "no_valid_lead": 1}, "repaired": {"long_gap_lead_dropped": 1}}
    if outcome in info["skipped"]:
        assert exam not in rows
    else:
        assert not rows[exam]["lead_mask"][STANDARD_LEADS.index("V2")] and rows[exam]["lead_mask"].sum() == 11
    for kept in rows:  # positional labels: a bad row shifts no other exam's labels
        assert rows[kept]["labels"].tolist() == CODE_LABELS[kept].tolist()


def cut_half(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def into_directory(path):
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize(
    "corrupt, message",
    [
        pytest.param(
            lambda path: path.write_bytes(b""), "is not a readable HDF5 file", id="error-code_test_hdf5_zero_bytes"
        ),
        pytest.param(cut_half, "is not a readable HDF5 file.*truncated", id="error-code_test_hdf5_cut_in_half"),
        pytest.param(into_directory, "which is a directory", id="error-code_test_hdf5_is_a_directory"),
    ],
)
def test_unreadable_code_test_files_are_clear_errors(tmp_path, corrupt, message):
    root = write_code_test(tmp_path, np.stack([code_test_tracing(0, 10.0)]), CODE_LABELS[:1])
    tracings = root / "ecg_tracings.hdf5"
    with h5py.File(tracings, "a") as handle:  # big enough that half of it is no HDF5 file
        handle.create_dataset("padding", data=np.zeros(100_000, dtype=np.float32))
    corrupt(tracings)
    with pytest.raises(ValueError, match=f"{tracings}.*{message}.*" if "directory" not in message else message):
        load_ecg_dataset("code-test", data_dir=root, streaming=True)


# ---------------------------------------------------------------- PhysioNet 2021


@pytest.fixture(scope="module")
def physionet(tmp_path_factory):
    root = tmp_path_factory.mktemp("physionet2021")
    source = root / "georgia" / "g1"
    for index, name in enumerate(["E00001", "E00002", "E00003", "E00004", "E00005"]):
        write_challenge_record(source, name, ecg_signal(index), STANDARD_LEADS, 500, dx_codes=["164889003"])
    rewrite_header(
        source / "E00002.hea", lambda lines: [line if not line.startswith("#Dx") else "#Dx: " for line in lines]
    )
    (source / "E00003.hea").unlink()
    (source / "E00003.hea").mkdir()
    drop_last_signal(source / "E00004.hea")
    rewrite_header(source / "E00005.hea", lambda lines: lines, newline="\r\n")
    options = {"validation_fraction": 0, "test_fraction": 0}
    return root, load_ecg_dataset("physionet2021", data_dir=root, cache_dir=str(root / "cache"), **options)


@pytest.mark.parametrize(
    "record, reason",
    [
        pytest.param("E00002", "missing_diagnosis", id="skip-physionet2021_empty_dx_line"),
        pytest.param("E00003", "unreadable_header", id="skip-physionet2021_header_is_a_directory"),
        pytest.param("E00004", "header_mismatch", id="skip-physionet2021_mat_header_states_11_of_12_signals"),
    ],
)
def test_physionet2021_bad_records_are_counted(physionet, record, reason):
    _, dataset = physionet
    assert record not in dataset["train"]["record_id"]
    assert dataset["train"].info.bad_records["train"]["skipped"] == {
        "header_mismatch": 1,
        "missing_diagnosis": 1,
        "unreadable_header": 1,
    }


def test_accept_physionet2021_crlf_header_and_no_held_out_splits(physionet):
    _, dataset = physionet
    assert set(dataset) == {"train"}
    rows = {row["record_id"]: row for row in dataset["train"].with_format("numpy")}
    assert sorted(rows) == ["E00001", "E00005"]
    written = ecg_signal(4).T  # E00005, gain 1000/mV
    np.testing.assert_allclose(rows["E00005"]["ecg"], written, atol=0.5 / 1000 + 1e-6)


def test_error_physionet2021_fractions_adding_up_to_one(physionet):
    root, _ = physionet
    with pytest.raises(ValueError, match=r"`validation_fraction \+ test_fraction` must be a number in \[0, 1\)"):
        load_ecg_dataset("physionet2021", data_dir=root, streaming=True, validation_fraction=0.5, test_fraction=0.5)
