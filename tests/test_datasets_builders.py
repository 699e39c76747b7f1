"""Every ECG builder built from fixtures in the real on-disk formats: values, labels by name, splits, streaming."""

import re

import datasets
import numpy as np
import pytest
import torch
import wfdb
from datasets.distributed import split_dataset_by_node

from datasets_scripts import load_ecg_dataset
from datasets_scripts.builder import contiguous_shards, label_names
from datasets_scripts.code_test import strip_zero_padding
from datasets_scripts.physionet2021 import CLASS_NAMES as PHYSIONET_CLASSES
from datasets_scripts.splits import read_merl_split
from modeling_dbeta import STANDARD_LEADS, DBetaFeatureExtractor
from modeling_dbeta.ecg_storage import dequantize_ecg
from tests.ecg_fixtures import (
    MIMIC_LEADS,
    code_test_tracing,
    ecg_signal,
    mimic_record_path,
    write_challenge_record,
    write_code_test,
    write_mimic_iv_ecg,
    write_ptb_xl,
)


EXTRACTOR = DBetaFeatureExtractor()


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path, monkeypatch):
    """Builders write lock files in the default cache even when streaming: keep them out of the user's cache."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


STATEMENTS = ["*** Sinus rhythm", "Normal EKG ***"]  # joined, then normalised as one text


def expected_ecg(header_path, keep_samples=None):
    """What the builders must produce: wfdb's reading of the record through the feature extractor."""
    record = wfdb.rdrecord(str(header_path).removesuffix(".hea"))
    ecg, _ = EXTRACTOR.preprocess_recording(record.p_signal, record.fs, record.sig_name)
    if keep_samples is not None:
        ecg[:, keep_samples:] = 0
    return ecg


def as_array(value):
    return np.asarray(value, dtype=np.float32)


def test_record_lists_are_cut_into_contiguous_shards():
    assert contiguous_shards(list(range(10)), 4) == [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]
    assert contiguous_shards(list(range(3)), 1024) == [[0], [1], [2]]
    assert contiguous_shards([], 1024) == [[]]  # an empty split still has one (empty) shard


# ---------------------------------------------------------------- MIMIC-IV-ECG, with one record per bad-record kind


def mimic_record(index, **overrides):
    return {
        "subject_id": 10_000_000 + index // 2,
        "study_id": 40_000_000 + index,
        "signal": ecg_signal(index),
        "statements": STATEMENTS,
        **overrides,
    }


def short_gap(index):
    signal = ecg_signal(index)
    signal[1000:1010, 7] = np.nan  # V2, 0.02 s
    return signal


def long_gap(index):
    signal = ecg_signal(index)
    signal[1000:1500, 10] = np.nan  # V5, 1 s
    return signal


EIGHT_LEADS = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
MIMIC_RECORDS = [
    mimic_record(0),
    mimic_record(1),
    mimic_record(2),
    mimic_record(3, signal=short_gap(3)),
    mimic_record(4, signal=long_gap(4)),
    mimic_record(5, signal=ecg_signal(5, num_leads=8), lead_names=EIGHT_LEADS),
    mimic_record(6, signal=ecg_signal(6, num_leads=15), lead_names=[*MIMIC_LEADS, "vx", "vy", "vz"]),
    mimic_record(7),  # .dat truncated below
    mimic_record(8),  # header garbled below
    mimic_record(9),  # sampling rate removed below
    mimic_record(10, statements=[]),
    mimic_record(11, statements=None),  # no machine_measurements row
    mimic_record(12, statements=["Sinus rhythm NON_UTF8"]),
    mimic_record(13),  # .dat deleted below
    mimic_record(14),  # a signal line deleted below
]
KEPT_STUDIES = {40_000_000 + index for index in (0, 1, 2, 3, 4, 5, 6, 12)}
EXPECTED_SKIPPED = {
    "empty_report": 1,
    "missing_file": 1,
    "no_report_row": 1,
    "truncated_signal": 1,
    "unknown_sampling_rate": 1,
    "unreadable_header": 2,
}
EXPECTED_REPAIRED = {
    "extra_leads_ignored": 1,
    "limb_leads_derived": 1,
    "long_gap_lead_dropped": 1,
    "non_finite_interpolated": 1,
    "non_utf8_text": 1,
}


