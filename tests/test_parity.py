"""Our model, loaded through our converter, reproduces the authors' code on their tiny reference run."""

import json

import pytest
import torch
from safetensors.torch import load_file

from modeling_dbeta import DBetaForPreTraining
from modeling_dbeta.convert_original_checkpoint import main as convert_main


ATOL = 1e-4


@pytest.fixture(scope="module")
def converted(tmp_path_factory, request):
    from tests.tiny_models import REFERENCE_DIR

    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"Parity vectors not found at {REFERENCE_DIR}: they live in ../shared beside a source checkout.")
    out = tmp_path_factory.mktemp("converted")
    convert_main([
        "--checkpoint_path", str(REFERENCE_DIR / "upstream_tiny_state_dict.safetensors"),
        "--config_path", str(REFERENCE_DIR / "config.json"),
        "--text_config_path", str(REFERENCE_DIR / "t5_config.json"),
        "--pytorch_dump_folder_path", str(out),
    ])
    model = DBetaForPreTraining.from_pretrained(out).eval()
    inputs = load_file(REFERENCE_DIR / "inputs.safetensors")
    outputs = load_file(REFERENCE_DIR / "outputs.safetensors")
    reference = json.loads((REFERENCE_DIR / "reference.json").read_text())
    return model, inputs, outputs, reference


def assert_close(name, ours, theirs):
    difference = (ours - theirs).abs().max().item()
    assert ours.shape == theirs.shape, f"{name}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    assert difference <= ATOL, f"{name}: max abs difference {difference:.2e} > {ATOL}"


def test_converted_config_reproduces_the_authors_behaviour(converted):
    model, *_ = converted
    assert model.config.ets_loss_type == "dbeta"
    assert model.config.masked_losses_on_mismatched is True
    assert model.config.mem_decoder_fusion_layer == 1 and model.config.ecg_mask_ratio == 0.75


def test_unmasked_forward_matches(converted):
    model, inputs, outputs, _ = converted
    with torch.no_grad():
        ours = model(
            ecg_values=inputs["ecg"], input_ids=inputs["text_input_ids"],
            attention_mask=inputs["text_attention_mask"], mask_ecg=False,
        )
    assert_close("eval.uni_modal_ecg_feats", ours.ecg_embeds, outputs["eval.uni_modal_ecg_feats"])
    assert_close("eval.uni_modal_text_feats", ours.text_embeds, outputs["eval.uni_modal_text_feats"])
    assert_close("eval.multi_modal_cls_feats", ours.multimodal_embeds, outputs["eval.multi_modal_cls_feats"])
    assert_close("eval.etm_logits", ours.etm_logits, outputs["eval.etm_logits"])
    # The feature API gives the same unimodal features.
    with torch.no_grad():
        assert_close(
            "get_ecg_features",
            model.get_ecg_features(inputs["ecg"]).pooler_output,
            outputs["eval.uni_modal_ecg_feats"],
        )
        assert_close(
            "get_text_features",
            model.get_text_features(inputs["text_input_ids"], inputs["text_attention_mask"]).pooler_output,
            outputs["eval.uni_modal_text_feats"],
        )


def test_masked_forward_and_losses_match(converted):
    model, inputs, outputs, reference = converted
    with torch.no_grad():
        ours = model(
            ecg_values=inputs["ecg"], input_ids=inputs["masked_text_input_ids"],
            attention_mask=inputs["text_attention_mask"], mlm_labels=inputs["mlm_labels"],
            is_aligned=inputs["is_aligned"], ecg_mask_noise=outputs["masked.noise"],
        )
    batch, tokens = outputs["masked.noise"].shape
    assert_close("masked.mem_masks", ours.ecg_mask, outputs["masked.mem_masks"])
    targeted = inputs["mlm_labels"] != -100  # ours are computed at the targets only (converted: all pairs)
    assert_close("masked.mlm_logits", ours.mlm_logits, outputs["masked.mlm_logits"][targeted])
    # Ours is (B, T, leads * patch), lead-major: the authors' (B, T, leads, patch) flattened.
    assert_close("masked.mem_logits", ours.mem_logits.view(batch, tokens, 12, -1), outputs["masked.mem_logits"])
    assert_close("masked.etm_logits", ours.etm_logits, outputs["masked.etm_logits"])
    assert_close("masked.uni_modal_ecg_feats", ours.ecg_embeds, outputs["masked.uni_modal_ecg_feats"])
    assert_close("masked.uni_modal_text_feats", ours.text_embeds, outputs["masked.uni_modal_text_feats"])
    for name in ("mlm", "mem", "etm", "ets"):
        value = getattr(ours, f"{name}_loss").item()
        assert abs(value - reference["losses"][name]) <= ATOL, f"{name} loss {value} vs {reference['losses'][name]}"
    assert abs(ours.loss.item() - reference["losses"]["total"]) <= ATOL
