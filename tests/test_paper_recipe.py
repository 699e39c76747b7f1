"""
The README's "Pretraining on MIMIC-IV-ECG" recipe, rehearsed as a user runs it: a MIMIC-IV-ECG tree in the real
layout (record list in patient order, several records per patient, a few bad records), prepared with
`python -m datasets_scripts`, its N3S index built by `train/build_n3s_index.py` from `machine_measurements.csv`,
then `train/configs/paper_mimic_iv_ecg.json` itself, with only the model size, steps, batch, paths and device
overridden, on a tiny T5 encoder. A run is killed while it writes a checkpoint and started again with the same
command; it must log exactly the losses of the uninterrupted run, on the prepared and on the raw-record path. The
checkpoint it leaves then goes through the paper's four evaluation protocols and the Hub card, up to the upload.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard
from transformers import AutoConfig, T5EncoderModel

from datasets_scripts import load_ecg_dataset
from evaluation import finetune, linear_probe, retrieval, zero_shot
from modeling_dbeta import publish
from tests.ecg_fixtures import (
    code_test_tracing,
    ecg_signal,
    mimic_record_path,
    write_code_test,
    write_mimic_iv_ecg,
)
from tests.evaluation_fixtures import (
    merl_ptb_xl_rows,
    write_challenge_weights,
    write_physionet2021,
    write_ptb_xl_subset,
)
from tests.tiny_models import TINY_T5, tiny_t5_tokenizer
from train import pretrain


REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "train" / "configs" / "paper_mimic_iv_ecg.json"
NUM_PATIENTS, RECORDS_PER_PATIENT = 16, 6
TINY_MODEL = json.dumps({
    "conv_layers": [[16, 2, 2]] * 4, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4,
    "intermediate_size": 64, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4,
    "fusion_hidden_size": 32, "fusion_num_hidden_layers": 1, "fusion_num_attention_heads": 4,
    "fusion_intermediate_size": 64, "mem_decoder_hidden_size": 16, "mem_decoder_num_hidden_layers": 1,
    "mem_decoder_num_attention_heads": 2, "mem_decoder_intermediate_size": 32, "mem_decoder_fusion_layer": 1,
})
DATASET_KWARGS = "storage=int16,validation_fraction=0.25"  # a quarter of 16 patients held out, as 1 % of 161 k
STATEMENTS = [
    ["Sinus rhythm", "Normal ECG"], ["Sinus bradycardia", "Otherwise normal ECG"],
    ["Atrial fibrillation", "Low QRS voltages in limb leads", "Abnormal ECG"],
    ["Sinus rhythm", "Left bundle branch block", "Abnormal ECG"], ["Sinus tachycardia", "Borderline ECG"],
    ["Sinus rhythm", "1st degree A-V block", "Left axis deviation"],
]
# The sitecustomize of a run killed while it writes a checkpoint: half of the file, then SIGKILL, as a pre-emption.
KILL_HOOK = '''
import os, signal
target = os.environ.get("DBETA_TEST_KILL_WHILE_WRITING")
if target:
    import io, torch
    save = torch.save
    def save_then_die(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and str(f).endswith(target):
            buffer = io.BytesIO()
            save(obj, buffer, *args, **kwargs)
            with open(f, "wb") as out:
                out.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return save(obj, f, *args, **kwargs)
    torch.save = save_then_die
'''


def mimic_records():
    """16 patients x 6 records, in patient order as MIMIC-IV-ECG's record list is, three of them bad."""
    records = []
    for patient in range(NUM_PATIENTS):
        for visit in range(RECORDS_PER_PATIENT):
            statements = list(STATEMENTS[(patient + visit // 3) % len(STATEMENTS)])
            if visit % 2:
                statements.append("Nonspecific T wave abnormality")
            records.append({
                "subject_id": 10000000 + patient, "study_id": 40000000 + 10 * patient + visit,
                "signal": ecg_signal(100 * patient + visit), "statements": statements,
            })
    records[5]["statements"] = None  # no machine_measurements row
    records[20]["statements"] = [""]  # a row without any statement
    return records


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """The tree, the tiny text encoder, and the README's first two commands run on them."""
    root = tmp_path_factory.mktemp("recipe")
    data_dir = write_mimic_iv_ecg(root / "physionet.org" / "files" / "mimic-iv-ecg" / "1.0", mimic_records())
    (data_dir / mimic_record_path(10000007, 40000072)).with_suffix(".dat").unlink()  # a record whose signal is lost
    encoder = root / "tiny-t5"
    T5EncoderModel(AutoConfig.for_model(**{**TINY_T5, "dropout_rate": 0.0})).save_pretrained(encoder)
    tiny_t5_tokenizer().save_pretrained(encoder)
    hook = root / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_HOOK)
    paths = {
        "root": root, "data_dir": data_dir, "encoder": encoder, "n3s": root / "n3s" / "mimic-iv-ecg", "hook": hook
    }
    run(paths, [sys.executable, "-m", "datasets_scripts", "mimic-iv-ecg", "--data_dir", str(data_dir),
                "--num_proc", "2", "--config", *DATASET_KWARGS.split(",")])
    run(paths, [sys.executable, "train/build_n3s_index.py", "--reports", str(data_dir / "machine_measurements.csv"),
                "--encoder", str(encoder), "--output_dir", str(paths["n3s"])])
    return paths


def run(paths, command, kill_while_writing=None, expect_killed=False):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(paths["hook"]), str(REPO)]),
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    if kill_while_writing:
        env["DBETA_TEST_KILL_WHILE_WRITING"] = kill_while_writing
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    if expect_killed:
        assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    else:
        assert result.returncode == 0, result.stderr[-4000:]
    return result


