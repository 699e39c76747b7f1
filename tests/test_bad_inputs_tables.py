"""
Bad source tables (MIMIC-IV-ECG's `record_list.csv` and `machine_measurements.csv`) fed to the MIMIC-IV-ECG builder,
to `train/build_n3s_index.py` (which must read them exactly as the builder does) and to the two command lines.

Case ids start with the outcome class: `skip-` (a counted skip: the row or record dropped, its reason counted in
`info.bad_rows` / `info.bad_records`, the build going on), `repair-` (counted repair), `accept-` (documented
acceptance: read as meant), `error-` (a clear error naming the file and the fix, before any record is read).

| case | outcome |
| --- | --- |
| record_list: blank study_id / non-numeric subject_id | skip row (`blank_id`, `non_numeric_id`) |
| record_list: blank path | skip row `blank_path` |
| record_list: duplicated row | skip row `duplicate_row`: the pair is trained once |
| record_list: `../outside/...` or absolute path | skip row `unsafe_path`: the outside record is not read |
| record_list: last row cut mid-row | skip row `truncated_row` |
| record_list: ids written `41000006.0`, ` 11000006 ` | accept |
| machine_measurements: blank / non-numeric study_id, an extra field, last row cut | skip row; record `no_report_row` |
| machine_measurements: a study's row twice, same report | skip row `duplicate_row`; the pair kept once |
| machine_measurements: a study's row twice, different reports | skip record `conflicting_reports` |
| machine_measurements: a Latin-1 byte in a report | repair `non_utf8_text` (builder and N3S alike) |
| machine_measurements: a report with a quoted comma and line break | accept |
| UTF-16 (BOM), UTF-8 BOM, CRLF, gzip'd (`.csv.gz`, or gzip bytes in `.csv`) tables | accept: the same pairs |
| only `report_0` (no report_1..17) | accept, with a warning naming the columns |
| UTF-16 without BOM; statements with a gap; `;`-separated | error |
| table a directory / empty / header only; data_dir a file | error |
| `validation_fraction` 1.0 or -0.1; asking for the validation split with fraction 0 | error |
| every validation record skipped | the split is absent; asking for it is an error with the skip counts |
| build_n3s_index: folder that is no dataset; the command line on a missing file | error (no traceback) |
| `python -m datasets_scripts` on a missing data_dir / an unknown config field | error (no traceback) |
"""

import csv
import gzip
import importlib.util
import io
import logging
import re
import runpy
import sys
from collections import Counter
from pathlib import Path

import pytest

from datasets_scripts import load_ecg_dataset
from datasets_scripts.__main__ import main as prepare_main
from datasets_scripts.splits import group_split
from modeling_dbeta import normalize_report
from tests.ecg_fixtures import MIMIC_LEADS, ecg_signal, write_mimic_iv_ecg, write_wfdb_record


BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "train" / "build_n3s_index.py"


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_n3s_index", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def study(index):
    return 41_000_000 + index


def subject(index):
    return 11_000_000 + index


def statements(index):
    return [f"Sinus rhythm {index}", "Normal ECG"]


def report(index):
    return normalize_report(f"Sinus rhythm {index}. Normal ECG")


def mimic_records(count, overrides=None):
    overrides = overrides or {}
    return [
        {"subject_id": subject(i), "study_id": study(i), "signal": ecg_signal(i), "statements": statements(i)}
        | overrides.get(i, {})
        for i in range(count)
    ]


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path, rows):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def edit_rows(path, edits):
    """Rewrite a CSV table: `edits` maps a study id to `edit(row, header) -> list of rows` (none drops it)."""
    header, *rows = read_rows(path)
    position = header.index("study_id")
    edited = [header]
    for row in rows:
        edit = edits.get(int(row[position]))
        edited += edit(row, header) if edit else [row]
    write_rows(path, edited)


def set_field(name, value):
    return lambda row, header: [[*row[: header.index(name)], value, *row[header.index(name) + 1 :]]]


