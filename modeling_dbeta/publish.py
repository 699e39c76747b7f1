# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Write a model card into a saved D-BETA folder and push the folder (model, processor, code, card) to the Hub.

    python -m modeling_dbeta.publish --model_dir dbeta-base/ --repo_id user/dbeta-base --license apache-2.0 \
        [--results_dir outputs/eval/] [--private]

The card's evaluation table and its `model-index` metadata hold every result record under `--results_dir` (the
JSON files the evaluation scripts write).
"""

from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from transformers.utils import logging

from .evaluation.results import load_results
from .hub import DEFAULT_TRAINING_DATA, build_model_card, push_model_folder


logger = logging.get_logger(__name__)


@dataclass
class PublishArguments:
    model_dir: str = field(metadata={"help": "Folder written by the model's and the processor's `save_pretrained`."})
    repo_id: str = field(metadata={"help": "Hub repository to create or update, e.g. `user/dbeta-base`."})
    license: str = field(
        metadata={
            "help": "Hub licence identifier of the weights, e.g. `apache-2.0`; weights converted from the authors' "
            "checkpoint are `cc-by-nc-4.0`."
        }
    )
    private: bool = field(default=False, metadata={"help": "Create the repository as private."})
    results_dir: str | None = field(
        default=None, metadata={"help": "Results file or folder of results files (JSON) for the evaluation table."}
    )
    training_data: str = field(default=DEFAULT_TRAINING_DATA, metadata={"help": "What the weights were trained on."})
    commit_message: str = field(default="Upload D-BETA model", metadata={"help": "Message of the Hub commit."})


def main(args: list[str] | None = None):
    (publish_args,) = HfArgumentParser(PublishArguments).parse_args_into_dataclasses(args=args)
    results = load_results(publish_args.results_dir) if publish_args.results_dir else []
    card = build_model_card(
        publish_args.model_dir,
        publish_args.repo_id,
        license=publish_args.license,
        results=results,
        training_data=publish_args.training_data,
    )
    card_path = Path(publish_args.model_dir) / "README.md"
    card.save(card_path)
    logger.info(f"Model card written to {card_path} with {len(results)} evaluation results.")
    commit = push_model_folder(
        publish_args.model_dir,
        publish_args.repo_id,
        private=publish_args.private,
        commit_message=publish_args.commit_message,
    )
    logger.info(f"Pushed to {commit.commit_url}")
    return commit


if __name__ == "__main__":
    logging.set_verbosity_info()
    main()