def recipe_arguments(paths, output_dir, *extra):
    """The README's third command: the paper config, with sizes, steps, batch, paths and device overridden."""
    return [
        str(PAPER_CONFIG), "--data_dir", str(paths["data_dir"]), "--n3s_index_dir", str(paths["n3s"]),
        "--dataset_kwargs", DATASET_KWARGS, "--text_encoder", str(paths["encoder"]),
        "--n3s_encoder", str(paths["encoder"]), "--config_overrides", TINY_MODEL,
        "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "8", "--max_eval_samples", "16",
        "--max_steps", "6", "--save_steps", "2", "--eval_steps", "2", "--logging_steps", "1",
        "--output_dir", str(output_dir), "--use_cpu", "--precision", "fp32", "--disable_tqdm", "true", *extra,
    ]


def pretrain_command(paths, output_dir, *extra):
    return [sys.executable, "train/pretrain.py", *recipe_arguments(paths, output_dir, *extra)]


def logged(output_dir):
    """{step: training losses} and {step: evaluation losses} of a finished run."""
    history = json.loads((Path(output_dir) / "trainer_state.json").read_text())["log_history"]
    train = {e["step"]: (e["loss"], e["mlm_loss"], e["mem_loss"], e["etm_loss"], e["ets_loss"]) for e in history
             if "loss" in e}
    evaluation = {e["step"]: e["eval_loss"] for e in history if "eval_loss" in e}
    return train, evaluation


