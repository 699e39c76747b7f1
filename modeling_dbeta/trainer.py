# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""`Trainer` for D-BETA pretraining: the four objectives and ETM accuracy in the logs, and the tri-stage schedule."""

import torch
from transformers import Trainer, TrainerCallback
from transformers.optimization import get_wsd_schedule


OBJECTIVES = ("mlm_loss", "mem_loss", "etm_loss", "ets_loss")


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

    def __init__(self, *args, schedule_phases: tuple[float, float, float] | None = (0.1, 0.4, 0.5), **kwargs):
        super().__init__(*args, **kwargs)
        if schedule_phases is not None and (len(schedule_phases) != 3 or abs(sum(schedule_phases) - 1.0) > 1e-6):
            raise ValueError(f"`schedule_phases` must be three fractions summing to 1, got {schedule_phases}.")
        self.schedule_phases = schedule_phases
        self._running = {}
        if hasattr(self.data_collator, "start_epoch"):
            self.add_callback(CollatorEpochCallback(self.data_collator))

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


__all__ = ["DBetaTrainer", "OBJECTIVES"]
