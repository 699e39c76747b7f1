# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
ECG -> report and report -> ECG retrieval on a paired set: recall@1/5/10 and median rank in both directions.
Identical report texts are interchangeable (a hit on any of them counts).

    python evaluation/retrieval.py --model_name_or_path dbeta-base/ --dataset mimic-iv-ecg \
        --data_dir /data/mimic-iv-ecg --split validation --output_dir outputs/retrieval/mimic [--leads I,II,V2]

Writes `retrieval.json` and `retrieval.md` to `--output_dir`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from transformers.utils import logging

from modeling_dbeta import DBetaModel, DBetaProcessor
from modeling_dbeta.evaluation import EvaluationResult
from modeling_dbeta.evaluation.arguments import (
    FeatureArguments,
    ModelDataArguments,
    arguments_record,
    load_model,
    similarity_field,
    write_results,
)
from modeling_dbeta.evaluation.lead_subsets import leads_label
from modeling_dbeta.evaluation.retrieval import retrieval_evaluation


@dataclass
class RetrievalArguments:
    split: str = field(default="validation", metadata={"help": "The split of ECG-report pairs to search."})
    report_column: str = field(default="report", metadata={"help": "The column holding each ECG's report."})
    similarity: str = similarity_field()


def main(args: list[str] | None = None) -> Path:
    parser = HfArgumentParser((ModelDataArguments, FeatureArguments, RetrievalArguments))
    data_args, feature_args, retrieval_args = parser.parse_args_into_dataclasses(args=args)
    leads = data_args.lead_subset
    dataset = data_args.load_split(retrieval_args.split)
    model = load_model(DBetaModel, data_args.model_name_or_path)
    processor = DBetaProcessor.from_pretrained(data_args.model_name_or_path)

    output = retrieval_evaluation(
        model,
        processor,
        dataset,
        report_column=retrieval_args.report_column,
        leads=leads,
        similarity=retrieval_args.similarity,
        batch_size=feature_args.batch_size,
        precision=feature_args.precision,
        cache_dir=feature_args.feature_cache_dir,
    )
    results = [
        EvaluationResult(
            task="retrieval",
            dataset=data_args.dataset_name,
            metric=metric,
            value=value,
            leads=leads_label(leads),
            split=retrieval_args.split,
        )
        for metric, value in output.metrics.items()
    ]
    return write_results(
        feature_args.output_dir,
        "retrieval",
        results,
        num_pairs=output.num_pairs,
        num_distinct_reports=output.num_distinct_reports,
        arguments=arguments_record(data_args, feature_args, retrieval_args),
    )


if __name__ == "__main__":
    logging.set_verbosity_info()
    print(main().with_suffix(".md").read_text())
