"""The report bank file beside a checkpoint: what is written is what is read, one report per line."""

import re

import pytest

from modeling_dbeta.report_bank import REPORT_BANK_FILE, load_report_bank, save_report_bank


def test_report_bank_round_trip(tmp_path):
    reports = ["sinus rhythm. normal ecg", "atrial fibrillation.\nleft axis deviation", "", "sinus rhythm. normal ecg",
               "  sinus   bradycardia "]
    path = save_report_bank(reports, tmp_path / "checkpoint")
    assert path == tmp_path / "checkpoint" / REPORT_BANK_FILE
    expected = ["sinus rhythm. normal ecg", "atrial fibrillation. left axis deviation", "sinus bradycardia"]
    assert path.read_text(encoding="utf-8").splitlines() == expected
    assert load_report_bank(tmp_path / "checkpoint") == expected  # the folder of a checkpoint
    assert load_report_bank(path) == expected  # the file itself


def test_missing_report_bank(tmp_path):
    assert load_report_bank(tmp_path) is None  # a checkpoint without a bank: the app leaves retrieval out
    with pytest.raises(FileNotFoundError, match=re.escape("absent.txt does not exist")):
        load_report_bank(tmp_path / "absent.txt")
