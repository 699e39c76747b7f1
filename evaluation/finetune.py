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
(`PROTOCOL_TRAINING_DEFAULTS`). Writes the selected model, `finetune.json` (test macro AUROC and AUPRC, the
challenge score with `--challenge_weights`, per-class numbers, validation thresholds) and `finetune.md` to
`--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, TrainingArguments
from transformers.utils import logging

from datasets_scripts.arguments import ECGDatasetArguments
from modeling_dbeta.evaluation import PRETRAINED, ChallengeWeights, write_evaluation
from modeling_dbeta.evaluation.arguments import ModelArguments, ProtocolSplitArguments, arguments_record
from modeling_dbeta.evaluation.finetune import PROTOCOL_TRAINING_DEFAULTS, finetune_classifier


@dataclass
class FineTuneArguments:
    train_fraction: float = field(
        default=1.0, metadata={"help": "Fraction of the training split, drawn as MERL draws it (seed 42)."}
    )
    challenge_weights: str | None = field(
        default=None, metadata={"help": "PhysioNet/CinC 2021 `weights.csv`: adds the challenge score."}
    )


def main(args: list[str] | None = None) -> Path:
    parser = HfArgumentParser(
        (ModelArguments, ECGDatasetArguments, ProtocolSplitArguments, FineTuneArguments, TrainingArguments)
    )
    parser.set_defaults(**PROTOCOL_TRAINING_DEFAULTS)
    model_args, data_args, split_args, finetune_args, training_args = parser.parse_args_into_dataclasses(args=args)
    weights = ChallengeWeights.from_csv(finetune_args.challenge_weights) if finetune_args.challenge_weights else None
    output = finetune_classifier(
        model_args.model_name_or_path,
        *split_args.load(data_args),
        training_args=training_args,
        leads=model_args.lead_subset,
        train_fraction=finetune_args.train_fraction,
        challenge_weights=weights,
    )
    return write_evaluation(
        training_args.output_dir,
        "finetune",
        {PRETRAINED: output},
        data_args.dataset_name,
        split_args.test_split,
        arguments=arguments_record(model_args, data_args, split_args, finetune_args)
        | {"training": training_args.to_dict()},
    )


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
