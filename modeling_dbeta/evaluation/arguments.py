# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
What the evaluation scripts (`evaluation/*.py`) share: their common `HfArgumentParser` arguments, loading a split and
a model, and writing the results (a JSON of `EvaluationResult` records and the same as a Markdown table).
"""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets
import torch
from transformers.utils import logging

from datasets_scripts import ECG_BUILDERS, load_ecg_dataset

from .features import PRECISIONS, SIMILARITIES
from .lead_subsets import parse_leads
from .results import EvaluationResult, results_table, save_results


logger = logging.get_logger(__name__)

DEFAULT_FEATURE_CACHE_DIR = Path(datasets.config.HF_CACHE_HOME) / "dbeta" / "ecg_features"


def similarity_field():
    """The `--similarity` argument of the scripts that score ECGs against texts (zero-shot, retrieval)."""
    return field(
        default="auto",
        metadata={
            "help": "`auto` (the score the model's ETS loss trained), `dot` (the paper) or `cosine`.",
            "choices": SIMILARITIES,
        },
    )


@dataclass
class ModelDataArguments:
    model_name_or_path: str = field(metadata={"help": "A D-BETA checkpoint: a folder written by `save_pretrained`."})
    dataset: str = field(metadata={"help": "The ECG data set.", "choices": sorted(ECG_BUILDERS)})
    dataset_config: str | None = field(
        default=None, metadata={"help": "The data set's config, e.g. the PTB-XL task `super_class`."}
    )
    data_dir: str | None = field(default=None, metadata={"help": "The folder holding the raw data set."})
    leads: str | None = field(
        default=None,
        metadata={"help": "Leads the model sees, e.g. `I,II,V2` or `II`; the others are zeroed. All 12 by default."},
    )
    dataset_cache_dir: str | None = field(
        default=None, metadata={"help": "Where the prepared (Arrow) data set is cached; the `datasets` default."}
    )

    @property
    def dataset_name(self) -> str:
        """How results name the data set: "ptb-xl/super_class", "cpsc2018", ..."""
        return self.dataset if self.dataset_config is None else f"{self.dataset}/{self.dataset_config}"

    @property
    def lead_subset(self) -> list[str] | None:
        return parse_leads(self.leads)

    def load_split(self, split: str) -> datasets.Dataset:
        return load_ecg_dataset(
            self.dataset,
            name=self.dataset_config,
            data_dir=self.data_dir,
            split=split,
            cache_dir=self.dataset_cache_dir,
        )


@dataclass
class FeatureArguments:
    output_dir: str = field(metadata={"help": "Where the results JSON and Markdown table are written."})
    batch_size: int = field(default=32, metadata={"help": "ECGs (or texts) per forward pass."})
    precision: str = field(
        default="auto",
        metadata={
            "help": "`auto` (bf16 autocast on a GPU that supports it, else fp32), `fp32` or `bf16`.",
            "choices": PRECISIONS,
        },
    )
    feature_cache_dir: str = field(
        default=str(DEFAULT_FEATURE_CACHE_DIR),
        metadata={"help": "Cache of ECG features, reused by later runs on the same model, data and leads."},
    )


def evaluation_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_model(model_class, model_name_or_path: str):
    """`model_class.from_pretrained` on the evaluation device, in eval mode."""
    return model_class.from_pretrained(model_name_or_path).to(evaluation_device()).eval()


def write_results(output_dir: str | Path, name: str, results: Iterable[EvaluationResult], **extra) -> Path:
    """`<output_dir>/<name>.json` (`save_results`, with `extra` as free keys) and `<name>.md` (the results table)."""
    results = list(results)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path = output_dir / f"{name}.json"
    save_results(results, json_path, **extra)
    (output_dir / f"{name}.md").write_text(results_table(results) + "\n", encoding="utf-8")
    logger.info(f"Results written to {json_path}:\n{results_table(results)}")
    return json_path


def arguments_record(*arguments) -> dict:
    """The run's arguments as a JSON-safe dict, stored beside the results so that a number says how it was made."""
    record = {}
    for argument in arguments:
        record.update(json.loads(json.dumps(asdict(argument), default=str)))
    return record


__all__ = [
    "DEFAULT_FEATURE_CACHE_DIR",
    "FeatureArguments",
    "ModelDataArguments",
    "arguments_record",
    "evaluation_device",
    "load_model",
    "similarity_field",
    "write_results",
]
