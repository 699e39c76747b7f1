"""`precision="auto"`: measured, not assumed; the measurement leaves the model and its random streams untouched."""

import json
import time

import pytest
import torch
from datasets import Dataset

from modeling_dbeta import DBetaForPreTraining
from modeling_dbeta.data_collator import DataCollatorForDBetaPretraining
from modeling_dbeta.precision import measure_cpu_precision, resolve_precision
from modeling_dbeta.trainer import DBetaTrainingArguments, choose_precision, training_step_probe
from tests.tiny_models import tiny_config


def work_taking(fp32_seconds, bf16_seconds):
    def work():
        time.sleep(bf16_seconds if torch.is_autocast_enabled("cpu") else fp32_seconds)

    return work


def test_auto_keeps_bf16_only_where_it_is_clearly_faster():
    assert measure_cpu_precision(work_taking(0.03, 0.01), repeats=1)[0] == torch.bfloat16
    assert measure_cpu_precision(work_taking(0.01, 0.03), repeats=1)[0] is None
    assert measure_cpu_precision(work_taking(0.02, 0.019), repeats=1)[0] is None  # within the 10 % margin
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu, work_taking(1.0, 0.0)) is None  # asked for: nothing is measured
    assert resolve_precision("bf16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="Unknown precision"):
        resolve_precision("fp16", cpu)


def probe_inputs(tokenizer):
    torch.manual_seed(0)
    model = DBetaForPreTraining(tiny_config())
    rows = [{"ecg": torch.randn(12, 5000).numpy(), "report": f"sinus rhythm {i}"} for i in range(4)]
    data = Dataset.from_list(
        [{"ecg": row["ecg"].tolist(), "report": row["report"]} for row in rows]
    ).with_format("numpy")
    return model, DataCollatorForDBetaPretraining(tokenizer), data


def test_the_probe_leaves_no_trace(tokenizer):
    model, collator, data = probe_inputs(tokenizer)
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    rng = torch.get_rng_state()
    training_step_probe(model, collator, data)()
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(parameter.grad is None for parameter in model.parameters())
    assert all(torch.equal(value, weights[name]) for name, value in model.state_dict().items())


def test_trainer_arguments_take_the_measured_choice_and_refuse_contradictions(tokenizer, tmp_path, monkeypatch):
    model, collator, data = probe_inputs(tokenizer)

    def arguments(**values):
        return DBetaTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", **values)

    monkeypatch.setattr(
        "modeling_dbeta.precision.measure_cpu_precision", lambda work: (torch.bfloat16, {"fp32": 2.0, "bf16": 1.0})
    )
    args = arguments()
    choose_precision(args, model, collator, data)
    assert args.bf16 and args.mixed_precision == "bf16"
    monkeypatch.setattr(
        "modeling_dbeta.precision.measure_cpu_precision", lambda work: (None, {"fp32": 1.0, "bf16": 2.0})
    )
    args = arguments()
    choose_precision(args, model, collator, data)
    assert not args.bf16 and args.mixed_precision == "no"
    args = arguments(bf16=True)  # explicit: kept, not measured
    choose_precision(args, model, collator, data)
    assert args.bf16
    with pytest.raises(ValueError, match="contradicts --bf16"):
        choose_precision(arguments(bf16=True, precision="fp32"), model, collator, data)


def test_a_resumed_run_keeps_the_precision_its_checkpoint_recorded(tokenizer, tmp_path, monkeypatch):
    model, collator, data = probe_inputs(tokenizer)
    checkpoint = tmp_path / "checkpoint-4"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(
        json.dumps({"global_step": 4, "stateful_callbacks": {"RunPrecision": {"args": {"precision": "bf16"}}}})
    )

    def measured(work):
        raise AssertionError("a resumed run measured again")

    monkeypatch.setattr("modeling_dbeta.precision.measure_cpu_precision", measured)
    args = DBetaTrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to="none", resume_from_checkpoint=str(checkpoint)
    )
    choose_precision(args, model, collator, data)
    assert args.bf16 and args.mixed_precision == "bf16"
