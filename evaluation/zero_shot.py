# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Zero-shot classification (the paper's protocol): score each ECG against one description per class, report per-class
and macro AUROC, draw the ROC curves.

    python evaluation/zero_shot.py --model_name_or_path dbeta-base/ --dataset ptb-xl --dataset_config super_class \
        --data_dir /data/ptb-xl --output_dir outputs/zero-shot/ptb-xl-super [--leads I,II,V2] [--descriptions my.json]

Writes `zero_shot.json` (results, per-class AUROC, the descriptions used, the arguments), `zero_shot.md` and
`roc_curves.png` to `--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from transformers.utils import logging

from modeling_dbeta import DBetaModel, DBetaProcessor
from modeling_dbeta.evaluation import EvaluationResult, load_label_descriptions
from modeling_dbeta.evaluation.arguments import (
    FeatureArguments,
    ModelDataArguments,
    arguments_record,
    load_model,
    similarity_field,
    write_results,
)
from modeling_dbeta.evaluation.lead_subsets import leads_label
from modeling_dbeta.evaluation.plots import plot_roc_curves
from modeling_dbeta.evaluation.zero_shot import zero_shot_classification


@dataclass
class ZeroShotArguments:
    split: str = field(default="test", metadata={"help": "The split to score."})
    descriptions: str | None = field(
        default=None,
        metadata={"help": "JSON of class descriptions (`{label: text}`, or keyed by data set); ours by default."},
    )
    similarity: str = similarity_field()


def main(args: list[str] | None = None) -> Path:
    parser = HfArgumentParser((ModelDataArguments, FeatureArguments, ZeroShotArguments))
    data_args, feature_args, zero_shot_args = parser.parse_args_into_dataclasses(args=args)
    leads = data_args.lead_subset
    descriptions = load_label_descriptions(data_args.dataset, data_args.dataset_config, zero_shot_args.descriptions)
    dataset = data_args.load_split(zero_shot_args.split)
    model = load_model(DBetaModel, data_args.model_name_or_path)
    processor = DBetaProcessor.from_pretrained(data_args.model_name_or_path)

    output = zero_shot_classification(
        model,
        processor,
        dataset,
        descriptions,
        leads=leads,
        similarity=zero_shot_args.similarity,
        batch_size=feature_args.batch_size,
        precision=feature_args.precision,
        cache_dir=feature_args.feature_cache_dir,
    )
    if output.metrics["macro_auroc"] is None:
        raise ValueError(f"No class of the {zero_shot_args.split} split has both positive and negative examples.")
    result = EvaluationResult(
        task="zero-shot",
        dataset=data_args.dataset_name,
        metric="macro_auroc",
        value=output.metrics["macro_auroc"],
        leads=leads_label(leads),
        split=zero_shot_args.split,
    )
    json_path = write_results(
        feature_args.output_dir,
        "zero_shot",
        [result],
        per_class_auroc=output.metrics["per_class_auroc"],
        undefined_classes=output.metrics["undefined_classes"],
        descriptions={name: descriptions[name] for name in output.label_names},
        arguments=arguments_record(data_args, feature_args, zero_shot_args),
    )
    plot_roc_curves(
        output.references,
        output.scores,
        output.label_names,
        json_path.with_name("roc_curves.png"),
        title=f"Zero-shot, {data_args.dataset_name} {zero_shot_args.split}, leads {leads_label(leads)}: "
        f"macro AUROC {result.value:.3f}",
    )
    return json_path


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
