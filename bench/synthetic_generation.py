"""
Records per second of the synthetic ECG-report corpus on one core, in one go and in chunks. Prints and writes JSON.

    python -m bench.synthetic_generation [--num_records 2000] [--repeats 3] [--chunk_size 500] \
        [--output bench/results/synthetic_generation.json]    # from the repository root

BLAS is limited to one thread, so the figure is per core (target: >= 500 records/s). Also reported: the label
prevalence of the timed corpus and the report vocabulary (distinct reports), which the default pretraining run and
its N3S index depend on.
"""

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.reporting import print_and_save
from datasets_scripts.synthetic_ecg import SYNTHETIC_LABELS, generate_synthetic_corpus, iter_synthetic_corpus


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_records", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported")
    parser.add_argument("--chunk_size", type=int, default=500, help="chunk size of the streamed generation")
    parser.add_argument("--output", type=Path, default=Path("bench/results/synthetic_generation.json"))
    args = parser.parse_args()

    with threadpool_limits(limits=1):
        generate_synthetic_corpus(50, seed=12345)  # warm-up: imports, allocator
        in_one_go, streamed = [], []
        for repeat in range(args.repeats):
            start = time.perf_counter()
            corpus = generate_synthetic_corpus(args.num_records, seed=repeat)
            in_one_go.append(args.num_records / (time.perf_counter() - start))
            start = time.perf_counter()
            for _ in iter_synthetic_corpus(args.num_records, seed=repeat, chunk_size=args.chunk_size):
                pass
            streamed.append(args.num_records / (time.perf_counter() - start))

    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, BLAS limited to 1 thread",
        "num_records": args.num_records,
        "repeats": args.repeats,
        "records_per_s": round(statistics.median(in_one_go), 1),
        "records_per_s_runs": [round(value, 1) for value in in_one_go],
        "streamed_records_per_s": round(statistics.median(streamed), 1),
        "chunk_size": args.chunk_size,
        "bytes_per_record": corpus["ecg"][0].nbytes,
        "distinct_reports": len(set(corpus["report"])),
        "records_per_subject": round(args.num_records / len(np.unique(corpus["subject_id"])), 2),
        "label_prevalence": dict(
            zip(SYNTHETIC_LABELS, np.round(corpus["labels"].mean(axis=0, dtype=np.float64), 3).tolist(), strict=True)
        ),
        "target_records_per_s": 500,
    }
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
