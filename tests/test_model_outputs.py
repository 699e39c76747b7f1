"""The transformers conventions of every D-BETA class: tuples on request, no swallowed keyword arguments, attentions
and hidden states of every tower and of the fusion, half precision, eager = SDPA, embeddings resizing, weight init."""

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import T5EncoderModel

from modeling_dbeta import DBetaConfig, DBetaECGModel, DBetaForECGClassification, DBetaForPreTraining, DBetaModel
from modeling_dbeta.modeling_dbeta import DBetaECGTower, DBetaPositionalConvEmbedding
from tests.tiny_models import tiny_config


ALL_CLASSES = (DBetaModel, DBetaForPreTraining, DBetaECGModel, DBetaForECGClassification)
NUM_SAMPLES = 256  # 16 ECG tokens


def short_config(**overrides) -> DBetaConfig:
    return tiny_config(num_samples=NUM_SAMPLES, num_labels=3, **overrides)


def inputs_for(model_class, config, batch_size=2, text_length=6, labels=False) -> dict:
    generator = torch.Generator().manual_seed(0)
    inputs = {"ecg_values": torch.randn(batch_size, config.num_leads, config.num_samples, generator=generator)}
    if model_class in (DBetaModel, DBetaForPreTraining):
        inputs["input_ids"] = torch.randint(
            4, config.text_config.vocab_size, (batch_size, text_length), generator=generator
        )
        inputs["attention_mask"] = torch.ones(batch_size, text_length, dtype=torch.long)
        inputs["attention_mask"][0, -2:] = 0
    if model_class is DBetaForPreTraining:
        inputs["ecg_mask_noise"] = torch.rand(batch_size, config.num_ecg_tokens, generator=generator)
        if labels:
            inputs["mlm_labels"] = torch.full_like(inputs["input_ids"], -100)
            inputs["mlm_labels"][:, 1] = inputs["input_ids"][:, 1]
            inputs["is_aligned"] = torch.tensor([1.0, 0.0])[:batch_size]
    if model_class is DBetaForECGClassification and labels:
        inputs["labels"] = torch.tensor([0, 2])[:batch_size]
    return inputs


@pytest.mark.parametrize("model_class", ALL_CLASSES)
def test_return_dict_false_gives_tuples(model_class):
    config = short_config()
    model = model_class(config).eval()
    inputs = inputs_for(model_class, config, labels=True)
    with torch.no_grad():
        as_dict = model(**inputs)
        as_tuple = model(**inputs, return_dict=False)
        model.config.return_dict = False
        from_config = model(**inputs)
    assert type(as_tuple) is tuple and type(from_config) is tuple
    # The first entry is what it is named for: the loss where labels were given, else the first output.
    torch.testing.assert_close(as_tuple[0], next(iter(as_dict.values())))
    nested = [value for value in as_tuple if isinstance(value, tuple)]
    assert all(not hasattr(value, "keys") for value in nested), "a nested output stayed a ModelOutput"
    if model_class is DBetaForPreTraining:
        loss, mlm_loss, *_ = as_tuple
        assert loss.dim() == 0 and mlm_loss.dim() == 0


@pytest.mark.parametrize("model_class", ALL_CLASSES)
def test_unknown_keyword_arguments_are_refused(model_class):
    config = short_config()
    model = model_class(config).eval()
    inputs = inputs_for(model_class, config)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['lables'\]"):
        model(**inputs, lables=torch.zeros(2, dtype=torch.long))
    if hasattr(model, "get_ecg_features"):
        with pytest.raises(TypeError, match="unexpected keyword arguments"):
            model.get_ecg_features(inputs["ecg_values"], pixel_values=inputs["ecg_values"])
    # The documented extras still pass.
    model(**inputs, output_hidden_states=False, output_attentions=False)