def twice(row, header):
    return [row, row]


def cut_last_row(path, keep_fields):
    """The file cut in the middle of its last row, without a final line break (a cut download)."""
    text = path.read_text().rstrip("\n")
    last_break = text.rindex("\n")
    last_row = text[last_break + 1 :].split(",")
    path.write_text(text[: last_break + 1] + ",".join(last_row[:keep_fields]) + ",4")


# ---------------------------------------------------------------- one build with a defect per row

CONTROL, KEPT_DUPLICATE, FLOAT_IDS, DUPLICATE_MEASUREMENT, LATIN1, QUOTED = 0, 3, 6, 9, 12, 13


@pytest.fixture(scope="module")
def tables_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-tables")
    quoted = {"statements": ['Sinus rhythm 13, "rate" 60', "Normal\nECG"]}
    write_mimic_iv_ecg(root, mimic_records(16, {QUOTED: quoted, 15: {"statements": None}}))
    # A readable record outside data_dir that records 4 and 5 point at: it must not be read.
    outside = write_wfdb_record(root.parent / "outside", str(study(4)), ecg_signal(4), MIMIC_LEADS, 500)
    record_list, measurements = root / "record_list.csv", root / "machine_measurements.csv"
    edit_rows(
        record_list,
        {
            study(1): set_field("study_id", ""),
            study(2): set_field("subject_id", f"p{subject(2)}"),
            study(3): twice,
            study(4): set_field("path", f"../{outside.parent.name}/{study(4)}"),
            study(5): set_field("path", str(outside.with_suffix(""))),
            study(6): lambda row, header: [[f" {subject(6)} ", f"{study(6)}.0", *row[2:]]],
        },
    )
    # A row with a blank path, for a study of its own.
    rows = read_rows(record_list)
    rows.insert(-1, [str(subject(16)), str(study(16)), str(study(16)), rows[1][3], ""])
    write_rows(record_list, rows)
    cut_last_row(record_list, keep_fields=2)  # record 15: "11000015,41000015,4" -> 3 of 5 fields

    edit_rows(
        measurements,
        {
            study(7): set_field("study_id", ""),
            study(8): set_field("study_id", f"{study(8)}x"),
            study(9): twice,
            study(10): lambda row, header: [row, [c.replace("Sinus rhythm 10", "Atrial fibrillation") for c in row]],
            study(11): lambda row, header: [[*row, "stray field"]],
        },
    )
    cut_last_row(measurements, keep_fields=5)  # record 14's row (15 has none): its report cut after report_0
    measurements.write_bytes(measurements.read_bytes().replace(b"Sinus rhythm 12", b"Sinus \xe9rhythm 12"))
    return root


@pytest.fixture(scope="module")
def built(tables_dir, tmp_path_factory):
    cache_dir = str(tmp_path_factory.mktemp("cache"))
    return load_ecg_dataset("mimic-iv-ecg", data_dir=tables_dir, cache_dir=cache_dir, validation_fraction=0)["train"]


KEPT = {study(i) for i in (CONTROL, KEPT_DUPLICATE, FLOAT_IDS, DUPLICATE_MEASUREMENT, LATIN1, QUOTED)}
EXPECTED_BAD_ROWS = {
    "machine_measurements.csv": {
        "blank_id": 1,
        "duplicate_row": 2,
        "malformed_row": 1,
        "non_numeric_id": 1,
        "truncated_row": 1,
    },
    "record_list.csv": {
        "blank_id": 1,
        "blank_path": 1,
        "duplicate_row": 1,
        "non_numeric_id": 1,
        "truncated_row": 1,
        "unsafe_path": 2,
    },
}


