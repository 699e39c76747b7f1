# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""The four D-BETA pretraining objectives, as functions of model outputs.

`DBetaForPreTraining.forward` calls these (FLAVA computes its losses in the same place); they live apart so that
each loss can be read, tested and reused on its own.
"""

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F


def masked_language_modeling_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """
    Mean cross-entropy over the positions whose label is not -100, for logits `(..., vocab)` and labels `(...)`;
    0 (still in the graph) when there are none. No data-dependent branch, so it compiles into one graph.
    """
    total = F.cross_entropy(logits.flatten(0, -2).float(), labels.flatten(), ignore_index=-100, reduction="sum")
    return total / (labels != -100).sum().clamp(min=1)


def ecg_patch_targets(
    ecg_values: torch.Tensor, num_tokens: int, patch_size: int, normalize: bool, eps: float = 1e-6
) -> torch.Tensor:
    """
    MEM targets: the input cut to `num_tokens * patch_size` samples, each lead optionally normalised over that length
    (unbiased variance), as one vector per token ordered lead-major: (batch, num_tokens, num_leads * patch_size).
    """
    signal = ecg_values[..., : num_tokens * patch_size].float()
    if normalize:
        mean = signal.mean(dim=-1, keepdim=True)
        var = signal.var(dim=-1, keepdim=True)
        signal = (signal - mean) / (var + eps).sqrt()
    batch_size, num_leads, _ = signal.shape
    patches = signal.reshape(batch_size, num_leads, num_tokens, patch_size).permute(0, 2, 1, 3)
    return patches.reshape(batch_size, num_tokens, num_leads * patch_size)


def masked_ecg_modeling_loss(
    predictions: torch.Tensor, targets: torch.Tensor, token_mask: torch.Tensor
) -> torch.Tensor:
    """Mean squared error per token, averaged over the tokens where `token_mask` is 1 (the removed ones); 0 if none."""
    per_token = (predictions.float() - targets).pow(2).mean(dim=-1)
    weight = token_mask.to(per_token.dtype)
    return (per_token * weight).sum() / weight.sum().clamp(min=1)


def ecg_text_matching_loss(logits: torch.Tensor, is_aligned: torch.Tensor) -> torch.Tensor:
    """Two-way cross-entropy: matched (1) or mismatched (0) pair."""
    return F.cross_entropy(logits.float(), is_aligned.long())


def gather_with_grad(features: torch.Tensor) -> tuple[torch.Tensor, int]:
    """
    Concatenate `features` from every rank, keeping the autograd graph, and return them with the offset of this
    rank's rows. Ranks may hold different batch sizes (the last batch of an epoch): rows are padded for the
    collective and trimmed after it.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return features, 0
    local_size = torch.tensor([features.shape[0]], device=features.device)
    sizes = [torch.empty_like(local_size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, local_size)
    sizes = [int(size) for size in sizes]
    padded = F.pad(features, (0, 0, 0, max(sizes) - features.shape[0]))
    gathered = dist_fn.all_gather(padded)
    rank = dist.get_rank()
    return torch.cat([part[:size] for part, size in zip(gathered, sizes, strict=True)]), sum(sizes[:rank])


def ecg_text_sigmoid_loss(
    ecg_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    is_aligned: torch.Tensor,
    logit_scale: torch.Tensor | None = None,
    logit_bias: torch.Tensor | None = None,
    sum_over_texts: bool = False,
) -> torch.Tensor:
    """
    ETS: a pairwise sigmoid loss between this rank's ECGs and the texts of all ranks. Every off-diagonal pair is a
    negative (-1); a diagonal pair is +1 when matched and -1 when its report was replaced by an N3S negative.

    Without `logit_scale` the logits are plain dot products and each ECG's row is averaged over texts (the authors'
    form, a mean over all B x B pairs); with it, SigLIP's form: cosine similarities (both sides L2-normalised) times
    `exp(scale)` plus `bias`, rows summed. Each rank returns the mean over its own rows, so the average over ranks,
    which DDP's gradient averaging optimises, is the loss of the concatenated batch.
    """
    ecg_embeds, text_embeds = ecg_embeds.float(), text_embeds.float()
    if logit_scale is not None:
        ecg_embeds, text_embeds = F.normalize(ecg_embeds, dim=-1), F.normalize(text_embeds, dim=-1)
    all_text_embeds, offset = gather_with_grad(text_embeds)
    logits = ecg_embeds @ all_text_embeds.T
    if logit_scale is not None:
        logits = logits * logit_scale.exp() + logit_bias
    rows = torch.arange(ecg_embeds.shape[0], device=logits.device)
    labels = torch.full_like(logits, -1.0)
    labels[rows, rows + offset] = 2.0 * is_aligned.to(logits.dtype) - 1.0
    log_likelihood = F.logsigmoid(labels * logits)
    per_ecg = log_likelihood.sum(dim=1) if sum_over_texts else log_likelihood.mean(dim=1)
    return -per_ecg.mean()
