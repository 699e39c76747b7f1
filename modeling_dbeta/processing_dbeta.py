# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Processor pairing the ECG feature extractor with the text encoder's tokenizer."""

from transformers import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .text_normalization import normalize_report


class DBetaProcessor(ProcessorMixin):
    r"""
    Wraps a [`DBetaFeatureExtractor`] and the text encoder's tokenizer. Reports are normalised as in pretraining
    (lower case, "ekg" -> "ecg", decoration stripped) before tokenisation, so prompts match the training texts.

    ```python
    >>> inputs = processor(ecg=signal, sampling_rate=500, text=["sinus rhythm"], return_tensors="pt")
    >>> outputs = model(**inputs)
    ```
    """

    def __init__(self, feature_extractor, tokenizer):
        super().__init__(feature_extractor, tokenizer)

    def __call__(
        self,
        ecg=None,
        text=None,
        sampling_rate=None,
        lead_names=None,
        return_tensors=None,
        normalize_text: bool = True,
        padding=True,
        truncation=True,
        max_length=None,
        **kwargs,
    ) -> BatchFeature:
        """ECG(s) through the feature extractor, text(s) through normalisation and the tokenizer; both merged."""
        if ecg is None and text is None:
            raise ValueError("Pass `ecg`, `text`, or both.")
        data = {}
        if ecg is not None:
            data.update(
                self.feature_extractor(ecg, sampling_rate=sampling_rate, lead_names=lead_names, **kwargs).data
            )
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            if normalize_text:
                texts = [normalize_report(t) for t in texts]
            data.update(self.tokenizer(texts, padding=padding, truncation=truncation, max_length=max_length).data)
        return BatchFeature(data, tensor_type=return_tensors)


__all__ = ["DBetaProcessor"]
