# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Convert a checkpoint of the authors' D-BETA code (github.com/manhph2211/D-BETA) into a `DBetaForPreTraining`
checkpoint (safetensors + config.json).

    python -m modeling_dbeta.convert_original_checkpoint --checkpoint_path sample.pt \
        --config_path configs/config.json [--text_config_path t5/config.json] --pytorch_dump_folder_path out/

Every tensor is mapped by name; the conversion fails, listing them, if any tensor is left unmapped or any weight of
our model is left without a value. The converted config reproduces the authors' behaviour: their ETS form
(no temperature or bias, mean over B x B) and MLM / MEM on all pairs, mismatched ones included.
"""

import argparse
import ast
import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoConfig

from .configuration_dbeta import FLAN_T5_BASE_ENCODER, DBetaConfig
from .modeling_dbeta import DBetaForPreTraining, sinusoidal_positions


# Authors' config fields that only concern their training loop or data pipeline, or wav2vec 2.0 span masking that
# D-BETA never applies: they have no counterpart in the model.
IGNORED_CONFIG_FIELDS = {
    "_name", "all_gather", "normalize", "filter", "data", "args", "lead_masking", "dropout_features", "apply_mask",
    "mask_length", "mask_prob", "mask_selection", "mask_other", "no_mask_overlap", "mask_min_space",
    "mask_channel_length", "mask_channel_prob", "mask_channel_selection", "mask_channel_other",
    "no_mask_channel_overlap", "mask_channel_min_space", "feature_grad_mult", "load_pretrained_weights",
    "pretrained_model_path", "max_text_size", "num_layers", "vocab_size",
}

MODALITY = {"language": "text", "ecg": "ecg"}
ATTENTION = {"attention": "self_attention", "crossattention": "cross_attention"}

# (pattern, replacement) on the authors' names, first match wins; `None` drops a tensor that has no counterpart.
KEY_RULES = [
    (r"^class_embedding$", r"dbeta.ecg_model.embeddings.class_embedding"),
    # wav2vec 2.0's span-mask embedding, unused by D-BETA (their loader drops it too)
    (r"^ecg_encoder\.mask_emb$", None),
    (r"^ecg_encoder\.feature_extractor\.conv_layers\.(\d+)\.0\.", r"dbeta.ecg_model.embeddings.conv_layers.\1.conv."),
    (r"^ecg_encoder\.feature_extractor\.conv_layers\.(\d+)\.2\.(1\.)?",
     r"dbeta.ecg_model.embeddings.conv_layers.\1.norm."),
    (r"^ecg_encoder\.layer_norm\.", r"dbeta.ecg_model.embeddings.layer_norm."),
    (r"^ecg_encoder\.post_extract_proj\.", r"dbeta.ecg_model.embeddings.projection."),
    (r"^ecg_encoder\.conv_pos\.pos_conv\.0\.(weight_g|parametrizations\.weight\.original0)$",
     r"dbeta.ecg_model.embeddings.position_embedding.conv.parametrizations.weight.original0"),
    (r"^ecg_encoder\.conv_pos\.pos_conv\.0\.(weight_v|parametrizations\.weight\.original1)$",
     r"dbeta.ecg_model.embeddings.position_embedding.conv.parametrizations.weight.original1"),
    (r"^ecg_encoder\.conv_pos\.pos_conv\.0\.bias$", r"dbeta.ecg_model.embeddings.position_embedding.conv.bias"),
    (r"^ecg_encoder\.encoder\.layer_norm\.", r"dbeta.ecg_model.layer_norm."),
    (r"^ecg_encoder\.encoder\.layers\.(\d+)\.(fc[12])\.", r"dbeta.ecg_model.layers.\1.feed_forward.\2."),
    (r"^ecg_encoder\.encoder\.layers\.(\d+)\.(self_attn|self_attn_layer_norm|final_layer_norm)\.",
     r"dbeta.ecg_model.layers.\1.\2."),
    (r"^language_encoder\.", r"dbeta.text_model."),
    (r"^multi_modal_language_proj\.", r"dbeta.text_projection."),
    (r"^multi_modal_ecg_proj\.", r"dbeta.ecg_model.projection."),
    (r"^modality_type_embeddings\.", r"dbeta.modality_type_embeddings."),
    (r"^multi_modal_(language|ecg)_layers\.(\d+)\.(attention|crossattention)\.self\.(query|key|value)\.",
     lambda m: f"dbeta.fusion.{MODALITY[m[1]]}_layers.{m[2]}.{ATTENTION[m[3]]}.attention.{m[4][0]}_proj."),
    (r"^multi_modal_(language|ecg)_layers\.(\d+)\.(attention|crossattention)\.output\.dense\.",
     lambda m: f"dbeta.fusion.{MODALITY[m[1]]}_layers.{m[2]}.{ATTENTION[m[3]]}.attention.out_proj."),
    (r"^multi_modal_(language|ecg)_layers\.(\d+)\.(attention|crossattention)\.output\.LayerNorm\.",
     lambda m: f"dbeta.fusion.{MODALITY[m[1]]}_layers.{m[2]}.{ATTENTION[m[3]]}.layer_norm."),
    (r"^multi_modal_(language|ecg)_layers\.(\d+)\.intermediate\.dense\.",
     lambda m: f"dbeta.fusion.{MODALITY[m[1]]}_layers.{m[2]}.fc1."),
    (r"^multi_modal_(language|ecg)_layers\.(\d+)\.output\.dense\.",
     lambda m: f"dbeta.fusion.{MODALITY[m[1]]}_layers.{m[2]}.fc2."),
    (r"^multi_modal_(language|ecg)_layers\.(\d+)\.output\.LayerNorm\.",
     lambda m: f"dbeta.fusion.{MODALITY[m[1]]}_layers.{m[2]}.final_layer_norm."),
    (r"^multi_modal_(language|ecg)_pooler\.", lambda m: f"dbeta.fused_{MODALITY[m[1]]}_pooler."),
    (r"^unimodal_language_pooler\.", r"dbeta.text_pooler."),
    (r"^unimodal_ecg_pooler\.", r"dbeta.ecg_model.pooler."),
    (r"^mlm_head\.transform\.dense\.", r"mlm_head.dense."),
    (r"^mlm_head\.transform\.LayerNorm\.", r"mlm_head.layer_norm."),
    (r"^mlm_head\.decoder\.weight$", r"mlm_head.decoder.weight"),
    (r"^mlm_head\.bias$", r"mlm_head.decoder.bias"),
    (r"^mim_head\.decoder_embed\.", r"mem_decoder.embed."),
    (r"^mim_head\.mask_token$", r"mem_decoder.mask_token"),
    (r"^mim_head\.decoder_pos_embed\.pe$", None),  # fixed sinusoid, recomputed by our decoder (checked below)
    (r"^mim_head\.decoder\.resblocks\.(\d+)\.attn\.out_proj\.", r"mem_decoder.layers.\1.self_attn.out_proj."),
    (r"^mim_head\.decoder\.resblocks\.(\d+)\.ln_1\.", r"mem_decoder.layers.\1.layer_norm1."),
    (r"^mim_head\.decoder\.resblocks\.(\d+)\.ln_2\.", r"mem_decoder.layers.\1.layer_norm2."),
    (r"^mim_head\.decoder\.resblocks\.(\d+)\.mlp\.c_fc\.", r"mem_decoder.layers.\1.fc1."),
    (r"^mim_head\.decoder\.resblocks\.(\d+)\.mlp\.c_proj\.", r"mem_decoder.layers.\1.fc2."),
    (r"^mim_head\.decoder_norm\.", r"mem_decoder.layer_norm."),
    (r"^mim_head\.decoder_pred\.", r"mem_decoder.predictor."),
    (r"^itm_head\.fc\.", r"etm_head."),
]
PACKED_ATTENTION = re.compile(r"^mim_head\.decoder\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$")


def parse_conv_layers(spec: str) -> list[list[int]]:
    """Read a layer spec such as "[(256, 2, 2)] * 4" without running it as code: only list/tuple literals, + and *."""

    def build(node):
        if isinstance(node, (ast.List, ast.Tuple)):
            values = [build(element) for element in node.elts]
            return values if isinstance(node, ast.List) else tuple(values)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add)):
            left, right = build(node.left), build(node.right)
            return left * right if isinstance(node.op, ast.Mult) else left + right
        raise ValueError(f"Unsupported element in conv_feature_layers {spec!r}: {ast.dump(node)}")

    layers = build(ast.parse(spec, mode="eval").body)
    return [list(layer) for layer in layers]


def convert_config(original: dict, text_config) -> DBetaConfig:
    """Map the authors' `{"model": {...}}` fields onto `DBetaConfig`, refusing settings our model cannot reproduce."""
    original = original.get("model", original)
    if original.get("layer_norm_first", False):
        raise ValueError("layer_norm_first=True (pre-LN ECG encoder) is not part of D-BETA and is not supported.")
    if original.get("encoder_layerdrop", 0.0):
        raise ValueError("encoder_layerdrop > 0 is not supported; D-BETA trains without LayerDrop.")
    if original.get("vocab_size", text_config.vocab_size) != text_config.vocab_size:
        raise ValueError(
            f"The authors' vocab_size ({original['vocab_size']}) differs from the text config's "
            f"({text_config.vocab_size}): pass the text encoder's config with --text_config_path."
        )
    mapped = {
        "encoder_layers": "num_hidden_layers",
        "encoder_embed_dim": "hidden_size",
        "encoder_ffn_embed_dim": "intermediate_size",
        "encoder_attention_heads": "num_attention_heads",
        "dropout": "hidden_dropout",
        "attention_dropout": "attention_dropout",
        "activation_dropout": "activation_dropout",
        "dropout_input": "feat_proj_dropout",
        "in_d": "num_leads",
        "conv_bias": "conv_bias",
        "conv_pos": "num_conv_pos_embeddings",
        "conv_pos_groups": "num_conv_pos_embedding_groups",
        "hidden_dim": "fusion_hidden_size",
        "num_heads": "fusion_num_attention_heads",
        "num_top_layer": "fusion_num_hidden_layers",
        "mem_layer": "mem_decoder_fusion_layer",
        "mem_prob": "ecg_mask_ratio",
        "mem_decoder_hidden_dim": "mem_decoder_hidden_size",
        "mem_decoder_num_layers": "mem_decoder_num_hidden_layers",
        "mem_decoder_num_heads": "mem_decoder_num_attention_heads",
        "norm_pix_loss": "mem_norm_target",
    }
    handled = {"conv_feature_layers", "extractor_mode", "drop_rate", "layer_norm_first", "encoder_layerdrop"}
    unknown = set(original) - set(mapped) - IGNORED_CONFIG_FIELDS - handled
    if unknown:
        raise ValueError(
            f"Unknown fields in the authors' config: {sorted(unknown)}. Extend convert_config to map them."
        )
    kwargs = {ours: original[theirs] for theirs, ours in mapped.items() if theirs in original}
    kwargs["conv_layers"] = parse_conv_layers(original.get("conv_feature_layers", "[(256, 2, 2)] * 4"))
    extractor_mode = original.get("extractor_mode", "default")
    kwargs["feat_extract_norm"] = {"default": "group", "layer_norm": "layer"}[extractor_mode]
    drop_rate = original.get("drop_rate", 0.1)
    fusion_width = kwargs.get("fusion_hidden_size", 768)
    decoder_width = kwargs.get("mem_decoder_hidden_size", 384)
    kwargs.update(
        fusion_hidden_dropout=drop_rate,
        fusion_attention_dropout=drop_rate,
        fusion_intermediate_size=4 * fusion_width,
        mem_decoder_intermediate_size=4 * decoder_width,
        ets_loss_type="dbeta",
        masked_losses_on_mismatched=True,
    )
    return DBetaConfig(text_config=text_config, **kwargs)


