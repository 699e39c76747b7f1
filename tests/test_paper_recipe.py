"""
The README's "Pretraining on MIMIC-IV-ECG" recipe, rehearsed as a user runs it: a MIMIC-IV-ECG tree in the real
layout (record list in patient order, several records per patient, a few bad records), prepared with
`python -m datasets_scripts`, its N3S index built by `train/build_n3s_index.py` from `machine_measurements.csv`,
then `train/configs/paper_mimic_iv_ecg.json` itself, with only the model size, steps, batch, paths and device
overridden, on a tiny T5 encoder. A run is killed while it writes a checkpoint and started again with the same
command; it must log exactly the losses of the uninterrupted run, on the prepared and on the raw-record path.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoConfig, T5EncoderModel

from datasets_scripts import load_ecg_dataset
from tests.ecg_fixtures import ecg_signal, mimic_record_path, write_mimic_iv_ecg
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
    paths = {"root": root, "data_dir": data_dir, "encoder": encoder, "n3s": root / "n3s" / "mimic-iv-ecg", "hook": hook}
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
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
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


def test_prepared_int16_path_shuffles_evaluates_and_resumes_exactly(recipe, tmp_path):
    prepared = load_ecg_dataset("mimic-iv-ecg", data_dir=recipe["data_dir"], split="train", storage="int16",
                                validation_fraction=0.25)
    skipped = prepared.info.bad_records["train"]["skipped"]
    assert sum(skipped.values()) >= 2, skipped  # the bad records of the training patients were counted
    # Batches mix patients: in record-list order, 8 pairs would come from 2 patients.
    patients = patients_of_first_batches(recipe, tmp_path / "probe", prepared["subject_id"])
    assert all(len(batch) >= 5 for batch in patients), patients

    uninterrupted = tmp_path / "uninterrupted"
    run(recipe, pretrain_command(recipe, uninterrupted))
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
