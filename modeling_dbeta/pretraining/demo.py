# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
What a finished pretraining run leaves beside its model: the loss curves, and with `--run_demo_evaluation` the
zero-shot and linear-probe scores of the pretrained model next to those of the same model untrained, a results
table, ROC curves and a model card.
"""

import tempfile
from pathlib import Path

from ..evaluation import EvaluationResult, linear_probe, results_table, save_results, zero_shot_classification
from ..evaluation.plots import plot_loss_curves, plot_roc_curves
from ..hub import build_model_card


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
) -> list[EvaluationResult]:
    """
    Zero-shot (one result per prompt set) and linear probes (one per training fraction) of the pretrained model and
    of the same model before pretraining. `splits` holds the "train", "validation" and "test" data sets; the ROC
    curves of the first prompt set are drawn for both models.
    """
    output_dir = Path(output_dir)
    results = []
    # Features are cached per ECG tower: the test split is encoded once per model for every prompt set and the probe.
    with tempfile.TemporaryDirectory() as cache_dir:
        for state, model in (("pretrained", pretrained), ("untrained", untrained)):
            model.eval()
            for position, (prompts, descriptions) in enumerate(prompt_sets.items()):
                zero_shot = zero_shot_classification(model, processor, splits["test"], descriptions, cache_dir=cache_dir)
                results.append(
                    EvaluationResult(
                        f"zero-shot, {prompts} ({state})",
                        dataset_name,
                        "macro_auroc",
                        zero_shot.metrics["macro_auroc"],
                        split=evaluation_split,
                    )
                )
                if position == 0:
                    plot_roc_curves(
                        zero_shot.references,
                        zero_shot.scores,
                        zero_shot.label_names,
                        output_dir / f"zero_shot_roc_{state}.png",
                        title=f"Zero-shot ROC ({prompts}), {state} D-BETA",
                    )
            probes = linear_probe(
                model, splits["train"], splits["validation"], splits["test"], train_fractions, cache_dir=cache_dir
            )
            for probe in probes:
                results.append(
                    EvaluationResult(
                        f"linear-probe ({state})",
                        dataset_name,
                        "macro_auroc",
                        probe.test_metrics["macro_auroc"],
                        split=evaluation_split,
                        train_fraction=probe.train_fraction,
                    )
                )
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
        save_results(results, output_dir / "demo_results.json")
        (output_dir / "demo_results.md").write_text(results_table(results) + "\n")
    card = build_model_card(output_dir, f"local/{output_dir.name}", license, results, training_data)
    card.save(output_dir / "README.md")


__all__ = ["demo_evaluation", "save_run_report"]
