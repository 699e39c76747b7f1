# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""What every process of a pretraining run sets up before anything else: logging, seeds, threads."""

import logging
import os

import datasets
import torch
import transformers
from transformers import TrainingArguments, set_seed


def set_up_process(training_args: TrainingArguments) -> None:
    """Logging at the Trainer's per-process level, the run's seed, and on CPU this process's share of the cores."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    datasets.utils.logging.set_verbosity(training_args.get_process_log_level())
    set_seed(training_args.seed)
    if training_args.device.type == "cpu":
        # `accelerate launch` sets OMP_NUM_THREADS=1; give each local process its share of the cores instead.
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // local_processes))


__all__ = ["set_up_process"]
