# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Feature extractor turning raw ECG recordings into D-BETA's `ecg_values` (batch, 12, 5000) float32."""

from fractions import Fraction
from typing import ClassVar

import numpy as np
from scipy.signal import resample_poly
from transformers import BatchFeature, SequenceFeatureExtractor


STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

# Names other exports use for the standard leads (CODE: DI..DIII; some devices: D1..D3, "Lead II", ...).
LEAD_ALIASES = {"di": "i", "dii": "ii", "diii": "iii", "d1": "i", "d2": "ii", "d3": "iii"}

MIN_SAMPLING_RATE = 50.0
MAX_SAMPLING_RATE = 20_000.0
# No body-surface ECG reaches 20 mV (the tallest QRS complexes of ventricular hypertrophy are ~5 mV); a sample beyond
# it is a railed ADC value, an artefact, or a signal not in millivolts (see `recording.py`).
DEFAULT_MAX_AMPLITUDE_MV = 20.0


def canonical_lead_name(name: str) -> str | None:
    """The standard name of a lead ("AVL", "lead aVL", "avl" -> "aVL"; "DII" -> "II"), or `None` if it is not one."""
    key = str(name).strip().lower().replace(" ", "")
    key = key.removeprefix("lead")
    key = LEAD_ALIASES.get(key, key)
    for standard in STANDARD_LEADS:
        if key == standard.lower():
            return standard
    return None


def lead_indices(lead_names, standard_leads=STANDARD_LEADS) -> list[int]:
    """Position in `standard_leads` of each given lead; a clear error for unknown or repeated names."""
    positions, unknown = [], []
    for name in lead_names:
        standard = canonical_lead_name(name)
        if standard is None or standard not in standard_leads:
            unknown.append(name)
        else:
            positions.append(standard_leads.index(standard))
    if unknown:
        raise ValueError(
            f"Unknown lead name(s) {unknown}; expected names among {list(standard_leads)} (case-insensitive; "
            "DI/DII/DIII are accepted for I/II/III)."
        )
    if len(set(positions)) != len(positions):
        raise ValueError(f"Lead names {list(lead_names)} name the same lead twice.")
    return positions


def repair_non_finite(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Replace NaN / inf samples by linear interpolation between the finite neighbours of each lead (held flat at the
    edges); a lead with no finite sample becomes zeros. Returns the signal and a per-lead "has data" flag.
    """
    finite = np.isfinite(signal)
    has_data = finite.any(axis=-1)
    if finite.all():
        return signal, has_data
    signal = signal.copy()
    positions = np.arange(signal.shape[-1])
    for lead in np.flatnonzero(~finite.all(axis=-1)):
        good = finite[lead]
        signal[lead] = np.interp(positions, positions[good], signal[lead, good]) if good.any() else 0.0
    return signal, has_data


def resample(signal: np.ndarray, source_rate: float, target_rate: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased) along the last axis; exact rational ratio for the usual ECG rates."""
    if source_rate == target_rate:
        return signal
    ratio = Fraction(target_rate / source_rate).limit_denominator(1000)
    return resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)


