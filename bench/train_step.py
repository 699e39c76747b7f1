"""
Time D-BETA's pretraining step (forward + backward + Adam) and ECG feature extraction at the paper configuration,
with random weights, on this machine's CPU, in fp32 and under bf16 autocast. Counts the step's FLOPs with
`torch.utils.flop_counter`, measures the machine's matmul peak, and prints samples/s and the fraction of peak as JSON.

    python bench/train_step.py [--batch_sizes 4 16] [--text_length 64] [--steps 3] [--output bench/results/train_step.json]

The authors' implementation, on the 2-core CPU this project develops on: 189 GFLOP per sample (text length 64) at
0.72 samples/s in fp32, about 74 % of the fp32 matmul peak.
"""

import argparse
import json
import platform
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from modeling_dbeta import DBetaConfig, DBetaForPreTraining
from reporting import print_and_save  # bench/reporting.py, beside this script


def matmul_peak(dtype: torch.dtype, sizes=(1024, 2048, 3072), repeats: int = 5) -> float:
    """Best GFLOP/s of a square matmul over a few sizes: the ceiling a transformer step can approach."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b  # warm-up (kernel selection, page faults)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def make_batch(batch_size: int, text_length: int, vocab_size: int, generator: torch.Generator) -> dict:
    """A pretraining batch as the collator builds it: half the pairs mismatched, 25 % of text tokens masked."""
    input_ids = torch.randint(5, vocab_size, (batch_size, text_length), generator=generator)
    masked = torch.rand(batch_size, text_length, generator=generator) < 0.25
    return {
        "ecg_values": torch.randn(batch_size, 12, 5000, generator=generator),
        "input_ids": input_ids,
        "attention_mask": torch.ones(batch_size, text_length, dtype=torch.long),
        "mlm_labels": input_ids.masked_fill(~masked, -100),
        "is_aligned": (torch.arange(batch_size) % 2 == 0).float(),
    }


def autocast(precision: str):
    return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def train_step(model, optimizer, batch, precision):
    with autocast(precision):
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def time_calls(fn, steps: int) -> float:
    fn()  # warm-up
    durations = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def step_flops(model, batch) -> float:
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def losses_in(model, batch, precision) -> dict:
    """The four losses in eval mode (no dropout) with fixed masking noise, to compare precisions."""
    model.eval()
    with torch.no_grad(), autocast(precision):
        out = model(**batch)
    model.train()
    return {name: getattr(out, f"{name}_loss").float().item() for name in ("mlm", "mem", "etm", "ets")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--text_length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--output", type=Path, default=Path("bench/results/train_step.json"))
    args = parser.parse_args()

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    config = DBetaConfig()
    model = DBetaForPreTraining(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    results = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__, "matmul_peak_gflops": peaks},
        "config": {"parameters": sum(p.numel() for p in model.parameters()), "text_length": args.text_length},
        "train_step": [],
        "ecg_feature_extraction": [],
    }

    for batch_size in args.batch_sizes:
        batch = make_batch(batch_size, args.text_length, config.text_config.vocab_size, generator)
        flops = step_flops(model, batch)
        for precision in args.precisions:
            seconds = time_calls(lambda: train_step(model, optimizer, batch, precision), args.steps)
            achieved = flops / seconds / 1e9
            results["train_step"].append({
                "batch_size": batch_size, "precision": precision, "seconds_per_step": seconds,
                "samples_per_second": batch_size / seconds, "gflop_per_sample": flops / batch_size / 1e9,
                "achieved_gflops": achieved, "fraction_of_matmul_peak": achieved / peaks[precision],
            })
            print(json.dumps(results["train_step"][-1]), flush=True)

        ecg = batch["ecg_values"]
        for precision in args.precisions:
            def extract():
                with torch.inference_mode(), autocast(precision):
                    model.get_ecg_features(ecg)

            seconds = time_calls(extract, args.steps)
            results["ecg_feature_extraction"].append(
                {"batch_size": batch_size, "precision": precision, "ecgs_per_second": batch_size / seconds}
            )
            print(json.dumps(results["ecg_feature_extraction"][-1]), flush=True)

    check = make_batch(4, args.text_length, config.text_config.vocab_size, generator)
    check["ecg_mask_noise"] = torch.rand(4, config.num_ecg_tokens, generator=generator)
    fp32, bf16 = losses_in(model, check, "fp32"), losses_in(model, check, "bf16")
    results["bf16_vs_fp32_losses"] = {
        name: {"fp32": fp32[name], "bf16": bf16[name], "relative_difference": abs(bf16[name] - fp32[name]) / abs(fp32[name])}
        for name in fp32
    }
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