def load_original_state_dict(checkpoint_path: str | Path) -> dict[str, torch.Tensor]:
    """Read the authors' `.pt` (a dict whose "model" holds the state dict) safely, or a `.safetensors` state dict."""
    checkpoint_path = Path(checkpoint_path)
    if not checkpoint_path.is_file():
        raise FileNotFoundError(f"No checkpoint at {checkpoint_path}.")
    if checkpoint_path.suffix == ".safetensors":
        return load_file(checkpoint_path)
    try:
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    except Exception as error:  # the unpickler names the offending global; say what to do about it
        raise ValueError(
            f"{checkpoint_path} holds objects other than tensors and plain containers, which are not loaded for "
            f"safety ({error}). Save its state dict with safetensors in a trusted environment and convert that file."
        ) from error
    state_dict = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{checkpoint_path} does not hold a state dict (expected a dict of tensors under 'model').")
    return state_dict


def convert_state_dict(original: dict[str, torch.Tensor], config: DBetaConfig) -> dict[str, torch.Tensor]:
    """Rename every tensor; split the MEM decoder's packed q/k/v projections; fail on anything unmapped."""
    converted, unmapped = {}, []
    for name, tensor in original.items():
        packed = PACKED_ATTENTION.match(name)
        if packed:
            layer, kind = packed.groups()
            for projection, chunk in zip(("q_proj", "k_proj", "v_proj"), tensor.chunk(3, dim=0), strict=True):
                converted[f"mem_decoder.layers.{layer}.self_attn.{projection}.{kind}"] = chunk.clone()
            continue
        for pattern, replacement in KEY_RULES:
            if re.search(pattern, name):
                if replacement is not None:
                    converted[re.sub(pattern, replacement, name)] = tensor
                break
        else:
            unmapped.append(name)
    if unmapped:
        raise KeyError(f"{len(unmapped)} tensors of the checkpoint have no counterpart: {sorted(unmapped)}")

    positions = original.get("mim_head.decoder_pos_embed.pe")
    if positions is not None:
        expected = sinusoidal_positions(positions.shape[1], positions.shape[2], positions.device)
        if not torch.allclose(positions[0], expected, atol=1e-5):
            raise ValueError(
                "The checkpoint's MEM positional table is not the standard sinusoid our decoder computes."
            )
    return converted


