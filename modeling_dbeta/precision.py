# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Which precision a run uses: measured on the machine, never assumed.

On a GPU with bf16 units, bf16 autocast is always the faster choice. On a CPU it depends on the chip and on the
model: machines of the same kind here ran a 2048^2 bf16 matmul at half the fp32 speed on one day (no bf16 units) and
at two to four times it on another (avx512_bf16), and a small model can still lose in bf16 to the casts autocast adds
around every layer. So `precision="auto"` on a CPU times the work itself, a few repetitions of the caller's own
training step or forward pass in fp32 and under bf16 autocast, and keeps bf16 only when it is clearly faster.
"""

import time
from collections.abc import Callable
from contextlib import nullcontext

import torch
from transformers.utils import logging


logger = logging.get_logger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")
# bf16 must beat fp32 by this factor to be chosen: its rounding is a cost, paid only for a clear gain.
REQUIRED_SPEEDUP = 1.1


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """`torch.autocast` to `dtype` on `device`, or nothing for fp32 (`dtype=None`)."""
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def seconds_per_call(work: Callable[[], None], repeats: int) -> float:
    """The fastest of `repeats` timed calls after one untimed warm-up call (the least disturbed measurement)."""
    work()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return min(timings)


def measure_cpu_precision(work: Callable[[], None], repeats: int = 2) -> tuple[torch.dtype | None, dict]:
    """
    Time `work` (a step of the caller's own workload; it must leave no trace, e.g. run under
    `torch.random.fork_rng`) in fp32 and under CPU bf16 autocast. Returns the chosen autocast dtype (`None` = fp32)
    and the timings.
    """
    device = torch.device("cpu")
    timings = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        def timed():
            with autocast_context(device, dtype):
                work()

        timings[name] = seconds_per_call(timed, repeats)
    choice = torch.bfloat16 if timings["fp32"] > REQUIRED_SPEEDUP * timings["bf16"] else None
    return choice, timings


def resolve_precision(
    precision: str, device: torch.device, work: Callable[[], None] | None = None, what: str = "this run"
) -> torch.dtype | None:
    """
    The autocast dtype for `precision` on `device` (`None` = fp32): "fp32" and "bf16" as asked; "auto" is bf16 on a
    GPU that supports it, fp32 on other GPUs, and on a CPU the faster of the two for `work` (fp32 when no `work` is
    given). The choice and the figures behind it are logged.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of {PRECISIONS}.")
    if precision != "auto":
        return torch.bfloat16 if precision == "bf16" else None
    if device.type == "cuda":
        choice = torch.bfloat16 if torch.cuda.is_bf16_supported() else None
        logger.info(f"Precision for {what}: {'bf16' if choice else 'fp32'} ({torch.cuda.get_device_name(device)}).")
        return choice
    if device.type != "cpu" or work is None:
        logger.info(f"Precision for {what}: fp32 (nothing to measure on {device.type}).")
        return None
    choice, timings = measure_cpu_precision(work)
    logger.warning(
        f"Precision for {what}: {'bf16' if choice is not None else 'fp32'}, measured on this CPU: "
        f"{timings['fp32'] * 1e3:.0f} ms in fp32, {timings['bf16'] * 1e3:.0f} ms in bf16 autocast per call "
        f"(bf16 needs a {REQUIRED_SPEEDUP:g}x gain). Pass --precision fp32 or bf16 to choose yourself."
    )
    return choice


__all__ = ["PRECISIONS", "autocast_context", "measure_cpu_precision", "resolve_precision", "seconds_per_call"]