def mimic_header(root, index):
    return root / f"{mimic_record_path(10_000_000 + index // 2, 40_000_000 + index)}.hea"


@pytest.fixture(scope="module")
def mimic_dir(tmp_path_factory):
    root = write_mimic_iv_ecg(tmp_path_factory.mktemp("mimic-iv-ecg"), MIMIC_RECORDS)
    data = mimic_header(root, 7).with_suffix(".dat")
    data.write_bytes(data.read_bytes()[:1000])
    mimic_header(root, 8).write_text("garbage\n")
    header = mimic_header(root, 9)
    header.write_text("\n".join([header.stem + " 12", *header.read_text().splitlines()[1:]]) + "\n")
    mimic_header(root, 13).with_suffix(".dat").unlink()
    header = mimic_header(root, 14)
    header.write_text("\n".join(header.read_text().splitlines()[:-1]) + "\n")
    measurements = root / "machine_measurements.csv"
    measurements.write_bytes(measurements.read_bytes().replace(b"NON_UTF8", b"\xe9"))  # a Latin-1 byte
    return root


MIMIC_OPTIONS = {"validation_fraction": 0.3, "num_shards": 4}


@pytest.fixture(scope="module")
def mimic(mimic_dir, tmp_path_factory):
    cache_dir = str(tmp_path_factory.mktemp("cache"))
    return load_ecg_dataset("mimic-iv-ecg", data_dir=mimic_dir, cache_dir=cache_dir, **MIMIC_OPTIONS)


def test_mimic_values_lead_order_and_reports(mimic, mimic_dir):
    rows = {row["study_id"]: row for split in mimic.values() for row in split.with_format("numpy")}
    assert set(rows) == KEPT_STUDIES
    first = rows[40_000_000]
    np.testing.assert_array_equal(first["ecg"], expected_ecg(mimic_header(mimic_dir, 0)))
    # MIMIC stores aVF (channel 4) before aVL (channel 5): the output is in the standard order.
    written = ecg_signal(0)
    np.testing.assert_allclose(first["ecg"][STANDARD_LEADS.index("aVL")], written[:, 5], atol=0.5 / 200)
    np.testing.assert_allclose(first["ecg"][STANDARD_LEADS.index("aVF")], written[:, 4], atol=0.5 / 200)
    assert first["report"] == "sinus rhythm. normal ecg" and first["subject_id"] == 10_000_000
    assert rows[40_000_012]["report"] == "sinus rhythm"

    assert not rows[40_000_004]["lead_mask"][STANDARD_LEADS.index("V5")] and rows[40_000_004]["lead_mask"].sum() == 11
    eight_leads = rows[40_000_005]  # III, aVR, aVL, aVF derived from I and II
    assert eight_leads["lead_mask"].all()
    np.testing.assert_allclose(eight_leads["ecg"][2], eight_leads["ecg"][1] - eight_leads["ecg"][0], atol=1e-5)
    assert rows[40_000_003]["lead_mask"].all() and np.isfinite(rows[40_000_003]["ecg"]).all()


def test_mimic_bad_records_are_counted_in_the_info(mimic):
    info = mimic["train"].info.bad_records
    assert set(info) == {"train", "validation"}
    skipped = {reason: sum(info[split]["skipped"].get(reason, 0) for split in info) for reason in EXPECTED_SKIPPED}
    repaired = {reason: sum(info[split]["repaired"].get(reason, 0) for split in info) for reason in EXPECTED_REPAIRED}
    assert skipped == EXPECTED_SKIPPED and repaired == EXPECTED_REPAIRED
    assert sum(sum(kinds["skipped"].values()) for kinds in info.values()) == len(MIMIC_RECORDS) - len(KEPT_STUDIES)


def test_mimic_split_is_by_patient(mimic):
    train, validation = set(mimic["train"]["subject_id"]), set(mimic["validation"]["subject_id"])
    assert train and validation and not train & validation