ROW_CASES = [  # (case, study index, its expected report; None: the study is absent)
    pytest.param(1, None, id="skip-record_list_blank_study_id"),
    pytest.param(2, None, id="skip-record_list_non_numeric_subject_id"),
    pytest.param(16, None, id="skip-record_list_blank_path"),
    pytest.param(KEPT_DUPLICATE, report(KEPT_DUPLICATE), id="skip-record_list_duplicated_row_trains_once"),
    pytest.param(4, None, id="skip-record_list_path_escaping_data_dir"),
    pytest.param(5, None, id="skip-record_list_absolute_path"),
    pytest.param(15, None, id="skip-record_list_last_row_cut"),
    pytest.param(FLOAT_IDS, report(FLOAT_IDS), id="accept-record_list_float_and_padded_ids"),
    pytest.param(7, None, id="skip-measurements_blank_study_id"),
    pytest.param(8, None, id="skip-measurements_non_numeric_study_id"),
    pytest.param(11, None, id="skip-measurements_row_with_an_extra_field"),
    pytest.param(14, None, id="skip-measurements_last_row_cut"),
    pytest.param(DUPLICATE_MEASUREMENT, report(DUPLICATE_MEASUREMENT), id="skip-measurements_identical_duplicate_row"),
    pytest.param(10, None, id="skip-measurements_conflicting_duplicate_rows"),
    pytest.param(LATIN1, report(LATIN1), id="repair-measurements_latin1_byte"),
    pytest.param(
        QUOTED, 'sinus rhythm 13, "rate" 60. normal ecg', id="accept-measurements_quoted_comma_and_line_break"
    ),
]


@pytest.mark.parametrize("index, expected_report", ROW_CASES)
def test_each_bad_row_is_dropped_or_read_as_meant(built, index, expected_report):
    rows = [row for row in built if row["study_id"] == study(index)]
    if expected_report is None:
        assert rows == []
    else:
        (row,) = rows  # once, however often the tables repeat it
        assert row["report"] == expected_report and row["subject_id"] == subject(index)


def test_the_build_counts_every_dropped_row_and_record(built):
    assert sorted(built["study_id"]) == sorted(KEPT)  # each pair once
    assert built.info.bad_rows == EXPECTED_BAD_ROWS
    assert built.info.bad_records["train"] == {
        "skipped": {"conflicting_reports": 1, "no_report_row": 4},
        "repaired": {"non_utf8_text": 1},
    }


def test_n3s_reads_the_measurements_exactly_as_the_builder(built, tables_dir):
    counts = Counter()
    reports = load_build_script().read_reports(tables_dir / "machine_measurements.csv", counts=counts)
    valid_studies = [i for i in range(15) if i not in (7, 8, 10, 11, 14)]  # rows the builder can use
    assert sorted(map(normalize_report, reports)) == sorted(
        [report(i) for i in valid_studies if i != QUOTED] + ['sinus rhythm 13, "rate" 60. normal ecg']
    )
    assert {row["report"] for row in built} <= set(map(normalize_report, reports))
    assert counts["non_utf8_text"] == 1 and counts["machine_measurements.csv: truncated_row"] == 1
    assert counts["machine_measurements.csv: conflicting_reports"] == 1


# ---------------------------------------------------------------- encodings, compression, layouts of the whole table

PLAIN_REPORTS = {study(i): report(i) for i in range(3)}


@pytest.fixture
def plain_dir(tmp_path):
    return write_mimic_iv_ecg(tmp_path / "mimic", mimic_records(3))


def streamed_reports(data_dir):
    stream = load_ecg_dataset("mimic-iv-ecg", data_dir=data_dir, split="train", streaming=True, validation_fraction=0)
    return {row["study_id"]: row["report"] for row in stream}


def reencode(encoding, bom=b""):
    def transform(path):
        path.write_bytes(bom + path.read_text(encoding="utf-8").encode(encoding))

    return transform


def gzip_as(suffix):
    def transform(path):
        data = gzip.compress(path.read_bytes())
        path.unlink()
        path.with_name(path.name + suffix).write_bytes(data)

    return transform