class DBetaFeatureExtractor(SequenceFeatureExtractor):
    r"""
    Prepares 12-lead ECGs for D-BETA: leads selected and ordered by name (missing ones zeroed), non-finite samples
    interpolated, signal resampled to `sampling_rate` (scipy's polyphase filter), cropped or zero-padded to
    `num_samples`, optionally normalised per lead, returned as float32 `ecg_values` of shape (batch, 12, num_samples).

    Args:
        feature_size (`int`, defaults to 12): number of output leads.
        sampling_rate (`int`, defaults to 500): the model's sampling rate in Hz.
        num_samples (`int`, defaults to 5000): output length (10 s at 500 Hz).
        padding_value (`float`, defaults to 0.0): value of padded samples (the paper zero-pads).
        crop (`"start"` or `"center"`): which `num_samples` to keep from a longer recording.
        do_normalize (`bool`, defaults to `False`): z-score each lead. The released D-BETA was trained on raw
            millivolts, so keep `False` for it.
        min_duration (`float`, defaults to 1.0): recordings shorter than this many seconds are refused.
        max_amplitude_mv (`float`, defaults to 20.0): input beyond +-this many millivolts is refused (wrong units,
            railed leads); the data sets' rules instead drop such samples as missing (`recording.py`). `None` turns
            the check off, e.g. for signals in other units with `do_normalize=True`.
    """

    model_input_names: ClassVar[list[str]] = ["ecg_values"]

    def __init__(
        self,
        feature_size: int = 12,
        sampling_rate: int = 500,
        num_samples: int = 5000,
        padding_value: float = 0.0,
        crop: str = "start",
        do_normalize: bool = False,
        min_duration: float = 1.0,
        max_amplitude_mv: float | None = DEFAULT_MAX_AMPLITUDE_MV,
        **kwargs,
    ):
        kwargs.setdefault("return_attention_mask", False)
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        if crop not in ("start", "center"):
            raise ValueError(f"`crop` must be 'start' or 'center', got {crop!r}.")
        self.num_samples = num_samples
        self.crop = crop
        self.do_normalize = do_normalize
        self.min_duration = min_duration
        self.max_amplitude_mv = max_amplitude_mv

    @property
    def standard_leads(self) -> tuple[str, ...]:
        return STANDARD_LEADS[: self.feature_size]

    def preprocess_recording(
        self, signal, sampling_rate: float, lead_names=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """
        One recording, (leads, samples) or (samples, leads), to ((feature_size, num_samples) finite float32,
        per-lead presence flags). Raises `ValueError` with the fix for input that cannot be made into a valid ECG.
        """
        try:
            signal = np.asarray(signal, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"A recording must hold numbers; got {type(signal).__name__} of {np.asarray(signal).dtype}."
            ) from None
        if lead_names is None:
            lead_names = self.standard_leads
        lead_names = [lead_names] if isinstance(lead_names, str) else list(lead_names)
        if signal.ndim == 1:
            if len(lead_names) != 1:
                raise ValueError(
                    f"Got a 1-D signal of {signal.shape[0]} samples: pass one recording as (leads, samples), or a "
                    "single lead with its name, e.g. lead_names=['II']."
                )
            signal = signal[None, :]
        if signal.ndim != 2:
            raise ValueError(f"A recording must be 2-D (leads, samples); got shape {signal.shape}.")
        if signal.shape[0] != len(lead_names):
            if signal.shape[1] != len(lead_names):
                raise ValueError(
                    f"Recording of shape {signal.shape} has no axis of {len(lead_names)} leads ({lead_names}); pass "
                    "`lead_names` matching its channels."
                )
            signal = signal.T

        sampling_rate = float(sampling_rate)
        if not np.isfinite(sampling_rate) or not MIN_SAMPLING_RATE <= sampling_rate <= MAX_SAMPLING_RATE:
            raise ValueError(
                f"Sampling rate {sampling_rate} Hz is outside [{MIN_SAMPLING_RATE:g}, {MAX_SAMPLING_RATE:g}] Hz; "
                "pass the recording's real rate as `sampling_rate`."
            )
        duration = signal.shape[1] / sampling_rate
        if duration < self.min_duration:
            raise ValueError(
                f"Recording lasts {duration:.2f} s ({signal.shape[1]} samples at {sampling_rate:g} Hz); at least "
                f"{self.min_duration:g} s are needed."
            )

        positions = lead_indices(lead_names, self.standard_leads)
        signal, has_data = repair_non_finite(signal)
        if not has_data.any():
            raise ValueError("No lead holds a finite sample (all NaN / inf): there is no signal to encode.")
        self._check_amplitude(signal, lead_names)
        signal = resample(signal, sampling_rate, self.sampling_rate)

        length = signal.shape[1]
        start = 0 if self.crop == "start" or length <= self.num_samples else (length - self.num_samples) // 2
        signal = signal[:, start : start + self.num_samples]

        output = np.full((self.feature_size, self.num_samples), self.padding_value, dtype=np.float32)
        output[positions, : signal.shape[1]] = signal
        present = np.zeros(self.feature_size, dtype=bool)
        present[positions] = has_data
        output[~present] = self.padding_value
        if self.do_normalize:
            mean = output[present].mean(axis=-1, keepdims=True)
            std = output[present].std(axis=-1, keepdims=True)
            output[present] = (output[present] - mean) / (std + 1e-6)
        return output, present

    def _check_amplitude(self, signal: np.ndarray, lead_names: list[str]) -> None:
        if self.max_amplitude_mv is None:
            return
        peaks = np.abs(signal).max(axis=-1)
        beyond = np.flatnonzero(peaks > self.max_amplitude_mv)
        if beyond.size:
            worst = beyond[np.argmax(peaks[beyond])]
            raise ValueError(
                f"Lead(s) {[lead_names[i] for i in beyond]} exceed {self.max_amplitude_mv:g} mV (lead "
                f"{lead_names[worst]} peaks at {peaks[worst]:.4g}), which no ECG reaches: pass millivolts (divide "
                "microvolts by 1000, raw ADC counts by the gain); mark railed or saturated samples as NaN."
            )

    def __call__(
        self,
        ecg,
        sampling_rate=None,
        lead_names=None,
        return_tensors=None,
        return_lead_mask: bool = False,
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            ecg: one recording as an array (leads, samples) or (samples, leads), a batch array
                (batch, leads, samples), or a list of 2-D recordings (their lengths and rates may differ). A single
                lead may be 1-D when `lead_names` names it.
            sampling_rate (`float` or list): rate of the input in Hz, one for all or one per recording. Defaults to
                the model's rate, with no resampling.
            lead_names (list of `str`, or a list of such lists): the channels of the input, in its order.
                Defaults to the standard order I, II, III, aVR, aVL, aVF, V1..V6.
            return_lead_mask (`bool`): also return `lead_mask` (batch, 12), 1 where the lead had data.
        """
        recordings = self._as_recordings(ecg)
        rates = self._per_recording(
            sampling_rate if sampling_rate is not None else self.sampling_rate, len(recordings)
        )
        if lead_names is None or isinstance(lead_names[0], str):
            names = [lead_names] * len(recordings)
        else:
            names = list(lead_names)
            if len(names) != len(recordings):
                raise ValueError(f"Got {len(names)} lists of lead names for {len(recordings)} recordings.")

        processed = [self.preprocess_recording(r, s, n) for r, s, n in zip(recordings, rates, names, strict=True)]
        data = {"ecg_values": np.stack([values for values, _ in processed])}
        if return_lead_mask:
            data["lead_mask"] = np.stack([present for _, present in processed]).astype(np.int64)
        return BatchFeature(data, tensor_type=return_tensors)

    @staticmethod
    def _as_recordings(ecg) -> list:
        if hasattr(ecg, "detach"):  # a torch tensor
            ecg = ecg.detach().cpu().numpy()
        if isinstance(ecg, np.ndarray):
            if ecg.ndim == 3:
                return list(ecg)
            if ecg.ndim in (1, 2):
                return [ecg]
            raise ValueError(f"`ecg` must have 1, 2 or 3 dimensions, got shape {ecg.shape}.")
        if isinstance(ecg, (list, tuple)) and len(ecg) > 0:
            # A list of 2-D arrays is a batch; anything else (nested lists, 1-D leads) is one recording.
            if all(np.ndim(item) == 2 for item in ecg):
                return list(ecg)
            return [np.asarray(ecg, dtype=np.float64)]
        raise ValueError("`ecg` must be an array or a non-empty list of recordings.")

    @staticmethod
    def _per_recording(value, count: int) -> list:
        if np.isscalar(value):
            return [value] * count
        value = list(value)
        if len(value) != count:
            raise ValueError(f"Got {len(value)} sampling rates for {count} recordings.")
        return value


__all__ = ["STANDARD_LEADS", "DBetaFeatureExtractor", "canonical_lead_name", "lead_indices"]
