# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
What a finished pretraining run leaves beside its model: the loss curves, and with `--run_demo_evaluation` the
zero-shot and linear-probe scores (macro AUROC and AUPRC) of the pretrained model next to those of the weights it
started from, as result records (`demo_results.json` / `.md`), ROC curves, and a model card that carries the records
as model-index metadata.
"""

import tempfile
from pathlib import Path

from ..evaluation import (
    PRETRAINED,
    EvaluationResult,
    linear_probe,
    untrained_label,
    write_results,
    zero_shot_classification,
)
from ..evaluation.plots import plot_loss_curves, plot_roc_curves
from ..hub import build_model_card


# How the demo's baseline differs from `untrained_model`'s: its text encoder is the pretrained one the run started
# from, so the comparison isolates what pretraining taught.
INITIAL_WEIGHTS = "pretraining's initial weights"


def demo_evaluation(
    pretrained,
    untrained,
    processor,
    splits: dict,
    prompt_sets: dict[str, dict[str, str]],
    dataset_name: str,
    evaluation_split: str,
    train_fractions: list[float],
    output_dir: str | Path,
    seed: int,
) -> list[EvaluationResult]:
    """
    Zero-shot (per prompt set) and linear probes (per training fraction) of the pretrained model and of `untrained`,
    the weights the run started from, as result records; their weights read "pretrained" and `untrained_label(seed,
    INITIAL_WEIGHTS)`, `seed` being the one the run's weights were drawn under.
    `splits` holds the "train", "validation" and "test" data sets; the ROC curves of the first prompt set are drawn for
    both models.
    """
    output_dir = Path(output_dir)
    baseline = untrained_label(seed, INITIAL_WEIGHTS)
    results = []
    # Features are cached per ECG tower: the test split is encoded once per model for every prompt set and the probe.
    with tempfile.TemporaryDirectory() as cache_dir:
        for state, weights, model in (("pretrained", PRETRAINED, pretrained), ("untrained", baseline, untrained)):
            model.eval()
            for position, (prompts, descriptions) in enumerate(prompt_sets.items()):
                zero_shot = zero_shot_classification(
                    model, processor, splits["test"], descriptions, cache_dir=cache_dir, prompts=prompts
                )
                results += zero_shot.to_results(dataset_name, evaluation_split, weights)
                if position == 0:
                    plot_roc_curves(
                        zero_shot.references,
                        zero_shot.scores,
                        zero_shot.label_names,
                        output_dir / f"zero_shot_roc_{state}.png",
                        title=f"Zero-shot ROC ({prompts}), {weights} D-BETA",
                    )
            probes = linear_probe(
                model, splits["train"], splits["validation"], splits["test"], train_fractions, cache_dir=cache_dir
            )
            results += probes.to_results(dataset_name, evaluation_split, weights)
    return results


def save_run_report(
    output_dir: str | Path,
    log_history: list[dict],
    results: list[EvaluationResult],
    license: str,
    training_data: str,
) -> None:
    """`loss_curves.png`, the demo's `demo_results.json` / `.md` when there are results, and the model card."""
    output_dir = Path(output_dir)
    plot_loss_curves(log_history, output_dir / "loss_curves.png", title="D-BETA pretraining")
    if results:
        write_results(output_dir, "demo_results", results)
    card = build_model_card(output_dir, f"local/{output_dir.name}", license, results, training_data)
    card.save(output_dir / "README.md")


__all__ = ["INITIAL_WEIGHTS", "demo_evaluation", "save_run_report"]
