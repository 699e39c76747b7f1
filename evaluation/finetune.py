# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Fine-tuning (the paper's PhysioNet 2021 protocol, and the MERL sets): the whole ECG encoder and a linear head trained
with `Trainer`, the checkpoint with the best validation macro AUROC kept, the test split scored once.

    python evaluation/finetune.py --model_name_or_path dbeta-base/ --dataset physionet2021 \
        --data_dir /data/challenge-2021 \
        --challenge_weights weights.csv --output_dir outputs/finetune/physionet2021-12 \
        --num_train_epochs 10 --learning_rate 5e-5 --per_device_train_batch_size 64 [--leads II]

Every `TrainingArguments` flag applies; evaluation and saving default to every epoch with the best checkpoint kept
(`PROTOCOL_TRAINING_DEFAULTS`). Writes the selected model, `finetune.json` (test macro AUROC, the challenge score
with `--challenge_weights`, per-class AUROC, validation thresholds) and `finetune.md` to `--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, TrainingArguments
from transformers.utils import logging

from modeling_dbeta.evaluation import ChallengeWeights, EvaluationResult
from modeling_dbeta.evaluation.arguments import ModelDataArguments, arguments_record, write_results
from modeling_dbeta.evaluation.finetune import PROTOCOL_TRAINING_DEFAULTS, finetune_classifier
from modeling_dbeta.evaluation.lead_subsets import leads_label


@dataclass
class FineTuneArguments:
    train_split: str = field(default="train", metadata={"help": "The split the model is trained on."})
    validation_split: str = field(default="validation", metadata={"help": "The split the checkpoint is chosen on."})
    test_split: str = field(default="test", metadata={"help": "The split the chosen model is scored on."})
    train_fraction: float = field(
        default=1.0, metadata={"help": "Fraction of the training split, drawn as MERL draws it (seed 42)."}
    )
    challenge_weights: str | None = field(
        default=None, metadata={"help": "PhysioNet/CinC 2021 `weights.csv`: adds the challenge score."}
    )


def main(args: list[str] | None = None) -> Path:
    parser = HfArgumentParser((ModelDataArguments, FineTuneArguments, TrainingArguments))
    parser.set_defaults(**PROTOCOL_TRAINING_DEFAULTS)
    data_args, finetune_args, training_args = parser.parse_args_into_dataclasses(args=args)
    leads = data_args.lead_subset
    weights = ChallengeWeights.from_csv(finetune_args.challenge_weights) if finetune_args.challenge_weights else None
    splits = [
        data_args.load_split(name)
        for name in (finetune_args.train_split, finetune_args.validation_split, finetune_args.test_split)
    ]

    output = finetune_classifier(
        data_args.model_name_or_path,
        *splits,
        training_args=training_args,
        leads=leads,
        train_fraction=finetune_args.train_fraction,
        challenge_weights=weights,
    )
    record = {
        "task": "fine-tune",
        "dataset": data_args.dataset_name,
        "leads": leads_label(leads),
        "split": finetune_args.test_split,
        "train_fraction": finetune_args.train_fraction,
    }
    results = []
    if output.test_metrics["macro_auroc"] is not None:
        results.append(EvaluationResult(metric="macro_auroc", value=output.test_metrics["macro_auroc"], **record))
    if output.challenge_score is not None:
        results.append(EvaluationResult(metric="challenge_score", value=output.challenge_score, **record))
    return write_results(
        training_args.output_dir,
        "finetune",
        results,
        validation_macro_auroc=output.validation_macro_auroc,
        validation_history=output.validation_history,
        test_per_class_auroc=output.test_metrics["per_class_auroc"],
        test_undefined_classes=output.test_metrics["undefined_classes"],
        validation_thresholds=dict(zip(output.label_names, output.thresholds.tolist())),
        arguments=arguments_record(data_args, finetune_args) | {"training": training_args.to_dict()},
    )


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
