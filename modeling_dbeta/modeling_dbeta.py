# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""PyTorch D-BETA: masked ECG-text auto-encoder with discriminative (ETM, ETS) objectives."""

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from torch import nn
from torch.nn.utils import parametrize
from transformers import AutoConfig, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling, SequenceClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.auto.modeling_auto import MODEL_FOR_TEXT_ENCODING_MAPPING
from transformers.processing_utils import Unpack
from transformers.utils import ModelOutput, TransformersKwargs, can_return_tuple, is_torchdynamo_compiling
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_dbeta import DBetaConfig
from .feature_extraction_dbeta import STANDARD_LEADS, lead_indices
from .losses import (
    ecg_patch_targets,
    ecg_text_matching_loss,
    ecg_text_sigmoid_loss,
    masked_ecg_modeling_loss,
    masked_language_modeling_loss,
)


class DBetaOutput(ModelOutput):
    """A `ModelOutput` whose nested outputs also become tuples with `return_dict=False` (as CLIP's output)."""

    def to_tuple(self) -> tuple:
        return tuple(value.to_tuple() if isinstance(value, ModelOutput) else value for value in self.values())


@dataclass
class DBetaECGModelOutput(BaseModelOutputWithPooling):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_kept_tokens, hidden_size)`):
        Output of the ECG encoder's last layer; the first token is the class token when the config uses one.
    pooler_output (`torch.FloatTensor` of shape `(batch_size, fusion_hidden_size)`):
        The unimodal pooled ECG features: what zero-shot scoring, the linear probe and the ETS loss use.
    projected_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_kept_tokens, fusion_hidden_size)`):
        `last_hidden_state` projected to the fusion width: what the pooler and the co-attention fusion read.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*): the input of every encoder layer and the last output
        (with `output_hidden_states=True`).
    attentions (`tuple(torch.FloatTensor)`, *optional*): every encoder layer's attention weights, `(batch_size,
        num_heads, num_kept_tokens, num_kept_tokens)` (with `output_attentions=True` and eager attention).
    ecg_mask (`torch.FloatTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*):
        1 where an ECG token was removed by MAE-style masking, 0 where it was kept.
    ecg_ids_restore (`torch.LongTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*):
        Permutation that puts the kept tokens followed by the removed ones back in temporal order.
    """

    projected_last_hidden_state: torch.FloatTensor | None = None
    ecg_mask: torch.FloatTensor | None = None
    ecg_ids_restore: torch.LongTensor | None = None


@dataclass
class DBetaFusionOutput(ModelOutput):
    r"""
    text_last_hidden_state, ecg_last_hidden_state (`torch.FloatTensor`): each modality's fused token states (output
        of the last co-attention layer), `(batch_size, length, fusion_hidden_size)`.
    text_hidden_states, ecg_hidden_states (`tuple(torch.FloatTensor)`, *optional*): per modality, the input of every
        fusion layer and the last output (with `output_hidden_states=True`).
    text_attentions, ecg_attentions (`tuple(torch.FloatTensor)`, *optional*): per modality, every fusion layer's
        self-attention weights (with `output_attentions=True` and eager attention).
    text_cross_attentions, ecg_cross_attentions (`tuple(torch.FloatTensor)`, *optional*): per modality, every fusion
        layer's attention weights over the other modality's tokens.
    ecg_layer_state (`torch.FloatTensor`, *optional*): the ECG states entering the fusion layer that
        `return_ecg_layer` asked for (the MEM decoder's input).
    """

    text_last_hidden_state: torch.FloatTensor | None = None
    ecg_last_hidden_state: torch.FloatTensor | None = None
    text_hidden_states: tuple[torch.FloatTensor, ...] | None = None
    ecg_hidden_states: tuple[torch.FloatTensor, ...] | None = None
    text_attentions: tuple[torch.FloatTensor, ...] | None = None
    ecg_attentions: tuple[torch.FloatTensor, ...] | None = None
    text_cross_attentions: tuple[torch.FloatTensor, ...] | None = None
    ecg_cross_attentions: tuple[torch.FloatTensor, ...] | None = None
    ecg_layer_state: torch.FloatTensor | None = None


@dataclass
class DBetaModelOutput(DBetaOutput):
    r"""
    ecg_embeds (`torch.FloatTensor` of shape `(batch_size, fusion_hidden_size)`):
        Unimodal pooled ECG features (ETS, zero-shot and linear-probe features).
    text_embeds (`torch.FloatTensor` of shape `(batch_size, fusion_hidden_size)`):
        Unimodal pooled text features.
    multimodal_embeds (`torch.FloatTensor` of shape `(batch_size, 2 * fusion_hidden_size)`):
        `[text pooled, ECG pooled]` after the co-attention fusion.
    ecg_model_output ([`DBetaECGModelOutput`]): the ECG tower's output (encoder states, hidden states, attentions,
        the MAE masking).
    text_model_output ([`~modeling_outputs.BaseModelOutput`]): the text encoder's output.
    fusion_output ([`DBetaFusionOutput`]): the fused token states of both modalities, their hidden states and
        attentions.
    """

    ecg_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    multimodal_embeds: torch.FloatTensor | None = None
    ecg_model_output: DBetaECGModelOutput | None = None
    text_model_output: BaseModelOutput | None = None
    fusion_output: DBetaFusionOutput | None = None


@dataclass
class DBetaForPreTrainingOutput(DBetaOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, *optional*): weighted sum of the losses that could be computed.
    mlm_loss, mem_loss, etm_loss, ets_loss (`torch.FloatTensor` of shape `()`, *optional*): the four objectives
        (unweighted); `None` when switched off or when their labels were not given.
    mlm_logits (`torch.FloatTensor`, *optional*): token predictions, `(batch_size, text_length, vocab_size)`. With
        `mlm_labels` in eager mode, only at the positions that carry an MLM target (as FLAVA), `(num_targets,
        vocab_size)` in the order of `mlm_labels[mlm_labels != -100]` (mismatched pairs left out unless
        `masked_losses_on_mismatched`): the vocabulary projection is the head's dominant cost. A compiled or
        exported forward has static shapes and predicts at every position; the loss is the same.
    mem_logits (`torch.FloatTensor` of shape `(batch_size, num_ecg_tokens, num_leads * patch_size)`, *optional*):
        Reconstructed ECG tokens, values ordered lead-major (all samples of lead I, then of lead II, ...).
    etm_logits (`torch.FloatTensor` of shape `(batch_size, 2)`, *optional*): mismatched / matched scores.
    ecg_embeds, text_embeds, multimodal_embeds: see [`DBetaModelOutput`].
    ecg_mask (`torch.FloatTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*): 1 = masked token.
    model_output ([`DBetaModelOutput`]): everything the base model returned.
    """

    loss: torch.FloatTensor | None = None
    mlm_loss: torch.FloatTensor | None = None
    mem_loss: torch.FloatTensor | None = None
    etm_loss: torch.FloatTensor | None = None
    ets_loss: torch.FloatTensor | None = None
    mlm_logits: torch.FloatTensor | None = None
    mem_logits: torch.FloatTensor | None = None
    etm_logits: torch.FloatTensor | None = None
    ecg_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    multimodal_embeds: torch.FloatTensor | None = None
    ecg_mask: torch.FloatTensor | None = None
    model_output: DBetaModelOutput | None = None


def reject_unknown_kwargs(kwargs: dict, method: str) -> None:
    """
    `**kwargs` carry only transformers' documented extras (`output_attentions`, `output_hidden_states`, ...): a typo
    such as `lables=` would otherwise vanish into the attention functions and, say, silently train without a loss.
    """
    unknown = sorted(set(kwargs) - TransformersKwargs.__optional_keys__)
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword arguments {unknown}.")


def output_flags(config: DBetaConfig, kwargs: dict) -> dict:
    """`output_attentions` / `output_hidden_states` as passed, else as the config sets them: what a composite model
    hands to each of its towers."""
    flags = {}
    for name in ("output_attentions", "output_hidden_states"):
        flags[name] = kwargs[name] if kwargs.get(name) is not None else getattr(config, name)
    return flags


def apply_lead_mask(ecg_values: torch.Tensor, lead_mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the leads where `lead_mask` ((num_leads,) or (batch, num_leads)) is 0, as the paper's lead subsets do."""
    if lead_mask is None:
        return ecg_values
    if lead_mask.shape[-1] != ecg_values.shape[1]:
        raise ValueError(f"`lead_mask` has {lead_mask.shape[-1]} leads but the ECG has {ecg_values.shape[1]}.")
    return ecg_values * lead_mask.to(ecg_values.dtype).unsqueeze(-1)


