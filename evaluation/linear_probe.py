# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Linear probing (MERL's and the paper's protocol): a logistic regression on the frozen unimodal ECG features, trained
on 1 %, 10 % and 100 % of the training split (subsets drawn as MERL draws them), its regularisation chosen on the
validation split, its macro AUROC measured once on the test split.

    python evaluation/linear_probe.py --model_name_or_path dbeta-base/ --dataset ptb-xl --dataset_config super_class \
        --data_dir /data/ptb-xl --output_dir outputs/linear-probe/ptb-xl-super [--leads II] \
        [--train_fractions 0.01 0.1 1]

Writes `linear_probe.json` (one result per fraction, with the selected C, the validation AUROC of every C tried and
the per-class test AUROC) and `linear_probe.md` to `--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from transformers.utils import logging

from modeling_dbeta import DBetaECGModel
from modeling_dbeta.evaluation import EvaluationResult
from modeling_dbeta.evaluation.arguments import (
    FeatureArguments,
    ModelDataArguments,
    arguments_record,
    load_model,
    write_results,
)
from modeling_dbeta.evaluation.lead_subsets import leads_label
from modeling_dbeta.evaluation.linear_probe import (
    DEFAULT_INVERSE_REGULARIZATION,
    DEFAULT_TRAIN_FRACTIONS,
    MERL_SEED,
    linear_probe,
)


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
    parser = HfArgumentParser((ModelDataArguments, FeatureArguments, LinearProbeArguments))
    data_args, feature_args, probe_args = parser.parse_args_into_dataclasses(args=args)
    leads = data_args.lead_subset
    splits = [
        data_args.load_split(name)
        for name in (probe_args.train_split, probe_args.validation_split, probe_args.test_split)
    ]
    model = load_model(DBetaECGModel, data_args.model_name_or_path)

    outputs = linear_probe(
        model,
        *splits,
        train_fractions=probe_args.train_fractions,
        leads=leads,
        inverse_regularization=probe_args.inverse_regularization,
        seed=probe_args.seed,
        batch_size=feature_args.batch_size,
        precision=feature_args.precision,
        cache_dir=feature_args.feature_cache_dir,
    )
    results = [
        EvaluationResult(
            task="linear-probe",
            dataset=data_args.dataset_name,
            metric="macro_auroc",
            value=output.test_metrics["macro_auroc"],
            leads=leads_label(leads),
            split=probe_args.test_split,
            train_fraction=output.train_fraction,
        )
        for output in outputs
        if output.test_metrics["macro_auroc"] is not None
    ]
    return write_results(
        feature_args.output_dir,
        "linear_probe",
        results,
        probes=[
            {
                "train_fraction": output.train_fraction,
                "num_train_examples": output.num_train_examples,
                "selected_inverse_regularization": output.inverse_regularization,
                "validation_macro_auroc": output.validation_macro_auroc,
                "validation_macro_auroc_by_inverse_regularization": {
                    str(inverse): value for inverse, value in output.validation_history.items()
                },
                "test_per_class_auroc": output.test_metrics["per_class_auroc"],
                "test_undefined_classes": output.test_metrics["undefined_classes"],
            }
            for output in outputs
        ],
        arguments=arguments_record(data_args, feature_args, probe_args),
    )


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