def crlf(path):
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(reencode("utf-16"), id="accept-utf16_tables_with_byte_order_mark"),
        pytest.param(reencode("utf-8", b"\xef\xbb\xbf"), id="accept-utf8_tables_with_byte_order_mark"),
        pytest.param(crlf, id="accept-crlf_tables"),
        pytest.param(gzip_as(".gz"), id="accept-gzip_tables_named_csv_gz"),
        pytest.param(gzip_as(""), id="accept-gzip_bytes_in_a_csv"),
    ],
)
def test_encodings_and_compression_give_the_same_pairs(plain_dir, transform):
    for table in ("record_list.csv", "machine_measurements.csv"):
        transform(plain_dir / table)
    assert streamed_reports(plain_dir) == PLAIN_REPORTS
    measurements = next(plain_dir.glob("machine_measurements.csv*"))
    assert sorted(load_build_script().read_reports(measurements)) == sorted(
        f"Sinus rhythm {i}. Normal ECG" for i in range(3)
    )  # build_n3s_index reads the same table the same way


def test_accept_only_report_0_with_a_warning(plain_dir, caplog):
    path = plain_dir / "machine_measurements.csv"
    header, *rows = read_rows(path)
    keep = [i for i, name in enumerate(header) if not name.startswith("report_") or name == "report_0"]
    write_rows(path, [[row[i] for i in keep] for row in [header, *rows]])
    with caplog.at_level(logging.WARNING):
        assert streamed_reports(plain_dir) == {study(i): normalize_report(f"Sinus rhythm {i}") for i in range(3)}
    assert "report_0 .. report_0 only" in caplog.text and "machine_measurements.csv" in caplog.text


def drop_column(name):
    def transform(data_dir):
        path = data_dir / "machine_measurements.csv"
        header, *rows = read_rows(path)
        position = header.index(name)
        write_rows(path, [row[:position] + row[position + 1 :] for row in [header, *rows]])

    return transform


def replace_table(name, make):
    def transform(data_dir):
        path = data_dir / name
        path.unlink()
        make(path)

    return transform


@pytest.mark.parametrize(
    "transform, message",
    [
        pytest.param(
            lambda d: reencode("utf-16-le")(d / "machine_measurements.csv"),
            r"machine_measurements.csv holds NUL bytes but no byte-order mark.*Save it as UTF-8",
            id="error-utf16_without_byte_order_mark",
        ),
        pytest.param(
            drop_column("report_1"),
            r"lacks \['report_1'\] between them.*full machine_measurements.csv",
            id="error-statement_columns_with_a_gap",
        ),
        pytest.param(
            lambda d: (d / "record_list.csv").write_text("subject_id;study_id;path\n1;2;files/x\n"),
            r"record_list.csv lacks the column\(s\).*separated by ';'",
            id="error-semicolon_separated_table",
        ),
        pytest.param(
            replace_table("record_list.csv", Path.mkdir),
            r"record_list.csv is not a file \(a directory\?\)",
            id="error-record_list_is_a_directory",
        ),
        pytest.param(
            replace_table("record_list.csv", Path.touch),
            r"record_list.csv is empty: it has no header line",
            id="error-record_list_zero_bytes",
        ),
        pytest.param(
            lambda d: (d / "record_list.csv").write_text("subject_id,study_id,file_name,ecg_time,path\n"),
            r"no records to prepare in .*mimic",
            id="error-record_list_header_only",
        ),
    ],
)
def test_unreadable_tables_are_clear_errors(plain_dir, transform, message):
    transform(plain_dir)
    with pytest.raises(ValueError, match=message):
        streamed_reports(plain_dir)


def test_error_utf16_without_byte_order_mark_in_n3s_too(plain_dir):
    path = plain_dir / "machine_measurements.csv"
    reencode("utf-16-le")(path)
    with pytest.raises(ValueError, match="NUL bytes but no byte-order mark"):
        load_build_script().read_reports(path)


