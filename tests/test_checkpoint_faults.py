"""Damaged checkpoints fail loudly: a zero-byte, truncated or bit-flipped `model.safetensors`, or NaN weights, give an
error naming the file and what to do, never a bare safetensors error or a model that silently outputs NaN."""

import re
import struct

import numpy as np
import pytest
import torch
from transformers import AutoModel

import modeling_dbeta  # noqa: F401  (registers "dbeta" with the Auto classes)
from modeling_dbeta import DBetaECGModel, DBetaForPreTraining
from tests.tiny_models import tiny_config


DAMAGED = r"is damaged: safetensors cannot read it .*Download or copy it again"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoint")
    DBetaForPreTraining(tiny_config(num_samples=256)).save_pretrained(folder)
    return folder


def damaged_copy(checkpoint, tmp_path, damage) -> tuple:
    """A copy of the checkpoint whose weights file went through `damage(bytes) -> bytes`."""
    folder = tmp_path / "damaged"
    folder.mkdir()
    for file in checkpoint.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    weights = folder / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    return folder, weights


def header_length(data: bytes) -> int:
    return struct.unpack("<Q", data[:8])[0]


def flip_bit(data: bytes, offset: int, bit: int) -> bytes:
    damaged = bytearray(data)
    damaged[offset] ^= 1 << bit
    return bytes(damaged)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"", id="zero-byte"),
        pytest.param(lambda data: data[: len(data) * 2 // 3], id="truncated"),
        pytest.param(lambda data: data[:8], id="header-only"),
        # A flipped bit in the JSON header (a quote turned into a different character).
        pytest.param(lambda data: flip_bit(data, data.index(b'"dtype"'), 4), id="bit-flip-in-header"),
    ],
)
@pytest.mark.parametrize("model_class", [DBetaForPreTraining, DBetaECGModel, AutoModel])
def test_unreadable_weights_name_the_file_and_the_fix(checkpoint, tmp_path, damage, model_class):
    folder, weights = damaged_copy(checkpoint, tmp_path, damage)
    with pytest.raises(OSError, match=DAMAGED) as caught:
        model_class.from_pretrained(folder)
    assert str(weights) in str(caught.value)


def test_a_bit_flip_that_makes_a_weight_infinite_is_caught(checkpoint, tmp_path):
    """Flipping the exponent bits of a stored float gives inf / NaN: refused, naming the tensor."""

    def saturate_first_weight(data: bytes) -> bytes:
        start = 8 + header_length(data)  # the first tensor's first float32 (little-endian): set all exponent bits
        value = np.frombuffer(data[start : start + 4], dtype="<u4")[0] | np.uint32(0x7F800000)
        return data[:start] + struct.pack("<I", int(value)) + data[start + 4 :]

    folder, weights = damaged_copy(checkpoint, tmp_path, saturate_first_weight)
    with pytest.raises(ValueError, match=r"damaged: 1 weight tensors hold NaN or infinite values") as caught:
        DBetaForPreTraining.from_pretrained(folder)
    assert str(weights) in str(caught.value)


def test_nan_weights_from_a_diverged_run_are_refused(tmp_path):
    model = DBetaForPreTraining(tiny_config(num_samples=256))
    with torch.no_grad():
        model.dbeta.fusion.ecg_layers[0].fc1.weight[0, 0] = float("nan")
        model.mlm_head.decoder.bias[3] = float("inf")
    model.save_pretrained(tmp_path)
    with pytest.raises(
        ValueError, match=r"2 weight tensors hold NaN or infinite values.*earlier checkpoint"
    ) as caught:
        DBetaForPreTraining.from_pretrained(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "model.safetensors") in message
    assert "dbeta.fusion.ecg_layers.0.fc1.weight" in message and "mlm_head.decoder.bias" in message
    # The ECG tower alone does not hold the damaged tensors, so it loads.
    assert torch.isfinite(DBetaECGModel.from_pretrained(tmp_path).ecg_model.pooler.dense.weight).all()


def test_a_missing_checkpoint_keeps_transformers_message(tmp_path):
    with pytest.raises(OSError, match=re.escape("no file named model.safetensors")):
        DBetaForPreTraining.from_pretrained(tmp_path)
