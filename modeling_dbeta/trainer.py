# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
`Trainer` for D-BETA pretraining: the four objectives and ETM accuracy in the logs, the tri-stage schedule, an
evaluation collator of its own, and a precision measured on the machine.
"""

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.optimization import get_wsd_schedule
from transformers.trainer_callback import ExportableState
from transformers.utils import logging

from .precision import PRECISIONS, resolve_precision


logger = logging.get_logger(__name__)

OBJECTIVES = ("mlm_loss", "mem_loss", "etm_loss", "ets_loss")


class RunPrecision(TrainerCallback, ExportableState):
    """
    Keeps the precision a run trains in inside its checkpoints (`trainer_state.json`), so that a resumed run with
    `precision="auto"` trains in the same one instead of measuring again: a second measurement on a busy machine may
    choose otherwise, and the losses after the resume would then no longer be the uninterrupted run's.
    """

    def __init__(self, precision: str):
        self.precision = precision

    def state(self) -> dict:
        return {"args": {"precision": self.precision}, "attributes": {}}


def recorded_precision(checkpoint: str | None) -> str | None:
    """The precision a checkpoint's run trained in, if it recorded one."""
    state_path = Path(checkpoint) / "trainer_state.json" if checkpoint else None
    if state_path is None or not state_path.is_file():
        return None
    record = json.loads(state_path.read_text()).get("stateful_callbacks", {}).get(RunPrecision.__name__)
    return record["args"]["precision"] if record else None
# At most this many examples of the training batch are timed by `precision="auto"` on a CPU: the batch itself where
# it is small (the matmuls keep their real shapes), a bounded cost where it is large (the paper's 128).
PRECISION_PROBE_BATCH_SIZE = 32


@dataclass
class DBetaTrainingArguments(TrainingArguments):
    """
    `TrainingArguments` plus:

    precision (`str`, defaults to `"auto"`): `"auto"` trains in bf16 autocast on a GPU that supports it, and on a CPU
        in whichever of fp32 and bf16 autocast runs this model's training step faster, timed at start-up (see
        `modeling_dbeta.precision`); `"fp32"` or `"bf16"` force one. `--bf16` / `--fp16` given explicitly win over
        `"auto"`.
    resume_from_checkpoint (`str`, *optional*): a checkpoint folder, or `"latest"` for the newest *complete*
        checkpoint in `output_dir` (see `modeling_dbeta.checkpoints`); a checkpoint that lacks a file a resume reads
        is refused rather than resumed with fresh state. Resolve "latest" before building the `DBetaTrainer`
        (`resolve_resume_checkpoint`): a resumed run then keeps the precision its checkpoint recorded.
    """

    precision: str = field(
        default="auto",
        metadata={
            "help": "auto (measured on a CPU; bf16 on GPUs that support it), fp32 or bf16.", "choices": PRECISIONS
        },
    )


