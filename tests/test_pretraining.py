"""Pretraining pieces: the collator (lead masking, N3S swap that survives MLM masking) and DBetaTrainer."""

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import TrainingArguments

from modeling_dbeta import DBetaForPreTraining
from modeling_dbeta.data_collator import DataCollatorForDBetaPretraining, random_lead_mask
from modeling_dbeta.n3s import N3SIndex, embeddings_dataset
from modeling_dbeta.trainer import DBetaTrainer
from tests.tiny_models import tiny_config


REPORTS = [
    "sinus rhythm. normal ecg",
    "atrial fibrillation with low qrs voltage",
    "left bundle branch block",
    "sinus bradycardia. first degree av block",
]


def toy_index(reports=REPORTS):
    """An N3S index whose candidate table is known: report i's only candidate is report i + 1 (cyclic)."""
    embeddings = np.eye(len(reports), 8, dtype=np.float32)
    table = np.array([[(i + 1) % len(reports)] for i in range(len(reports))], dtype=np.int32)
    return N3SIndex(embeddings_dataset(reports, embeddings), table, {"encoder_name_or_path": "toy"})


def examples(count=4, seed=0):
    generator = np.random.default_rng(seed)
    return [
        {"ecg": generator.standard_normal((12, 5000)).astype(np.float32), "report": REPORTS[i % 4]}
        for i in range(count)
    ]