def lead_mask_from_names(leads: list[str] | None, num_leads: int = 12) -> torch.Tensor | None:
    """A (num_leads,) 0/1 mask keeping the named standard leads, or `None` for all of them."""
    if leads is None:
        return None
    mask = torch.zeros(num_leads)
    mask[lead_indices(leads, STANDARD_LEADS[:num_leads])] = 1.0
    return mask


def sinusoidal_positions(num_positions: int, dim: int, device: torch.device) -> torch.Tensor:
    """Fixed sine/cosine positions (Vaswani et al.), sines on even and cosines on odd channels."""
    position = torch.arange(num_positions, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim, device=device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
):
    attn_weights = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


class DBetaAttention(nn.Module):
    """Multi-head attention (self or cross) on the configured attention backend; used by all three stacks."""

    def __init__(self, config: DBetaConfig, embed_dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = dropout
        self.is_causal = False
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        source = hidden_states if key_value_states is None else key_value_states
        query = self.q_proj(hidden_states).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
        key = self.k_proj(source).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
        value = self.v_proj(source).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            scaling=self.scaling,
            dropout=self.dropout if self.training else 0.0,
            **kwargs,
        )
        return self.out_proj(attn_output.flatten(-2)), attn_weights


# ----------------------------------------------------------------------------------------------------------------
# ECG encoder
# ----------------------------------------------------------------------------------------------------------------


class DBetaFp32GroupNorm(nn.GroupNorm):
    """GroupNorm computed in fp32 whatever the model's dtype (wav2vec 2.0 / fairseq): half precision would lose the
    per-channel statistics of a raw signal; the result comes back in the input's dtype."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.float()
        bias = None if self.bias is None else self.bias.float()
        return F.group_norm(hidden_states.float(), self.num_groups, weight, bias, self.eps).type_as(hidden_states)


class DBetaFp32ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of a `(batch, channels, time)` signal, computed in fp32 like the GroupNorm."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.float()
        bias = None if self.bias is None else self.bias.float()
        normed = F.layer_norm(hidden_states.transpose(1, 2).float(), self.normalized_shape, weight, bias, self.eps)
        return normed.transpose(1, 2).type_as(hidden_states)


class DBetaConvLayer(nn.Module):
    """One block of the convolutional feature encoder: Conv1d, optional normalisation (in fp32), GELU."""

    def __init__(self, config: DBetaConfig, layer_id: int):
        super().__init__()
        in_channels = config.num_leads if layer_id == 0 else config.conv_layers[layer_id - 1][0]
        channels, kernel, stride = config.conv_layers[layer_id]
        self.conv = nn.Conv1d(in_channels, channels, kernel, stride=stride, bias=config.conv_bias)
        if config.feat_extract_norm == "layer":
            self.norm = DBetaFp32ChannelLayerNorm(channels, elementwise_affine=True)
        elif layer_id == 0:
            self.norm = DBetaFp32GroupNorm(channels, channels, affine=True)
        else:
            self.norm = None
        self.activation = nn.GELU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv(hidden_states)
        if self.norm is not None:
            hidden_states = self.norm(hidden_states)
        return self.activation(hidden_states)


class DBetaPositionalConvEmbedding(nn.Module):
    """Relative positions from a grouped, weight-normalised convolution over the tokens (wav2vec 2.0)."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        kernel = config.num_conv_pos_embeddings
        self.conv = nn.Conv1d(
            config.hidden_size,
            config.hidden_size,
            kernel_size=kernel,
            padding=kernel // 2,
            groups=config.num_conv_pos_embedding_groups,
        )
        self.conv = nn.utils.parametrizations.weight_norm(self.conv, name="weight", dim=2)
        self.num_pad_remove = 1 if kernel % 2 == 0 else 0
        self.activation = nn.GELU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        tokens = hidden_states.transpose(1, 2)
        autocast_bf16 = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        if tokens.device.type == "cpu" and (tokens.dtype == torch.bfloat16 or autocast_bf16):
            # oneDNN's bf16 grouped convolution returns garbage for some shapes on AMX CPUs (seen with 2-14 channels
            # per group and kernels >= 16; pytorch/pytorch#163347 is of this family): convolve in fp32 on the CPU.
            with torch.autocast("cpu", enabled=False):
                weight, bias = self.conv.weight.float(), self.conv.bias.float()
                positions = F.conv1d(tokens.float(), weight, bias, padding=self.conv.padding, groups=self.conv.groups)
            positions = positions.to(hidden_states.dtype)
        else:
            positions = self.conv(tokens)
        if self.num_pad_remove:
            positions = positions[:, :, : -self.num_pad_remove]
        return self.activation(positions).transpose(1, 2)


