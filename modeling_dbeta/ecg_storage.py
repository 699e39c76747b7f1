# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Compact storage of prepared ECGs: int16 samples with one scale (mV per step) per lead, half the bytes of float32.
The samples are stored flat (lead after lead): `datasets` reads a fixed-length int16 list about twice as fast as an
int16 `Array2D`.

Each lead is scaled to the full int16 range, so the rounding error is at most half a step: 1/65534 of the lead's
peak-to-peak span (0.08 uV for a 5 mV lead), far below the 1-5 uV resolution of clinical recorders. Non-finite values
are refused (an inf would become a scale of inf and garbage steps); `require_finite_ecg` is the same check for
whatever feeds the model (one non-finite sample in a batch makes the loss and every gradient NaN).
"""

import numpy as np
import torch


INT16_MAX = np.iinfo(np.int16).max


def require_finite_ecg(ecg, description: str = "the ECG batch") -> None:
    """
    `ValueError` naming the examples (first axis of a batch) that hold NaN / inf values; numpy or torch input.
    The data sets never store such values; a data set prepared by an older version, or a corrupt cache, can.
    """
    finite = torch.isfinite(ecg) if isinstance(ecg, torch.Tensor) else np.isfinite(np.asarray(ecg))
    if bool(finite.all()):
        return
    bad = finite.reshape(finite.shape[0], -1).all(-1) if finite.ndim > 2 else finite.all().reshape(1)
    examples = [int(i) for i in np.flatnonzero(~np.asarray(bad))]
    raise ValueError(
        f"{description} holds {int((~finite).sum())} NaN / inf value(s) (example(s) {examples[:10]}): prepare the "
        "data set again (`download_mode='force_redownload'`), whose rules repair or skip such records."
    )


def quantize_ecg(ecg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(leads, samples) float -> (flat int16 values, (leads,) float32 scale) with `values * scale` ~= `ecg`."""
    if not np.isfinite(ecg).all():
        raise ValueError(
            "int16 storage cannot hold NaN / inf samples (they would become garbage steps): pass the recording "
            "through `prepare_recording` first, which repairs them or refuses the record."
        )
    peak = np.abs(ecg).max(axis=-1)
    scale = np.where(peak > 0, peak / INT16_MAX, 1.0).astype(np.float32)
    values = np.clip(np.rint(ecg / scale[:, None]), -INT16_MAX, INT16_MAX).astype(np.int16)
    return values.reshape(-1), scale


def dequantize_ecg(values, scale=None):
    """
    float32 (..., leads, samples) from stored values: flat int16 with their per-lead `scale` ((..., leads)), or float
    (..., leads, samples) values as they are. Torch tensors in, torch tensors out; anything else gives numpy.
    """
    if isinstance(values, torch.Tensor):
        values = values.float()
        if scale is None:
            return values
        scale = torch.as_tensor(scale, dtype=torch.float32, device=values.device)
        return values.reshape(*values.shape[:-1], scale.shape[-1], -1) * scale.unsqueeze(-1)
    values = np.asarray(values)
    if scale is None:
        return values.astype(np.float32, copy=False)
    scale = np.asarray(scale, dtype=np.float32)
    return values.reshape(*values.shape[:-1], scale.shape[-1], -1).astype(np.float32) * scale[..., :, None]


__all__ = ["dequantize_ecg", "quantize_ecg", "require_finite_ecg"]
