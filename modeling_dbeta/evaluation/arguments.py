# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The model-side command-line arguments of the evaluation scripts (`evaluation/*.py`, `HfArgumentParser` dataclasses):
the checkpoint and its lead subset, the untrained baseline, feature extraction. The data set is named by
`datasets_scripts.arguments.ECGDatasetArguments`, which this package does not import: `load_splits` takes any object
with its `load_split(split)` and `dataset_name`.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets

from .features import PRECISIONS, SIMILARITIES
from .lead_subsets import parse_leads
from .models import BASELINES, DEFAULT_BASELINE_SEED, models_to_evaluate


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
class ModelArguments:
    model_name_or_path: str = field(metadata={"help": "A D-BETA checkpoint: a folder written by `save_pretrained`."})
    leads: str | None = field(
        default=None,
        metadata={"help": "Leads the model sees, e.g. `I,II,V2` or `II`; the others are zeroed. All 12 by default."},
    )

    @property
    def lead_subset(self) -> list[str] | None:
        return parse_leads(self.leads)


@dataclass
class BaselineArguments:
    baseline: str | None = field(
        default=None,
        metadata={
            "help": "`untrained`: also score the checkpoint's architecture at its seeded random initialisation, in "
            "the same run, and report it beside the checkpoint's numbers.",
            "choices": BASELINES,
        },
    )
    baseline_seed: int = field(
        default=DEFAULT_BASELINE_SEED, metadata={"help": "Seed of the untrained baseline's weights."}
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

    def extraction_kwargs(self) -> dict:
        """The keyword arguments of `extract_ecg_features` these arguments set, as the protocol functions take them."""
        return {"batch_size": self.batch_size, "precision": self.precision, "cache_dir": self.feature_cache_dir}


@dataclass
class ProtocolSplitArguments:
    """The three splits of the protocols that train something (linear probe, fine-tuning)."""

    train_split: str = field(default="train", metadata={"help": "The split the classifier is trained on."})
    validation_split: str = field(
        default="validation", metadata={"help": "The split the classifier (its C, its checkpoint) is chosen on."}
    )
    test_split: str = field(default="test", metadata={"help": "The split the chosen classifier is scored on."})

    def load(self, data_args) -> list[datasets.Dataset]:
        """The training, validation and test splits, in that order (see [`load_splits`])."""
        return load_splits(
            data_args, train_split=self.train_split, validation_split=self.validation_split, test_split=self.test_split
        )


def run_protocol(protocol, model_class, model_args: ModelArguments, baseline_args: BaselineArguments, **kwargs):
    """
    `{weights: protocol(model, leads=..., **kwargs)}` for the checkpoint and, when asked, its untrained baseline
    (see [`models_to_evaluate`]), loaded one at a time: what `write_evaluation` takes.
    """
    models = models_to_evaluate(
        model_class, model_args.model_name_or_path, baseline_args.baseline, baseline_args.baseline_seed
    )
    return {weights: protocol(model, leads=model_args.lead_subset, **kwargs) for weights, model in models}


def load_splits(data_args, **splits: str) -> list[datasets.Dataset]:
    """
    `data_args.load_split` of each split, named by the argument that chose it (`test_split="test"`), so that a split
    the data set lacks is reported with the flag to change.
    """
    loaded = []
    for argument, split in splits.items():
        try:
            loaded.append(data_args.load_split(split))
        except ValueError as error:
            if not str(error).startswith("Unknown split"):
                raise
            raise ValueError(
                f"{data_args.dataset_name} has no {split!r} split (--{argument} {split}): {error} Pass one of those "
                f"with --{argument}, or a data set that has the splits this protocol needs."
            ) from error
    return loaded


def arguments_record(*arguments) -> dict:
    """The run's arguments as a JSON-safe dict, stored beside the results so that a number says how it was made."""
    record = {}
    for argument in arguments:
        record.update(json.loads(json.dumps(asdict(argument), default=str)))
    return record


__all__ = [
    "DEFAULT_FEATURE_CACHE_DIR",
    "BaselineArguments",
    "FeatureArguments",
    "ModelArguments",
    "ProtocolSplitArguments",
    "arguments_record",
    "load_splits",
    "run_protocol",
    "similarity_field",
]
