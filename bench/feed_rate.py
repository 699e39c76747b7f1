"""
Can the CPUs feed the GPU? Samples per second of the whole pretraining input, as `DBetaTrainer`'s DataLoader runs it
(shuffled indices, N DataLoader workers, the pretraining collator: random lead masking, N3S negatives for half of
the batch, tokenisation, MLM masking), from the two sources `train/pretrain.py` reads: the prepared int16 Arrow data
set (the paper config) and the raw WFDB records (`--raw_records`). Prints and writes JSON.

    python -m bench.feed_rate [--data_dir physionet.org/files/mimic-iv-ecg/1.0] [--num_records 1024] \
        [--workers 0 1 2] [--output bench/results/feed_rate.json]       # from the repository root

Without `--data_dir`, a MIMIC-IV-ECG tree of `--num_records` records (12 x 5000 format-16 WFDB in MIMIC's lead
order, a few distinct reports) is written to a temporary directory by the test fixtures' writer. Each DataLoader
worker is one core (the main process only hands batches on), so samples/s per worker, times the cores of a GPU host,
says whether they keep up with the GPU's step: `--target` is ~2,000 samples/s, an H100 at the paper configuration
(batch 128). Reports are tokenised with the packaged all-MiniLM-L6-v2's tokenizer and embedded with it for the N3S
index (Flan-T5 cannot be downloaded here; its SentencePiece tokenizer costs about the same per report). The page
cache is warm: on a cold disk the first epoch is bounded by its read rate instead.
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import datasets
import torch
from transformers import AutoTokenizer

from bench.data_loading import synthetic_mimic
from bench.reporting import print_and_save
from datasets_scripts import load_ecg_dataset
from datasets_scripts.raw_records import load_raw_ecg_records
from modeling_dbeta.data_collator import DataCollatorForDBetaPretraining
from modeling_dbeta.n3s import N3SIndex
from modeling_dbeta.pretraining import PACKAGED_MINILM, pretraining_pairs, resolve_encoder


def samples_per_second(dataset, collator, batch_size: int, num_workers: int, num_batches: int) -> float:
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, collate_fn=collator, num_workers=num_workers,
        persistent_workers=num_workers > 0, drop_last=True,
    )
    batches = iter(loader)
    for _ in range(max(1, num_workers)):  # warm-up: workers started, files opened
        next(batches)
    start, samples = time.perf_counter(), 0
    for _ in range(num_batches):
        samples += len(next(batches)["ecg_values"])
    return samples / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=None, help="a MIMIC-IV-ECG tree; synthetic if omitted")
    parser.add_argument("--num_records", type=int, default=1024, help="records written when --data_dir is omitted")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--num_batches", type=int, default=12, help="batches timed per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="default: 0 and 1 .. the cores")
    parser.add_argument("--target", type=float, default=2000.0, help="samples/s the GPU consumes")
    parser.add_argument("--host_cores", type=int, default=16, help="cores of the GPU host, for the verdict")
    parser.add_argument("--output", type=Path, default=Path("bench/results/feed_rate.json"))
    args = parser.parse_args()
    datasets.disable_progress_bars()
    torch.set_num_threads(1)  # as in a DataLoader worker
    cores = len(os.sched_getaffinity(0))
    workers = args.workers if args.workers is not None else [0, *range(1, cores + 1)]

    encoder = resolve_encoder(PACKAGED_MINILM)
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    results = {
        "machine": {
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine(), "cores": cores
        },
        "batch_size": args.batch_size,
        "sources": {},
    }
    with tempfile.TemporaryDirectory() as workdir:
        data_dir = args.data_dir or synthetic_mimic(Path(workdir) / "mimic-iv-ecg", args.num_records)
        options = {"data_dir": data_dir, "validation_fraction": 0.0, "storage": "int16"}
        start = time.perf_counter()
        prepared = load_ecg_dataset("mimic-iv-ecg", split="train", cache_dir=str(Path(workdir) / "cache"), **options)
        results["num_records"] = len(prepared)
        results["prepare_records_per_s"] = len(prepared) / (time.perf_counter() - start)
        index = N3SIndex.build(prepared["report"], encoder)
        collator = DataCollatorForDBetaPretraining(tokenizer, n3s_index=index, max_length=256)
        sources = {
            "prepared_int16_arrow": pretraining_pairs(prepared, "prepared"),
            "raw_wfdb_records": load_raw_ecg_records("mimic-iv-ecg", split="train", **options),
        }
        for name, dataset in sources.items():
            rates = {}
            for num_workers in workers:
                rates[num_workers] = samples_per_second(
                    dataset, collator, args.batch_size, num_workers, args.num_batches
                )
                print(f"{name}, {num_workers} worker(s): {rates[num_workers]:.0f} samples/s", flush=True)
            # Workers beyond the free cores only share them: the best rate per core is the one to extrapolate.
            per_worker = max(rate / max(number, 1) for number, rate in rates.items())
            results["sources"][name] = {
                "samples_per_s_by_workers": {str(number): round(rate, 1) for number, rate in rates.items()},
                "samples_per_s_per_worker": round(per_worker, 1),
                "workers_needed_for_target": round(args.target / per_worker, 2),
                f"feeds_target_with_{args.host_cores}_workers": per_worker * args.host_cores >= args.target,
            }
    results["target_samples_per_s"] = args.target
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
