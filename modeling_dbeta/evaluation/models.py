# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The models an evaluation scores: a D-BETA checkpoint, checked before it is loaded, and its untrained baseline.

The baseline is the checkpoint's architecture (its config) with every weight at the model's own random
initialisation (`_init_weights`), drawn under a seed: the same seed gives the same weights, and the results name it
("untrained (seed 42)"). Randomly initialised ECG encoders score close to pretrained ones on many tasks (an
independent 2026 re-evaluation of ECG foundation models found so), so a number means little without it. It is always
built as a `DBetaModel` (both towers), so the zero-shot, linear-probe and retrieval baselines of one seed are the same
weights and share their cached ECG features.
"""

from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import PretrainedConfig

from ..configuration_dbeta import DBetaConfig
from ..modeling_dbeta import DBetaModel
from ..processing_dbeta import DBetaProcessor
from .results import PRETRAINED


UNTRAINED = "untrained"
BASELINES = (UNTRAINED,)
DEFAULT_BASELINE_SEED = 42

# Which D-BETA classes hold the text tower as well as the ECG tower.
BOTH_TOWERS = ("DBetaModel", "DBetaForPreTraining")
WHAT_IS_A_CHECKPOINT = (
    "pass a folder written by `save_pretrained` of a D-BETA model (pretraining saves one in its --output_dir; "
    "`python -m modeling_dbeta.convert_original_checkpoint` converts the authors' checkpoint)"
)


def evaluation_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def read_checkpoint_config(model_name_or_path: str | Path) -> dict:
    """
    The `config.json` of a D-BETA checkpoint (a local folder or a Hub repository), read without loading weights.
    Raises `ValueError` naming the folder and what to pass instead when it is not a D-BETA checkpoint.
    """
    path = Path(model_name_or_path)
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise ValueError(f"{path} is not a D-BETA checkpoint: it holds no config.json. {WHAT_IS_A_CHECKPOINT}.")
    elif path.exists():
        raise ValueError(f"{path} is a file, not a checkpoint folder: {WHAT_IS_A_CHECKPOINT}.")
    elif path.is_absolute() or str(model_name_or_path).startswith((".", "~")) or len(path.parts) > 2:
        raise ValueError(f"Checkpoint folder {path} not found: {WHAT_IS_A_CHECKPOINT}.")
    else:  # a Hub repository id, "org/name"
        config_file = f"{model_name_or_path}/config.json"
    try:
        config, _ = PretrainedConfig.get_config_dict(str(model_name_or_path))
    except OSError as error:  # unreadable JSON, or a repository that cannot be reached
        raise ValueError(f"Cannot read {config_file}: {error}") from error
    if not isinstance(config, dict) or config.get("model_type") != DBetaConfig.model_type:
        found = config.get("model_type") if isinstance(config, dict) else None
        raise ValueError(
            f"{config_file} describes a {found!r} model, not a D-BETA one (model_type {DBetaConfig.model_type!r}): "
            f"{WHAT_IS_A_CHECKPOINT}."
        )
    return config


def load_model(model_class, model_name_or_path: str | Path):
    """
    `model_class.from_pretrained` on the evaluation device, in eval mode, after checking that the checkpoint is a
    D-BETA one holding every weight `model_class` needs (a classifier checkpoint has no text tower for zero-shot).
    """
    config = read_checkpoint_config(model_name_or_path)
    architectures = config.get("architectures") or []
    if model_class.__name__ in BOTH_TOWERS and not set(architectures) & set(BOTH_TOWERS):
        raise ValueError(
            f"{model_name_or_path} holds a {architectures} checkpoint, which has no text tower; this protocol scores "
            f"ECGs against texts and needs one of {list(BOTH_TOWERS)} (the pretrained model, not a fine-tuned "
            "classifier)."
        )
    model, loading_info = model_class.from_pretrained(model_name_or_path, output_loading_info=True)
    missing = loading_info["missing_keys"]
    if missing:
        raise ValueError(
            f"{model_name_or_path} lacks {len(missing)} weights of {model_class.__name__} "
            f"(e.g. {sorted(missing)[:3]}): its weights file is incomplete or of another model; save the model again "
            "with `save_pretrained`."
        )
    return model.to(evaluation_device()).eval()


def load_processor(model_name_or_path: str | Path) -> DBetaProcessor:
    """The checkpoint's `DBetaProcessor` (zero-shot and retrieval tokenise texts as pretraining did)."""
    read_checkpoint_config(model_name_or_path)
    path = Path(model_name_or_path)
    if path.is_dir() and not (path / "processor_config.json").is_file():
        raise ValueError(
            f"{path} has no processor_config.json: save the processor beside the model with "
            f"`DBetaProcessor(feature_extractor, tokenizer).save_pretrained({str(path)!r})`."
        )
    return DBetaProcessor.from_pretrained(model_name_or_path)


def untrained_label(seed: int, origin: str | None = None) -> str:
    """
    How results name an untrained baseline drawn under `seed`: "untrained (seed 42)" for `untrained_model`'s weights;
    `origin` names other untrained weights, e.g. "untrained (seed 0, pretraining's initial weights)" for the weights
    a pretraining run started from (its text encoder pretrained).
    """
    return f"{UNTRAINED} (seed {seed})" if origin is None else f"{UNTRAINED} (seed {seed}, {origin})"


def untrained_model(config: DBetaConfig, seed: int = DEFAULT_BASELINE_SEED) -> DBetaModel:
    """
    `config`'s architecture at its random initialisation, drawn under `seed` from a private random stream (the
    global one is left as it was): the same seed gives the same weights.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DBetaModel(config)
    return model.eval()


def models_to_evaluate(
    model_class,
    model_name_or_path: str | Path,
    baseline: str | None = None,
    baseline_seed: int = DEFAULT_BASELINE_SEED,
) -> Iterator[tuple[str, torch.nn.Module]]:
    """
    `("pretrained", the checkpoint)` and, with `baseline="untrained"`, `(untrained_label(seed), its baseline)`,
    one at a time, on the evaluation device.
    """
    if baseline not in (None, *BASELINES):
        raise ValueError(f"Unknown baseline {baseline!r}; choose one of {BASELINES}.")
    yield PRETRAINED, load_model(model_class, model_name_or_path)
    if baseline == UNTRAINED:
        config = DBetaConfig.from_pretrained(model_name_or_path)
        yield untrained_label(baseline_seed), untrained_model(config, baseline_seed).to(evaluation_device())


__all__ = [
    "BASELINES",
    "DEFAULT_BASELINE_SEED",
    "UNTRAINED",
    "evaluation_device",
    "load_model",
    "load_processor",
    "models_to_evaluate",
    "read_checkpoint_config",
    "untrained_label",
    "untrained_model",
]