def test_composite_outputs_expose_every_tower_and_the_fusion():
    config = short_config()
    model = DBetaModel(config).eval()
    model.set_attn_implementation("eager")
    inputs = inputs_for(DBetaModel, config)
    batch_size, text_length = inputs["input_ids"].shape
    ecg_length, layers = config.num_ecg_tokens + 1, config.fusion_num_hidden_layers
    with torch.no_grad():
        out = model(**inputs, output_attentions=True, output_hidden_states=True)
    ecg, text, fusion = out.ecg_model_output, out.text_model_output, out.fusion_output
    assert len(ecg.hidden_states) == config.num_hidden_layers + 1 and len(ecg.attentions) == config.num_hidden_layers
    assert ecg.attentions[0].shape == (batch_size, config.num_attention_heads, ecg_length, ecg_length)
    text_layers = config.text_config.num_layers
    assert len(text.hidden_states) == text_layers + 1 and len(text.attentions) == text_layers
    assert len(fusion.text_hidden_states) == len(fusion.ecg_hidden_states) == layers + 1
    heads = config.fusion_num_attention_heads
    assert fusion.text_attentions[0].shape == (batch_size, heads, text_length, text_length)
    assert fusion.ecg_attentions[0].shape == (batch_size, heads, ecg_length, ecg_length)
    assert fusion.text_cross_attentions[0].shape == (batch_size, heads, text_length, ecg_length)
    assert fusion.ecg_cross_attentions[0].shape == (batch_size, heads, ecg_length, text_length)
    # Padded text tokens get no attention from the ECG side.
    assert (fusion.ecg_cross_attentions[-1][0, :, :, -2:] == 0).all()
    torch.testing.assert_close(fusion.ecg_hidden_states[-1], fusion.ecg_last_hidden_state)
    # Named for what they hold: the fused ECG states are the fusion's, the projected encoder states the tower's.
    assert fusion.ecg_hidden_states[0].shape == ecg.projected_last_hidden_state.shape
    assert ecg.last_hidden_state.shape[-1] == config.hidden_size

    quiet = model(**inputs)
    assert quiet.ecg_model_output.hidden_states is None and quiet.fusion_output.text_attentions is None
    model.config.output_hidden_states = model.config.output_attentions = True
    loud = model(**inputs)
    assert len(loud.fusion_output.ecg_attentions) == layers and len(loud.ecg_model_output.hidden_states) == 3
    assert len(loud.text_model_output.hidden_states) == config.text_config.num_layers + 1


def test_pretraining_keeps_the_callers_output_hidden_states():
    """MEM reads a fused ECG layer, which must not switch on every tower's hidden states for the caller."""
    config = short_config()
    model = DBetaForPreTraining(config).eval()
    inputs = inputs_for(DBetaForPreTraining, config, labels=True)
    with torch.no_grad():
        quiet = model(**inputs)
        loud = model(**inputs, output_hidden_states=True)
    assert quiet.mem_loss is not None
    assert quiet.model_output.fusion_output.ecg_hidden_states is None
    assert quiet.model_output.ecg_model_output.hidden_states is None
    assert quiet.model_output.text_model_output.hidden_states is None
    fused = loud.model_output.fusion_output
    assert len(fused.ecg_hidden_states) == config.fusion_num_hidden_layers + 1
    torch.testing.assert_close(fused.ecg_layer_state, fused.ecg_hidden_states[config.mem_decoder_fusion_layer])
    torch.testing.assert_close(quiet.mem_logits, loud.mem_logits)