class DBetaTrainer(Trainer):
    r"""
    A `Trainer` for [`DBetaForPreTraining`]. Besides `loss` it logs each objective and the ETM accuracy, averaged
    over the steps since the last log and over all processes (so TensorBoard / W&B through `report_to` show them).
    The learning rate follows the paper's tri-stage schedule: linear warm-up, hold, then linear decay, over
    `schedule_phases` fractions of training (transformers' warmup-stable-decay schedule); `schedule_phases=None`
    leaves the schedule to `TrainingArguments` (`lr_scheduler_type`, `warmup_steps`).

    Use the paper's Adam settings through `TrainingArguments`: `learning_rate=5e-5, adam_beta1=0.9,
    adam_beta2=0.98, adam_epsilon=1e-6, weight_decay=0.01`.
    """

    def __init__(
        self,
        model=None,
        args: TrainingArguments | None = None,
        data_collator=None,
        train_dataset=None,
        eval_dataset=None,
        *,
        eval_data_collator=None,
        schedule_phases: tuple[float, float, float] | None = (0.1, 0.4, 0.5),
        **kwargs,
    ):
        if schedule_phases is not None and (len(schedule_phases) != 3 or abs(sum(schedule_phases) - 1.0) > 1e-6):
            raise ValueError(f"`schedule_phases` must be three fractions summing to 1, got {schedule_phases}.")
        if isinstance(args, DBetaTrainingArguments):
            # Before `Trainer.__init__`, which builds the accelerator (and its autocast) from `args`.
            choose_precision(args, model, data_collator, train_dataset)
        super().__init__(model, args, data_collator, train_dataset, eval_dataset, **kwargs)
        self.add_callback(RunPrecision("bf16" if self.args.bf16 else "fp16" if self.args.fp16 else "fp32"))
        self.schedule_phases = schedule_phases
        # Evaluation batches are built by a collator of their own (no lead masking, negatives seeded by the batch),
        # so evaluating neither perturbs nor renumbers the training batches.
        self.eval_data_collator = eval_data_collator
        self._running = {}

    def evaluate(self, *args, **kwargs):
        """
        As `Trainer.evaluate`, under a forked RNG: whatever evaluation draws (the DataLoader's worker seeds, the ECG
        tokens MEM removes) is taken from a copy, so the training steps after it draw what they would have drawn
        without it.
        """
        with torch.random.fork_rng(devices=self._rng_devices()):
            return super().evaluate(*args, **kwargs)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Each evaluation batch removes the same ECG tokens at every evaluation: its RNG is seeded by its texts."""
        with torch.random.fork_rng(devices=self._rng_devices()):
            texts = inputs["input_ids"].detach().cpu().numpy().tobytes() if "input_ids" in inputs else b""
            torch.manual_seed(zlib.crc32(texts, self.args.seed))
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    @staticmethod
    def _rng_devices() -> list[int]:
        return [torch.cuda.current_device()] if torch.cuda.is_available() else []

    def get_eval_dataloader(self, eval_dataset=None):
        if self.eval_data_collator is None:
            return super().get_eval_dataloader(eval_dataset)
        training_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = training_collator

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        if model.training:
            self._accumulate(outputs, inputs)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _accumulate(self, outputs, inputs):
        values = {name: getattr(outputs, name) for name in OBJECTIVES if getattr(outputs, name) is not None}
        if outputs.etm_logits is not None and inputs.get("is_aligned") is not None:
            values["etm_accuracy"] = (outputs.etm_logits.argmax(-1) == inputs["is_aligned"].long()).float().mean()
        for name, value in values.items():
            total, count = self._running.get(name, (0.0, 0))
            self._running[name] = (total + value.detach().float(), count + 1)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self._running and "loss" in logs:  # a training log: add the objectives since the previous one
            for name, (total, count) in sorted(self._running.items()):
                local_mean = torch.as_tensor(total / count, device=self.args.device)
                mean = self.accelerator.reduce(local_mean, reduction="mean")
                logs[name] = round(mean.item(), 4)
            self._running = {}
        super().log(logs, start_time)

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.schedule_phases is None:
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            warmup, _, decay = self.schedule_phases
            self.lr_scheduler = get_wsd_schedule(
                self.optimizer if optimizer is None else optimizer,
                num_warmup_steps=round(warmup * num_training_steps),
                num_decay_steps=round(decay * num_training_steps),
                num_training_steps=num_training_steps,
                decay_type="linear",
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler


def choose_precision(args: "DBetaTrainingArguments", model, data_collator, train_dataset) -> None:
    """Set `args.bf16` from `args.precision`; "auto" on a CPU times this model's own training step in both."""
    explicit = args.bf16 or args.fp16
    if args.precision != "auto" and explicit and (args.precision == "fp32" or args.fp16):
        raise ValueError(
            f"--precision {args.precision} contradicts --{'bf16' if args.bf16 else 'fp16'}; give one of them."
        )
    if explicit:
        return
    if args.precision == "auto" and (resumed := recorded_precision(args.resume_from_checkpoint)) is not None:
        logger.warning(f"Precision for training: {resumed}, as the run resumed from {args.resume_from_checkpoint}.")
        args.bf16, args.mixed_precision = resumed == "bf16", "bf16" if resumed == "bf16" else "no"
        return
    work = None
    if args.precision == "auto" and args.device.type == "cpu" and model is not None and train_dataset is not None:
        work = training_step_probe(model, data_collator, train_dataset, args.per_device_train_batch_size)
    if resolve_precision(args.precision, args.device, work, what="training") is not None:
        # What `TrainingArguments.__post_init__` derives from `bf16`; the accelerator reads `mixed_precision`.
        args.bf16, args.mixed_precision = True, "bf16"


def training_step_probe(model, data_collator, train_dataset, batch_size: int = PRECISION_PROBE_BATCH_SIZE):
    """One forward and backward pass of `model` on the first training examples, leaving no trace behind."""
    examples = []
    for index in range(min(batch_size, PRECISION_PROBE_BATCH_SIZE, len(train_dataset))):
        if (example := train_dataset[index]) is not None:
            examples.append(example)
    with torch.random.fork_rng(devices=[]):
        batch = data_collator.collate(examples) if hasattr(data_collator, "collate") else data_collator(examples)

    def step():
        with torch.random.fork_rng(devices=[]):
            model.train()
            model(**batch).loss.backward()
        model.zero_grad(set_to_none=True)

    return step


__all__ = ["OBJECTIVES", "DBetaTrainer", "DBetaTrainingArguments"]