def test_streaming_matches_prepared(mimic, mimic_dir):
    streamed = load_ecg_dataset("mimic-iv-ecg", data_dir=mimic_dir, streaming=True, **MIMIC_OPTIONS)
    for split in ("train", "validation"):
        prepared = {row["study_id"]: row for row in mimic[split].with_format("numpy")}
        stream = {row["study_id"]: row for row in streamed[split]}
        assert stream.keys() == prepared.keys()
        for study_id, row in stream.items():
            np.testing.assert_array_equal(row["ecg"], prepared[study_id]["ecg"])
            assert row["report"] == prepared[study_id]["report"]
            assert list(row["lead_mask"]) == list(prepared[study_id]["lead_mask"])


def test_int16_storage_is_half_the_size_and_decodes_to_the_float32_values(mimic, mimic_dir, tmp_path):
    compact = load_ecg_dataset(
        "mimic-iv-ecg", data_dir=mimic_dir, cache_dir=str(tmp_path), storage="int16", **MIMIC_OPTIONS
    )
    assert compact["train"].features["ecg"].feature.dtype == "int16" and "ecg_scale" in compact["train"].features
    reference = {row["study_id"]: row["ecg"] for row in mimic["train"].with_format("numpy")}
    for row in compact["train"].with_format("numpy"):
        decoded = dequantize_ecg(row["ecg"], row["ecg_scale"])
        step = row["ecg_scale"][:, None]
        assert decoded.dtype == np.float32
        assert (np.abs(decoded - reference[row["study_id"]]) <= 0.5 * step + 1e-7).all()
    assert compact["train"].data.nbytes < 0.6 * mimic["train"].data.nbytes
    with pytest.raises(ValueError, match="storage"):
        load_ecg_dataset("mimic-iv-ecg", data_dir=mimic_dir, storage="float16", **MIMIC_OPTIONS)


def test_streaming_shards_split_the_records_across_ranks_and_workers(mimic_dir):
    stream = load_ecg_dataset("mimic-iv-ecg", data_dir=mimic_dir, split="train", streaming=True, **MIMIC_OPTIONS)
    assert stream.num_shards == MIMIC_OPTIONS["num_shards"]
    everything = [row["study_id"] for row in stream]
    by_rank = [[row["study_id"] for row in split_dataset_by_node(stream, rank, 2)] for rank in (0, 1)]
    assert all(by_rank) and sorted(by_rank[0] + by_rank[1]) == sorted(everything)

    loader = torch.utils.data.DataLoader(stream.with_format("torch"), batch_size=None, num_workers=2)
    batches = list(loader)
    assert sorted(int(row["study_id"]) for row in batches) == sorted(everything)
    assert batches[0]["ecg"].shape == (12, 5000) and batches[0]["ecg"].dtype == torch.float32


def test_parallel_preparation_gathers_the_counts_of_every_process(mimic, mimic_dir, tmp_path):
    parallel = load_ecg_dataset(
        "mimic-iv-ecg", data_dir=mimic_dir, cache_dir=str(tmp_path), num_proc=2, split="train", **MIMIC_OPTIONS
    )
    assert parallel.info.bad_records == mimic["train"].info.bad_records
    assert sorted(parallel["study_id"]) == sorted(mimic["train"]["study_id"])


# ---------------------------------------------------------------- PTB-XL, CPSC2018, CSN: MERL's packaged splits


def merl_rows(folder, prefix, metadata_columns, count=1):
    """The first `count` rows of each packaged MERL split, with their labels by name."""
    rows = {}
    for split in ("train", "validation", "test"):
        frame, names = read_merl_split(folder, prefix, split, metadata_columns)
        rows[split] = [(row, {name: float(row[name]) for name in names}) for _, row in frame.head(count).iterrows()]
    return rows


def assert_labels_by_name(example, features, expected):
    names = label_names(features)
    assert dict(zip(names, as_array(example["labels"]).tolist(), strict=True)) == expected
    assert sorted(features["classes"].feature.int2str(list(example["classes"]))) == sorted(
        name for name, value in expected.items() if value
    )


PTB_XL_METADATA = ["ecg_id", "patient_id", "strat_fold", "filename_lr", "filename_hr"]


def write_ptb_xl_records(directory, rows, report):
    """A PTB-XL tree holding the records of the given MERL rows (and none of the others)."""
    records = [
        {
            "ecg_id": int(row.ecg_id),
            "patient_id": row.patient_id,
            "strat_fold": row.strat_fold,
            "report": report,
            "signal": ecg_signal(int(row.ecg_id)),
            "scp_codes": {"NORM": 100.0},
        }
        for split_rows in rows.values()
        for row, _ in split_rows
    ]
    return write_ptb_xl(directory, records)