def convert_checkpoint(checkpoint_path, config_path, text_config_path=None) -> DBetaForPreTraining:
    original_config = json.loads(Path(config_path).read_text())
    if text_config_path is not None:
        text_config = AutoConfig.from_pretrained(text_config_path)
    else:
        text_config = AutoConfig.for_model("t5", **FLAN_T5_BASE_ENCODER)
    config = convert_config(original_config, text_config)
    state_dict = convert_state_dict(load_original_state_dict(checkpoint_path), config)

    model = DBetaForPreTraining(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state_dict) if expected[k].shape != state_dict[k].shape)
    if missing or unexpected or wrong_shape:
        raise KeyError(
            "The converted checkpoint does not fit the model built from the config:\n"
            f"  missing: {missing}\n  unexpected: {unexpected}\n"
            f"  wrong shape: {[(k, tuple(state_dict[k].shape), tuple(expected[k].shape)) for k in wrong_shape]}"
        )
    model.load_state_dict(state_dict, strict=True)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--checkpoint_path", required=True, help="authors' .pt (key 'model') or a .safetensors state dict"
    )
    parser.add_argument("--config_path", required=True, help="authors' configs/config.json")
    parser.add_argument(
        "--text_config_path", help="config.json (or folder / Hub id) of the text encoder; default flan-t5-base's"
    )
    parser.add_argument("--pytorch_dump_folder_path", required=True, help="where to write the converted model")
    parser.add_argument("--tokenizer_name_or_path", help="also save a DBetaProcessor with this tokenizer")
    args = parser.parse_args(argv)

    model = convert_checkpoint(args.checkpoint_path, args.config_path, args.text_config_path)
    model.save_pretrained(args.pytorch_dump_folder_path)
    if args.tokenizer_name_or_path:
        from transformers import AutoTokenizer

        from .feature_extraction_dbeta import DBetaFeatureExtractor
        from .processing_dbeta import DBetaProcessor

        processor = DBetaProcessor(DBetaFeatureExtractor(), AutoTokenizer.from_pretrained(args.tokenizer_name_or_path))
        processor.save_pretrained(args.pytorch_dump_folder_path)
    print(f"Converted {sum(p.numel() for p in model.parameters()):,} parameters to {args.pytorch_dump_folder_path}")


if __name__ == "__main__":
    main()