def test_swapped_negatives_reach_the_model_after_mlm_masking(tokenizer):
    torch.manual_seed(0)
    collator = DataCollatorForDBetaPretraining(
        tokenizer, n3s_index=toy_index(), negative_fraction=1.0, mlm_probability=0.5
    )
    batch = collator(examples())
    assert batch["is_aligned"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert (batch["mlm_labels"] != -100).any(), "nothing was masked: the test would prove nothing"
    # Undo the MLM masking: the text under the masks must be the negative report, not the original one.
    fed = torch.where(batch["mlm_labels"] != -100, batch["mlm_labels"], batch["input_ids"])
    for row, example in enumerate(examples()):
        negative = REPORTS[(REPORTS.index(example["report"]) + 1) % 4]
        tokens = fed[row][batch["attention_mask"][row].bool()].tolist()
        assert tokens == tokenizer(negative)["input_ids"], f"row {row} does not carry its negative"
        assert tokens != tokenizer(example["report"])["input_ids"]


def test_half_the_batch_is_negative_and_the_rest_untouched(tokenizer):
    torch.manual_seed(1)
    collator = DataCollatorForDBetaPretraining(tokenizer, n3s_index=toy_index(), mlm=False)
    fractions, chosen = [], set()
    for seed in range(50):
        data = examples(7, seed=seed)  # 7: the number of negatives is 3 or 4, drawn per batch
        batch = collator(data)
        fractions.append(1 - batch["is_aligned"].mean().item())
        chosen.add(tuple(batch["is_aligned"].tolist()))
        for row in torch.nonzero(batch["is_aligned"]).flatten().tolist():
            expected = tokenizer(data[row]["report"])["input_ids"]
            assert batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist() == expected
    assert "mlm_labels" not in batch
    assert abs(np.mean(fractions) - 0.5) < 0.05
    assert len(chosen) > 10, "every batch chose the same pairs: batches do not get seeds of their own"


def test_without_index_negatives_come_from_the_batch(tokenizer):
    torch.manual_seed(2)
    collator = DataCollatorForDBetaPretraining(tokenizer, negative_fraction=1.0, mlm=False)
    batch = collator(examples())
    assert batch["is_aligned"].sum() == 0
    identical = collator([{"ecg": np.zeros((12, 5000)), "report": "normal ecg"}] * 2)
    assert identical["is_aligned"].tolist() == [1.0, 1.0]  # no different report to swap in


def test_t5_tokenizer_gets_a_sentinel_mask_token(tokenizer):
    assert tokenizer.mask_token is None
    torch.manual_seed(3)
    batch = DataCollatorForDBetaPretraining(tokenizer, mlm_probability=1.0, negative_fraction=0.0)(examples())
    assert tokenizer.mask_token == "<extra_id_0>"
    assert (batch["input_ids"] == tokenizer.convert_tokens_to_ids("<extra_id_0>")).any()
    # Special tokens and padding are never masked.
    assert (batch["mlm_labels"][batch["input_ids"] == tokenizer.pad_token_id] == -100).all()


def test_lead_masking_only_in_training(tokenizer):
    torch.manual_seed(4)
    train = DataCollatorForDBetaPretraining(tokenizer, mlm=False, negative_fraction=0.0)
    evaluation = DataCollatorForDBetaPretraining(tokenizer, mlm=False, negative_fraction=0.0, training=False)
    data = examples(64)
    zeroed = (train(data)["ecg_values"].abs().sum(-1) == 0).float()
    assert 0.4 < zeroed.mean() < 0.6
    assert (zeroed.sum(1) < 12).all()
    torch.testing.assert_close(evaluation(data)["ecg_values"], torch.from_numpy(np.stack([d["ecg"] for d in data])))
    assert (random_lead_mask(10_000, 12, 0.99).sum(1) >= 1).all()


def training_args(tmp_path, **overrides):
    values = {
        "output_dir": str(tmp_path), "per_device_train_batch_size": 4, "learning_rate": 1e-3, "max_steps": 20,
        "logging_steps": 5, "save_strategy": "no", "report_to": "none", "use_cpu": True, "seed": 0,
        "remove_unused_columns": False, "adam_beta2": 0.98, "adam_epsilon": 1e-6, "weight_decay": 0.01,
        "dataloader_num_workers": 0, "disable_tqdm": True,
    }
    values.update(overrides)
    return TrainingArguments(**values)


def make_trainer(tmp_path, tokenizer, eval_dataset=None, eval_data_collator=None, **overrides):
    torch.manual_seed(0)
    model = DBetaForPreTraining(tiny_config())
    data = Dataset.from_list(
        [{"ecg": e["ecg"].tolist(), "report": e["report"]} for e in examples(8)]
    ).with_format("numpy")
    collator = DataCollatorForDBetaPretraining(tokenizer, n3s_index=toy_index())
    return DBetaTrainer(
        model=model,
        args=training_args(tmp_path, **overrides),
        train_dataset=data,
        data_collator=collator,
        eval_dataset=eval_dataset,
        eval_data_collator=eval_data_collator,
    )


def test_a_few_steps_lower_the_loss_and_log_every_objective(tmp_path, tokenizer):
    trainer = make_trainer(tmp_path, tokenizer, max_steps=40, logging_steps=10)
    fixed = DataCollatorForDBetaPretraining(tokenizer, n3s_index=toy_index(), training=False)
    torch.manual_seed(5)
    batch = fixed(examples(8))
    batch["ecg_mask_noise"] = torch.rand(8, trainer.model.config.num_ecg_tokens)

    def loss_on_fixed_batch():
        trainer.model.eval()
        with torch.no_grad():
            return trainer.model(**batch).loss.item()

    before = loss_on_fixed_batch()
    trainer.train()
    after = loss_on_fixed_batch()
    assert after < 0.95 * before, f"loss {before:.3f} -> {after:.3f}"
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logged) == 4
    for entry in logged:
        for name in ("mlm_loss", "mem_loss", "etm_loss", "ets_loss", "etm_accuracy"):
            assert name in entry and np.isfinite(entry[name]), f"{name} missing from {entry}"
        assert 0.0 <= entry["etm_accuracy"] <= 1.0


def test_tri_stage_schedule(tmp_path, tokenizer):
    trainer = make_trainer(tmp_path, tokenizer, max_steps=100, learning_rate=1.0)
    trainer.create_optimizer_and_scheduler(num_training_steps=100)
    rates = []
    for _ in range(100):
        rates.append(trainer.lr_scheduler.get_last_lr()[0])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    assert rates[0] < 0.1 and rates[5] == pytest.approx(0.5, abs=0.02)  # warm-up over the first 10 steps
    assert all(rate == pytest.approx(1.0) for rate in rates[10:50])  # hold for 40 steps
    assert rates[75] == pytest.approx(0.5, abs=0.03) and rates[99] < 0.05  # decay over the last 50