@pytest.mark.parametrize("model_class", [DBetaECGModel, DBetaForECGClassification])
def test_ecg_classes_return_the_towers_hidden_states_and_attentions(model_class):
    config = short_config()
    model = model_class._from_config(config, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(**inputs_for(model_class, config), output_attentions=True, output_hidden_states=True)
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    assert len(out.attentions) == config.num_hidden_layers
    assert out.attentions[0].shape[-1] == config.num_ecg_tokens + 1


def test_eager_and_sdpa_fusion_agree_with_padded_reports():
    """The co-attention fusion (text self-attention with padding, cross-attention both ways) gives the same features on
    either attention backend; loading with one backend sets it for every tower."""
    config = short_config()
    torch.manual_seed(0)
    sdpa = DBetaModel(config).eval()
    eager = DBetaModel._from_config(short_config(), attn_implementation="eager").eval()
    eager.load_state_dict(sdpa.state_dict())
    assert sdpa.ecg_model.config._attn_implementation == sdpa.text_model.config._attn_implementation == "sdpa"
    assert eager.ecg_model.config._attn_implementation == eager.text_model.config._attn_implementation == "eager"
    inputs = inputs_for(DBetaModel, config, batch_size=3)
    with torch.no_grad():
        a, b = sdpa(**inputs), eager(**inputs)
    for name in ("ecg_embeds", "text_embeds", "multimodal_embeds"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-5)
    real = inputs["attention_mask"].bool()
    torch.testing.assert_close(
        a.fusion_output.text_last_hidden_state[real],
        b.fusion_output.text_last_hidden_state[real],
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("model_class", ALL_CLASSES)
def test_half_precision_forward_and_loading(model_class, dtype, tmp_path):
    """
    `from_pretrained(dtype=...)`, `.half()` and `.to(torch.bfloat16)` run and agree with fp32; the feature extractor's
    float32 input is read in the model's dtype; both feature-encoder norm modes.
    """
    for feat_extract_norm in ("group", "layer"):
        config = short_config(feat_extract_norm=feat_extract_norm)
        torch.manual_seed(0)
        model = model_class(config).eval()
        model.save_pretrained(tmp_path / feat_extract_norm)
        inputs = inputs_for(model_class, config, labels=True)
        loaded = model_class.from_pretrained(tmp_path / feat_extract_norm, dtype=dtype).eval()
        cast = model_class.from_pretrained(tmp_path / feat_extract_norm).eval()
        cast = cast.half() if dtype == torch.float16 else cast.to(torch.bfloat16)
        assert {p.dtype for p in cast.parameters()} == {dtype}
        with torch.no_grad():
            reference = model(**inputs)
            for half in (loaded, cast):
                out = half(**inputs)
                key = "logits" if model_class is DBetaForECGClassification else next(iter(reference.keys()))
                ours, theirs = out[key], reference[key]
                if isinstance(theirs, torch.Tensor):
                    assert torch.isfinite(ours).all(), f"{feat_extract_norm}: non-finite {key}"
                    torch.testing.assert_close(ours.float(), theirs, rtol=0.05, atol=0.05)
                if model_class is DBetaForPreTraining:
                    assert torch.isfinite(out.loss)
                    assert abs(out.loss.item() - reference.loss.item()) < 0.1 * reference.loss.item()


def test_resize_token_embeddings_resizes_the_mlm_head(tmp_path):
    """MLM on a token added to the tokenizer: the text embeddings and the MLM decoder grow together."""
    config = short_config()
    model = DBetaForPreTraining(config).eval()
    old_size = config.text_config.vocab_size
    assert model.get_output_embeddings() is model.mlm_head.decoder
    model.resize_token_embeddings(old_size + 3)
    assert model.get_input_embeddings().num_embeddings == old_size + 3
    assert model.mlm_head.decoder.out_features == old_size + 3 and model.config.text_config.vocab_size == old_size + 3
    inputs = inputs_for(DBetaForPreTraining, config, labels=True)
    inputs["input_ids"][:, 1] = old_size + 2
    inputs["mlm_labels"][:, 1] = old_size + 2
    with torch.no_grad():
        out = model(**inputs)
    assert torch.isfinite(out.mlm_loss) and out.mlm_logits.shape[-1] == old_size + 3
    model.save_pretrained(tmp_path)
    reloaded = DBetaForPreTraining.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).mlm_loss, out.mlm_loss)


