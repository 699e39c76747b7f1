"""What every bench script does with its figures: print them as JSON, and keep them (e.g. in `bench/results/`)."""

import json
import os
import platform
from pathlib import Path

import torch


# CPU features that decide whether bf16 can beat fp32 here (they differ between machines of the same kind).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


def _cpu_info() -> tuple[str, list[str]]:
    """The CPU's model name and its bf16-relevant flags, from /proc/cpuinfo (Linux; the platform string elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), []
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = fields.get("flags", "").split()
    return fields.get("model name", platform.machine()), [flag for flag in BF16_CPU_FLAGS if flag in flags]


def machine(**extra) -> dict:
    """The machine a figure was measured on: CPU model, cores, bf16 features, torch and its threads, and `extra`."""
    cpu, bf16_flags = _cpu_info()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "bf16_cpu_flags": bf16_flags,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        **extra,
    }


def print_and_save(results: dict, output: Path | None) -> None:
    text = json.dumps(results, indent=2)
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
