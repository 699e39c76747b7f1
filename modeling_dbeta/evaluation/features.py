# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Unimodal ECG and text features, the input of zero-shot scoring, linear probing and retrieval.

ECG feature extraction is what these protocols cost (`bench/results/train_step.json` has this project's measured
speeds), so it runs in batches under `torch.inference_mode()`, in bf16 autocast on GPUs that support it, and its
output can be cached on disk: one safetensors file per (ECG tower weights, data set fingerprint and split, leads,
precision), which the next run asking for the same features reads instead of recomputing them. Non-finite features
never leave it (nor enter the cache): the error says whether the ECGs or the model produced them.
"""

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers.utils import logging

from ..ecg_storage import dequantize_ecg
from ..modeling_dbeta import lead_mask_from_names
from ..precision import PRECISIONS, autocast_context, resolve_precision
from .labels import describe_dataset
from .lead_subsets import leads_label


logger = logging.get_logger(__name__)

SIMILARITIES = ("auto", "dot", "cosine")

# Parameters that produce the unimodal ECG features, in every D-BETA class ("dbeta.ecg_model...", "ecg_model...").
ECG_TOWER_PARAMETER = re.compile(r"(?:^|\.)(ecg_(?:model|projection|pooler)\..+)$")


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """
    The autocast dtype for `precision` (`None` = fp32): "auto" is bf16 on a GPU that supports it and fp32 elsewhere.
    Unlike training, "auto" does not time bf16 on a CPU: the features (and their cache key) must not depend on how
    busy the machine was; pass "bf16" where it is faster (`python -m bench.train_step` measures it).
    """
    return resolve_precision(precision, device, what="feature extraction")


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def ecg_tower_fingerprint(model: torch.nn.Module) -> str:
    """
    A hash of the weights that produce the ECG features (encoder, projection and pooler), named without the prefix of
    the class holding them, so that a `DBetaModel` and a `DBetaECGModel` loaded from one checkpoint share their cache
    entries, and a model that is still training never reads features of its earlier weights. A model without D-BETA's
    parameter names is hashed whole.
    """
    state = model.state_dict()
    tower = {match.group(1): tensor for name, tensor in state.items() if (match := ECG_TOWER_PARAMETER.search(name))}
    hasher = hashlib.sha256()
    for name, tensor in sorted((tower or state).items()):
        hasher.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        hasher.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy())
    return hasher.hexdigest()


def _first_rows(mask: torch.Tensor, offset: int = 0) -> list[int]:
    return (torch.nonzero(mask).flatten()[:5] + offset).tolist()


def _check_finite_ecgs(ecg_values: torch.Tensor, dataset: datasets.Dataset, offset: int):
    bad = ~torch.isfinite(ecg_values.flatten(1)).all(dim=1)
    if bad.any():
        raise ValueError(
            f"Rows {_first_rows(bad, offset)} of {describe_dataset(dataset)} hold NaN or infinite ECG samples: the "
            "data set builders replace them (docs/DATA.md); repair in-memory ECGs first (e.g. `np.nan_to_num`)."
        )


def _check_finite_features(features: torch.Tensor, what: str, precision: torch.dtype | None):
    bad = ~torch.isfinite(features).all(dim=1)
    if bad.any():
        fix = (
            "rerun with --precision fp32"
            if precision is not None
            else "check that the checkpoint's weights are finite"
        )
        raise ValueError(
            f"The model gives NaN or infinite features for {int(bad.sum())} of {len(features)} {what} (first rows: "
            f"{_first_rows(bad)}) although their inputs are finite: {fix}."
        )


def _cache_file(cache_dir, model, dataset: datasets.Dataset, ecg_column: str, leads, dtype) -> tuple[Path, dict]:
    metadata = {
        "ecg_tower": ecg_tower_fingerprint(model),
        "dataset_fingerprint": dataset._fingerprint,
        "split": str(dataset.split),
        "num_rows": str(len(dataset)),
        "ecg_column": ecg_column,
        "leads": leads_label(leads),
        "precision": str(dtype or torch.float32),
    }
    key = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()[:32]
    return Path(cache_dir) / f"{key}.safetensors", metadata


@torch.inference_mode()
def extract_ecg_features(
    model,
    dataset: datasets.Dataset,
    leads: list[str] | None = None,
    batch_size: int = 32,
    precision: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    ecg_column: str = "ecg",
) -> torch.Tensor:
    """
    The unimodal pooled ECG features of every row, in row order.

    Args:
        model: a `DBetaModel`, `DBetaForPreTraining` or `DBetaECGModel` (any model with D-BETA's
            `get_ecg_features(ecg_values, lead_mask).pooler_output` works), on the device to run on. It is put in eval
            mode for the extraction and given back in the mode it was in.
        dataset: rows with an `ecg_column` of (12, 5000) float32 ECGs as the data set builders and the feature
            extractor produce them.
        leads: the leads to keep, e.g. `["I", "II", "V2"]`; the others are zeroed. All 12 when `None`.
        batch_size: ECGs per forward pass.
        precision: "auto" (bf16 autocast on a GPU that supports it, fp32 otherwise), "fp32" or "bf16".
        cache_dir: where to cache the features; no caching when `None`. Entries are keyed by the ECG tower's
            weights, the data set's fingerprint, split and size, the leads and the precision.
        ecg_column: the column holding the ECGs.

    Returns:
        `(num_rows, hidden_size)` float32 features on the CPU.
    """
    if not isinstance(dataset, datasets.Dataset):
        raise TypeError(
            f"Feature extraction needs a map-style `datasets.Dataset` (it is indexed and fingerprinted), got "
            f"{type(dataset).__name__}; load the data set with `streaming=False`."
        )
    if len(dataset) == 0:
        raise ValueError("The data set has no rows to extract features from.")
    if ecg_column not in dataset.column_names:
        raise ValueError(f"The data set has no {ecg_column!r} column; its columns are {dataset.column_names}.")
    device = model_device(model)
    dtype = autocast_dtype(device, precision)

    cache_path = metadata = None
    if cache_dir is not None:
        cache_path, metadata = _cache_file(cache_dir, model, dataset, ecg_column, leads, dtype)
        if cache_path.is_file():
            logger.info(f"Reading cached ECG features from {cache_path}.")
            return load_file(cache_path)["ecg_features"]

    lead_mask = lead_mask_from_names(leads)
    lead_mask = None if lead_mask is None else lead_mask.to(device)
    scaled = "ecg_scale" in dataset.column_names  # int16 storage (see modeling_dbeta.ecg_storage)
    rows = dataset.with_format("torch", columns=[ecg_column, "ecg_scale"] if scaled else [ecg_column])
    chunks = []
    was_training = model.training
    model.eval()
    try:
        with tqdm(total=len(dataset), desc="ECG features", unit="ECG") as progress, autocast_context(device, dtype):
            for start, batch in zip(range(0, len(dataset), batch_size), rows.iter(batch_size=batch_size), strict=True):
                ecg_values = dequantize_ecg(batch[ecg_column].to(device), batch.get("ecg_scale"))
                _check_finite_ecgs(ecg_values, dataset, start)
                chunks.append(model.get_ecg_features(ecg_values, lead_mask).pooler_output.float().cpu())
                progress.update(len(ecg_values))
    finally:
        model.train(was_training)
    features = torch.cat(chunks)
    _check_finite_features(features, f"ECGs of {describe_dataset(dataset)}", dtype)

    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_path.with_suffix(f".{os.getpid()}.partial")
        save_file({"ecg_features": features.contiguous()}, partial, metadata=metadata)
        os.replace(partial, cache_path)  # readers never see a half-written file
        logger.info(f"Cached ECG features in {cache_path}.")
    return features


@torch.inference_mode()
def extract_text_features(
    model, processor, texts: Sequence[str], batch_size: int = 32, precision: str = "auto"
) -> torch.Tensor:
    """
    The unimodal pooled text features of `texts`, `(len(texts), hidden_size)` float32 on the CPU. The processor
    normalises each text as pretraining did (lower case, "ekg" -> "ecg", decoration stripped) before tokenising it.
    """
    if len(texts) == 0:
        raise ValueError("No texts to encode.")
    device = model_device(model)
    dtype = autocast_dtype(device, precision)
    chunks = []
    was_training = model.training
    model.eval()
    try:
        with autocast_context(device, dtype):
            for start in tqdm(range(0, len(texts), batch_size), desc="Text features", unit="batch"):
                inputs = processor(text=list(texts[start : start + batch_size]), return_tensors="pt")
                features = model.get_text_features(
                    input_ids=inputs["input_ids"].to(device), attention_mask=inputs["attention_mask"].to(device)
                ).pooler_output
                chunks.append(features.float().cpu())
    finally:
        model.train(was_training)
    features = torch.cat(chunks)
    _check_finite_features(features, "texts", dtype)
    return features


def resolve_similarity(similarity: str, model) -> str:
    """
    "auto" -> the score the model's ETS loss trained: the cosine for SigLIP's form (it normalises the features), the
    dot product for the authors' form (the paper's zero-shot score). Other values are returned unchanged.
    """
    if similarity not in SIMILARITIES:
        raise ValueError(f"Unknown similarity {similarity!r}; choose one of {SIMILARITIES}.")
    if similarity != "auto":
        return similarity
    return "cosine" if getattr(getattr(model, "config", None), "ets_loss_type", "dbeta") == "siglip" else "dot"


def similarity_scores(ecg_features: torch.Tensor, text_features: torch.Tensor, similarity: str = "dot") -> np.ndarray:
    """
    `(num_ecgs, num_texts)` scores: the dot product of the unimodal features ("dot"), or their cosine ("cosine"),
    which ignores the features' norms. See `resolve_similarity` for "auto".
    """
    if similarity not in ("dot", "cosine"):
        raise ValueError(f"Unknown similarity {similarity!r}; choose 'dot' or 'cosine' (resolve 'auto' first).")
    if similarity == "cosine":
        ecg_features, text_features = F.normalize(ecg_features, dim=-1), F.normalize(text_features, dim=-1)
    return (ecg_features.float() @ text_features.float().T).numpy()


__all__ = [
    "PRECISIONS",
    "SIMILARITIES",
    "autocast_dtype",
    "ecg_tower_fingerprint",
    "extract_ecg_features",
    "extract_text_features",
    "model_device",
    "resolve_similarity",
    "similarity_scores",
]
