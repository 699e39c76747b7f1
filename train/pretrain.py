"""
Pretrain D-BETA on ECG-report pairs (MLM + MEM + ETM + ETS, N3S negatives).

    accelerate launch train/pretrain.py                                       # the offline demo: configs/demo.json
    accelerate launch train/pretrain.py train/configs/paper_mimic_iv_ecg.json --data_dir ... --n3s_index_dir ...
    accelerate launch train/pretrain.py <config>.json ... --resume_from_checkpoint latest    # after a pre-emption

A leading `.json` argument supplies the arguments (as in transformers' example scripts) and flags after it override
them; with no argument the demo configuration runs. Several GPUs or nodes: the usual `accelerate launch` flags
(DDP); the ETS loss sees the texts of every rank and each rank reads its own records. The recipe itself lives in
`modeling_dbeta.pretraining`; this script only puts it together.
"""

import copy
import dataclasses
import sys
from pathlib import Path

import datasets
from transformers import HfArgumentParser

from datasets_scripts.arguments import ECGDatasetArguments
from modeling_dbeta import DBetaFeatureExtractor, DBetaProcessor
from modeling_dbeta.checkpoints import resolve_resume_checkpoint
from modeling_dbeta.data_collator import DataCollatorForDBetaPretraining
from modeling_dbeta.pretraining import (
    DemoEvaluationArguments,
    ModelArguments,
    PretrainingDataArguments,
    build_pretraining_model,
    evaluation_subset,
    expects_unused_parameters,
    load_or_build_n3s_index,
    load_pretraining_tokenizer,
    parse_arguments_with_file,
    pretraining_pairs,
    set_up_process,
)
from modeling_dbeta.report_bank import save_report_bank
from modeling_dbeta.trainer import DBetaTrainer, DBetaTrainingArguments


DEMO_CONFIG = Path(__file__).with_name("configs") / "demo.json"


def parse_arguments(argv: list[str]):
    parser = HfArgumentParser(
        (
            ModelArguments,
            ECGDatasetArguments,
            PretrainingDataArguments,
            DemoEvaluationArguments,
            DBetaTrainingArguments,
        )
    )
    return parse_arguments_with_file(parser, argv, DEMO_CONFIG)


def zero_shot_prompt_sets(dataset_args: ECGDatasetArguments) -> dict[str, dict[str, str]]:
    """Zero-shot prompts per class, by kind: the synthetic corpus's condition names and paraphrases, or ours."""
    from modeling_dbeta.evaluation import load_prompt_sets

    return load_prompt_sets(dataset_args.dataset, dataset_args.dataset_config)


def run_demo_evaluation(trainer, untrained, processor, dataset_args, data_args, demo_args):
    from modeling_dbeta.pretraining.demo import demo_evaluation

    splits = {
        name: dataset_args.load_split(split)
        for name, split in (
            ("train", data_args.train_split),
            # The probe selects on a validation split even when pretraining ran without one.
            ("validation", data_args.eval_split or "validation"),
            ("test", demo_args.evaluation_split),
        )
    }
    if demo_args.probe_max_train_records:
        splits["train"] = splits["train"].select(range(min(demo_args.probe_max_train_records, len(splits["train"]))))
    return demo_evaluation(
        trainer.model,
        untrained,
        processor,
        splits,
        zero_shot_prompt_sets(dataset_args),
        dataset_args.dataset_name,
        demo_args.evaluation_split,
        [float(fraction) for fraction in demo_args.probe_train_fractions.split(",")],
        trainer.args.output_dir,
        trainer.args.seed,
    )


def build_trainer(model_args, dataset_args, data_args, training_args) -> DBetaTrainer:
    """The pairs, the N3S index, the model, the two collators and the `DBetaTrainer` of a run."""
    training_args.remove_unused_columns = False  # the collator needs the raw `ecg` and `report` columns
    with training_args.main_process_first(desc="data set preparation"):
        train_dataset = pretraining_pairs(
            dataset_args.load_split(data_args.train_split, raw=data_args.raw_records), dataset_args.dataset_name
        )
        eval_dataset = None
        if data_args.eval_split:
            eval_dataset = evaluation_subset(
                pretraining_pairs(
                    dataset_args.load_split(data_args.eval_split, raw=data_args.raw_records), dataset_args.dataset_name
                ),
                data_args.max_eval_samples,
                training_args.seed,
            )
    n3s_index = load_or_build_n3s_index(data_args, training_args, train_dataset, eval_dataset)

    model = build_pretraining_model(model_args)
    if training_args.ddp_find_unused_parameters is None:
        training_args.ddp_find_unused_parameters = expects_unused_parameters(model.config)
    tokenizer = load_pretraining_tokenizer(model_args)
    collator = DataCollatorForDBetaPretraining(
        tokenizer=tokenizer,
        n3s_index=n3s_index,
        mlm_probability=data_args.mlm_probability,
        negative_fraction=data_args.negative_fraction,
        lead_mask_probability=data_args.lead_mask_probability,
        max_length=data_args.max_text_length,
        mlm=model.config.mlm_loss_weight > 0,
        seed=training_args.seed,
    )
    return DBetaTrainer(
        model=model,
        args=training_args,
        data_collator=collator,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        eval_data_collator=dataclasses.replace(collator, training=False),
        processing_class=tokenizer,
    )


def main(argv: list[str] | None = None):
    model_args, dataset_args, data_args, demo_args, training_args = parse_arguments(
        sys.argv[1:] if argv is None else argv
    )
    set_up_process(training_args)
    training_args.resume_from_checkpoint = resolve_resume_checkpoint(
        training_args.resume_from_checkpoint, training_args.output_dir, training_args.world_size
    )
    trainer = build_trainer(model_args, dataset_args, data_args, training_args)
    # The baseline of the demo evaluation: the very weights training starts from.
    untrained = copy.deepcopy(trainer.model) if demo_args.run_demo_evaluation else None

    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()
    trainer.save_state()
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    feature_extractor = DBetaFeatureExtractor(sampling_rate=trainer.model.config.sampling_rate)
    processor = DBetaProcessor(feature_extractor, trainer.processing_class)
    if trainer.is_world_process_zero():
        processor.save_pretrained(training_args.output_dir)
        if isinstance(trainer.train_dataset, datasets.Dataset):  # the app's report bank: the reports trained on
            save_report_bank(trainer.train_dataset["report"], training_args.output_dir)
    if trainer.eval_dataset is not None:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    if trainer.is_world_process_zero():
        from modeling_dbeta.pretraining.demo import save_run_report

        results = []
        if demo_args.run_demo_evaluation:
            results = run_demo_evaluation(trainer, untrained, processor, dataset_args, data_args, demo_args)
        training_data = f"`{dataset_args.dataset_name}` ({dataset_args.dataset_kwargs or 'default configuration'})"
        save_run_report(training_args.output_dir, trainer.state.log_history, results, demo_args.license, training_data)
    return trainer


if __name__ == "__main__":
    main()