def test_error_data_dir_is_a_file(plain_dir):
    with pytest.raises(NotADirectoryError, match=re.escape("record_list.csv is a file; pass the directory")):
        load_ecg_dataset("mimic-iv-ecg", data_dir=plain_dir / "record_list.csv", streaming=True)


# ---------------------------------------------------------------- splits


@pytest.mark.parametrize(
    "fraction",
    [pytest.param(1.0, id="error-validation_fraction_1"), pytest.param(-0.1, id="error-validation_fraction_negative")],
)
def test_held_out_fractions_are_checked_up_front(plain_dir, fraction):
    with pytest.raises(ValueError, match=r"`validation_fraction` must be a number in \[0, 1\)"):
        load_ecg_dataset("mimic-iv-ecg", data_dir=plain_dir, streaming=True, validation_fraction=fraction)


def test_error_validation_split_asked_for_with_fraction_zero(plain_dir):
    with pytest.raises(ValueError, match=r"has no 'validation' split: it holds no records.*Available: \['train'\]"):
        load_ecg_dataset("mimic-iv-ecg", data_dir=plain_dir, split="validation", streaming=True, validation_fraction=0)


def test_error_every_validation_record_skipped(tmp_path):
    records = mimic_records(6)
    held_out = group_split([record["subject_id"] for record in records], 0.3, 42)
    for record, is_validation in zip(records, held_out, strict=True):
        if is_validation:
            record["statements"] = []  # empty report: skipped
    data_dir = write_mimic_iv_ecg(tmp_path / "mimic", records)
    options = {"data_dir": data_dir, "cache_dir": str(tmp_path / "cache"), "validation_fraction": 0.3}
    assert set(load_ecg_dataset("mimic-iv-ecg", **options)) == {"train"}
    with pytest.raises(ValueError, match=r"no 'validation' split: every one of its records was skipped \({'empty"):
        load_ecg_dataset("mimic-iv-ecg", split="validation", **options)


# --------------------------------------------------------------- the two command lines and the N3S reader's own inputs


def test_repair_n3s_text_file_in_latin1(tmp_path):
    path = tmp_path / "reports.txt"
    path.write_bytes(b"Sinus rhythm\n\nSinus \xe9rhythm. Normal ECG\n***\n")
    counts = Counter()
    assert load_build_script().read_reports(path, counts=counts) == ["Sinus rhythm", "Sinus rhythm. Normal ECG"]
    assert counts == {"non_utf8_text": 1, "empty_report": 1}


def test_error_n3s_folder_that_is_no_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="is a folder but not a dataset saved with `save_to_disk`"):
        load_build_script().read_reports(tmp_path)


def test_error_n3s_command_line_without_traceback(tmp_path, monkeypatch):
    monkeypatch.setattr(
        sys, "argv", ["build_n3s_index.py", "--reports", str(tmp_path / "absent.csv"), "--output_dir", str(tmp_path)]
    )
    with pytest.raises(SystemExit, match=r"build_n3s_index.py: No reports at .*absent.csv: pass a text file"):
        runpy.run_path(str(BUILD_SCRIPT), run_name="__main__")


@pytest.mark.parametrize(
    "arguments, message",
    [
        pytest.param(
            ["code-test", "--data_dir", "/nonexistent"],
            "data directory /nonexistent does not exist",
            id="error-datasets_command_line_missing_data_dir",
        ),
        pytest.param(
            ["mimic-iv-ecg", "--data_dir", ".", "--config", "validation_fraction=2"],
            r"`validation_fraction` must be a number in \[0, 1\)",
            id="error-datasets_command_line_bad_config",
        ),
    ],
)
def test_datasets_command_line_errors_without_traceback(monkeypatch, arguments, message):
    monkeypatch.setattr(sys, "argv", ["python -m datasets_scripts", *arguments])
    with pytest.raises(SystemExit, match=f"python -m datasets_scripts {arguments[0]}: .*{message}"):
        prepare_main()