@pytest.mark.parametrize("task, num_classes", [("super_class", 5), ("sub_class", 23), ("form", 19), ("rhythm", 12)])
def test_ptb_xl_tasks_build_with_labels_by_name(tmp_path, task, num_classes):
    rows = merl_rows(f"ptbxl/{task}", f"ptbxl_{task}", [*PTB_XL_METADATA, task])
    data_dir = write_ptb_xl_records(tmp_path / "ptb-xl", rows, report="sinusrhythmus")
    # Streaming the test split only: the packaged split lists ~20 k records, of which these fixtures hold one.
    test = load_ecg_dataset("ptb-xl", name=task, data_dir=data_dir, split="test", streaming=True)
    assert len(label_names(test.features)) == num_classes
    (example,) = list(test)
    row, expected_labels = rows["test"][0]
    assert example["ecg_id"] == row.ecg_id and example["report"] == "sinusrhythmus"
    assert_labels_by_name(example, test.features, expected_labels)
    np.testing.assert_array_equal(example["ecg"], expected_ecg(data_dir / f"{row.filename_hr}.hea"))


def test_ptb_xl_prepared_counts_the_records_not_downloaded(tmp_path):
    rows = merl_rows("ptbxl/super_class", "ptbxl_super_class", [*PTB_XL_METADATA, "super_class"])
    data_dir = write_ptb_xl_records(tmp_path / "ptb-xl", rows, report="")
    dataset = load_ecg_dataset("ptb-xl", name="super_class", data_dir=data_dir, cache_dir=str(tmp_path / "cache"))
    for split, split_rows in rows.items():
        assert dataset[split]["ecg_id"] == [int(row.ecg_id) for row, _ in split_rows]
        frame, _ = read_merl_split("ptbxl/super_class", "ptbxl_super_class", split, [*PTB_XL_METADATA, "super_class"])
        assert dataset[split].info.bad_records[split]["skipped"] == {"missing_file": len(frame) - 1}


CPSC_METADATA = ["patient_id", "ecg_id", "filename", "validation", "age", "sex", "scp_codes"]


@pytest.fixture(scope="module")
def cpsc_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpsc2018")
    for split_rows in merl_rows("icbeb", "icbeb", CPSC_METADATA).values():
        for row, _ in split_rows:
            name = row.filename
            # The 2021 challenge's layout (g1/..), 15 s records with their #Dx line.
            write_challenge_record(
                root / "g1", name, ecg_signal(int(name[1:]), 7500), STANDARD_LEADS, 500, dx_codes=["426783006"]
            )
    return root


@pytest.mark.parametrize("keep_samples", [2500, 5000])
def test_cpsc2018_crop_policy(cpsc_dir, keep_samples):
    options = {} if keep_samples == 2500 else {"keep_samples": keep_samples}  # 2500 is the default (the paper's)
    test = load_ecg_dataset("cpsc2018", data_dir=cpsc_dir, split="test", streaming=True, **options)
    (example,) = list(test)
    row, expected_labels = merl_rows("icbeb", "icbeb", CPSC_METADATA)["test"][0]
    assert example["record_id"] == row.filename
    assert_labels_by_name(example, test.features, expected_labels)
    np.testing.assert_array_equal(example["ecg"], expected_ecg(cpsc_dir / "g1" / f"{row.filename}.hea", keep_samples))
    assert (example["ecg"][:, keep_samples:] == 0).all() and (example["ecg"][:, keep_samples - 100 :] != 0).any()


def csn_record(row):
    """MERL's `/chapman/WFDBRecords/NN/NNN/JSxxxxx.mat` -> the record under the data set's root."""
    return row.ecg_path.removeprefix("/chapman/").removesuffix(".mat")


