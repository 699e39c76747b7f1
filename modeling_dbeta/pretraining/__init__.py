# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The pretraining recipe that `train/pretrain.py` runs: its arguments, the model it builds, the pairs and N3S index it
reads, and the report a finished run leaves. The training machinery itself is `DataCollatorForDBetaPretraining`,
`DBetaTrainer` / `DBetaTrainingArguments` and `modeling_dbeta.checkpoints`.
"""

from .arguments import (
    PACKAGED_MINILM,
    DemoEvaluationArguments,
    ModelArguments,
    PretrainingDataArguments,
    parse_arguments_with_file,
)
from .data import evaluation_subset, load_or_build_n3s_index, pretraining_pairs
from .models import build_pretraining_model, expects_unused_parameters, load_pretraining_tokenizer, resolve_encoder
from .runtime import set_up_process


__all__ = [
    "PACKAGED_MINILM",
    "DemoEvaluationArguments",
    "ModelArguments",
    "PretrainingDataArguments",
    "build_pretraining_model",
    "evaluation_subset",
    "expects_unused_parameters",
    "load_or_build_n3s_index",
    "load_pretraining_tokenizer",
    "parse_arguments_with_file",
    "pretraining_pairs",
    "resolve_encoder",
    "set_up_process",
]
