# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Zero-shot classification (the paper's protocol): score each ECG against one description per class, report per-class
and macro AUROC and AUPRC, draw the ROC curves.

    python evaluation/zero_shot.py --model_name_or_path dbeta-base/ --dataset ptb-xl --dataset_config super_class \
        --data_dir /data/ptb-xl --output_dir outputs/zero-shot/ptb-xl-super [--leads I,II,V2] \
        [--descriptions my.json] [--baseline untrained]

Writes `zero_shot.json` (results, per-class numbers, the descriptions used, the arguments), `zero_shot.md` and
`roc_curves.png` (`roc_curves_untrained.png` for the baseline) to `--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from transformers.utils import logging

from datasets_scripts.arguments import ECGDatasetArguments
from modeling_dbeta import DBetaModel
from modeling_dbeta.evaluation import (
    PRETRAINED,
    leads_label,
    load_label_descriptions,
    load_processor,
    load_prompt_sets,
    write_evaluation,
    zero_shot_classification,
)
from modeling_dbeta.evaluation.arguments import (
    BaselineArguments,
    FeatureArguments,
    ModelArguments,
    arguments_record,
    load_splits,
    run_protocol,
    similarity_field,
)
from modeling_dbeta.evaluation.labels import class_names
from modeling_dbeta.evaluation.plots import plot_roc_curves


@dataclass
class ZeroShotArguments:
    split: str = field(default="test", metadata={"help": "The split to score."})
    descriptions: str | None = field(
        default=None,
        metadata={"help": "JSON of class descriptions (`{label: text}`, or keyed by data set); ours by default."},
    )
    prompt_set: str | None = field(
        default=None, metadata={"help": "For a data set with several prompt sets, the one to score; the first."}
    )
    similarity: str = similarity_field()


def main(args: list[str] | None = None) -> Path:
    parser = HfArgumentParser(
        (ModelArguments, ECGDatasetArguments, FeatureArguments, BaselineArguments, ZeroShotArguments)
    )
    model_args, data_args, feature_args, baseline_args, zero_shot_args = parser.parse_args_into_dataclasses(args=args)
    (dataset,) = load_splits(data_args, split=zero_shot_args.split)
    names = class_names(dataset)
    dataset_and_file = (data_args.dataset, data_args.dataset_config, zero_shot_args.descriptions)
    prompts = zero_shot_args.prompt_set or next(iter(load_prompt_sets(*dataset_and_file)))
    descriptions = load_label_descriptions(*dataset_and_file, prompt_set=prompts, labels=names)
    processor = load_processor(model_args.model_name_or_path)
    outputs = run_protocol(
        zero_shot_classification,
        DBetaModel,
        model_args,
        baseline_args,
        processor=processor,
        dataset=dataset,
        descriptions=descriptions,
        similarity=zero_shot_args.similarity,
        prompts=prompts,
        **feature_args.extraction_kwargs(),
    )
    json_path = write_evaluation(
        feature_args.output_dir,
        "zero_shot",
        outputs,
        data_args.dataset_name,
        zero_shot_args.split,
        descriptions={name: descriptions[name] for name in names},
        arguments=arguments_record(model_args, data_args, feature_args, baseline_args, zero_shot_args),
    )
    for weights, output in outputs.items():
        plot_roc_curves(
            output.references,
            output.scores,
            output.label_names,
            json_path.with_name("roc_curves.png" if weights == PRETRAINED else "roc_curves_untrained.png"),
            title=f"Zero-shot, {data_args.dataset_name} {zero_shot_args.split}, "
            f"leads {leads_label(model_args.lead_subset)}, {weights}: macro AUROC {output.metrics['macro_auroc']:.3f}",
        )
    return json_path


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