def check_ecg_values(ecg_values: torch.Tensor, num_leads: int) -> None:
    """Refuse input the model cannot read, with the fix. The finiteness check reads the data, so a compiled or
    exported graph leaves it out (it would split the graph); eager calls, where a user's data arrives, keep it."""
    if ecg_values.dim() != 3 or ecg_values.shape[1] != num_leads:
        raise ValueError(
            f"`ecg_values` must have shape (batch, {num_leads}, samples), got {tuple(ecg_values.shape)}. "
            "Use DBetaFeatureExtractor to turn recordings into model inputs."
        )
    if not is_torchdynamo_compiling() and not torch.isfinite(ecg_values).all():
        bad_rows = (~torch.isfinite(ecg_values)).flatten(1).any(dim=1).nonzero().flatten().tolist()
        raise ValueError(
            f"`ecg_values` holds NaN or infinite samples (batch rows {bad_rows}): the model cannot read them. "
            "Prepare recordings with DBetaFeatureExtractor, which interpolates non-finite samples, or drop those "
            "records."
        )


class DBetaECGEmbeddings(nn.Module):
    """Raw 12-lead signal -> token embeddings: conv features, projection, conv positions, class token, masking."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.config = config
        self.conv_layers = nn.ModuleList([DBetaConvLayer(config, i) for i in range(len(config.conv_layers))])
        conv_dim = config.conv_layers[-1][0]
        self.layer_norm = nn.LayerNorm(conv_dim, eps=config.layer_norm_eps)
        self.projection = nn.Linear(conv_dim, config.hidden_size) if conv_dim != config.hidden_size else nn.Identity()
        self.dropout = nn.Dropout(config.feat_proj_dropout)
        self.position_embedding = DBetaPositionalConvEmbedding(config)
        self.class_embedding = nn.Parameter(torch.empty(config.hidden_size)) if config.use_ecg_class_token else None

    def random_masking(
        self, tokens: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keep the `int(T * (1 - ratio))` lowest-noise tokens (MAE); return them, the mask and the restore ids."""
        batch_size, num_tokens, dim = tokens.shape
        if noise is None:
            noise = torch.rand(batch_size, num_tokens, device=tokens.device)
        elif noise.shape != (batch_size, num_tokens):
            raise ValueError(f"`ecg_mask_noise` must have shape {(batch_size, num_tokens)}, got {tuple(noise.shape)}.")
        num_keep = int(num_tokens * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise.to(tokens.device), dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :num_keep]
        kept = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, dim))
        mask = torch.ones(batch_size, num_tokens, device=tokens.device)
        mask[:, :num_keep] = 0
        return kept, torch.gather(mask, 1, ids_restore), ids_restore

    def forward(
        self, ecg_values: torch.Tensor, mask_ratio: float = 0.0, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        check_ecg_values(ecg_values, self.config.num_leads)
        # The feature extractor gives float32; a half-precision model reads it in its own dtype (as CLIP's pixels).
        features = ecg_values.to(self.conv_layers[0].conv.weight.dtype)
        for conv_layer in self.conv_layers:
            features = conv_layer(features)
        features = self.layer_norm(features.transpose(1, 2))
        tokens = self.dropout(self.projection(features))
        tokens = tokens + self.position_embedding(tokens)

        mask = ids_restore = None
        if mask_ratio > 0:
            tokens, mask, ids_restore = self.random_masking(tokens, mask_ratio, noise)
        if self.class_embedding is not None:
            class_token = self.class_embedding.to(tokens.dtype).expand(tokens.shape[0], 1, -1)
            tokens = torch.cat([class_token, tokens], dim=1)
        return tokens, mask, ids_restore


class DBetaECGFeedForward(nn.Module):
    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = ACT2FN[config.hidden_act]
        self.activation_dropout = nn.Dropout(config.activation_dropout)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.activation_dropout(self.activation(self.fc1(hidden_states)))
        return self.dropout(self.fc2(hidden_states))


class DBetaECGEncoderLayer(GradientCheckpointingLayer):
    """Post-LayerNorm transformer layer of the ECG encoder."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.self_attn = DBetaAttention(
            config, config.hidden_size, config.num_attention_heads, config.attention_dropout
        )
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.self_attn_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = DBetaECGFeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]) -> torch.Tensor:
        attended, _ = self.self_attn(hidden_states, **kwargs)
        hidden_states = self.self_attn_layer_norm(hidden_states + self.dropout(attended))
        return self.final_layer_norm(hidden_states + self.feed_forward(hidden_states))


# ----------------------------------------------------------------------------------------------------------------
# Fusion, poolers and heads
# ----------------------------------------------------------------------------------------------------------------


class DBetaFusionAttention(nn.Module):
    """BERT-style attention block: attention, dropout, residual, LayerNorm (post-LN)."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.attention = DBetaAttention(
            config, config.fusion_hidden_size, config.fusion_num_attention_heads, config.fusion_attention_dropout
        )
        self.dropout = nn.Dropout(config.fusion_hidden_dropout)
        self.layer_norm = nn.LayerNorm(config.fusion_hidden_size, eps=config.fusion_layer_norm_eps)

    def forward(
        self, hidden_states, key_value_states=None, attention_mask=None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, key_value_states, attention_mask)
        return self.layer_norm(hidden_states + self.dropout(attended)), weights


class DBetaFusionLayer(GradientCheckpointingLayer):
    """Co-attention layer (METER/M3AE): self-attention, cross-attention to the other modality, feed-forward."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.self_attention = DBetaFusionAttention(config)
        self.cross_attention = DBetaFusionAttention(config)
        self.fc1 = nn.Linear(config.fusion_hidden_size, config.fusion_intermediate_size)
        self.activation = ACT2FN[config.fusion_hidden_act]
        self.fc2 = nn.Linear(config.fusion_intermediate_size, config.fusion_hidden_size)
        self.dropout = nn.Dropout(config.fusion_hidden_dropout)
        self.final_layer_norm = nn.LayerNorm(config.fusion_hidden_size, eps=config.fusion_layer_norm_eps)

    def forward(
        self, hidden_states, other_states, self_attention_mask=None, cross_attention_mask=None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The new states, the self-attention and the cross-attention weights (`None` unless eager)."""
        hidden_states, self_weights = self.self_attention(hidden_states, attention_mask=self_attention_mask)
        hidden_states, cross_weights = self.cross_attention(hidden_states, other_states, cross_attention_mask)
        feed_forward = self.dropout(self.fc2(self.activation(self.fc1(hidden_states))))
        return self.final_layer_norm(hidden_states + feed_forward), self_weights, cross_weights