def test_missing_text_encoder_weights_initialise_as_the_text_encoder_would(tmp_path):
    """A checkpoint without the text tower (e.g. the ECG side of a classifier) gets T5's own init for it, not the
    std-1.0 weights transformers gave custom-code models' text towers."""
    config = short_config()
    DBetaModel(config).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("text_model.")}, tmp_path / "model.safetensors",
              metadata={"format": "pt"})
    torch.manual_seed(0)
    model = DBetaModel.from_pretrained(tmp_path)
    reference = T5EncoderModel(model.config.text_config)
    for name, tensor in reference.state_dict().items():
        ours = model.text_model.state_dict()[name]
        assert ours.std().item() == pytest.approx(tensor.std().item(), rel=0.35, abs=1e-3), name


def test_the_ecg_tower_is_built_once_and_named_alike_everywhere(tmp_path):
    config = short_config()
    pretraining = DBetaForPreTraining(config)
    towers = [name for name, module in pretraining.named_modules() if isinstance(module, DBetaECGTower)]
    assert towers == ["dbeta.ecg_model"]
    pretraining.save_pretrained(tmp_path / "pretraining")
    tower, info = DBetaECGModel.from_pretrained(tmp_path / "pretraining", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    classifier = DBetaForECGClassification.from_pretrained(tmp_path / "pretraining")
    classifier.save_pretrained(tmp_path / "classifier")
    again, info = DBetaECGModel.from_pretrained(tmp_path / "classifier", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    for loaded in (tower, again):
        for name, tensor in loaded.ecg_model.state_dict().items():
            torch.testing.assert_close(tensor, pretraining.dbeta.ecg_model.state_dict()[name], rtol=0, atol=0)
    # A genuinely missing tower weight is still reported.
    weights = load_file(tmp_path / "classifier" / "model.safetensors")
    del weights["dbeta.ecg_model.pooler.dense.bias"]
    save_file(weights, tmp_path / "classifier" / "model.safetensors", metadata={"format": "pt"})
    _, info = DBetaECGModel.from_pretrained(tmp_path / "classifier", output_loading_info=True)
    assert info["missing_keys"] == {"ecg_model.pooler.dense.bias"}


def test_a_config_saved_with_mlm_probability_still_loads(tmp_path):
    """`mlm_probability` is a training argument now; configs written before still load, without the stale field."""
    config = short_config()
    config.save_pretrained(tmp_path)
    saved = (tmp_path / "config.json").read_text()
    stale = saved.replace('"model_type": "dbeta"', '"mlm_probability": 0.4,\n  "model_type": "dbeta"')
    (tmp_path / "config.json").write_text(stale)
    loaded = DBetaConfig.from_pretrained(tmp_path)
    assert not hasattr(loaded, "mlm_probability") and loaded.num_samples == NUM_SAMPLES


def test_non_finite_ecg_values_are_refused_with_one_clear_message():
    config = short_config()
    ecg = torch.randn(3, config.num_leads, config.num_samples)
    ecg[1, 4, 10] = float("nan")
    ecg[2, 0, 0] = float("inf")
    for model_class in ALL_CLASSES:
        model = model_class(config).eval()
        inputs = {**inputs_for(model_class, config, batch_size=3), "ecg_values": ecg}
        with pytest.raises(
            ValueError, match=r"NaN or infinite samples \(batch rows \[1, 2\]\).*DBetaFeatureExtractor"
        ):
            model(**inputs)



@pytest.mark.parametrize("bf16", ["weights", "autocast"])
def test_positional_convolution_in_bf16_on_the_cpu_matches_fp32(bf16):
    """oneDNN's bf16 grouped convolution is wrong on AMX CPUs for small groups (here 8 channels per group, kernel 16):
    the positional embedding must still agree with fp32, with bf16 weights and under bf16 autocast."""
    config = short_config(hidden_size=32, num_conv_pos_embedding_groups=4, num_conv_pos_embeddings=16)
    torch.manual_seed(0)
    embedding = DBetaPositionalConvEmbedding(config).eval()
    tokens = torch.randn(2, 40, config.hidden_size)
    with torch.no_grad():
        reference = embedding(tokens)
        if bf16 == "weights":
            out = embedding.to(torch.bfloat16)(tokens.bfloat16())
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = embedding(tokens)
    torch.testing.assert_close(out.float(), reference, rtol=0.02, atol=0.02)
