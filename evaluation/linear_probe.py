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
from modeling_dbeta.evaluation import linear_probe, models_to_evaluate, write_evaluation
from modeling_dbeta.evaluation.arguments import (
    BaselineArguments,
    FeatureArguments,
    ModelArguments,
    arguments_record,
    load_splits,
)
from modeling_dbeta.evaluation.linear_probe import DEFAULT_INVERSE_REGULARIZATION, DEFAULT_TRAIN_FRACTIONS, MERL_SEED


@dataclass
class LinearProbeArguments:
    train_split: str = field(default="train", metadata={"help": "The split the probes are trained on."})
    validation_split: str = field(default="validation", metadata={"help": "The split the probes are selected on."})
    test_split: str = field(default="test", metadata={"help": "The split the selected probes are scored on."})
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
        (ModelArguments, ECGDatasetArguments, FeatureArguments, BaselineArguments, LinearProbeArguments)
    )
    model_args, data_args, feature_args, baseline_args, probe_args = parser.parse_args_into_dataclasses(args=args)
    splits = load_splits(
        data_args,
        train_split=probe_args.train_split,
        validation_split=probe_args.validation_split,
        test_split=probe_args.test_split,
    )
    models = models_to_evaluate(
        DBetaECGModel, model_args.model_name_or_path, baseline_args.baseline, baseline_args.baseline_seed
    )
    outputs = {
        weights: linear_probe(
            model,
            *splits,
            train_fractions=probe_args.train_fractions,
            leads=model_args.lead_subset,
            inverse_regularization=probe_args.inverse_regularization,
            seed=probe_args.seed,
            **feature_args.extraction_kwargs(),
        )
        for weights, model in models
    }
    return write_evaluation(
        feature_args.output_dir,
        "linear_probe",
        outputs,
        data_args.dataset_name,
        probe_args.test_split,
        arguments=arguments_record(model_args, data_args, feature_args, baseline_args, probe_args),
    )


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
