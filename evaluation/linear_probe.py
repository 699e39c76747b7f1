# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Linear probing (MERL's and the paper's protocol): a logistic regression on the frozen unimodal ECG features, trained
on 1 %, 10 % and 100 % of the training split (subsets drawn as MERL draws them), its regularisation chosen on the
validation split, its macro AUROC measured once on the test split.

    python evaluation/linear_probe.py --model_name_or_path dbeta-base/ --dataset ptb-xl --dataset_config super_class \
        --data_dir /data/ptb-xl --output_dir outputs/linear-probe/ptb-xl-super [--leads II] \
        [--train_fractions 0.01 0.1 1] [--baseline untrained]

Writes `linear_probe.json` (test macro AUROC and AUPRC per fraction; per probe the selected C, the validation AUROC of
every C tried and the per-class test numbers) and `linear_probe.md` to `--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from transformers.utils import logging

from datasets_scripts.arguments import ECGDatasetArguments
from modeling_dbeta import DBetaECGModel
from modeling_dbeta.evaluation import linear_probe, write_evaluation
from modeling_dbeta.evaluation.arguments import (
    BaselineArguments,
    FeatureArguments,
    ModelArguments,
    ProtocolSplitArguments,
    arguments_record,
    run_protocol,
)
from modeling_dbeta.evaluation.linear_probe import DEFAULT_INVERSE_REGULARIZATION, DEFAULT_TRAIN_FRACTIONS, MERL_SEED


@dataclass
class LinearProbeArguments:
    train_fractions: list[float] = field(
        default_factory=lambda: list(DEFAULT_TRAIN_FRACTIONS),
        metadata={"help": "Fractions of the training split, each drawn as MERL draws it."},
    )
    inverse_regularization: list[float] = field(
        default_factory=lambda: list(DEFAULT_INVERSE_REGULARIZATION),
        metadata={"help": "The grid of inverse regularisation strengths C searched on the validation split."},
    )
    seed: int = field(default=MERL_SEED, metadata={"help": "`random_state` of the subsets (MERL: 42)."})


def main(args: list[str] | None = None) -> Path:
    parser = HfArgumentParser(
        (
            ModelArguments,
            ECGDatasetArguments,
            FeatureArguments,
            BaselineArguments,
            ProtocolSplitArguments,
            LinearProbeArguments,
        )
    )
    model_args, data_args, feature_args, baseline_args, split_args, probe_args = parser.parse_args_into_dataclasses(
        args=args
    )
    train, validation, test = split_args.load(data_args)
    outputs = run_protocol(
        linear_probe,
        DBetaECGModel,
        model_args,
        baseline_args,
        train_dataset=train,
        validation_dataset=validation,
        test_dataset=test,
        train_fractions=probe_args.train_fractions,
        inverse_regularization=probe_args.inverse_regularization,
        seed=probe_args.seed,
        **feature_args.extraction_kwargs(),
    )
    return write_evaluation(
        feature_args.output_dir,
        "linear_probe",
        outputs,
        data_args.dataset_name,
        split_args.test_split,
        arguments=arguments_record(model_args, data_args, feature_args, baseline_args, split_args, probe_args),
    )


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
