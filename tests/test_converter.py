"""The converter maps every tensor of the authors' checkpoints, reads them safely, and refuses what it cannot map."""

import json
import pickle
import re

import pytest
import torch
from safetensors.torch import load_file

from modeling_dbeta import DBetaForPreTraining
from modeling_dbeta.convert_original_checkpoint import convert_checkpoint, main, parse_conv_layers


@pytest.fixture
def original(reference_dir):
    return load_file(reference_dir / "upstream_tiny_state_dict.safetensors")


def convert(reference_dir, checkpoint):
    return convert_checkpoint(checkpoint, reference_dir / "config.json", reference_dir / "t5_config.json")


def test_pt_checkpoint_with_model_key(reference_dir, original, tmp_path):
    # The released sample.pt is a torch.save'd dict whose "model" holds the state dict.
    torch.save({"model": original, "optimizer_history": [{"num_updates": 300000}]}, tmp_path / "sample.pt")
    model = convert(reference_dir, tmp_path / "sample.pt")
    mapped = model.state_dict()["dbeta.ecg_model.embeddings.position_embedding.conv.parametrizations.weight.original0"]
    torch.testing.assert_close(mapped, original["ecg_encoder.conv_pos.pos_conv.0.weight_g"])


def test_unused_mask_embedding_is_dropped(reference_dir, original, tmp_path):
    torch.save({"model": {**original, "ecg_encoder.mask_emb": torch.rand(64)}}, tmp_path / "sample.pt")
    assert isinstance(convert(reference_dir, tmp_path / "sample.pt"), DBetaForPreTraining)


def test_unmapped_and_missing_tensors_are_listed(reference_dir, original, tmp_path):
    torch.save({"model": {**original, "ecg_encoder.new_thing.weight": torch.zeros(2)}}, tmp_path / "extra.pt")
    with pytest.raises(KeyError, match=re.escape("ecg_encoder.new_thing.weight")):
        convert(reference_dir, tmp_path / "extra.pt")
    partial = {k: v for k, v in original.items() if k != "itm_head.fc.bias"}
    torch.save({"model": partial}, tmp_path / "partial.pt")
    with pytest.raises(KeyError, match=r"missing: \['etm_head.bias'\]"):
        convert(reference_dir, tmp_path / "partial.pt")


def test_pickled_objects_are_not_loaded(reference_dir, tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"model": Payload()}, handle)
    with pytest.raises(ValueError, match="not loaded for safety"):
        convert(reference_dir, tmp_path / "evil.pt")


def test_conv_layer_specs_are_parsed_without_eval():
    assert parse_conv_layers("[(256, 2, 2)] * 4") == [[256, 2, 2]] * 4
    assert parse_conv_layers("[(512, 10, 5)] + [(512, 3, 2)] * 2") == [[512, 10, 5], [512, 3, 2], [512, 3, 2]]
    with pytest.raises(ValueError, match="Unsupported"):
        parse_conv_layers("__import__('os').system('true')")


def test_cli_writes_a_loadable_checkpoint_with_processor(reference_dir, tmp_path, tokenizer):
    tokenizer.save_pretrained(tmp_path / "tok")
    main([
        "--checkpoint_path", str(reference_dir / "upstream_tiny_state_dict.safetensors"),
        "--config_path", str(reference_dir / "config.json"),
        "--text_config_path", str(reference_dir / "t5_config.json"),
        "--pytorch_dump_folder_path", str(tmp_path / "out"),
        "--tokenizer_name_or_path", str(tmp_path / "tok"),
    ])
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["model_type"] == "dbeta" and saved["masked_losses_on_mismatched"] is True
    assert (tmp_path / "out" / "model.safetensors").is_file()
    out = tmp_path / "out"
    assert (out / "preprocessor_config.json").is_file() or (out / "processor_config.json").is_file()


def test_default_text_config_is_flan_t5_base(reference_dir):
    from modeling_dbeta.convert_original_checkpoint import convert_config

    config = convert_config(json.loads((reference_dir / "config.json").read_text())["model"] | {"vocab_size": 32128},
                            text_config=DBetaForPreTraining.config_class().text_config)
    assert config.text_config.d_model == 768 and config.text_config.num_layers == 12
    with pytest.raises(ValueError, match="vocab_size"):
        convert_config({"vocab_size": 128}, DBetaForPreTraining.config_class().text_config)
