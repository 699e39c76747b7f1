# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Which Trainer checkpoint a pre-empted run may resume from.

`Trainer` writes `checkpoint-N/` in place, file after file (weights, optimizer, scheduler, RNG states, and
`trainer_state.json` last), so a run killed while saving leaves a half checkpoint, and transformers'
`get_last_checkpoint` returns it all the same. Resuming from it then fails with a raw error, and a checkpoint that
lacks `optimizer.pt`, `scheduler.pt` or an RNG state resumes *silently* with a fresh optimizer, schedule or random
streams: `Trainer` skips whatever file it does not find. Here a checkpoint counts only when every file a resume reads
is there and whole; `latest_resumable_checkpoint` skips the others, naming why, and `check_resumable` refuses them.
"""

import json
import re
import struct
import zipfile
from pathlib import Path

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, logging


logger = logging.get_logger(__name__)

TRAINER_STATE_NAME = "trainer_state.json"
OPTIMIZER_NAME = "optimizer.pt"
SCHEDULER_NAME = "scheduler.pt"
CHECKPOINT_FOLDER = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
# Values a request for "the newest complete checkpoint in output_dir" may take on the command line.
LATEST = ("latest", "true", "True")


def rng_state_names(world_size: int) -> list[str]:
    """The RNG files `Trainer` writes: `rng_state.pth` for one process, `rng_state_<rank>.pth` for each of several."""
    return ["rng_state.pth"] if world_size <= 1 else [f"rng_state_{rank}.pth" for rank in range(world_size)]


def safetensors_problem(path: Path) -> str | None:
    """What makes a safetensors file unreadable (truncated, empty, a corrupt header), or `None` if it is whole."""
    size = path.stat().st_size
    if size < 8:
        return f"{path.name} is {size} bytes long"
    with path.open("rb") as file:
        (header_length,) = struct.unpack("<Q", file.read(8))
        if 8 + header_length > size:
            return f"{path.name} is cut short (its header alone needs {8 + header_length} bytes, the file has {size})"
        try:
            header = json.loads(file.read(header_length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return f"{path.name} has a corrupt header"
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    needed = 8 + header_length + max(ends, default=0)
    if needed > size:
        return f"{path.name} is cut short ({size} of its {needed} bytes)"
    return None


def torch_file_problem(path: Path) -> str | None:
    """What makes a `torch.save` file unreadable: it is a zip archive whose directory sits at the end of the file."""
    try:
        with zipfile.ZipFile(path):
            return None
    except (zipfile.BadZipFile, OSError):
        return f"{path.name} is incomplete or corrupt"


def checkpoint_problems(checkpoint: str | Path, world_size: int = 1) -> list[str]:
    """Everything missing or broken in `checkpoint` for a resume by `world_size` processes; empty when resumable."""
    folder = Path(checkpoint)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    problems = []
    state_path = folder / TRAINER_STATE_NAME
    if not state_path.is_file():
        problems.append(f"{TRAINER_STATE_NAME} is missing (it is written last: the save was interrupted)")
    else:
        try:
            json.loads(state_path.read_text())["global_step"]
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
            problems.append(f"{TRAINER_STATE_NAME} is incomplete or corrupt")

    if (folder / SAFE_WEIGHTS_NAME).is_file():
        weight_files = [folder / SAFE_WEIGHTS_NAME]
    elif (folder / SAFE_WEIGHTS_INDEX_NAME).is_file():
        try:
            shards = sorted(set(json.loads((folder / SAFE_WEIGHTS_INDEX_NAME).read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError):
            shards = []
            problems.append(f"{SAFE_WEIGHTS_INDEX_NAME} is incomplete or corrupt")
        weight_files = [folder / shard for shard in shards]
    else:
        weight_files = []
        problems.append(f"the model weights ({SAFE_WEIGHTS_NAME}) are missing")
    for path in weight_files:
        problem = f"{path.name} is missing" if not path.is_file() else safetensors_problem(path)
        if problem:
            problems.append(problem)

    for name in [OPTIMIZER_NAME, SCHEDULER_NAME, *rng_state_names(world_size)]:
        path = folder / name
        if not path.is_file():
            hint = " (written by a run with another number of processes?)" if name.startswith("rng_state") else ""
            problems.append(f"{name} is missing{hint}")
        elif problem := torch_file_problem(path):
            problems.append(problem)
    return problems


def check_resumable(checkpoint: str | Path, world_size: int = 1) -> Path:
    """`checkpoint` as a `Path` if a run of `world_size` processes can resume from it exactly; else a clear error."""
    problems = checkpoint_problems(checkpoint, world_size)
    if problems:
        raise ValueError(
            f"Cannot resume from {checkpoint}: {'; '.join(problems)}. Resuming would restart the missing state "
            "(optimizer, schedule or random streams) silently. Resume from an earlier complete checkpoint, or pass "
            "`--resume_from_checkpoint latest` to take the newest complete one in --output_dir."
        )
    return Path(checkpoint)


def latest_resumable_checkpoint(output_dir: str | Path, world_size: int = 1) -> Path | None:
    """The complete checkpoint with the highest step in `output_dir`, or `None`; the skipped ones are logged."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    numbered = sorted(
        (int(match.group(1)), path)
        for path in folder.iterdir()
        if path.is_dir() and (match := CHECKPOINT_FOLDER.match(path.name))
    )
    for _, path in reversed(numbered):
        problems = checkpoint_problems(path, world_size)
        if not problems:
            return path
        logger.warning(f"Not resuming from {path}: {'; '.join(problems)}.")
    return None


def resolve_resume_checkpoint(resume_from_checkpoint: str | bool | None, output_dir: str, world_size: int = 1):
    """
    What `Trainer.train(resume_from_checkpoint=...)` should get: `None` to start afresh, or a checkpoint checked by
    `check_resumable`. "latest" (or `True`) means the newest complete checkpoint in `output_dir`, and starts afresh
    with a warning when there is none yet (so one command both starts a run and resumes it after a pre-emption).
    """
    if resume_from_checkpoint in (None, False, ""):
        return None
    if resume_from_checkpoint is True or resume_from_checkpoint in LATEST:
        checkpoint = latest_resumable_checkpoint(output_dir, world_size)
        if checkpoint is None:
            logger.warning(f"No complete checkpoint in {output_dir} yet: starting from the beginning.")
            return None
        logger.warning(f"Resuming from {checkpoint}, the newest complete checkpoint in {output_dir}.")
        return str(checkpoint)
    return str(check_resumable(resume_from_checkpoint, world_size))


__all__ = ["check_resumable", "checkpoint_problems", "latest_resumable_checkpoint", "resolve_resume_checkpoint"]
