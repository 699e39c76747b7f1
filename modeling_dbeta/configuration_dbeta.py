# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""D-BETA model configuration."""

import math
from typing import ClassVar, Literal

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import logging


logger = logging.get_logger(__name__)


# The encoder half of `google/flan-t5-base` (its config.json, decoder fields left out): the paper's text tower.
FLAN_T5_BASE_ENCODER = {
    "vocab_size": 32128,
    "d_model": 768,
    "d_kv": 64,
    "d_ff": 2048,
    "num_layers": 12,
    "num_heads": 12,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-6,
    "feed_forward_proj": "gated-gelu",
    "is_encoder_decoder": False,
    "use_cache": False,
}

PAPER_CONV_LAYERS = [[256, 2, 2]] * 4


@strict
class DBetaConfig(PreTrainedConfig):
    r"""
    Configuration of a D-BETA model ("Boosting Masked ECG-Text Auto-Encoders as Discriminative Learners", ICML 2025).
    The defaults build the paper's model: a wav2vec 2.0-style ECG transformer, a Flan-T5-base text encoder, a
    6-layer co-attention fusion, and the MLM / MEM / ETM / ETS pretraining objectives.

    ECG input
        num_leads (`int`, defaults to 12): leads of the input, in the order I, II, III, aVR, aVL, aVF, V1..V6.
        sampling_rate (`int`, defaults to 500): sampling rate (Hz) the model was trained at.
        num_samples (`int`, defaults to 5000): samples per recording (10 s at 500 Hz).

    ECG encoder
        conv_layers (`list[list[int]]`): the convolutional feature encoder, one `[channels, kernel, stride]` per block.
            The product of the strides is the number of samples per ECG token (the MEM patch size).
        conv_bias (`bool`, defaults to `False`): whether the convolutions have a bias.
        feat_extract_norm (`"group"` or `"layer"`): `"group"` puts a GroupNorm (one group per channel, in fp32) after
            the first convolution only, as wav2vec 2.0's "default" mode; `"layer"` a LayerNorm after every one.
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act: the post-LayerNorm
            transformer that encodes the ECG tokens.
        hidden_dropout, attention_dropout, activation_dropout: dropouts of that transformer.
        feat_proj_dropout (`float`): dropout after projecting the convolutional features to `hidden_size`.
        layer_norm_eps (`float`): epsilon of the ECG encoder's LayerNorms.
        num_conv_pos_embeddings, num_conv_pos_embedding_groups: kernel size and groups of the weight-normalised
            convolutional positional embedding.
        use_ecg_class_token (`bool`, defaults to `True`): prepend a learned class token; without it the ECG poolers
            read the mean of the ECG tokens.
        ecg_mask_ratio (`float`, defaults to 0.75): fraction of ECG tokens removed (MAE-style) during pretraining.

    Fusion
        fusion_hidden_size, fusion_num_hidden_layers, fusion_num_attention_heads, fusion_intermediate_size,
        fusion_hidden_act, fusion_hidden_dropout, fusion_attention_dropout, fusion_layer_norm_eps: the BERT-style
            co-attention layers (one stack per modality, updated in lockstep). Both encoders are projected to
            `fusion_hidden_size`, which is also the size of the pooled features.

    MEM decoder
        mem_decoder_hidden_size, mem_decoder_num_hidden_layers, mem_decoder_num_attention_heads,
        mem_decoder_intermediate_size, mem_decoder_hidden_act: the pre-LayerNorm decoder that reconstructs masked
            ECG tokens.
        mem_decoder_fusion_layer (`int`, defaults to 3): the decoder reads the fused ECG states entering this fusion
            layer (0 = the projected encoder output; -1 = the output of the last fusion layer).
        mem_norm_target (`bool`, defaults to `True`): reconstruct each lead normalised over the recording.

    Losses
        mlm_loss_weight, mem_loss_weight, etm_loss_weight, ets_loss_weight (`float`, default 1.0 each): weight of each
            objective in the total loss; 0 switches the objective (and its head's computation) off.
        ets_loss_type (`"dbeta"` or `"siglip"`): `"dbeta"` is the authors' form (logits are plain dot products, the
            loss is the mean over all B x B pairs); `"siglip"` learns a temperature and a bias and sums over
            texts (Zhai et al., 2023).
        logit_scale_init_value, logit_bias_init_value: initial log-temperature and bias of the `"siglip"` form.
        masked_losses_on_mismatched (`bool`, defaults to `False`): whether MLM and MEM are also computed on pairs
            whose report was replaced by an N3S negative. The authors' code does; we follow FLAVA and do not: when
            the report belongs to another ECG, the cross-attended context is wrong by construction, so those targets
            teach the decoders to ignore the other modality. Converted authors' checkpoints set it to `True`.

    text_config (`dict` or `PreTrainedConfig`): config of the text encoder, any Hugging Face encoder (T5, BERT, ...).
        Defaults to the encoder of `google/flan-t5-base`.
    text_pooling (`"first"` or `"mean"`, defaults to `"first"`): what the unimodal text pooler summarises: the first
        token (the paper) or the mean of the real tokens, which suits encoders trained to be mean-pooled
        (sentence-transformers models such as all-MiniLM-L6-v2).
    initializer_range (`float`, defaults to 0.02): std of the normal initialisation of linear layers.
    classifier_leads (`list[str]`, *optional*): for ECG classification, the leads the classifier sees (others are
        zeroed, as in the paper's lead-subset experiments); `None` = all leads.
    """

    model_type = "dbeta"
    sub_configs_defaults: ClassVar[dict[str, SubConfigSpec]] = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="t5", init_kwargs=FLAN_T5_BASE_ENCODER),
    }

    text_config: dict | PreTrainedConfig | None = None
    text_pooling: Literal["first", "mean"] = "first"

    num_leads: int = 12
    sampling_rate: int = 500
    num_samples: int = 5000

    conv_layers: list | tuple = tuple(tuple(layer) for layer in PAPER_CONV_LAYERS)
    conv_bias: bool = False
    feat_extract_norm: Literal["group", "layer"] = "group"
    hidden_size: int = 768
    num_hidden_layers: int = 8
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    feat_proj_dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    use_ecg_class_token: bool = True
    ecg_mask_ratio: float = 0.75

    fusion_hidden_size: int = 768
    fusion_num_hidden_layers: int = 6
    fusion_num_attention_heads: int = 12
    fusion_intermediate_size: int = 3072
    fusion_hidden_act: str = "gelu"
    fusion_hidden_dropout: float = 0.1
    fusion_attention_dropout: float = 0.1
    fusion_layer_norm_eps: float = 1e-12

    mem_decoder_hidden_size: int = 384
    mem_decoder_num_hidden_layers: int = 4
    mem_decoder_num_attention_heads: int = 6
    mem_decoder_intermediate_size: int = 1536
    mem_decoder_hidden_act: str = "quick_gelu"
    mem_decoder_fusion_layer: int = 3
    mem_norm_target: bool = True

    mlm_loss_weight: float = 1.0
    mem_loss_weight: float = 1.0
    etm_loss_weight: float = 1.0
    ets_loss_weight: float = 1.0
    ets_loss_type: Literal["dbeta", "siglip"] = "dbeta"
    logit_scale_init_value: float = math.log(10.0)
    logit_bias_init_value: float = -10.0
    masked_losses_on_mismatched: bool = False

    initializer_range: float = 0.02
    classifier_leads: list | None = None

    def __post_init__(self, **kwargs):
        # Configs saved before it moved to the training arguments (`--mlm_probability`) carry the collator's setting.
        if "mlm_probability" in kwargs:
            logger.info(f"Ignoring mlm_probability={kwargs.pop('mlm_probability')}: it is a training argument now.")
        # JSON gives lists back: keep one canonical form so a saved config compares equal to the one it came from.
        self.conv_layers = [[int(value) for value in layer] for layer in self.conv_layers]
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Reject sizes that cannot build a model, naming the field to fix."""
        for layer in self.conv_layers:
            if len(layer) != 3 or min(layer) < 1:
                raise ValueError(
                    f"`conv_layers` entries must be [channels, kernel, stride] of positive ints, got {layer}."
                )
        for width, heads, prefix in (
            (self.hidden_size, self.num_attention_heads, ""),
            (self.fusion_hidden_size, self.fusion_num_attention_heads, "fusion_"),
            (self.mem_decoder_hidden_size, self.mem_decoder_num_attention_heads, "mem_decoder_"),
        ):
            if width % heads != 0:
                raise ValueError(
                    f"`{prefix}hidden_size` ({width}) must be a multiple of `{prefix}num_attention_heads` ({heads})."
                )
        if not 0.0 <= self.ecg_mask_ratio < 1.0:
            raise ValueError(f"`ecg_mask_ratio` must be in [0, 1), got {self.ecg_mask_ratio}.")
        if not -1 <= self.mem_decoder_fusion_layer <= self.fusion_num_hidden_layers:
            raise ValueError(
                f"`mem_decoder_fusion_layer` must be in [-1, {self.fusion_num_hidden_layers}], "
                f"got {self.mem_decoder_fusion_layer}."
            )
        if self.num_ecg_tokens < 1:
            raise ValueError(
                f"`num_samples` ({self.num_samples}) is too short for the convolutional stack {self.conv_layers}."
            )
        for name in ("mlm_loss_weight", "mem_loss_weight", "etm_loss_weight", "ets_loss_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0 (0 switches the loss off).")

    @property
    def patch_size(self) -> int:
        """Input samples per ECG token: the product of the convolution strides."""
        return math.prod([stride for _, _, stride in self.conv_layers])  # a list: dynamo cannot trace a generator here

    @property
    def num_ecg_tokens(self) -> int:
        """ECG tokens (without the class token) produced from `num_samples` samples."""
        length = self.num_samples
        for _, kernel, stride in self.conv_layers:
            length = (length - kernel) // stride + 1
        return length


__all__ = ["FLAN_T5_BASE_ENCODER", "DBetaConfig"]