def test_resume_continues_with_the_same_losses(tmp_path, tokenizer):
    common = {"max_steps": 6, "logging_steps": 1, "learning_rate": 5e-4}
    uninterrupted = make_trainer(tmp_path / "a", tokenizer, save_strategy="steps", save_steps=3, **common)
    uninterrupted.train()
    resumed = make_trainer(tmp_path / "b", tokenizer, **common)
    resumed.train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-3"))

    def losses_after_checkpoint(trainer):
        history = trainer.state.log_history
        return {e["step"]: (e["loss"], e["mlm_loss"], e["ets_loss"]) for e in history if "loss" in e and e["step"] > 3}

    expected, got = losses_after_checkpoint(uninterrupted), losses_after_checkpoint(resumed)
    assert sorted(got) == [4, 5, 6]
    for step in got:
        assert got[step] == pytest.approx(expected[step], rel=1e-4), f"step {step}: {got[step]} vs {expected[step]}"


def test_evaluation_batches_are_seeded_by_their_content_not_a_counter(tokenizer):
    evaluation = DataCollatorForDBetaPretraining(tokenizer, n3s_index=toy_index(), mlm_probability=0.5, training=False)
    first = evaluation(examples(8))
    evaluation(examples(8, seed=1))  # another batch in between must not change what the first one gets
    again = evaluation(examples(8))
    for name in ("input_ids", "mlm_labels", "is_aligned"):
        torch.testing.assert_close(first[name], again[name])
    assert first["is_aligned"].min() == 0, "no negative was drawn: the test would prove nothing"
    # A fresh collator (another evaluation, another DataLoader worker) builds the same batch.
    fresh = DataCollatorForDBetaPretraining(tokenizer, n3s_index=toy_index(), mlm_probability=0.5, training=False)
    torch.testing.assert_close(fresh(examples(8))["input_ids"], first["input_ids"])


def test_evaluation_reports_missing_from_the_index_fall_back_to_the_batch(tokenizer):
    unknown = [{"ecg": np.zeros((12, 5000), np.float32), "report": f"report never indexed {i}"} for i in range(4)]
    evaluation = DataCollatorForDBetaPretraining(
        tokenizer, n3s_index=toy_index(), negative_fraction=1.0, mlm=False, training=False
    )
    batch = evaluation(unknown)
    assert batch["is_aligned"].sum() == 0 and evaluation.n3s_fallbacks == 4
    train = DataCollatorForDBetaPretraining(tokenizer, n3s_index=toy_index(), negative_fraction=1.0, mlm=False)
    with pytest.raises(KeyError, match="not in this N3S index"):
        train(unknown)


def test_unreadable_records_are_left_out_and_non_finite_ecgs_refused(tokenizer):
    collator = DataCollatorForDBetaPretraining(tokenizer, mlm=False)
    assert collator([None, *examples(3), None])["ecg_values"].shape[0] == 3
    with pytest.raises(ValueError, match="unreadable"):
        collator([None, None])
    bad = examples(2)
    bad[1]["ecg"][3, 100] = np.inf
    with pytest.raises(
        ValueError, match=r"batch of 2 pretraining ECGs holds 1 NaN / inf value\(s\) \(example\(s\) \[1\]\)"
    ):
        collator(bad)


def test_evaluation_during_training_uses_its_own_collator_and_changes_no_training_batch(tmp_path, tokenizer):
    """With N3S on and validation reports the index lacks, evaluating every 2 steps works and changes no loss."""
    unindexed = Dataset.from_list(
        [{"ecg": e["ecg"].tolist(), "report": f"validation report {i}"} for i, e in enumerate(examples(4, seed=9))]
    ).with_format("numpy")

    def run(folder, **overrides):
        trainer = make_trainer(
            folder,
            tokenizer,
            eval_dataset=unindexed,
            eval_data_collator=DataCollatorForDBetaPretraining(tokenizer, n3s_index=toy_index(), training=False),
            max_steps=6,
            logging_steps=1,
            **overrides,
        )
        trainer.train()
        losses = {e["step"]: e["loss"] for e in trainer.state.log_history if "loss" in e}
        evaluations = [e for e in trainer.state.log_history if "eval_loss" in e]
        # The same model scores the same: evaluation's masks and negatives do not depend on when it runs.
        assert trainer.evaluate()["eval_loss"] == trainer.evaluate()["eval_loss"]
        return losses, evaluations

    plain, no_evaluations = run(tmp_path / "plain")
    evaluated, evaluations = run(tmp_path / "evaluated", eval_strategy="steps", eval_steps=2)
    assert not no_evaluations and [e["step"] for e in evaluations] == [2, 4, 6]
    assert all(np.isfinite(e["eval_loss"]) for e in evaluations)
    assert evaluated == plain