class DBetaCoAttentionFusion(nn.Module):
    """One layer stack per modality; layer i of each reads the other modality's output of layer i - 1."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.config = config
        self.text_layers = nn.ModuleList([DBetaFusionLayer(config) for _ in range(config.fusion_num_hidden_layers)])
        self.ecg_layers = nn.ModuleList([DBetaFusionLayer(config) for _ in range(config.fusion_num_hidden_layers)])

    def forward(
        self,
        text_states: torch.Tensor,
        ecg_states: torch.Tensor,
        text_attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        return_ecg_layer: int | None = None,
    ) -> DBetaFusionOutput:
        """`return_ecg_layer` (0 = the input, -1 = the output): also return the ECG states entering that layer."""
        text_self_mask = create_bidirectional_mask(self.config, text_states, text_attention_mask)
        ecg_cross_mask = create_bidirectional_mask(
            self.config, ecg_states, text_attention_mask, encoder_hidden_states=text_states
        )
        keep_all_ecg = output_hidden_states or return_ecg_layer is not None
        all_text = [text_states] if output_hidden_states else None
        all_ecg = [ecg_states] if keep_all_ecg else None
        attentions = {name: [] for name in ("text", "ecg", "text_cross", "ecg_cross")} if output_attentions else None
        for text_layer, ecg_layer in zip(self.text_layers, self.ecg_layers, strict=True):
            (text_states, text_self, text_cross), (ecg_states, ecg_self, ecg_cross) = (
                text_layer(text_states, ecg_states, self_attention_mask=text_self_mask),
                ecg_layer(ecg_states, text_states, cross_attention_mask=ecg_cross_mask),
            )
            if output_hidden_states:
                all_text.append(text_states)
            if keep_all_ecg:
                all_ecg.append(ecg_states)
            if output_attentions:
                for name, weights in zip(attentions, (text_self, ecg_self, text_cross, ecg_cross), strict=True):
                    attentions[name].append(weights)
        collected = (
            {} if attentions is None else {f"{name}_attentions": tuple(values) for name, values in attentions.items()}
        )
        return DBetaFusionOutput(
            text_last_hidden_state=text_states,
            ecg_last_hidden_state=ecg_states,
            text_hidden_states=tuple(all_text) if output_hidden_states else None,
            ecg_hidden_states=tuple(all_ecg) if output_hidden_states else None,
            ecg_layer_state=None if return_ecg_layer is None else all_ecg[return_ecg_layer],
            **collected,
        )


class DBetaPooler(nn.Module):
    """Dense + tanh on the first token, or on the mean of the (unpadded) tokens."""

    def __init__(self, hidden_size: int, use_first_token: bool = True):
        super().__init__()
        self.use_first_token = use_first_token
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.use_first_token:
            summary = hidden_states[:, 0]
        elif attention_mask is None:
            summary = hidden_states.mean(dim=1)
        else:
            weights = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
            summary = (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        return self.activation(self.dense(summary))


class DBetaMLMHead(nn.Module):
    """Dense, activation, LayerNorm, then a vocabulary decoder on the fused text states."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.dense = nn.Linear(config.fusion_hidden_size, config.fusion_hidden_size)
        self.activation = ACT2FN[config.fusion_hidden_act]
        self.layer_norm = nn.LayerNorm(config.fusion_hidden_size, eps=config.fusion_layer_norm_eps)
        self.decoder = nn.Linear(config.fusion_hidden_size, config.text_config.vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.activation(self.dense(hidden_states))))


