# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
ECG -> report and report -> ECG retrieval on a paired set: recall@1/5/10 and median rank in both directions.
Identical report texts are interchangeable (a hit on any of them counts).

    python evaluation/retrieval.py --model_name_or_path dbeta-base/ --dataset mimic-iv-ecg \
        --data_dir /data/mimic-iv-ecg --split validation --output_dir outputs/retrieval/mimic [--leads I,II,V2] \
        [--baseline untrained]

Writes `retrieval.json` and `retrieval.md` to `--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from transformers.utils import logging

from datasets_scripts.arguments import ECGDatasetArguments
from modeling_dbeta import DBetaModel
from modeling_dbeta.evaluation import load_processor, retrieval_evaluation, write_evaluation
from modeling_dbeta.evaluation.arguments import (
    BaselineArguments,
    FeatureArguments,
    ModelArguments,
    arguments_record,
    load_splits,
    run_protocol,
    similarity_field,
)


@dataclass
class RetrievalArguments:
    split: str = field(default="validation", metadata={"help": "The split of ECG-report pairs to search."})
    report_column: str = field(default="report", metadata={"help": "The column holding each ECG's report."})
    similarity: str = similarity_field()


def main(args: list[str] | None = None) -> Path:
    parser = HfArgumentParser(
        (ModelArguments, ECGDatasetArguments, FeatureArguments, BaselineArguments, RetrievalArguments)
    )
    model_args, data_args, feature_args, baseline_args, retrieval_args = parser.parse_args_into_dataclasses(args=args)
    (dataset,) = load_splits(data_args, split=retrieval_args.split)
    processor = load_processor(model_args.model_name_or_path)
    outputs = run_protocol(
        retrieval_evaluation,
        DBetaModel,
        model_args,
        baseline_args,
        processor=processor,
        dataset=dataset,
        report_column=retrieval_args.report_column,
        similarity=retrieval_args.similarity,
        **feature_args.extraction_kwargs(),
    )
    return write_evaluation(
        feature_args.output_dir,
        "retrieval",
        outputs,
        data_args.dataset_name,
        retrieval_args.split,
        arguments=arguments_record(model_args, data_args, feature_args, baseline_args, retrieval_args),
    )


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
