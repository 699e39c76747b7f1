"""
D-BETA compiles and exports: the pretraining step is one graph (no graph breaks with labels, `fullgraph=True` forward
+ backward), and every class exports with `torch.export` (with dynamic batch and text sizes where the model allows).
"""

import pytest
import torch
import torch._dynamo

from modeling_dbeta import DBetaECGModel, DBetaForECGClassification, DBetaForPreTraining, DBetaModel
from tests.tiny_models import TINY_T5, tiny_config


def deterministic_config(**overrides):
    """No dropout anywhere, so a compiled and an eager step see the same computation."""
    return tiny_config(
        text_config={**TINY_T5, "dropout_rate": 0.0}, num_samples=256, num_labels=3, hidden_dropout=0.0,
        attention_dropout=0.0, feat_proj_dropout=0.0, fusion_hidden_dropout=0.0, fusion_attention_dropout=0.0,
        **overrides,
    )


def pretraining_batch(config, batch_size=3, text_length=9) -> dict:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(4, config.text_config.vocab_size, (batch_size, text_length), generator=generator)
    mlm_labels = torch.full_like(input_ids, -100)
    mlm_labels[:, :3] = input_ids[:, :3]
    attention_mask = torch.ones(batch_size, text_length, dtype=torch.long)
    attention_mask[0, -2:] = 0
    return {
        "ecg_values": torch.randn(batch_size, config.num_leads, config.num_samples, generator=generator),
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "mlm_labels": mlm_labels,
        "is_aligned": (torch.arange(batch_size) % 2 == 0).float(),
        "ecg_mask_noise": torch.rand(batch_size, config.num_ecg_tokens, generator=generator),
    }


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("ets_loss_type", ["dbeta", "siglip"])
def test_pretraining_with_labels_has_no_graph_break(ets_loss_type):
    config = deterministic_config(ets_loss_type=ets_loss_type)
    model = DBetaForPreTraining(config).train()
    explanation = torch._dynamo.explain(model)(**pretraining_batch(config))
    assert explanation.graph_break_count == 0, [str(reason.reason)[:300] for reason in explanation.break_reasons]
    assert explanation.graph_count == 1


def compiled_step_matches_eager(backend: str):
    config = deterministic_config()
    torch.manual_seed(0)
    model = DBetaForPreTraining(config).train()
    batch = pretraining_batch(config)

    def step(forward):
        model.zero_grad(set_to_none=True)
        out = forward(**batch)
        out.loss.backward()
        return out, {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    eager, eager_grads = step(model)
    compiled, compiled_grads = step(torch.compile(model, fullgraph=True, backend=backend))
    for name in ("loss", "mlm_loss", "mem_loss", "etm_loss", "ets_loss"):
        torch.testing.assert_close(getattr(compiled, name), getattr(eager, name), rtol=1e-4, atol=1e-5)
    assert compiled_grads.keys() == eager_grads.keys() and len(eager_grads) == len(list(model.parameters()))
    for name, grad in eager_grads.items():
        torch.testing.assert_close(compiled_grads[name], grad, rtol=1e-3, atol=1e-5, msg=name)


def test_compiled_pretraining_step_matches_eager():
    """`torch.compile(fullgraph=True)` of forward + backward through AOT autograd (the graph inductor would get)."""
    compiled_step_matches_eager("aot_eager")


@pytest.mark.slow
def test_inductor_compiled_pretraining_step_matches_eager():
    """The same with inductor's generated CPU kernels (about two minutes of compilation on a 2-core machine)."""
    compiled_step_matches_eager("inductor")


def export_inputs(model_class, config) -> dict:
    batch = pretraining_batch(config)
    if model_class is DBetaForPreTraining:
        return batch
    if model_class is DBetaModel:
        return {name: batch[name] for name in ("ecg_values", "input_ids", "attention_mask")}
    return {"ecg_values": batch["ecg_values"]}


@pytest.mark.parametrize("model_class", [DBetaModel, DBetaForPreTraining, DBetaECGModel, DBetaForECGClassification])
def test_every_class_exports(model_class):
    config = deterministic_config()
    model = model_class(config).eval()
    inputs = export_inputs(model_class, config)
    batch = torch.export.Dim("batch", min=2, max=64)
    dynamic = {name: {0: batch} for name in inputs}
    if "input_ids" in inputs:
        text = torch.export.Dim("text", min=2, max=64)
        text_inputs = [name for name in ("input_ids", "attention_mask", "mlm_labels") if name in inputs]
        dynamic.update({name: {0: batch, 1: text} for name in text_inputs})
    program = torch.export.export(model, args=(), kwargs=inputs, dynamic_shapes=dynamic)
    with torch.no_grad():
        expected = model(**inputs)
        for size in (3, 5):
            bigger = {name: torch.cat([value] * 2)[:size] for name, value in inputs.items()}
            got = program.module()(**bigger)
            want = model(**bigger)
            key = "loss" if model_class is DBetaForPreTraining else next(iter(want.keys()))
            torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5)
    assert type(program.module()(**inputs)) is type(expected)