def killed_and_resumed(paths, output_dir, *extra):
    """The run killed while it writes checkpoint-4 (after checkpoint-2), then the same command again."""
    run(paths, pretrain_command(paths, output_dir, *extra), kill_while_writing="checkpoint-4/optimizer.pt",
        expect_killed=True)
    assert (output_dir / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (output_dir / "checkpoint-4" / "trainer_state.json").exists(), "the kill came after the save"
    resumed = run(paths, pretrain_command(paths, output_dir, *extra))
    assert f"Resuming from {output_dir / 'checkpoint-2'}" in resumed.stderr
    return logged(output_dir)


def patients_of_first_batches(paths, output_dir, subject_ids, *extra, num_batches=2):
    """The patients of the pairs of the first training batches, as the run's own Trainer orders them."""
    model_args, dataset_args, data_args, _, training_args = pretrain.parse_arguments(
        recipe_arguments(paths, output_dir, *extra)
    )
    trainer = pretrain.build_trainer(model_args, dataset_args, data_args, training_args)
    batches = iter(trainer.get_train_dataloader().batch_sampler)
    return [{subject_ids[index] for index in next(batches)} for _ in range(num_batches)]


@pytest.fixture(scope="module")
def uninterrupted(recipe, tmp_path_factory):
    """The recipe's run, on the prepared int16 data set, from start to end."""
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    run(recipe, pretrain_command(recipe, output_dir))
    return output_dir


def test_prepared_int16_path_shuffles_evaluates_and_resumes_exactly(recipe, uninterrupted, tmp_path):
    prepared = load_ecg_dataset("mimic-iv-ecg", data_dir=recipe["data_dir"], split="train", storage="int16",
                                validation_fraction=0.25)
    skipped = prepared.info.bad_records["train"]["skipped"]
    assert sum(skipped.values()) >= 2, skipped  # the bad records of the training patients were counted
    # Batches mix patients: in record-list order, 8 pairs would come from 2 patients.
    patients = patients_of_first_batches(recipe, tmp_path / "probe", prepared["subject_id"])
    assert all(len(batch) >= 5 for batch in patients), patients

    train, evaluation = logged(uninterrupted)
    assert sorted(train) == [1, 2, 3, 4, 5, 6] and sorted(evaluation) == [2, 4, 6]  # N3S on, evaluation every 2
    assert (uninterrupted / "eval_results.json").is_file() and (uninterrupted / "model.safetensors").is_file()
    assert list((uninterrupted / "runs").rglob("events.out.tfevents.*")), "the config's TensorBoard logs"

    resumed_train, resumed_evaluation = killed_and_resumed(recipe, tmp_path / "pre-empted")
    assert resumed_train == train and resumed_evaluation == evaluation


def test_raw_record_path_shuffles_and_resumes_exactly_and_evaluation_changes_no_batch(recipe, tmp_path):
    from datasets_scripts.raw_records import load_raw_ecg_records

    raw = load_raw_ecg_records("mimic-iv-ecg", data_dir=recipe["data_dir"], split="train", storage="int16",
                               validation_fraction=0.25)
    patients = patients_of_first_batches(recipe, tmp_path / "probe", [r["subject_id"] for r in raw.records],
                                         "--raw_records", "true")
    assert all(len(batch) >= 5 for batch in patients), patients

    without_evaluation = tmp_path / "without-evaluation"
    run(recipe, pretrain_command(recipe, without_evaluation, "--raw_records", "true", "--eval_strategy", "no"))
    expected, _ = logged(without_evaluation)
    train, evaluation = killed_and_resumed(recipe, tmp_path / "pre-empted", "--raw_records", "true")
    assert sorted(evaluation) == [2, 4, 6]
    assert train == expected  # exact after the kill, and evaluating every 2 steps changed no training batch


def test_two_processes_run_the_same_config(recipe, tmp_path):
    output_dir = tmp_path / "two-processes"
    run(recipe, [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                 "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                 "--main_process_port", "29531", "train/pretrain.py",
                 *recipe_arguments(recipe, output_dir, "--max_steps", "2")])
    train, evaluation = logged(output_dir)
    assert sorted(train) == [1, 2] and sorted(evaluation) == [2]
    assert (output_dir / "checkpoint-2" / "rng_state_1.pth").is_file()


def evaluation_data(root):
    """
    PTB-XL (MERL's super_class split), CODE-test and PhysioNet 2021 (the CPSC 2018 layout) trees, in their formats.
    """
    ptb_xl = write_ptb_xl_subset(root / "ptb-xl", merl_ptb_xl_rows("super_class", {"train": 16, "validation": 8,
                                                                                    "test": 12}))
    generator = np.random.default_rng(0)
    labels = (generator.random((12, 6)) < 0.4).astype(int)
    labels[:2] = [[1, 0, 0, 0, 1, 0], [0, 1, 1, 1, 0, 1]]  # every class both present and absent
    tracings = np.stack([code_test_tracing(seed, 10 if seed % 3 else 7) for seed in range(12)])
    return {
        "ptb-xl": ptb_xl,
        "code-test": write_code_test(root / "code-test", tracings, labels),
        "physionet2021": write_physionet2021(root / "physionet2021", num_records=36),
        "weights": write_challenge_weights(root / "weights.csv"),
    }


def test_the_checkpoint_goes_through_the_four_protocols_and_onto_the_card(recipe, uninterrupted, tmp_path):
    data = evaluation_data(tmp_path / "data")
    results_dir, cache = tmp_path / "results", str(tmp_path / "datasets-cache")
    common = ["--model_name_or_path", str(uninterrupted), "--dataset_cache_dir", cache]
    features = ["--feature_cache_dir", str(tmp_path / "features")]
    written = [
        zero_shot.main([*common, *features, "--dataset", "ptb-xl", "--dataset_config", "super_class", "--data_dir",
                        str(data["ptb-xl"]), "--baseline", "untrained", "--output_dir", str(results_dir / "zs-ptb")]),
        zero_shot.main([*common, *features, "--dataset", "code-test", "--data_dir", str(data["code-test"]),
                        "--leads", "I,II,V1", "--output_dir", str(results_dir / "zs-code")]),
        linear_probe.main([*common, *features, "--dataset", "ptb-xl", "--dataset_config", "super_class",
                           "--data_dir", str(data["ptb-xl"]), "--train_fractions", "0.5", "1.0",
                           "--inverse_regularization", "0.01", "1", "--output_dir", str(results_dir / "probe")]),
        retrieval.main([*common, *features, "--dataset", "mimic-iv-ecg", "--data_dir", str(recipe["data_dir"]),
                        "--dataset_kwargs", DATASET_KWARGS, "--split", "validation",
                        "--output_dir", str(results_dir / "retrieval")]),
        finetune.main([*common, "--dataset", "physionet2021", "--data_dir", str(data["physionet2021"]),
                       "--challenge_weights", str(data["weights"]), "--output_dir", str(tmp_path / "finetuned"),
                       "--max_steps", "2", "--eval_strategy", "steps", "--eval_steps", "1", "--save_strategy",
                       "steps", "--save_steps", "1", "--per_device_train_batch_size", "4", "--use_cpu", "true",
                       "--dataloader_pin_memory", "false"]),
    ]
    records = [(r["task"], r["dataset"], r["metric"], r["weights"]) for path in written
               for r in json.loads(Path(path).read_text())["results"]]
    assert all(record[1] for record in records)
    protocols = {(task, dataset) for task, dataset, _, _ in records}
    assert protocols == {("zero-shot", "ptb-xl/super_class"), ("zero-shot", "code-test"),
                         ("linear-probe", "ptb-xl/super_class"), ("retrieval", "mimic-iv-ecg"),
                         ("fine-tune", "physionet2021")}
    assert ("zero-shot", "ptb-xl/super_class", "macro_auprc", "pretrained") in records
    assert any(weights.startswith("untrained") for _, _, _, weights in records)
    (results_dir / "finetune").mkdir()
    Path(written[-1]).rename(results_dir / "finetune" / Path(written[-1]).name)

    commit = mock.Mock(commit_url="https://huggingface.co/someone/dbeta-rehearsal/commit/0")
    with (
        mock.patch.object(HfApi, "create_repo", autospec=True) as create_repo,
        mock.patch.object(HfApi, "create_commit", autospec=True, return_value=commit) as create_commit,
    ):
        publish.main(["--model_dir", str(uninterrupted), "--repo_id", "someone/dbeta-rehearsal", "--license",
                      "apache-2.0", "--results_dir", str(results_dir)])
    create_repo.assert_called_once()
    (_, _, operations), _ = create_commit.call_args
    uploaded = {operation.path_in_repo for operation in operations}
    assert {"model.safetensors", "config.json", "README.md", "processor_config.json", "modeling_dbeta.py"} <= uploaded
    assert not any(path.startswith(("checkpoint-", "runs/")) for path in uploaded), "run state is not published"
    card = ModelCard.load(uninterrupted / "README.md")
    assert {(result.task_type, result.dataset_type) for result in card.data.eval_results} >= {
        ("zero-shot-classification", "ptb-xl"), ("zero-shot-classification", "code-test"),
        ("ecg-linear-probe", "ptb-xl"), ("ecg-report-retrieval", "mimic-iv-ecg"),
        ("ecg-classification", "physionet2021"),
    }
