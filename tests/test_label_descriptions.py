"""
Zero-shot prompts: one description for every label of every benchmark split, none extra; the synthetic corpus's two
named prompt sets; the user's own file.
"""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from datasets_scripts.synthetic_ecg import SYNTHETIC_LABELS
from modeling_dbeta.evaluation import DEFAULT_LABEL_DESCRIPTIONS, load_label_descriptions, load_prompt_sets
from tests.tiny_models import SHARED_DIR


REPO_DIR = Path(__file__).resolve().parents[1]
MERL_SPLIT_DIRS = [REPO_DIR / "datasets_scripts" / "merl_splits", SHARED_DIR / "benchmarks" / "merl_splits"]

# Columns of the MERL split CSVs that are not labels; everything else must be a 0/1 label column.
METADATA_COLUMNS = {
    "ecg_id", "patient_id", "strat_fold", "filename_lr", "filename_hr", "super_class", "sub_class", "form", "rhythm",
    "filename", "validation", "age", "sex", "scp_codes", "ecg_path", "diagnose",
}
# MERL's folder names -> the data set names of `load_ecg_dataset`, which key the descriptions.
DATASET_OF_MERL_FOLDER = {"ptbxl": "ptb-xl", "icbeb": "cpsc2018", "chapman": "csn"}
# CODE-test's annotations/gold_standard.csv columns.
CODE_TEST_LABELS = {"1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"}


def merl_split_files():
    root = next((directory for directory in MERL_SPLIT_DIRS if directory.is_dir()), None)
    if root is None:
        pytest.skip(f"MERL split files not found in {[str(d) for d in MERL_SPLIT_DIRS]}.")
    return sorted(root.rglob("*.csv")), root


def dataset_and_config(csv_file: Path, root: Path) -> tuple[str, str | None]:
    parts = csv_file.relative_to(root).parts  # ("ptbxl", "form", "ptbxl_form_train.csv") or ("icbeb", "icbeb_val.csv")
    return DATASET_OF_MERL_FOLDER[parts[0]], parts[1] if len(parts) == 3 else None


def test_every_split_label_has_exactly_one_description():
    files, root = merl_split_files()
    labels_by_task = {}
    for csv_file in files:
        frame = pd.read_csv(csv_file)
        label_columns = [column for column in frame.columns if column not in METADATA_COLUMNS]
        assert frame[label_columns].isin([0, 1]).all().all(), f"{csv_file}: a non-label column is treated as a label"
        labels_by_task.setdefault(dataset_and_config(csv_file, root), set()).update(label_columns)
    assert set(labels_by_task) == {
        ("ptb-xl", "super_class"), ("ptb-xl", "sub_class"), ("ptb-xl", "form"), ("ptb-xl", "rhythm"),
        ("cpsc2018", None), ("csn", None),
    }
    labels_by_task[("code-test", None)] = CODE_TEST_LABELS
    for (dataset, config), labels in labels_by_task.items():
        descriptions = load_label_descriptions(dataset, config)
        assert set(descriptions) == labels, f"{dataset}/{config}"
        assert all(text.strip() for text in descriptions.values())
        # Identical prompts would give two classes identical zero-shot scores.
        assert len(set(descriptions.values())) == len(descriptions), f"{dataset}/{config} repeats a description"


def test_shipped_file_covers_exactly_the_benchmarks():
    content = json.loads(DEFAULT_LABEL_DESCRIPTIONS.read_text())
    assert set(content) == {
        "ptb-xl/super_class", "ptb-xl/sub_class", "ptb-xl/form", "ptb-xl/rhythm", "cpsc2018", "csn", "code-test",
        "synthetic",
    }
    assert {key: len(labels) for key, labels in content.items()} == {
        "ptb-xl/super_class": 5, "ptb-xl/sub_class": 23, "ptb-xl/form": 19, "ptb-xl/rhythm": 12,
        "cpsc2018": 9, "csn": 38, "code-test": 6, "synthetic": 2,
    }


def test_benchmarks_have_one_prompt_set_named_descriptions():
    (name,) = load_prompt_sets("ptb-xl", "form")
    assert name == "descriptions"
    assert load_prompt_sets("ptb-xl", "form")["descriptions"] == load_label_descriptions("ptb-xl", "form")


def test_synthetic_corpus_has_the_demo_prompt_sets_by_name():
    prompt_sets = load_prompt_sets("synthetic")
    assert list(prompt_sets) == ["condition names", "paraphrases"]  # the first is the demo's main set
    assert prompt_sets["condition names"] == {label: label for label in SYNTHETIC_LABELS}
    assert list(prompt_sets["paraphrases"]) == list(SYNTHETIC_LABELS)
    assert len(set(prompt_sets["paraphrases"].values())) == len(SYNTHETIC_LABELS)
    assert load_label_descriptions("synthetic") == prompt_sets["condition names"]
    assert load_label_descriptions("synthetic", prompt_set="paraphrases") == prompt_sets["paraphrases"]
    with pytest.raises(KeyError, match="it has: condition names, paraphrases"):
        load_label_descriptions("synthetic", prompt_set="synonyms")


def test_user_file_flat_or_keyed_by_dataset(tmp_path):
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"AF": "atrial fibrillation", "SB": "sinus bradycardia"}))
    assert load_label_descriptions("code-test", path=flat) == {"AF": "atrial fibrillation", "SB": "sinus bradycardia"}
    assert list(load_prompt_sets("code-test", path=flat)) == ["flat.json"]  # results name the user's set by its file

    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"ptb-xl/form": {"PVC": "ventricular premature beat"}, "csn": {"SR": "sinus"}}))
    assert load_label_descriptions("ptb-xl", "form", path=keyed) == {"PVC": "ventricular premature beat"}
    with pytest.raises(KeyError, match="covers: csn, ptb-xl/form"):
        load_label_descriptions("cpsc2018", path=keyed)


def test_user_file_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"AF": "atrial fibrillation", "SB": " "}))
    with pytest.raises(ValueError, match=r"empty.json.*\['SB'\]"):
        load_label_descriptions("code-test", path=empty)
    broken = tmp_path / "broken.json"
    broken.write_text("{'AF': 'single quotes'}")
    with pytest.raises(ValueError, match=re.escape("broken.json is not valid JSON")):
        load_label_descriptions("code-test", path=broken)
    with pytest.raises(FileNotFoundError, match=re.escape("absent.json")):
        load_label_descriptions("code-test", path=tmp_path / "absent.json")
