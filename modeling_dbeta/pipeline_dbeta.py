# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
transformers pipelines for D-BETA: `zero-shot-ecg-classification` (an ECG file or array and free-text labels ->
labels sorted by score) and `ecg-feature-extraction` (-> the unimodal ECG features of the linear probe).

`import modeling_dbeta` registers both tasks; every checkpoint lists them in `config.custom_pipelines` and carries
this file, so that without this package

    classifier = pipeline("zero-shot-ecg-classification", model="path/or/hub-id", trust_remote_code=True)
    classifier("ecg.dcm", candidate_labels=["atrial fibrillation", "sinus rhythm"])

works as it does for transformers' own zero-shot pipelines. (transformers asks for `trust_remote_code=True` for any
checkpoint that lists custom pipelines, even with the package installed; passing a loaded model and processor,
`pipeline(task, model=model, processor=processor)`, does not.)
"""

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.utils.logging import tqdm

from .feature_extraction_dbeta import lead_indices
from .pipeline_inputs import load_ecg


ZERO_SHOT_TASK = "zero-shot-ecg-classification"
FEATURE_EXTRACTION_TASK = "ecg-feature-extraction"
TEXT_BATCH_SIZE = 64
MAX_CACHED_TEXTS = 50_000


def ets_logits(
    ecg_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor | None = None,
    logit_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """
    `(num_ecgs, num_texts)` logits as D-BETA's ETS loss (`losses.ecg_text_sigmoid_loss`) trains them: plain dot
    products of the unimodal features in the authors' form; in SigLIP's form (with the learned `logit_scale` and
    `logit_bias`), cosine similarities times `exp(logit_scale)` plus `logit_bias`.
    """
    ecg_features, text_features = ecg_features.float(), text_features.float()
    if logit_scale is None:
        return ecg_features @ text_features.T
    cosine = F.normalize(ecg_features, dim=-1) @ F.normalize(text_features, dim=-1).T
    return cosine * logit_scale.float().exp() + logit_bias.float()


class ECGPipeline(Pipeline):
    """
    The ECG input both D-BETA pipelines share: one ECG (a file path, an array, a `Recording`) or a list of them;
    a 3-D array `(batch, leads, samples)` is a batch too. `sampling_rate` and `lead_names` describe arrays and
    `.csv` / `.npy` tables (other formats state their own); `leads` keeps a subset (e.g. `["I", "II", "V2"]` or
    `"I,II,V2"`) and zeroes the others, as the paper's reduced-lead evaluations do.
    """

    # What `pipeline(...)` loads beside the model; each task turns on what it needs.
    _load_processor = False
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_video_processor = False

    def __call__(self, ecg, **kwargs):
        if (isinstance(ecg, np.ndarray) and ecg.ndim == 3) or isinstance(ecg, tuple):
            ecg = list(ecg)
        return super().__call__(ecg, **kwargs)

    @staticmethod
    def _ecg_parameters(kwargs: dict) -> dict:
        return {name: kwargs[name] for name in ("sampling_rate", "lead_names", "leads") if name in kwargs}

    def _prepare_ecg(self, ecg, sampling_rate=None, lead_names=None, leads=None) -> dict:
        """
        `ecg_values` (1, leads, samples) in the model's dtype, the `lead_mask` (1, leads) of `leads`, and what the
        readers found: `lead_presence` (1, leads) (False for a lead the recording lacks, zeroed) and `repairs`.
        """
        feature_extractor = self.feature_extractor
        repairs = []
        values, present = load_ecg(ecg, feature_extractor, sampling_rate, lead_names, repairs)
        lead_mask = torch.ones(1, feature_extractor.feature_size)
        if leads is not None:
            names = [name.strip() for name in leads.split(",")] if isinstance(leads, str) else list(leads)
            lead_mask.zero_()
            lead_mask[0, lead_indices(names, feature_extractor.standard_leads)] = 1.0
        return {
            "ecg_values": torch.from_numpy(values)[None].to(self.dtype),
            "lead_mask": lead_mask,
            "lead_presence": torch.from_numpy(np.asarray(present, dtype=bool))[None],
            "repairs": repairs,
        }


class ZeroShotECGClassificationPipeline(ECGPipeline):
    """
    Scores an ECG against free-text labels with D-BETA's unimodal ECG and text features, as CLIP and SigLIP score
    images:

    ```python
    >>> classifier = pipeline("zero-shot-ecg-classification", model="outputs/dbeta-demo", trust_remote_code=True)
    >>> classifier("ecg.dcm", candidate_labels=["sinus rhythm", "atrial fibrillation", "left bundle branch block"])
    [{'score': 0.93, 'label': 'sinus rhythm'}, {'score': 0.04, 'label': 'left bundle branch block'}, ...]
    ```

    Each score is the sigmoid of the logit the model's ETS loss was trained on (see `ets_logits`): the probability
    that the ECG and that label's text form a matching pair. It is not a softmax over the labels, for two reasons:
    the ETS loss is a pairwise sigmoid loss that judges every ECG-text pair on its own (as SigLIP's, whose
    transformers pipeline also reports sigmoids), and ECG statements are not exclusive (atrial fibrillation with a
    left bundle branch block is one ECG), so one label's score must not fall because another label was added. A
    label's score therefore does not depend on which other labels are asked, and the labels rank as the model's
    zero-shot evaluation ranks them (`evaluation.features.resolve_similarity`: the dot product in the authors' form,
    the cosine in SigLIP's).

    Text features are cached per text (the labels of the last calls, up to `MAX_CACHED_TEXTS` texts), so scoring
    many ECGs against one set of labels encodes each label once; `encode_texts` and `logits` score other texts
    (e.g. a bank of reports) the same way.
    """

    _load_processor = True  # the tokenizer and the feature extractor, as DBetaProcessor

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not hasattr(self.model, "get_text_features"):
            raise ValueError(
                f"{type(self.model).__name__} has no text tower (a fine-tuned classifier or ECG-only checkpoint), "
                f"so it cannot score text labels; use the {FEATURE_EXTRACTION_TASK!r} pipeline for its ECG features."
            )
        if self.model.config.ets_loss_type == "siglip" and getattr(self.model, "logit_scale", None) is None:
            raise ValueError(
                "This model's ETS loss has SigLIP's learned temperature and bias, which only DBetaForPreTraining "
                f"holds ({type(self.model).__name__} was loaded): load the pretraining checkpoint with "
                "AutoModelForPreTraining, or pass the folder to `pipeline(...)`, which does."
            )
        self._text_features = OrderedDict()

    def __call__(self, ecg, candidate_labels=None, **kwargs):
        """
        Args:
            ecg: a file path (WFDB `.hea`, DICOM, GE MUSE / CardioSoft `.xml`, `.csv` / `.npy` of samples x leads),
                an array, or a list of them (a batch; `batch_size=` groups them in forward passes).
            candidate_labels (`str` or `list[str]`): free-text labels, e.g. "atrial fibrillation".
            hypothesis_template (`str`, defaults to `"{}"`): the text each label is put in; the model was trained on
                machine reports such as "sinus rhythm. left axis deviation", so the bare label is the default.
            top_k (`int`, *optional*): keep only the best `top_k` labels.
            sampling_rate, lead_names: the rate (Hz) and channel names of arrays and `.csv` / `.npy` tables.
            leads: the leads to use (the others are zeroed), e.g. `["I", "II", "V2"]`.

        Returns:
            `[{"score": float, "label": str}, ...]` sorted by score (a list of such lists for a batch).
        """
        return super().__call__(ecg, candidate_labels=candidate_labels, **kwargs)

    def _sanitize_parameters(self, candidate_labels=None, hypothesis_template=None, top_k=None, **kwargs):
        preprocess_params = self._ecg_parameters(kwargs)
        if candidate_labels is not None:
            preprocess_params["candidate_labels"] = candidate_labels
        if hypothesis_template is not None:
            preprocess_params["hypothesis_template"] = hypothesis_template
        postprocess_params = {"top_k": top_k} if top_k is not None else {}
        return preprocess_params, {}, postprocess_params

    def preprocess(
        self, ecg, candidate_labels=None, hypothesis_template="{}", sampling_rate=None, lead_names=None, leads=None
    ):
        labels = [candidate_labels] if isinstance(candidate_labels, str) else list(candidate_labels or [])
        if not labels:
            raise ValueError("Pass `candidate_labels`, the texts to score the ECG against, e.g. ['sinus rhythm'].")
        if hypothesis_template.format("label") == hypothesis_template:
            raise ValueError(f"`hypothesis_template` {hypothesis_template!r} has no '{{}}' for the label.")
        inputs = self._prepare_ecg(ecg, sampling_rate, lead_names, leads)
        inputs["candidate_labels"] = labels
        inputs["hypotheses"] = [hypothesis_template.format(label) for label in labels]
        return inputs

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """The unimodal text features of `texts` `(len(texts), hidden)`, in batches of `TEXT_BATCH_SIZE`, uncached."""
        batches = range(0, len(texts), TEXT_BATCH_SIZE)
        chunks = []
        with torch.no_grad():
            for start in tqdm(batches, desc="Text features", unit="batch", disable=len(batches) < 10):
                batch = texts[start : start + TEXT_BATCH_SIZE]
                encoded = self.processor(text=batch, return_tensors="pt").to(self.device)
                output = self.model.get_text_features(encoded["input_ids"], encoded["attention_mask"])
                chunks.append(output.pooler_output)
        return (
            torch.cat(chunks) if chunks else torch.empty(0, self.model.config.fusion_hidden_size, device=self.device)
        )

    def text_features(self, texts: list[str]) -> torch.Tensor:
        """`encode_texts(texts)`, each text encoded once over calls (see the class)."""
        missing = list(dict.fromkeys(text for text in texts if text not in self._text_features))
        if missing:
            self._text_features.update(zip(missing, self.encode_texts(missing), strict=True))
        for text in texts:
            self._text_features.move_to_end(text)
        while len(self._text_features) > max(MAX_CACHED_TEXTS, len(texts)):
            self._text_features.popitem(last=False)
        return torch.stack([self._text_features[text] for text in texts])

    def _forward(self, model_inputs):
        hypotheses = model_inputs["hypotheses"]
        if isinstance(hypotheses[0], list):  # a batch: one list per ECG, all the same within a call
            hypotheses = hypotheses[0]
        ecg_features = self.model.get_ecg_features(model_inputs["ecg_values"], model_inputs["lead_mask"]).pooler_output
        return {
            "logits": self.logits(ecg_features, self.text_features(hypotheses)),
            "candidate_labels": model_inputs["candidate_labels"],
            "ecg_features": ecg_features,
        }

    @torch.no_grad()
    def logits(self, ecg_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """This model's `ets_logits` `(num_ecgs, num_texts)`; their sigmoids are the scores (see the class)."""
        scale, bias = getattr(self.model, "logit_scale", None), getattr(self.model, "logit_bias", None)
        return ets_logits(ecg_features, text_features, scale, bias)

    def postprocess(self, model_outputs, top_k=None):
        scores = torch.sigmoid(model_outputs["logits"][0]).tolist()
        ranked = sorted(zip(scores, model_outputs["candidate_labels"], strict=True), key=lambda pair: -pair[0])
        return [{"score": score, "label": label} for score, label in ranked[:top_k]]


class ECGFeatureExtractionPipeline(ECGPipeline):
    """
    The unimodal ECG features (what linear probes and retrieval use) of an ECG file or array:

    ```python
    >>> extractor = pipeline("ecg-feature-extraction", model="outputs/dbeta-demo", trust_remote_code=True)
    >>> features = extractor("ecg.dcm", return_tensors=True)  # (hidden,) tensor; a list of floats by default
    ```

    `pool=False` gives the projected token states `(num_tokens, hidden)` they are pooled from instead.
    """

    _load_feature_extractor = True  # ECGs only

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # A fine-tuned classifier's ECG tower is its base model (`DBetaForECGClassification.dbeta`).
        self.ecg_model = self.model if hasattr(self.model, "get_ecg_features") else self.model.base_model

    def _sanitize_parameters(self, pool=None, return_tensors=None, **kwargs):
        forward_params = {"pool": pool} if pool is not None else {}
        postprocess_params = {"return_tensors": return_tensors} if return_tensors is not None else {}
        return self._ecg_parameters(kwargs), forward_params, postprocess_params

    def preprocess(self, ecg, sampling_rate=None, lead_names=None, leads=None):
        return self._prepare_ecg(ecg, sampling_rate, lead_names, leads)

    def _forward(self, model_inputs, pool=True):
        output = self.ecg_model.get_ecg_features(model_inputs["ecg_values"], model_inputs["lead_mask"])
        return {"features": output.pooler_output if pool else output.last_hidden_state}

    def postprocess(self, model_outputs, return_tensors=False):
        features = model_outputs["features"][0]
        return features if return_tensors else features.tolist()


def _impl_name(pipeline_class: type) -> str:
    return f"{pipeline_class.__module__.split('.')[-1]}.{pipeline_class.__name__}"


def checkpoint_pipelines(model) -> dict:
    """
    `config.custom_pipelines` for a checkpoint of `model`, what `pipeline(task, model=folder, trust_remote_code=True)`
    reads: each task's class in this file, and the Auto class that loads the checkpoint's model for it (the saved
    class itself for zero-shot, so that a pretraining checkpoint keeps its ETS temperature and bias).
    """
    pipelines = {FEATURE_EXTRACTION_TASK: {"impl": _impl_name(ECGFeatureExtractionPipeline), "pt": ["AutoModel"]}}
    if hasattr(model, "get_text_features"):
        pipelines[ZERO_SHOT_TASK] = {"impl": _impl_name(ZeroShotECGClassificationPipeline), "pt": [model._auto_class]}
    return pipelines


def register_pipelines():
    """Make both tasks known to `transformers.pipeline` in this process (`import modeling_dbeta` calls this)."""
    PIPELINE_REGISTRY.register_pipeline(
        ZERO_SHOT_TASK, pipeline_class=ZeroShotECGClassificationPipeline, pt_model=AutoModel
    )
    PIPELINE_REGISTRY.register_pipeline(
        FEATURE_EXTRACTION_TASK, pipeline_class=ECGFeatureExtractionPipeline, pt_model=AutoModel
    )


__all__ = [
    "ECGFeatureExtractionPipeline",
    "ZeroShotECGClassificationPipeline",
    "checkpoint_pipelines",
    "ets_logits",
    "register_pipelines",
]
