"""
Time D-BETA's pretraining step (forward + backward + AdamW) and ECG feature extraction at the paper configuration,
with random weights, on a CPU or a CUDA GPU, in fp32 and under bf16 autocast, with SDPA attention. Counts the step's
FLOPs with `torch.utils.flop_counter`, measures the device's matmul peak, and prints samples/s, the fraction of that
peak and, on a GPU whose datasheet peak is known, the model FLOP utilisation (MFU) as JSON.

    python -m bench.train_step [--batch_sizes 4 16] [--text_length 64] [--steps 3]           # CPU: fp32 and bf16
    python -m bench.train_step --device cuda --batch_sizes 32 128 --precisions bf16 [--compile] \
        --output bench/results/train_step_cuda.json                                         # a GPU, as the paper ran

On CUDA, AdamW is the fused kernel and the step is timed between `torch.cuda.synchronize()` calls. Compare the
samples/s with `python -m bench.feed_rate`'s samples/s per DataLoader worker to see how many cores keep it fed.
"""

import argparse
import json
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.reporting import machine, print_and_save
from modeling_dbeta import DBetaConfig, DBetaForPreTraining
from modeling_dbeta.overrides import config_field_overrides


# Dense bf16 tensor-core peaks from the datasheets (TFLOP/s, without sparsity), for the MFU.
DATASHEET_BF16_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0,
                         "L40S": 362.0, "L4": 121.0, "A10G": 70.0}


def synchronize(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(dtype: torch.dtype, device: torch.device, sizes, repeats: int = 5) -> float:
    """Best GFLOP/s of a square matmul over a few sizes: the ceiling a transformer step can approach."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
        a @ b  # warm-up (kernel selection, page faults)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        synchronize(device)
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def datasheet_peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in DATASHEET_BF16_TFLOPS.items() if key in name), None)


def make_batch(batch_size: int, text_length: int, vocab_size: int, generator: torch.Generator, device) -> dict:
    """A pretraining batch as the collator builds it: half the pairs mismatched, 25 % of text tokens masked."""
    input_ids = torch.randint(5, vocab_size, (batch_size, text_length), generator=generator)
    masked = torch.rand(batch_size, text_length, generator=generator) < 0.25
    batch = {
        "ecg_values": torch.randn(batch_size, 12, 5000, generator=generator),
        "input_ids": input_ids,
        "attention_mask": torch.ones(batch_size, text_length, dtype=torch.long),
        "mlm_labels": input_ids.masked_fill(~masked, -100),
        "is_aligned": (torch.arange(batch_size) % 2 == 0).float(),
    }
    return {name: value.to(device) for name, value in batch.items()}


def autocast(precision: str, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def train_step(model, optimizer, batch, precision, device):
    with autocast(precision, device):
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def time_calls(fn, steps: int, device: torch.device, warmup: int = 1) -> float:
    for _ in range(warmup):  # kernel selection; with --compile, the compilation
        fn()
    durations = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def step_flops(model, batch) -> float:
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def losses_in(model, batch, precision, device) -> dict:
    """The four losses in eval mode (no dropout) with fixed masking noise, to compare precisions."""
    model.eval()
    with torch.no_grad(), autocast(precision, device):
        out = model(**batch)
    model.train()
    return {name: getattr(out, f"{name}_loss").float().item() for name in ("mlm", "mem", "etm", "ets")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--text_length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=None, choices=["fp32", "bf16"],
                        help="default: fp32 and bf16 on a CPU, bf16 on a GPU")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model first")
    parser.add_argument("--matmul_sizes", type=int, nargs="+", default=None,
                        help="square matmuls timed for the peak; default 1024-3072 on a CPU, 2048-8192 on a GPU")
    parser.add_argument("--config_overrides", default=None,
                        help="DBetaConfig fields (field=value or JSON); paper if none")
    parser.add_argument("--output", type=Path, default=Path("bench/results/train_step.json"))
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    precisions = args.precisions or (["bf16"] if device.type == "cuda" else ["fp32", "bf16"])

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    config = DBetaConfig(**config_field_overrides(DBetaConfig, args.config_overrides))
    model = DBetaForPreTraining._from_config(config, attn_implementation="sdpa").to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01,
                                  fused=device.type == "cuda")
    step_model = torch.compile(model) if args.compile else model
    sizes = args.matmul_sizes or ((2048, 4096, 8192) if device.type == "cuda" else (1024, 2048, 3072))
    peaks = {precision: matmul_peak(torch.bfloat16 if precision == "bf16" else torch.float32, device, sizes)
             for precision in ("fp32", "bf16")}
    datasheet = datasheet_peak_tflops(device)
    results = {
        "machine": machine(device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                           matmul_peak_gflops=peaks, datasheet_bf16_tflops=datasheet),
        "config": {"parameters": sum(p.numel() for p in model.parameters()), "text_length": args.text_length,
                   "attention": model.config._attn_implementation, "compiled": args.compile,
                   "fused_adamw": device.type == "cuda"},
        "train_step": [],
        "ecg_feature_extraction": [],
    }

    for batch_size in args.batch_sizes:
        batch = make_batch(batch_size, args.text_length, config.text_config.vocab_size, generator, device)
        flops = step_flops(model, batch)
        for precision in precisions:
            seconds = time_calls(
                lambda batch=batch, precision=precision: train_step(step_model, optimizer, batch, precision, device),
                args.steps, device,
                warmup=2 if args.compile else 1,
            )
            achieved = flops / seconds / 1e9
            entry = {
                "batch_size": batch_size, "precision": precision, "seconds_per_step": seconds,
                "samples_per_second": batch_size / seconds, "gflop_per_sample": flops / batch_size / 1e9,
                "achieved_gflops": achieved, "fraction_of_matmul_peak": achieved / peaks[precision],
            }
            if datasheet is not None and precision == "bf16":
                entry["mfu"] = achieved / (datasheet * 1e3)
            results["train_step"].append(entry)
            print(json.dumps(entry), flush=True)

        ecg = batch["ecg_values"]
        for precision in precisions:
            def extract(ecg=ecg, precision=precision):
                with torch.inference_mode(), autocast(precision, device):
                    model.get_ecg_features(ecg)

            seconds = time_calls(extract, args.steps, device)
            results["ecg_feature_extraction"].append(
                {"batch_size": batch_size, "precision": precision, "ecgs_per_second": batch_size / seconds}
            )
            print(json.dumps(results["ecg_feature_extraction"][-1]), flush=True)

    check = make_batch(4, args.text_length, config.text_config.vocab_size, generator, device)
    check["ecg_mask_noise"] = torch.rand(4, config.num_ecg_tokens, generator=generator).to(device)
    fp32, bf16 = losses_in(model, check, "fp32", device), losses_in(model, check, "bf16", device)
    results["bf16_vs_fp32_losses"] = {
        name: {"fp32": fp32[name], "bf16": bf16[name],
               "relative_difference": abs(bf16[name] - fp32[name]) / abs(fp32[name])}
        for name in fp32
    }
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
