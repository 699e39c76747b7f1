"""
Latency per ECG of `pipeline("zero-shot-ecg-classification")` on this CPU, from a DICOM file to sorted scores for
13 labels: reading and preparing the file, the first call (the labels' text features computed) and later calls
(cached), one ECG at a time and in batches. Random weights, at the paper configuration (Flan-T5-base-sized text
tower) and at the tests' tiny size.

    python -m bench.pipeline_latency [--sizes paper tiny] [--repeats 5] [--batch_size 8] \
        [--output bench/results/pipeline_latency.json]
"""

import argparse
import statistics
import time
from pathlib import Path

import torch
from pydicom.data import get_testdata_file
from transformers import pipeline

from bench.reporting import machine, print_and_save
from modeling_dbeta import DBetaConfig, DBetaFeatureExtractor, DBetaModel, DBetaProcessor
from modeling_dbeta.pipeline_dbeta import ZERO_SHOT_TASK
from modeling_dbeta.pipeline_inputs import load_ecg
from tests.tiny_models import tiny_config, tiny_t5_tokenizer


DICOM_ECG = get_testdata_file("waveform_ecg.dcm")  # 12 leads, 10 s at 1000 Hz, from a device
LABELS = ["normal ecg", "sinus rhythm", "sinus bradycardia", "sinus tachycardia", "atrial fibrillation",
          "first degree av block", "right bundle branch block", "left bundle branch block", "left axis deviation",
          "low qrs voltage", "left ventricular hypertrophy", "st-t abnormality", "premature ventricular complexes"]


def median_seconds(fn, repeats: int) -> float:
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def bench_size(config: DBetaConfig, repeats: int, batch_size: int) -> dict:
    torch.manual_seed(0)
    model = DBetaModel._from_config(config, attn_implementation="sdpa").eval()
    # A word-level tokenizer with T5's conventions: its ids fit any T5 vocabulary, and it needs no download.
    processor = DBetaProcessor(DBetaFeatureExtractor(), tiny_t5_tokenizer())
    classifier = pipeline(ZERO_SHOT_TASK, model=model, processor=processor)
    start = time.perf_counter()
    classifier(DICOM_ECG, candidate_labels=LABELS)
    first_call = time.perf_counter() - start
    batch = [DICOM_ECG] * batch_size
    return {
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "read_and_prepare_seconds": median_seconds(lambda: load_ecg(DICOM_ECG, processor.feature_extractor), repeats),
        "first_call_seconds": first_call,
        "seconds_per_ecg": median_seconds(lambda: classifier(DICOM_ECG, candidate_labels=LABELS), repeats),
        f"seconds_per_ecg_batch_{batch_size}": median_seconds(
            lambda: classifier(batch, candidate_labels=LABELS, batch_size=batch_size), max(1, repeats // 2)
        ) / batch_size,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["paper", "tiny"], choices=["paper", "tiny"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--output", type=Path, default=Path("bench/results/pipeline_latency.json"))
    args = parser.parse_args(argv)
    results = {
        "machine": machine(),
        "input": "pydicom's waveform_ecg.dcm (12 leads, 10 s at 1000 Hz), 13 candidate labels, fp32",
        "sizes": {},
    }
    for size in args.sizes:
        config = DBetaConfig() if size == "paper" else tiny_config()
        results["sizes"][size] = bench_size(config, args.repeats, args.batch_size)
        print(size, results["sizes"][size], flush=True)
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
