# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Batches for D-BETA pretraining: lead masking, N3S negatives, tokenisation, then MLM masking of what is fed."""

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerBase
from transformers.utils import logging

from .ecg_storage import dequantize_ecg, require_finite_ecg
from .n3s import N3SIndex


# T5 has no [MASK] token: its first sentinel plays that role for MLM, the one token T5 pretraining also puts where
# text was removed.
T5_MASK_TOKEN = "<extra_id_0>"

logger = logging.get_logger(__name__)


def random_lead_mask(batch_size: int, num_leads: int, probability: float) -> torch.Tensor:
    """(batch, leads) 0/1: each lead dropped with `probability`; a recording never loses all of its leads."""
    keep = (torch.rand(batch_size, num_leads) >= probability).float()
    empty = keep.sum(dim=1) == 0
    if empty.any():
        keep[empty, torch.randint(num_leads, (int(empty.sum()),))] = 1.0
    return keep


@dataclass
class DataCollatorForDBetaPretraining:
    r"""
    Builds a pretraining batch from examples with an `ecg` array (12, samples; float, or int16 with its
    `ecg_scale`) and a normalised `report`:

    1. training only: every lead is zeroed with `lead_mask_probability` (the paper's random lead masking);
    2. a random `negative_fraction` of the pairs gets a negative report (`is_aligned` = 0): one of its N3S
       candidates (a table look-up) or, without an index, another report of the batch;
    3. the texts actually fed to the model are tokenised, then masked for MLM by `DataCollatorForLanguageModeling`.

    Step 3 comes after step 2 on purpose: the authors' collator masks the original texts after swapping, which
    silently restores the matched report while the pair stays labelled mismatched.

    Each batch draws its randomness from a seed of its own, under a forked torch RNG, so the model's random stream
    (dropout, token masking) is untouched by collation. The seed is derived from the run's `seed` and the batch
    itself (its reports and a sample of its ECG values), not from a counter: a run resumed from a checkpoint collates
    exactly the batches an uninterrupted run would have, with any number of DataLoader workers (persistent or not),
    and an evaluation batch (`training=False`: no lead masking; its own seed stream) gets the same negatives and MLM
    masks at every evaluation, while evaluating leaves the training batches as they were. The Trainer's sampler
    gives every epoch another order, hence other batches and other seeds. A report that the N3S index lacks (an
    index built from the training reports only) is an error in training and gets a negative from the batch in
    evaluation; `n3s_fallbacks` counts those.

    Examples given as `None` (records that could not be read, see `datasets_scripts.raw_records`) are left out of
    the batch; an ECG holding NaN or inf is refused, naming the fix.
    """

    tokenizer: PreTrainedTokenizerBase
    n3s_index: N3SIndex | None = None
    mlm_probability: float = 0.25
    negative_fraction: float = 0.5
    lead_mask_probability: float = 0.5
    max_length: int = 256
    training: bool = True
    mlm: bool = True
    seed: int = 0
    _mlm_collator: DataCollatorForLanguageModeling = field(init=False, repr=False)
    n3s_fallbacks: int = field(init=False, default=0)

    def __post_init__(self):
        if self.mlm and self.tokenizer.mask_token is None:
            if T5_MASK_TOKEN not in self.tokenizer.get_vocab():
                raise ValueError(
                    f"The tokenizer has no mask token and no {T5_MASK_TOKEN} sentinel to use as one: set "
                    "`tokenizer.mask_token` or build the collator with mlm=False."
                )
            self.tokenizer.mask_token = T5_MASK_TOKEN
        self._mlm_collator = DataCollatorForLanguageModeling(
            self.tokenizer, mlm=self.mlm, mlm_probability=self.mlm_probability
        )

    def batch_seed(self, examples: Sequence[dict[str, Any] | None]) -> int:
        """The seed of a batch: the run's seed, training or evaluation, and a fingerprint of the examples in order."""
        fingerprint = 0
        for example in examples:
            if example is None:
                fingerprint = zlib.crc32(b"\0", fingerprint)
                continue
            fingerprint = zlib.crc32(example["report"].encode("utf-8"), fingerprint)
            # Every 997th stored value (int16 or float): cheap, and enough to tell two records with one report apart.
            sample = np.ascontiguousarray(np.asarray(example["ecg"]).reshape(-1)[::997])
            fingerprint = zlib.crc32(sample.tobytes(), fingerprint)
        entropy = [self.seed, int(self.training), len(examples), fingerprint]
        return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)

    def __call__(self, examples: Sequence[dict[str, Any] | None]) -> dict[str, torch.Tensor]:
        seed = self.batch_seed(examples)
        examples = [example for example in examples if example is not None]
        if not examples:
            raise ValueError("Every record of this batch was unreadable (see the warnings above); check the data set.")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.collate(examples)

    def collate(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ecg = torch.from_numpy(
            np.stack([dequantize_ecg(example["ecg"], example.get("ecg_scale")) for example in examples])
        )
        require_finite_ecg(ecg, f"A batch of {len(examples)} pretraining ECGs")
        if self.training and self.lead_mask_probability > 0:
            ecg = ecg * random_lead_mask(ecg.shape[0], ecg.shape[1], self.lead_mask_probability).unsqueeze(-1)

        reports, is_aligned = self.swap_in_negatives([example["report"] for example in examples])
        encoded = self.tokenizer(reports, truncation=True, max_length=self.max_length, return_special_tokens_mask=True)
        features = [dict(zip(encoded.keys(), values, strict=True)) for values in zip(*encoded.values(), strict=True)]
        text = self._mlm_collator(features)
        batch = {
            "ecg_values": ecg,
            "input_ids": text["input_ids"],
            "attention_mask": text["attention_mask"],
            "is_aligned": is_aligned,
        }
        if self.mlm:
            batch["mlm_labels"] = text["labels"]
        return batch

    def swap_in_negatives(self, reports: list[str]) -> tuple[list[str], torch.Tensor]:
        """Replace a random `negative_fraction` of the reports by negatives; return the texts and `is_aligned`."""
        batch_size = len(reports)
        is_aligned = torch.ones(batch_size)
        num_negatives = int(batch_size * self.negative_fraction + torch.rand(()).item())
        chosen = torch.randperm(batch_size)[:num_negatives].tolist()
        if not chosen:
            return reports, is_aligned
        reports = list(reports)
        if self.n3s_index is not None:
            rng = np.random.default_rng(int(torch.randint(2**62, ())))
            # Training reports must all be indexed (a mismatch means the index is another corpus's: an error);
            # evaluation reports may be absent from an index built on the training split.
            negatives = self.n3s_index.sample_negatives(
                [reports[i] for i in chosen], rng, missing_ok=not self.training
            )
            for position, (index, negative) in enumerate(zip(chosen, negatives, strict=True)):
                if negative is None:
                    negatives[position] = self.other_report_in_batch(reports, index)
                    self.n3s_fallbacks += 1
                    if self.n3s_fallbacks == 1:
                        logger.warning(
                            "An evaluation report is not in the N3S index (built from other reports?): its negative "
                            "comes from the batch. Build the index from every split's reports to avoid this."
                        )
        else:
            negatives = [self.other_report_in_batch(reports, i) for i in chosen]
        for position, negative in zip(chosen, negatives, strict=True):
            if negative is not None:
                reports[position] = negative
                is_aligned[position] = 0.0
        return reports, is_aligned

    @staticmethod
    def other_report_in_batch(reports: list[str], position: int) -> str | None:
        """A random report of the batch whose text differs (the "without N3S" ablation); `None` if all are equal."""
        different = [i for i, report in enumerate(reports) if report != reports[position]]
        return reports[different[int(torch.randint(len(different), ()))]] if different else None


__all__ = ["T5_MASK_TOKEN", "DataCollatorForDBetaPretraining", "random_lead_mask"]
