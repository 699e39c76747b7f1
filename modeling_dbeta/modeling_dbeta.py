# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""PyTorch D-BETA: masked ECG-text auto-encoder with discriminative (ETM, ETS) objectives."""

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from transformers import AutoConfig, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling, SequenceClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.auto.modeling_auto import MODEL_FOR_TEXT_ENCODING_MAPPING
from transformers.utils import ModelOutput

from .configuration_dbeta import DBetaConfig
from .feature_extraction_dbeta import STANDARD_LEADS, lead_indices
from .losses import (
    ecg_patch_targets,
    ecg_text_matching_loss,
    ecg_text_sigmoid_loss,
    masked_ecg_modeling_loss,
    masked_language_modeling_loss,
)


@dataclass
class DBetaECGEncoderOutput(ModelOutput):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_kept_tokens, hidden_size)`):
        ECG encoder output; the first token is the class token when the config uses one.
    ecg_mask (`torch.FloatTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*):
        1 where an ECG token was removed by MAE-style masking, 0 where it was kept.
    ecg_ids_restore (`torch.LongTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*):
        Permutation that puts the kept tokens followed by the removed ones back in temporal order.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*): input of every encoder layer and the final output.
    """

    last_hidden_state: torch.FloatTensor | None = None
    ecg_mask: torch.FloatTensor | None = None
    ecg_ids_restore: torch.LongTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class DBetaModelOutput(ModelOutput):
    r"""
    ecg_embeds (`torch.FloatTensor` of shape `(batch_size, fusion_hidden_size)`):
        Unimodal pooled ECG features (ETS, zero-shot and linear-probe features).
    text_embeds (`torch.FloatTensor` of shape `(batch_size, fusion_hidden_size)`):
        Unimodal pooled text features.
    multimodal_embeds (`torch.FloatTensor` of shape `(batch_size, 2 * fusion_hidden_size)`):
        `[text pooled, ECG pooled]` after the co-attention fusion.
    ecg_last_hidden_state, text_last_hidden_state (`torch.FloatTensor`):
        Fused ECG and text token states (output of the last fusion layer).
    ecg_encoder_last_hidden_state, text_encoder_last_hidden_state (`torch.FloatTensor`):
        Unimodal encoder outputs projected to `fusion_hidden_size`.
    fusion_ecg_hidden_states, fusion_text_hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        Input of every fusion layer and the final output, per modality (with `output_hidden_states=True`).
    ecg_mask, ecg_ids_restore: see [`DBetaECGEncoderOutput`]; set when the ECG tokens were masked.
    """

    ecg_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    multimodal_embeds: torch.FloatTensor | None = None
    ecg_last_hidden_state: torch.FloatTensor | None = None
    text_last_hidden_state: torch.FloatTensor | None = None
    ecg_encoder_last_hidden_state: torch.FloatTensor | None = None
    text_encoder_last_hidden_state: torch.FloatTensor | None = None
    fusion_ecg_hidden_states: tuple[torch.FloatTensor, ...] | None = None
    fusion_text_hidden_states: tuple[torch.FloatTensor, ...] | None = None
    ecg_mask: torch.FloatTensor | None = None
    ecg_ids_restore: torch.LongTensor | None = None


@dataclass
class DBetaForPreTrainingOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, *optional*): weighted sum of the losses that could be computed.
    mlm_loss, mem_loss, etm_loss, ets_loss (`torch.FloatTensor` of shape `()`, *optional*): the four objectives
        (unweighted); `None` when switched off or when their labels were not given.
    mlm_logits (`torch.FloatTensor` of shape `(batch_size, text_length, vocab_size)` or `(num_targets, vocab_size)`, *optional*):
        Token predictions; with `mlm_labels`, only at the positions that carry an MLM target (as FLAVA), in the
        order of `mlm_labels[mlm_labels != -100]` (mismatched pairs left out unless `masked_losses_on_mismatched`).
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

    def to_tuple(self):
        return tuple(value.to_tuple() if isinstance(value, ModelOutput) else value for value in self.values())


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
    ) -> torch.Tensor:
        source = hidden_states if key_value_states is None else key_value_states
        query = self.q_proj(hidden_states).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
        key = self.k_proj(source).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
        value = self.v_proj(source).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, _ = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            scaling=self.scaling,
            dropout=self.dropout if self.training else 0.0,
        )
        return self.out_proj(attn_output.flatten(-2))


# ----------------------------------------------------------------------------------------------------------------
# ECG encoder
# ----------------------------------------------------------------------------------------------------------------


class DBetaConvLayer(nn.Module):
    """One block of the convolutional feature encoder: Conv1d, optional normalisation (in fp32), GELU."""

    def __init__(self, config: DBetaConfig, layer_id: int):
        super().__init__()
        in_channels = config.num_leads if layer_id == 0 else config.conv_layers[layer_id - 1][0]
        channels, kernel, stride = config.conv_layers[layer_id]
        self.conv = nn.Conv1d(in_channels, channels, kernel, stride=stride, bias=config.conv_bias)
        if config.feat_extract_norm == "layer":
            self.norm = nn.LayerNorm(channels, elementwise_affine=True)
        elif layer_id == 0:
            self.norm = nn.GroupNorm(channels, channels, affine=True)
        else:
            self.norm = None
        self.activation = nn.GELU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv(hidden_states)
        if isinstance(self.norm, nn.GroupNorm):
            normed = F.group_norm(hidden_states.float(), self.norm.num_groups, self.norm.weight, self.norm.bias, self.norm.eps)
            hidden_states = normed.type_as(hidden_states)
        elif self.norm is not None:
            normed = F.layer_norm(
                hidden_states.transpose(1, 2).float(), self.norm.normalized_shape, self.norm.weight, self.norm.bias, self.norm.eps
            )
            hidden_states = normed.transpose(1, 2).type_as(hidden_states)
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
        positions = self.conv(hidden_states.transpose(1, 2))
        if self.num_pad_remove:
            positions = positions[:, :, : -self.num_pad_remove]
        return self.activation(positions).transpose(1, 2)


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
        """Keep the `int(T * (1 - ratio))` tokens with the smallest noise (MAE); return them, the mask and the restore ids."""
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
        if ecg_values.dim() != 3 or ecg_values.shape[1] != self.config.num_leads:
            raise ValueError(
                f"`ecg_values` must have shape (batch, {self.config.num_leads}, samples), got {tuple(ecg_values.shape)}. "
                "Use DBetaFeatureExtractor to turn recordings into model inputs."
            )
        features = ecg_values
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
        self.self_attn = DBetaAttention(config, config.hidden_size, config.num_attention_heads, config.attention_dropout)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.self_attn_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = DBetaECGFeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.self_attn_layer_norm(hidden_states + self.dropout(self.self_attn(hidden_states)))
        return self.final_layer_norm(hidden_states + self.feed_forward(hidden_states))


class DBetaECGTransformer(nn.Module):
    """The ECG encoder: embeddings, then LayerNorm, dropout and the post-LN layers."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.embeddings = DBetaECGEmbeddings(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList([DBetaECGEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        ecg_values: torch.Tensor,
        mask_ratio: float = 0.0,
        noise: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> DBetaECGEncoderOutput:
        hidden_states, mask, ids_restore = self.embeddings(ecg_values, mask_ratio, noise)
        hidden_states = self.dropout(self.layer_norm(hidden_states))
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for layer in self.layers:
            hidden_states = layer(hidden_states)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
        return DBetaECGEncoderOutput(
            last_hidden_state=hidden_states, ecg_mask=mask, ecg_ids_restore=ids_restore, hidden_states=all_hidden_states
        )


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

    def forward(self, hidden_states, key_value_states=None, attention_mask=None) -> torch.Tensor:
        attended = self.attention(hidden_states, key_value_states, attention_mask)
        return self.layer_norm(hidden_states + self.dropout(attended))


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

    def forward(self, hidden_states, other_states, self_attention_mask=None, cross_attention_mask=None) -> torch.Tensor:
        hidden_states = self.self_attention(hidden_states, attention_mask=self_attention_mask)
        hidden_states = self.cross_attention(hidden_states, other_states, cross_attention_mask)
        feed_forward = self.dropout(self.fc2(self.activation(self.fc1(hidden_states))))
        return self.final_layer_norm(hidden_states + feed_forward)


class DBetaCoAttentionFusion(nn.Module):
    """One layer stack per modality; layer i of each reads the other modality's output of layer i - 1."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.config = config
        self.text_layers = nn.ModuleList([DBetaFusionLayer(config) for _ in range(config.fusion_num_hidden_layers)])
        self.ecg_layers = nn.ModuleList([DBetaFusionLayer(config) for _ in range(config.fusion_num_hidden_layers)])

    def forward(self, text_states, ecg_states, text_attention_mask=None, output_hidden_states=False):
        text_self_mask = create_bidirectional_mask(self.config, text_states, text_attention_mask)
        ecg_cross_mask = create_bidirectional_mask(
            self.config, ecg_states, text_attention_mask, encoder_hidden_states=text_states
        )
        all_text = (text_states,) if output_hidden_states else None
        all_ecg = (ecg_states,) if output_hidden_states else None
        for text_layer, ecg_layer in zip(self.text_layers, self.ecg_layers):
            text_states, ecg_states = (
                text_layer(text_states, ecg_states, self_attention_mask=text_self_mask),
                ecg_layer(ecg_states, text_states, cross_attention_mask=ecg_cross_mask),
            )
            if output_hidden_states:
                all_text += (text_states,)
                all_ecg += (ecg_states,)
        return text_states, ecg_states, all_text, all_ecg


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
        hidden_states = hidden_states + self.self_attn(self.layer_norm1(hidden_states))
        return hidden_states + self.fc2(self.activation(self.fc1(self.layer_norm2(hidden_states))))


class DBetaMEMDecoder(nn.Module):
    """Reconstructs every ECG token from the kept ones: mask tokens re-inserted in order, sinusoidal positions."""

    def __init__(self, config: DBetaConfig):
        super().__init__()
        self.num_prefix_tokens = 1 if config.use_ecg_class_token else 0
        width = config.mem_decoder_hidden_size
        self.embed = nn.Linear(config.fusion_hidden_size, width)
        self.mask_token = nn.Parameter(torch.empty(1, 1, width))
        self.layers = nn.ModuleList([DBetaMEMDecoderLayer(config) for _ in range(config.mem_decoder_num_hidden_layers)])
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
    return {"add_pooling_layer": False} if "add_pooling_layer" in inspect.signature(model_class.__init__).parameters else {}


class DBetaPreTrainedModel(PreTrainedModel):
    config: DBetaConfig
    config_class = DBetaConfig
    base_model_prefix = "dbeta"
    main_input_name = "ecg_values"
    input_modalities = ("ecg", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["DBetaECGEncoderLayer", "DBetaFusionLayer", "DBetaMEMDecoderLayer"]
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
    def from_text_pretrained(cls, text_model_name_or_path: str, text_model_kwargs: dict | None = None, **config_kwargs):
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


class DBetaECGModel(DBetaPreTrainedModel):
    """
    The ECG tower alone (encoder, projection, unimodal pooler): what zero-shot scoring, linear probing and
    fine-tuning need. Loads from any D-BETA checkpoint; the text tower's weights are left out.
    """

    input_modalities = ("ecg",)
    auto_base_model = "DBetaECGModel"
    _keys_to_ignore_on_load_unexpected = [r"text_", r"fusion", r"fused_", r"modality_type", r"mlm_head", r"mem_decoder", r"etm_head", r"logit_"]

    def __init__(self, config: DBetaConfig):
        super().__init__(config)
        self.ecg_model = DBetaECGTransformer(config)
        self.ecg_projection = nn.Linear(config.hidden_size, config.fusion_hidden_size)
        self.ecg_pooler = DBetaPooler(config.fusion_hidden_size, use_first_token=config.use_ecg_class_token)
        self.post_init()

    def get_ecg_features(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None
    ) -> BaseModelOutputWithPooling:
        """The unimodal ECG features, as [`DBetaModel.get_ecg_features`] gives them (pooled in `pooler_output`)."""
        return self(ecg_values, lead_mask=lead_mask)

    def forward(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None, output_hidden_states: bool | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        r"""
        ecg_values (`torch.FloatTensor` of shape `(batch_size, num_leads, num_samples)`): see [`DBetaFeatureExtractor`].
        lead_mask (`torch.Tensor` of shape `(num_leads,)` or `(batch_size, num_leads)`, *optional*): 0 zeroes a lead.
        """
        encoder_output = self.ecg_model(apply_lead_mask(ecg_values, lead_mask), output_hidden_states=bool(output_hidden_states))
        projected = self.ecg_projection(encoder_output.last_hidden_state)
        return BaseModelOutputWithPooling(
            last_hidden_state=projected, pooler_output=self.ecg_pooler(projected), hidden_states=encoder_output.hidden_states
        )


class DBetaModel(DBetaPreTrainedModel):
    # Loaded from a pretraining checkpoint, the heads' weights are expected leftovers.
    _keys_to_ignore_on_load_unexpected = [r"mlm_head", r"mem_decoder", r"etm_head", r"logit_"]

    def __init__(self, config: DBetaConfig):
        super().__init__(config)
        self.ecg_model = DBetaECGTransformer(config)
        self.ecg_projection = nn.Linear(config.hidden_size, config.fusion_hidden_size)
        self.ecg_pooler = DBetaPooler(config.fusion_hidden_size, use_first_token=config.use_ecg_class_token)

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
        # `modules()` is pre-order, so the encoder's own list comes before any list inside a layer (T5 blocks hold one).
        layers = next(
            (module for module in self.text_model.modules() if isinstance(module, nn.ModuleList) and len(module) == depth),
            None,
        )
        if layers is None:
            raise ValueError(f"Found no list of {depth} layers in {type(self.text_model).__name__} to freeze.")
        layers[:num_layers].requires_grad_(False)

    def _encode_ecg(self, ecg_values, lead_mask=None, mask_ratio=0.0, noise=None) -> DBetaECGEncoderOutput:
        output = self.ecg_model(apply_lead_mask(ecg_values, lead_mask), mask_ratio=mask_ratio, noise=noise)
        output.last_hidden_state = self.ecg_projection(output.last_hidden_state)
        return output

    def _encode_text(self, input_ids, attention_mask=None) -> torch.Tensor:
        # The authors' code drops `attention_mask` here, so padding is attended; we pass it.
        text_output = self.text_model(input_ids=input_ids, attention_mask=attention_mask)
        return self.text_projection(text_output.last_hidden_state)

    def get_ecg_features(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None
    ) -> BaseModelOutputWithPooling:
        r"""
        The unimodal ECG features, as CLIP's and SigLIP's feature getters give theirs: `pooler_output`, shape
        `(batch_size, fusion_hidden_size)`, holds the pooled features D-BETA's zero-shot scoring, linear probe and ETS
        loss use; `last_hidden_state` the projected encoder tokens they are pooled from.

        ```python
        >>> inputs = feature_extractor(ecg, sampling_rate=500, return_tensors="pt")
        >>> features = model.get_ecg_features(inputs.ecg_values).pooler_output
        ```"""
        tokens = self._encode_ecg(ecg_values, lead_mask).last_hidden_state
        return BaseModelOutputWithPooling(last_hidden_state=tokens, pooler_output=self.ecg_pooler(tokens))

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> BaseModelOutputWithPooling:
        r"""The unimodal text features: pooled in `pooler_output` `(batch_size, fusion_hidden_size)`, tokens in
        `last_hidden_state`."""
        tokens = self._encode_text(input_ids, attention_mask)
        return BaseModelOutputWithPooling(last_hidden_state=tokens, pooler_output=self.text_pooler(tokens, attention_mask))

    def forward(
        self,
        ecg_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        lead_mask: torch.Tensor | None = None,
        mask_ecg: bool = False,
        ecg_mask_noise: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> DBetaModelOutput:
        r"""
        ecg_values (`torch.FloatTensor` of shape `(batch_size, num_leads, num_samples)`):
            The ECG, leads in the standard order, at `config.sampling_rate` (see [`DBetaFeatureExtractor`]).
        input_ids, attention_mask (`torch.LongTensor` of shape `(batch_size, text_length)`): the tokenised reports.
        lead_mask (`torch.Tensor` of shape `(num_leads,)` or `(batch_size, num_leads)`, *optional*): 0 zeroes a lead.
        mask_ecg (`bool`, defaults to `False`): remove `config.ecg_mask_ratio` of the ECG tokens (pretraining).
        ecg_mask_noise (`torch.FloatTensor` of shape `(batch_size, num_ecg_tokens)`, *optional*):
            Noise deciding which tokens are kept (the smallest values); random when not given.
        """
        output_hidden_states = output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        ecg_output = self._encode_ecg(
            ecg_values, lead_mask, mask_ratio=self.config.ecg_mask_ratio if mask_ecg else 0.0, noise=ecg_mask_noise
        )
        ecg_states = ecg_output.last_hidden_state
        text_states = self._encode_text(input_ids, attention_mask)
        ecg_embeds = self.ecg_pooler(ecg_states)
        text_embeds = self.text_pooler(text_states, attention_mask)

        text_type = self.modality_type_embeddings.weight[0].to(text_states.dtype)
        ecg_type = self.modality_type_embeddings.weight[1].to(ecg_states.dtype)
        fused_text, fused_ecg, all_text, all_ecg = self.fusion(
            text_states + text_type, ecg_states + ecg_type, attention_mask, output_hidden_states=output_hidden_states
        )
        multimodal_embeds = torch.cat([self.fused_text_pooler(fused_text), self.fused_ecg_pooler(fused_ecg)], dim=-1)
        return DBetaModelOutput(
            ecg_embeds=ecg_embeds,
            text_embeds=text_embeds,
            multimodal_embeds=multimodal_embeds,
            ecg_last_hidden_state=fused_ecg,
            text_last_hidden_state=fused_text,
            ecg_encoder_last_hidden_state=ecg_states,
            text_encoder_last_hidden_state=text_states,
            fusion_ecg_hidden_states=all_ecg,
            fusion_text_hidden_states=all_text,
            ecg_mask=ecg_output.ecg_mask,
            ecg_ids_restore=ecg_output.ecg_ids_restore,
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

    def freeze_text_encoder(self, num_layers: int | None = None, embeddings: bool = True):
        """See [`DBetaModel.freeze_text_encoder`]."""
        self.dbeta.freeze_text_encoder(num_layers, embeddings)

    def get_ecg_features(
        self, ecg_values: torch.Tensor, lead_mask: torch.Tensor | None = None
    ) -> BaseModelOutputWithPooling:
        """See [`DBetaModel.get_ecg_features`]."""
        return self.dbeta.get_ecg_features(ecg_values, lead_mask)

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> BaseModelOutputWithPooling:
        """See [`DBetaModel.get_text_features`]."""
        return self.dbeta.get_text_features(input_ids, attention_mask)

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
        **kwargs,
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
        config = self.config
        compute_mem = mask_ecg and config.mem_loss_weight > 0
        outputs = self.dbeta(
            ecg_values,
            input_ids,
            attention_mask,
            lead_mask=lead_mask,
            mask_ecg=mask_ecg,
            ecg_mask_noise=ecg_mask_noise,
            output_hidden_states=compute_mem or None,
        )
        # Reconstruction targets of a pair whose report is another ECG's are dropped unless the config asks for them.
        matched = None
        if is_aligned is not None and not config.masked_losses_on_mismatched:
            matched = is_aligned.bool()

        mlm_logits = mem_logits = etm_logits = None
        losses = {}
        if config.mlm_loss_weight > 0:
            if mlm_labels is not None:
                labels = mlm_labels if matched is None else mlm_labels.masked_fill(~matched[:, None], -100)
                targeted = labels != -100
                # As FLAVA: the vocabulary projection only where there is a target (a quarter of the tokens or less).
                mlm_logits = self.mlm_head(outputs.text_last_hidden_state[targeted])
                losses["mlm"] = masked_language_modeling_loss(mlm_logits, labels[targeted])
            else:
                mlm_logits = self.mlm_head(outputs.text_last_hidden_state)
        if compute_mem:
            fused_ecg = outputs.fusion_ecg_hidden_states[config.mem_decoder_fusion_layer]
            mem_logits = self.mem_decoder(fused_ecg, outputs.ecg_ids_restore)
            targets = ecg_patch_targets(
                apply_lead_mask(ecg_values, lead_mask), mem_logits.shape[1], config.patch_size, config.mem_norm_target
            )
            token_mask = outputs.ecg_mask if matched is None else outputs.ecg_mask * matched[:, None]
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
            ecg_mask=outputs.ecg_mask,
            model_output=outputs,
        )


class DBetaForECGClassification(DBetaPreTrainedModel):
    """
    ECG tower + linear head on the unimodal pooled features, for fine-tuning (whole encoder trained) or linear
    probing (`freeze_encoder()`). `config.problem_type` picks BCE (multi-label), cross-entropy or MSE as usual.
    """

    input_modalities = ("ecg",)
    auto_base_model = "DBetaECGModel"
    _keys_to_ignore_on_load_unexpected = DBetaECGModel._keys_to_ignore_on_load_unexpected

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

    def forward(
        self, ecg_values: torch.Tensor, labels: torch.Tensor | None = None, lead_mask: torch.Tensor | None = None, **kwargs
    ) -> SequenceClassifierOutput:
        r"""
        labels (`torch.Tensor`, *optional*): `(batch_size, num_labels)` multi-hot floats for multi-label problems,
            `(batch_size,)` class ids for single-label ones.
        lead_mask (`torch.Tensor` of shape `(num_leads,)` or `(batch_size, num_leads)`, *optional*):
            0 zeroes a lead; defaults to the leads named in `config.classifier_leads`.
        """
        lead_mask = self.lead_mask if lead_mask is None else lead_mask
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            pooled = self.dbeta(ecg_values, lead_mask=lead_mask).pooler_output
        logits = self.classifier(pooled)

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
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = [
    "DBetaPreTrainedModel",
    "DBetaModel",
    "DBetaECGModel",
    "DBetaForPreTraining",
    "DBetaForECGClassification",
    "apply_lead_mask",
    "lead_mask_from_names",
]
