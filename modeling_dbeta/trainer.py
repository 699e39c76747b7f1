# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
`Trainer` for D-BETA pretraining: the four objectives and ETM accuracy in the logs, the tri-stage schedule, an
evaluation collator of its own, and a precision measured on the machine.
"""

from dataclasses import dataclass, field

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.optimization import get_wsd_schedule
from transformers.utils import logging

from .precision import PRECISIONS, resolve_precision


logger = logging.get_logger(__name__)

OBJECTIVES = ("mlm_loss", "mem_loss", "etm_loss", "ets_loss")
# Examples in the batch that `precision="auto"` times on a CPU: enough for the matmuls to take their real shapes.
PRECISION_PROBE_BATCH_SIZE = 16


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
        is refused rather than resumed with fresh state.
    """

    precision: str = field(
        default="auto",
        metadata={"help": "auto (measured on a CPU; bf16 on GPUs that support it), fp32 or bf16.", "choices": PRECISIONS},
    )


class CollatorEpochCallback(TrainerCallback):
    """Tells a collator with per-batch seeds how many batches came before each epoch (see the collator)."""

    def __init__(self, collator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.start_epoch(state.global_step * args.gradient_accumulation_steps)


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
        self.schedule_phases = schedule_phases
        # Evaluation batches are built by a collator of their own (no lead masking, negatives seeded by the batch),
        # so evaluating neither perturbs nor renumbers the training batches.
        self.eval_data_collator = eval_data_collator
        self._running = {}
        if hasattr(self.data_collator, "start_epoch"):
            self.add_callback(CollatorEpochCallback(self.data_collator))

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
                mean = self.accelerator.reduce(torch.as_tensor(total / count, device=self.args.device), reduction="mean")
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
        raise ValueError(f"--precision {args.precision} contradicts --{'bf16' if args.bf16 else 'fp16'}; give one of them.")
    if explicit:
        return
    work = None
    if args.precision == "auto" and args.device.type == "cpu" and model is not None and train_dataset is not None:
        work = training_step_probe(model, data_collator, train_dataset)
    if resolve_precision(args.precision, args.device, work, what="training") is not None:
        # What `TrainingArguments.__post_init__` derives from `bf16`; the accelerator reads `mixed_precision`.
        args.bf16, args.mixed_precision = True, "bf16"


def training_step_probe(model, data_collator, train_dataset):
    """One forward and backward pass of `model` on the first training examples, leaving no trace behind."""
    examples = []
    for index in range(min(PRECISION_PROBE_BATCH_SIZE, len(train_dataset))):
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


__all__ = ["DBetaTrainer", "DBetaTrainingArguments", "OBJECTIVES"]
