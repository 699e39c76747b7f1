"""
Which checkpoint a pre-empted run resumes from (`modeling_dbeta.checkpoints`): only a complete one, never silently
with fresh optimizer, schedule or random streams. The kill during a checkpoint write, and the exact losses after the
resume, are rehearsed end to end in `tests/test_paper_recipe.py`.
"""

import shutil

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import TrainingArguments

from modeling_dbeta import DBetaForPreTraining
from modeling_dbeta.checkpoints import (
    check_resumable,
    checkpoint_problems,
    latest_resumable_checkpoint,
    resolve_resume_checkpoint,
)
from modeling_dbeta.data_collator import DataCollatorForDBetaPretraining
from modeling_dbeta.trainer import DBetaTrainer, recorded_precision
from tests.tiny_models import tiny_config, tiny_t5_tokenizer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run that saved checkpoint-2 and checkpoint-4, as `Trainer` writes them."""
    folder = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    rows = [{"ecg": np.random.default_rng(i).standard_normal((12, 5000)).tolist(), "report": f"sinus rhythm {i}"}
            for i in range(4)]
    args = TrainingArguments(
        output_dir=str(folder), per_device_train_batch_size=2, max_steps=4, save_strategy="steps", save_steps=2,
        report_to="none", use_cpu=True, remove_unused_columns=False, disable_tqdm=True, logging_steps=1,
    )
    DBetaTrainer(
        model=DBetaForPreTraining(tiny_config()),
        args=args,
        train_dataset=Dataset.from_list(rows).with_format("numpy"),
        data_collator=DataCollatorForDBetaPretraining(tiny_t5_tokenizer()),
    ).train()
    return folder


@pytest.fixture
def checkpoint(run_dir, tmp_path):
    """A fresh copy of checkpoint-4 to damage."""
    return shutil.copytree(run_dir / "checkpoint-4", tmp_path / "checkpoint-4")


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


DAMAGES = {
    "trainer_state.json missing": (lambda c: (c / "trainer_state.json").unlink(), "trainer_state.json is missing"),
    "trainer_state.json cut short": (lambda c: truncate(c / "trainer_state.json"), "trainer_state.json is incomplete"),
    "weights missing": (lambda c: (c / "model.safetensors").unlink(), "model weights"),
    "weights zero bytes": (lambda c: (c / "model.safetensors").write_bytes(b""), "model.safetensors is 0 bytes"),
    "weights cut short": (lambda c: truncate(c / "model.safetensors", 0.9), "model.safetensors is cut short"),
    "weights header garbled": (
        lambda c: (c / "model.safetensors").write_bytes(
            b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" + bytes(64)
        ),
        "corrupt header",
    ),
    "optimizer missing": (lambda c: (c / "optimizer.pt").unlink(), "optimizer.pt is missing"),
    "optimizer cut short": (lambda c: truncate(c / "optimizer.pt"), "optimizer.pt is incomplete or corrupt"),
    "scheduler missing": (lambda c: (c / "scheduler.pt").unlink(), "scheduler.pt is missing"),
    "rng state missing": (lambda c: (c / "rng_state.pth").unlink(), "rng_state.pth is missing"),
    "rng state zero bytes": (lambda c: (c / "rng_state.pth").write_bytes(b""), "rng_state.pth is incomplete"),
}


def test_a_complete_checkpoint_is_resumable_and_records_its_precision(run_dir):
    assert checkpoint_problems(run_dir / "checkpoint-4") == []
    assert recorded_precision(str(run_dir / "checkpoint-4")) == "fp32"
    assert check_resumable(run_dir / "checkpoint-4") == run_dir / "checkpoint-4"


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_checkpoint_is_refused_with_the_reason_and_the_fix(checkpoint, damage):
    apply, reason = DAMAGES[damage]
    apply(checkpoint)
    assert any(reason in problem for problem in checkpoint_problems(checkpoint)), checkpoint_problems(checkpoint)
    with pytest.raises(ValueError, match="Cannot resume from") as error:
        check_resumable(checkpoint)
    message = str(error.value)
    assert str(checkpoint) in message and reason in message and "--resume_from_checkpoint latest" in message


def test_another_number_of_processes_is_named(run_dir):
    problems = checkpoint_problems(run_dir / "checkpoint-4", world_size=2)
    assert problems == [
        "rng_state_0.pth is missing (written by a run with another number of processes?)",
        "rng_state_1.pth is missing (written by a run with another number of processes?)",
    ]


def test_latest_skips_a_half_written_checkpoint(run_dir, tmp_path, caplog):
    output_dir = shutil.copytree(run_dir, tmp_path / "run")
    assert latest_resumable_checkpoint(output_dir) == output_dir / "checkpoint-4"
    # A kill while checkpoint-4 was written: the files after the weights are not there yet.
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"):
        (output_dir / "checkpoint-4" / name).unlink()
    assert latest_resumable_checkpoint(output_dir) == output_dir / "checkpoint-2"
    assert resolve_resume_checkpoint("latest", str(output_dir)) == str(output_dir / "checkpoint-2")
    assert "Not resuming from" in caplog.text and "checkpoint-4" in caplog.text


def test_latest_without_a_checkpoint_starts_afresh_and_a_wrong_path_is_refused(tmp_path):
    assert resolve_resume_checkpoint("latest", str(tmp_path / "new-run")) is None
    assert resolve_resume_checkpoint(None, str(tmp_path)) is None
    with pytest.raises(ValueError, match="is not a folder"):
        resolve_resume_checkpoint(str(tmp_path / "checkpoint-9"), str(tmp_path))