class DBetaMEMDecoderLayer(GradientCheckpointingLayer):
    """Pre-LayerNorm transformer block of the MEM decoder (no dropout, as in MAE)."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        width = config.mem_decoder_hidden_size
        self.layer_norm1 = nn.LayerNorm(width)
        self.self_attn = DBetaAttention(config, width, config.mem_decoder_num_attention_heads, dropout=0.0)
        self.layer_norm2 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, config.mem_decoder_intermediate_size)
        self.activation = ACT2FN[config.mem_decoder_hidden_act]
        self.fc2 = nn.Linear(config.mem_decoder_intermediate_size, width)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = hidden_states + self.self_attn(self.layer_norm1(hidden_states))[0]
        return hidden_states + self.fc2(self.activation(self.fc1(self.layer_norm2(hidden_states))))


class DBetaMEMDecoder(nn.Module):
    """Reconstructs every ECG token from the kept ones: mask tokens re-inserted in order, sinusoidal positions."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.num_prefix_tokens = 1 if config.use_ecg_class_token else 0
        width = config.mem_decoder_hidden_size
        self.embed = nn.Linear(config.fusion_hidden_size, width)
        self.mask_token = nn.Parameter(torch.empty(1, 1, width))
        self.layers = nn.ModuleList(
            [DBetaMEMDecoderLayer(config) for _ in range(config.mem_decoder_num_hidden_layers)]
        )
        self.layer_norm = nn.LayerNorm(width)
        self.predictor = nn.Linear(width, config.num_leads * config.patch_size)

    def forward(self, fused_ecg_states: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        hidden_states = self.embed(fused_ecg_states)
        prefix = hidden_states[:, : self.num_prefix_tokens]
        kept = hidden_states[:, self.num_prefix_tokens :]
        batch_size, num_tokens = ids_restore.shape
        mask_tokens = self.mask_token.to(kept.dtype).expand(batch_size, num_tokens - kept.shape[1], -1)
        tokens = torch.cat([kept, mask_tokens], dim=1)
        tokens = torch.gather(tokens, 1, ids_restore.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        hidden_states = torch.cat([prefix, tokens], dim=1)
        hidden_states = hidden_states + sinusoidal_positions(
            hidden_states.shape[1], hidden_states.shape[-1], hidden_states.device
        ).to(hidden_states.dtype)
        for layer in self.layers:
            hidden_states = layer(hidden_states)
        return self.predictor(self.layer_norm(hidden_states))[:, self.num_prefix_tokens :]


# ----------------------------------------------------------------------------------------------------------------
# Pretrained models
# ----------------------------------------------------------------------------------------------------------------


def text_encoder_class(text_config):
    """The headless encoder class for a text config (T5 -> T5EncoderModel, BERT -> BertModel, ...)."""
    if type(text_config) not in MODEL_FOR_TEXT_ENCODING_MAPPING:
        raise ValueError(f"No text encoder class is known for model type {text_config.model_type!r}.")
    return MODEL_FOR_TEXT_ENCODING_MAPPING[type(text_config)]


def text_encoder_kwargs(model_class) -> dict:
    """BERT-like encoders build a pooler D-BETA never uses (it pools itself): leave it out."""
    parameters = inspect.signature(model_class.__init__).parameters
    return {"add_pooling_layer": False} if "add_pooling_layer" in parameters else {}


def damaged_checkpoint_message(location, problem: str) -> str:
    return (
        f"The checkpoint at {location} is damaged: {problem}. Download or copy it again (from the Hub: "
        "`hf download <repo> --force-download`), or save it again from the model or training run that wrote it."
    )


def check_finite_weights(model: nn.Module, location) -> None:
    """A diverged run or a corrupted file can store NaN / inf weights, which would turn every output into NaN."""
    bad = [
        name for name, tensor in model.state_dict().items()
        if tensor.is_floating_point() and tensor.device.type != "meta" and not torch.isfinite(tensor).all()
    ]
    if bad:
        raise ValueError(
            damaged_checkpoint_message(location, f"{len(bad)} weight tensors hold NaN or infinite values ({bad[:5]})")
            + " A checkpoint of a run whose loss became NaN needs an earlier checkpoint of that run instead."
        )


class DBetaPreTrainedModel(PreTrainedModel):
    config: DBetaConfig
    config_class = DBetaConfig
    base_model_prefix = "dbeta"
    main_input_name = "ecg_values"
    input_modalities = ("ecg", "text")
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = ["DBetaECGEncoderLayer", "DBetaFusionLayer", "DBetaMEMDecoderLayer"]
    _supports_sdpa = True
    _supports_attention_backend = True
    # Our losses are batch means, not sums to be divided by a token count: Trainer scales them for accumulation.
    accepts_loss_kwargs = False
    # What `AutoModel` loads from a checkpoint of this class (see `save_pretrained`).
    auto_base_model = "DBetaModel"

    def _init_weights(self, module):
        super()._init_weights(module)
        # Convolutions are initialised as leaves: for custom-code models, transformers skips a module without
        # parameters of its own (such as `DBetaConvLayer`), so an init written for the wrapper would never run.
        if isinstance(module, nn.Conv1d) and parametrize.is_parametrized(module, "weight"):
            # The positional conv, wav2vec 2.0's init: N(0, sqrt(4 / (kernel * channels))); g = |v| leaves w = v.
            std = math.sqrt(4.0 / (module.kernel_size[0] * module.in_channels))
            direction = module.parametrizations.weight.original1
            init.normal_(direction, mean=0.0, std=std)
            init.copy_(module.parametrizations.weight.original0, torch.norm_except_dim(direction, 2, dim=2))
            init.zeros_(module.bias)
        elif isinstance(module, nn.Conv1d):
            # The feature encoder's convolutions (He init): the signal keeps its scale through the GELU stack.
            init.kaiming_normal_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, DBetaECGEmbeddings) and module.class_embedding is not None:
            init.normal_(module.class_embedding, std=self.config.initializer_range)
        elif isinstance(module, DBetaMEMDecoder):
            init.normal_(module.mask_token, std=self.config.initializer_range)
        elif isinstance(module, DBetaForPreTraining) and module.logit_scale is not None:
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)
            init.constant_(module.logit_bias, self.config.logit_bias_init_value)

    def initialize_weights(self):
        # transformers treats every sub-model of custom code as custom code and then skips its blocks that hold no
        # parameters of their own, although a library model may initialise its leaves from there (T5's attention
        # sets q/k/v/o): std-1.0 text weights. Library sub-models therefore get their own pass first.
        for module in self.modules():
            if module is not self and isinstance(module, PreTrainedModel) and not module.is_custom_code():
                module.initialize_weights()
        super().initialize_weights()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`PreTrainedModel.from_pretrained`, refusing a damaged checkpoint with its location and the fix."""
        location = pretrained_model_name_or_path
        if location is not None and Path(location).is_dir():
            weights = sorted(Path(location).glob("*.safetensors"))
            location = weights[0] if len(weights) == 1 else Path(location)
        try:
            model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except SafetensorError as error:
            raise OSError(damaged_checkpoint_message(location, f"safetensors cannot read it ({error})")) from error
        check_finite_weights(model[0] if isinstance(model, tuple) else model, location)  # (model, loading info)
        return model

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Whatever head was saved, the checkpoint also loads as its base model through `AutoModel`; entries of the
        # checkpoint this model came from (e.g. a pretraining head's) would no longer be true, so start afresh.
        if self._auto_class is not None:
            self.config.auto_map = {"AutoModel": f"modeling_dbeta.{self.auto_base_model}"}
            # The pipelines travel with every checkpoint: listed here, their file copied as one of this file's imports.
            from .pipeline_dbeta import checkpoint_pipelines

            self.config.custom_pipelines = checkpoint_pipelines(self)
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_text_pretrained(
        cls, text_model_name_or_path: str, text_model_kwargs: dict | None = None, **config_kwargs
    ):
        """
        A new D-BETA (random ECG tower, fusion and heads) around a pretrained text encoder, e.g.
        `DBetaForPreTraining.from_text_pretrained("google/flan-t5-base")`: how a pretraining run starts.
        `config_kwargs` set the other `DBetaConfig` fields; `text_model_kwargs` go to the encoder's `from_pretrained`.
        """
        text_config = AutoConfig.from_pretrained(text_model_name_or_path, **(text_model_kwargs or {}))
        config = DBetaConfig(text_config=text_config, **config_kwargs)
        model = cls(config)
        encoder_class = text_encoder_class(config.text_config)
        pretrained = encoder_class.from_pretrained(
            text_model_name_or_path, **text_encoder_kwargs(encoder_class), **(text_model_kwargs or {})
        )
        model.base_model.text_model.load_state_dict(pretrained.state_dict())
        model.config.text_config._name_or_path = str(text_model_name_or_path)
        return model


class DBetaECGTower(DBetaPreTrainedModel):
    """
    The ECG tower: the encoder (conv features, positions, post-LN transformer), its projection to the fusion width
    and the unimodal pooler. Built once for every class that has one, always as its `ecg_model`, so the tower's
    weights carry the same names in every checkpoint.
    """

    input_modalities = ("ecg",)
    _can_record_outputs: ClassVar[dict] = {
        "hidden_states": DBetaECGEncoderLayer,
        "attentions": OutputRecorder(DBetaAttention, index=1),
    }

    def __init__(self, config: DBetaConfig):
        super().__init__(config)
        self.embeddings = DBetaECGEmbeddings(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList([DBetaECGEncoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.projection = nn.Linear(config.hidden_size, config.fusion_hidden_size)
        self.pooler = DBetaPooler(config.fusion_hidden_size, use_first_token=config.use_ecg_class_token)
        self.post_init()

    @capture_outputs
    def forward(
        self,
        ecg_values: torch.Tensor,
        mask_ratio: float = 0.0,
        noise: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> DBetaECGModelOutput:
        hidden_states, mask, ids_restore = self.embeddings(ecg_values, mask_ratio, noise)
        hidden_states = self.dropout(self.layer_norm(hidden_states))
        for layer in self.layers:
            hidden_states = layer(hidden_states, **kwargs)
        projected = self.projection(hidden_states)
        return DBetaECGModelOutput(
            last_hidden_state=hidden_states,
            pooler_output=self.pooler(projected),
            projected_last_hidden_state=projected,
            ecg_mask=mask,
            ecg_ids_restore=ids_restore,
        )


class DBetaECGModel(DBetaPreTrainedModel):
    """
    The ECG tower alone (encoder, projection, unimodal pooler): what zero-shot scoring, linear probing and
    fine-tuning need. Loads from any D-BETA checkpoint; everything outside the tower is left out.
    """

    input_modalities = ("ecg",)
    auto_base_model = "DBetaECGModel"
    # One rule for every D-BETA checkpoint ("dbeta.ecg_model..." in a pretraining or classification one, "ecg_model..."
    # in a base one): whatever is not the ECG tower's.
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [r"^(?!(dbeta\.)?ecg_model\.)"]

    def __init__(self, config: DBetaConfig):
        super().__init__(config)
        self.ecg_model = DBetaECGTower(config)
        self.post_init()

    @can_return_tuple
    def get_ecg_features(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None, **kwargs: Unpack[TransformersKwargs]
    ) -> DBetaECGModelOutput:
        """The unimodal ECG features, as [`DBetaModel.get_ecg_features`] gives them (pooled in `pooler_output`)."""
        return self(ecg_values, lead_mask=lead_mask, **kwargs)

    @can_return_tuple
    def forward(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None, **kwargs: Unpack[TransformersKwargs]
    ) -> DBetaECGModelOutput:
        r"""
        ecg_values (`torch.FloatTensor` of shape `(batch_size, num_leads, num_samples)`):
            See [`DBetaFeatureExtractor`].
        lead_mask (`torch.Tensor` of shape `(num_leads,)` or `(batch_size, num_leads)`, *optional*): 0 zeroes a lead.
        """
        reject_unknown_kwargs(kwargs, f"{type(self).__name__}.forward")
        return self.ecg_model(apply_lead_mask(ecg_values, lead_mask), return_dict=True, **kwargs)


class DBetaModel(DBetaPreTrainedModel):
    # Loaded from a pretraining checkpoint, the heads' weights are expected leftovers.
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [
        r"^(mlm_head|mem_decoder|etm_head|logit_scale|logit_bias)\b"
    ]

    def __init__(self, config: DBetaConfig):
        super().__init__(config)
        self.ecg_model = DBetaECGTower(config)

        encoder_class = text_encoder_class(config.text_config)
        self.text_model = encoder_class._from_config(config.text_config, **text_encoder_kwargs(encoder_class))
        self.text_projection = nn.Linear(config.text_config.hidden_size, config.fusion_hidden_size)
        self.text_pooler = DBetaPooler(config.fusion_hidden_size, use_first_token=config.text_pooling == "first")

        self.modality_type_embeddings = nn.Embedding(2, config.fusion_hidden_size)
        self.fusion = DBetaCoAttentionFusion(config)
        self.fused_text_pooler = DBetaPooler(config.fusion_hidden_size)
        self.fused_ecg_pooler = DBetaPooler(config.fusion_hidden_size, use_first_token=config.use_ecg_class_token)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module):
        self.text_model.set_input_embeddings(value)

    def freeze_text_encoder(self, num_layers: int | None = None, embeddings: bool = True):
        """
        Stops training the text encoder's token embeddings and its first `num_layers` layers (all of it when None),
        as in partial fine-tuning (LiT): the frozen part keeps its pretrained language knowledge and costs no backward
        pass or optimiser state. Works for any HF encoder whose layers form one `nn.ModuleList`.
        """
        if num_layers is None:
            self.text_model.requires_grad_(False)
            return
        depth = self.config.text_config.num_hidden_layers
        if not 0 <= num_layers <= depth:
            raise ValueError(f"num_layers must be between 0 and the text encoder's {depth} layers, got {num_layers}.")
        if embeddings:
            self.text_model.get_input_embeddings().requires_grad_(False)
        if num_layers == 0:
            return
        # `modules()` is pre-order: the encoder's own list comes before any list inside a layer (T5 blocks hold one).
        layers = next(
            (
                module
                for module in self.text_model.modules()
                if isinstance(module, nn.ModuleList) and len(module) == depth
            ),
            None,
        )
        if layers is None:
            raise ValueError(f"Found no list of {depth} layers in {type(self.text_model).__name__} to freeze.")
        layers[:num_layers].requires_grad_(False)

    @can_return_tuple
    def get_ecg_features(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None, **kwargs: Unpack[TransformersKwargs]
    ) -> DBetaECGModelOutput:
        r"""
        The unimodal ECG features, as CLIP's and SigLIP's feature getters give theirs: `pooler_output`, shape
        `(batch_size, fusion_hidden_size)`, holds the pooled features D-BETA's zero-shot scoring, linear probe and ETS
        loss use; `last_hidden_state` the ECG encoder's output they come from.

        ```python
        >>> inputs = feature_extractor(ecg, sampling_rate=500, return_tensors="pt")
        >>> features = model.get_ecg_features(inputs.ecg_values).pooler_output
        ```"""
        reject_unknown_kwargs(kwargs, f"{type(self).__name__}.get_ecg_features")
        return self.ecg_model(apply_lead_mask(ecg_values, lead_mask), return_dict=True, **kwargs)

    @can_return_tuple
    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Unpack[TransformersKwargs]
    ) -> BaseModelOutputWithPooling:
        r"""
        The unimodal text features, pooled in `pooler_output` `(batch_size, fusion_hidden_size)`; the text encoder's
        output (`last_hidden_state`, `hidden_states`, `attentions`) as it gave it.
        """
        reject_unknown_kwargs(kwargs, f"{type(self).__name__}.get_text_features")
        text_output = self.text_model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **kwargs)
        pooled = self.text_pooler(self.text_projection(text_output.last_hidden_state), attention_mask)
        return BaseModelOutputWithPooling(
            last_hidden_state=text_output.last_hidden_state,
            pooler_output=pooled,
            hidden_states=text_output.hidden_states,
            attentions=text_output.attentions,
        )

    @can_return_tuple
    def forward(
        self,
        ecg_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        lead_mask: torch.Tensor | None = None,
        mask_ecg: bool = False,
        ecg_mask_noise: torch.Tensor | None = None,
        return_ecg_layer: int | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> DBetaModelOutput:
        r"""
        ecg_values (`torch.FloatTensor` of shape `(batch_size, num_leads, num_samples)`):
            The ECG, leads in the standard order, at `config.sampling_rate` (see [`DBetaFeatureExtractor`]).
        input_ids, attention_mask (`torch.LongTensor` of shape `(batch_size, text_length)`): the tokenised reports.
        lead_mask (`torch.Tensor` of shape `(num_leads,)` or `(batch_size, num_leads)`, *optional*): 0 zeroes a lead.
        mask_ecg (`bool`, defaults to `False`): remove `config.ecg_mask_ratio` of the ECG tokens (pretraining).
        ecg_mask_noise (`torch.FloatTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*):
            Noise deciding which tokens are kept (the smallest values); random when not given.
        return_ecg_layer (`int`, *optional*): also return the fused ECG states entering this fusion layer (0 = the
            projected encoder output, -1 = the last layer's output) as `fusion_output.ecg_layer_state`.
        """
        reject_unknown_kwargs(kwargs, f"{type(self).__name__}.forward")
        flags = output_flags(self.config, kwargs)
        ecg_output = self.ecg_model(
            apply_lead_mask(ecg_values, lead_mask),
            mask_ratio=self.config.ecg_mask_ratio if mask_ecg else 0.0,
            noise=ecg_mask_noise,
            return_dict=True,
            **flags,
        )
        # The authors' code drops `attention_mask` here, so padding is attended; we pass it.
        text_output = self.text_model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **flags)
        ecg_states = ecg_output.projected_last_hidden_state
        text_states = self.text_projection(text_output.last_hidden_state)
        text_embeds = self.text_pooler(text_states, attention_mask)

        text_type = self.modality_type_embeddings.weight[0].to(text_states.dtype)
        ecg_type = self.modality_type_embeddings.weight[1].to(ecg_states.dtype)
        fusion_output = self.fusion(
            text_states + text_type,
            ecg_states + ecg_type,
            attention_mask,
            output_attentions=bool(flags["output_attentions"]),
            output_hidden_states=bool(flags["output_hidden_states"]),
            return_ecg_layer=return_ecg_layer,
        )
        multimodal_embeds = torch.cat(
            [
                self.fused_text_pooler(fusion_output.text_last_hidden_state),
                self.fused_ecg_pooler(fusion_output.ecg_last_hidden_state),
            ],
            dim=-1,
        )
        return DBetaModelOutput(
            ecg_embeds=ecg_output.pooler_output,
            text_embeds=text_embeds,
            multimodal_embeds=multimodal_embeds,
            ecg_model_output=ecg_output,
            text_model_output=text_output,
            fusion_output=fusion_output,
        )


class DBetaForPreTraining(DBetaPreTrainedModel):
    """D-BETA with its MLM, MEM and ETM heads; computes the four pretraining losses."""

    def __init__(self, config: DBetaConfig):
        super().__init__(config)
        self.dbeta = DBetaModel(config)
        self.mlm_head = DBetaMLMHead(config)
        self.mem_decoder = DBetaMEMDecoder(config)
        self.etm_head = nn.Linear(2 * config.fusion_hidden_size, 2)
        if config.ets_loss_type == "siglip":
            self.logit_scale = nn.Parameter(torch.empty(()))
            self.logit_bias = nn.Parameter(torch.empty(()))
        else:
            self.logit_scale = self.logit_bias = None
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        """
        The MLM head's vocabulary projection, resized with the text embeddings by `resize_token_embeddings`. It reads
        `fusion_hidden_size` features, so it is not tied to the text encoder's input embeddings (as in the paper).
        """
        return self.mlm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear):
        self.mlm_head.decoder = new_embeddings

    def freeze_text_encoder(self, num_layers: int | None = None, embeddings: bool = True):
        """See [`DBetaModel.freeze_text_encoder`]."""
        self.dbeta.freeze_text_encoder(num_layers, embeddings)

    @can_return_tuple
    def get_ecg_features(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None, **kwargs: Unpack[TransformersKwargs]
    ) -> DBetaECGModelOutput:
        """See [`DBetaModel.get_ecg_features`]."""
        return self.dbeta.get_ecg_features(ecg_values, lead_mask, return_dict=True, **kwargs)

    @can_return_tuple
    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Unpack[TransformersKwargs]
    ) -> BaseModelOutputWithPooling:
        """See [`DBetaModel.get_text_features`]."""
        return self.dbeta.get_text_features(input_ids, attention_mask, return_dict=True, **kwargs)

    def mlm_logits_and_loss(
        self, text_states: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        The MLM predictions and loss. In eager mode the vocabulary projection, the head's dominant cost, runs only
        where there is a target (as FLAVA): a quarter of the tokens or less. That selection has a data-dependent size,
        which a compiled or exported graph cannot hold, so there the projection runs at every position and the loss
        ignores the others: the same loss, in one static graph.
        """
        if is_torchdynamo_compiling():
            logits = self.mlm_head(text_states)
            return logits, masked_language_modeling_loss(logits, labels)
        targeted = labels != -100
        logits = self.mlm_head(text_states[targeted])
        return logits, masked_language_modeling_loss(logits, labels[targeted])

    @can_return_tuple
    def forward(
        self,
        ecg_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        mlm_labels: torch.Tensor | None = None,
        is_aligned: torch.Tensor | None = None,
        ecg_mask_noise: torch.Tensor | None = None,
        mask_ecg: bool = True,
        lead_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> DBetaForPreTrainingOutput:
        r"""
        mlm_labels (`torch.LongTensor` of shape `(batch_size, text_length)`, *optional*):
            Original ids at the masked text positions, -100 elsewhere.
        is_aligned (`torch.Tensor` of shape `(batch_size,)`, *optional*):
            1 for a matched ECG-report pair, 0 where the report was replaced by a negative. Needed by ETM and ETS.
        ecg_mask_noise (`torch.FloatTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*):
            Makes the ECG token masking reproducible (tokens with the smallest noise are kept).
        mask_ecg (`bool`, defaults to `True`): remove ECG tokens MAE-style; MEM is only computed when they are.
        """
        reject_unknown_kwargs(kwargs, f"{type(self).__name__}.forward")
        config = self.config
        compute_mem = mask_ecg and config.mem_loss_weight > 0
        outputs = self.dbeta(
            ecg_values,
            input_ids,
            attention_mask,
            lead_mask=lead_mask,
            mask_ecg=mask_ecg,
            ecg_mask_noise=ecg_mask_noise,
            return_ecg_layer=config.mem_decoder_fusion_layer if compute_mem else None,
            return_dict=True,
            **kwargs,
        )
        fused_text = outputs.fusion_output.text_last_hidden_state
        ecg_output = outputs.ecg_model_output
        # Reconstruction targets of a pair whose report is another ECG's are dropped unless the config asks for them.
        matched = None
        if is_aligned is not None and not config.masked_losses_on_mismatched:
            matched = is_aligned.bool()

        mlm_logits = mem_logits = etm_logits = None
        losses = {}
        if config.mlm_loss_weight > 0:
            if mlm_labels is not None:
                labels = mlm_labels if matched is None else mlm_labels.masked_fill(~matched[:, None], -100)
                mlm_logits, losses["mlm"] = self.mlm_logits_and_loss(fused_text, labels)
            else:
                mlm_logits = self.mlm_head(fused_text)
        if compute_mem:
            mem_logits = self.mem_decoder(outputs.fusion_output.ecg_layer_state, ecg_output.ecg_ids_restore)
            targets = ecg_patch_targets(
                apply_lead_mask(ecg_values, lead_mask), mem_logits.shape[1], config.patch_size, config.mem_norm_target
            )
            token_mask = ecg_output.ecg_mask if matched is None else ecg_output.ecg_mask * matched[:, None]
            losses["mem"] = masked_ecg_modeling_loss(mem_logits, targets, token_mask)
        if config.etm_loss_weight > 0:
            etm_logits = self.etm_head(outputs.multimodal_embeds)
            if is_aligned is not None:
                losses["etm"] = ecg_text_matching_loss(etm_logits, is_aligned)
        if config.ets_loss_weight > 0 and is_aligned is not None:
            losses["ets"] = ecg_text_sigmoid_loss(
                outputs.ecg_embeds,
                outputs.text_embeds,
                is_aligned,
                logit_scale=self.logit_scale,
                logit_bias=self.logit_bias,
                sum_over_texts=config.ets_loss_type == "siglip",
            )

        loss = None
        if losses:
            loss = sum(getattr(config, f"{name}_loss_weight") * value for name, value in losses.items())
        return DBetaForPreTrainingOutput(
            loss=loss,
            mlm_loss=losses.get("mlm"),
            mem_loss=losses.get("mem"),
            etm_loss=losses.get("etm"),
            ets_loss=losses.get("ets"),
            mlm_logits=mlm_logits,
            mem_logits=mem_logits,
            etm_logits=etm_logits,
            ecg_embeds=outputs.ecg_embeds,
            text_embeds=outputs.text_embeds,
            multimodal_embeds=outputs.multimodal_embeds,
            ecg_mask=ecg_output.ecg_mask,
            model_output=outputs,
        )


class DBetaForECGClassification(DBetaPreTrainedModel):
    """
    ECG tower + linear head on the unimodal pooled features, for fine-tuning (whole encoder trained) or linear
    probing (`freeze_encoder()`). `config.problem_type` picks BCE (multi-label), cross-entropy or MSE as usual.
    """

    input_modalities = ("ecg",)
    auto_base_model = "DBetaECGModel"

    def __init__(self, config: DBetaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.dbeta = DBetaECGModel(config)
        self.classifier = nn.Linear(config.fusion_hidden_size, config.num_labels)
        self.register_buffer("lead_mask", self._config_lead_mask(config), persistent=False)
        self.encoder_frozen = False
        self.post_init()

    @staticmethod
    def _config_lead_mask(config: DBetaConfig) -> torch.Tensor:
        mask = lead_mask_from_names(config.classifier_leads, config.num_leads)
        return torch.ones(config.num_leads) if mask is None else mask

    def _init_weights(self, module):
        super()._init_weights(module)
        if module is self:
            init.copy_(self.lead_mask, self._config_lead_mask(self.config))

    def freeze_encoder(self, frozen: bool = True):
        """Linear probing: no gradient into the ECG tower, which also stays in eval mode (no dropout)."""
        self.encoder_frozen = frozen
        self.dbeta.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.encoder_frozen:
            self.dbeta.eval()
        return self

    @can_return_tuple
    def forward(
        self,
        ecg_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        lead_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SequenceClassifierOutput:
        r"""
        labels (`torch.Tensor`, *optional*): `(batch_size, num_labels)` multi-hot floats for multi-label problems,
            `(batch_size,)` class ids for single-label ones.
        lead_mask (`torch.Tensor` of shape `(num_leads,)` or `(batch_size, num_leads)`, *optional*):
            0 zeroes a lead; defaults to the leads named in `config.classifier_leads`.
        """
        reject_unknown_kwargs(kwargs, f"{type(self).__name__}.forward")
        lead_mask = self.lead_mask if lead_mask is None else lead_mask
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            outputs = self.dbeta(ecg_values, lead_mask=lead_mask, return_dict=True, **kwargs)
        logits = self.classifier(outputs.pooler_output)

        loss = None
        if labels is not None:
            if self.config.problem_type is None:
                if self.num_labels == 1:
                    self.config.problem_type = "regression"
                elif labels.dtype in (torch.long, torch.int):
                    self.config.problem_type = "single_label_classification"
                else:
                    self.config.problem_type = "multi_label_classification"
            if self.config.problem_type == "regression":
                loss = F.mse_loss(logits.squeeze(-1).float(), labels.float())
            elif self.config.problem_type == "single_label_classification":
                loss = F.cross_entropy(logits.float(), labels.long())
            else:
                loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


__all__ = [
    "DBetaECGModel",
    "DBetaForECGClassification",
    "DBetaForPreTraining",
    "DBetaModel",
    "DBetaPreTrainedModel",
    "apply_lead_mask",
    "lead_mask_from_names",
]