def test_csn_records_are_found_from_merl_paths(tmp_path):
    rows = merl_rows("chapman", "chapman", ["ecg_path", "age", "diagnose"])
    for split_rows in rows.values():
        for row, _ in split_rows:
            folder, name = csn_record(row).rsplit("/", 1)
            signal = ecg_signal(int(name[2:]))
            write_challenge_record(tmp_path / folder, name, signal, STANDARD_LEADS, 500, dx_codes=["426177001"])
    dataset = load_ecg_dataset("csn", data_dir=tmp_path, cache_dir=str(tmp_path / "cache"))
    assert len(label_names(dataset["train"].features)) == 38
    for split, split_rows in rows.items():
        (example,) = list(dataset[split].with_format("numpy"))
        row, expected_labels = split_rows[0]
        assert example["record_id"] == csn_record(row).rsplit("/", 1)[1]
        assert_labels_by_name(example, dataset[split].features, expected_labels)
        np.testing.assert_array_equal(example["ecg"], expected_ecg(tmp_path / f"{csn_record(row)}.hea"))


# ---------------------------------------------------------------- CODE-test and PhysioNet 2021


def test_code_test_resamples_and_drops_the_zero_padding(tmp_path):
    tracings = np.stack([code_test_tracing(0, 10.0), code_test_tracing(1, 7.0)])
    labels = np.array([[1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0]])
    dataset = load_ecg_dataset(
        "code-test",
        data_dir=write_code_test(tmp_path, tracings, labels),
        cache_dir=str(tmp_path / "cache"),
        split="test",
    ).with_format("numpy")
    assert label_names(dataset.features) == ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]
    ten_seconds, seven_seconds = dataset[0], dataset[1]
    names = ["DI", "DII", "DIII", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    expected, _ = EXTRACTOR.preprocess_recording(strip_zero_padding(tracings[0].astype(np.float32)), 400, names)
    np.testing.assert_array_equal(ten_seconds["ecg"], expected)  # 4000 samples at 400 Hz -> 5000 at 500 Hz
    assert (seven_seconds["ecg"][:, 3500:] == 0).all() and (seven_seconds["ecg"][:, 3400:3500] != 0).any()
    assert ten_seconds["labels"].tolist() == [1, 0, 0, 0, 1, 0] and seven_seconds["exam_index"] == 1


PHYSIONET_RECORDS = [  # source, name, rate, seconds, #Dx codes
    ("cpsc_2018", "A0001", 500, 12, ["59118001"]),  # RBBB: scored as CRBBB|RBBB
    ("cpsc_2018", "A0002", 500, 10, ["426783006"]),
    ("georgia", "E00001", 500, 10, ["17338001", "164889003", "251180001"]),  # VPB (= PVC), AF, an unscored code
    ("georgia", "E00002", 500, 10, ["713427006"]),
    ("ptb", "S0001", 1000, 10, ["164884008"]),  # unscored only: all-zero labels
    ("st_petersburg_incart", "I0001", 257, 30, ["284470004"]),
    ("chapman_shaoxing", "JS00001", 500, 10, ["426177001"]),
    ("chapman_shaoxing", "JS00002", 500, 10, None),  # no #Dx line
    ("ningbo", "JS10001", 500, 10, ["164934002", "59931005"]),
    ("ningbo", "JS10002", 500, 10, ["426783006"]),
]


@pytest.fixture(scope="module")
def physionet(tmp_path_factory):
    root = tmp_path_factory.mktemp("physionet2021")
    for index, (source, name, rate, seconds, codes) in enumerate(PHYSIONET_RECORDS):
        write_challenge_record(
            root / source / "g1", name, ecg_signal(index, rate * seconds, rate), STANDARD_LEADS, rate, dx_codes=codes
        )
    cache_dir = str(tmp_path_factory.mktemp("cache"))
    return root, load_ecg_dataset("physionet2021", data_dir=root, cache_dir=cache_dir)


def test_physionet2021_scored_classes_with_equivalent_codes_merged(physionet):
    _, dataset = physionet
    assert label_names(dataset["train"].features) == PHYSIONET_CLASSES and len(PHYSIONET_CLASSES) == 26
    rows = {row["record_id"]: row for split in dataset.values() for row in split.with_format("numpy")}
    assert sorted(rows) == sorted(name for _, name, *_, codes in PHYSIONET_RECORDS if codes is not None)

    def positives(name):
        return [PHYSIONET_CLASSES[i] for i in np.flatnonzero(rows[name]["labels"])]

    assert positives("A0001") == ["713427006|59118001"]
    assert positives("E00002") == ["713427006|59118001"]
    assert positives("E00001") == ["164889003", "427172004|17338001"]
    assert positives("I0001") == ["284470004|63593006"] and positives("S0001") == []
    assert rows["I0001"]["source"] == "st_petersburg_incart"
    skipped = {
        split: kinds["skipped"] for split, kinds in dataset["train"].info.bad_records.items() if kinds["skipped"]
    }
    assert list(skipped.values()) == [{"missing_diagnosis": 1}]


def test_physionet2021_resamples_every_rate(physionet):
    root, dataset = physionet
    rows = {row["record_id"]: row for split in dataset.values() for row in split.with_format("numpy")}
    for source, name, _rate, _seconds, codes in PHYSIONET_RECORDS:
        if codes is not None:
            np.testing.assert_array_equal(rows[name]["ecg"], expected_ecg(root / source / "g1" / f"{name}.hea"))
    assert rows["S0001"]["ecg"].shape == (12, 5000)  # 10 000 samples at 1000 Hz
    assert np.abs(rows["I0001"]["ecg"][:, -100:]).max() > 0  # 30 s at 257 Hz: cropped to the first 10 s, not padded


def test_physionet2021_splits_are_disjoint_and_seeded(physionet):
    root, dataset = physionet
    splits = {split: set(dataset[split]["record_id"]) for split in ("train", "validation", "test")}
    assert all(splits.values()) and sum(map(len, splits.values())) == len(set().union(*splits.values()))
    again = load_ecg_dataset("physionet2021", data_dir=root, streaming=True)
    assert {split: {row["record_id"] for row in again[split]} for split in splits} == splits


# ---------------------------------------------------------------- top-level errors


def test_missing_inputs_raise_clear_errors(tmp_path, mimic_dir):
    with pytest.raises(ValueError, match="Unknown ECG data set 'ptbxl'"):
        load_ecg_dataset("ptbxl", data_dir=tmp_path)
    with pytest.raises(ValueError, match="needs `data_dir`"):
        load_ecg_dataset("code-test", streaming=True)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent")):
        load_ecg_dataset("csn", data_dir=tmp_path / "absent", streaming=True)
    with pytest.raises(FileNotFoundError, match=re.escape("record_list.csv")):
        load_ecg_dataset("mimic-iv-ecg", data_dir=tmp_path, streaming=True)

    broken = tmp_path / "mimic"
    broken.mkdir()
    (broken / "record_list.csv").write_text((mimic_dir / "record_list.csv").read_text())
    (broken / "machine_measurements.csv").write_text("subject_id,study_id,statement\n1,2,Sinus rhythm\n")
    with pytest.raises(ValueError, match=r"machine_measurements.csv lacks the column\(s\) \['report_0'\]"):
        load_ecg_dataset("mimic-iv-ecg", data_dir=broken, streaming=True)
    with pytest.raises(FileNotFoundError, match=r"Source\(s\) \['georgia'\] not found"):
        load_ecg_dataset("physionet2021", data_dir=tmp_path, sources=["georgia"], streaming=True)


# ---------------------------------------------------------------- the synthetic corpus of the offline demo


def test_synthetic_corpus_builds_with_patient_level_splits(tmp_path):
    from datasets_scripts.synthetic_ecg import SYNTHETIC_LABELS

    corpus = load_ecg_dataset("synthetic", cache_dir=str(tmp_path), num_records=40, seed=3)
    assert set(corpus) == {"train", "validation", "test"} and sum(len(split) for split in corpus.values()) == 40
    subjects = {name: set(split["subject_id"]) for name, split in corpus.items()}
    assert not subjects["train"] & subjects["test"] and not subjects["train"] & subjects["validation"]
    assert label_names(corpus["train"].features) == list(SYNTHETIC_LABELS)
    row = corpus["train"].with_format("numpy")[0]
    assert row["ecg"].shape == (12, 5000) and row["lead_mask"].all()
    assert row["report"] == row["report"].lower() and row["labels"].sum() >= 1
    again = load_ecg_dataset("synthetic", cache_dir=str(tmp_path / "again"), num_records=40, seed=3, split="train")
    np.testing.assert_array_equal(again.with_format("numpy")[0]["ecg"], row["ecg"])
