# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Export a D-BETA checkpoint's ECG tower to ONNX, to run it without PyTorch (onnxruntime, a hospital's inference
server, a browser):

    python -m modeling_dbeta.export --model_name_or_path outputs/dbeta-demo --output_dir onnx/

writes `onnx/ecg_encoder.onnx`: `ecg_values` `(batch, 12, 5000)` float32 (the feature extractor's output: mV, 500 Hz,
10 s, the standard lead order) -> `ecg_features` `(batch, fusion_hidden_size)`, the unimodal pooled features
(`get_ecg_features(...).pooler_output`) that zero-shot scoring, linear probes and retrieval use. For a
`DBetaForECGClassification` checkpoint it also writes `onnx/classifier.onnx`: the same input -> `logits`
`(batch, num_labels)`, with the classifier's own lead subset (`config.classifier_leads`) applied. To score a lead
subset with the encoder, zero the other leads of the input, as the model's `lead_mask` does.

Both graphs come from `torch.onnx.export(dynamo=True)` with a dynamic batch axis, and each is checked in
onnxruntime against PyTorch (batches of another size than the traced one) before the command reports success.
The preprocessing a caller must reproduce (lead order, rate, length, units) and the label names are stored in
each file's metadata (`onnx.load(path).metadata_props`).
"""

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import nn

from .configuration_dbeta import DBetaConfig
from .feature_extraction_dbeta import DBetaFeatureExtractor
from .modeling_dbeta import DBetaECGModel, DBetaForECGClassification


logger = logging.getLogger(__name__)

ENCODER_FILE = "ecg_encoder.onnx"
CLASSIFIER_FILE = "classifier.onnx"
INPUT_NAME = "ecg_values"
# Weights above this go to an external data file (the protobuf limit is 2 GiB); below it, one self-contained file.
MAX_EMBEDDED_WEIGHT_BYTES = 1_800_000_000
DEFAULT_TOLERANCE = 1e-4


class ECGEncoderForExport(nn.Module):
    """Raw ECG -> the unimodal pooled ECG features, as one tensor-to-tensor graph."""

    def __init__(self, ecg_model: DBetaECGModel):
        super().__init__()
        self.ecg_model = ecg_model

    def forward(self, ecg_values: torch.Tensor) -> torch.Tensor:
        return self.ecg_model.get_ecg_features(ecg_values).pooler_output


class ClassifierForExport(nn.Module):
    """Raw ECG -> the fine-tuned classifier's logits."""

    def __init__(self, classifier: DBetaForECGClassification):
        super().__init__()
        self.classifier = classifier

    def forward(self, ecg_values: torch.Tensor) -> torch.Tensor:
        return self.classifier(ecg_values).logits


def load_for_export(model_name_or_path) -> dict[str, tuple[nn.Module, str]]:
    """
    {file name: (graph module in eval mode, output name)} for the checkpoint: the encoder, and the classifier if any.
    """
    config = DBetaConfig.from_pretrained(model_name_or_path)
    if DBetaForECGClassification.__name__ in (config.architectures or []):
        classifier = DBetaForECGClassification.from_pretrained(model_name_or_path).eval()
        return {
            ENCODER_FILE: (ECGEncoderForExport(classifier.dbeta).eval(), "ecg_features"),
            CLASSIFIER_FILE: (ClassifierForExport(classifier).eval(), "logits"),
        }
    # Any other D-BETA checkpoint (pretraining, base model, ECG tower): its ECG tower, the text side left unloaded.
    encoder = ECGEncoderForExport(DBetaECGModel.from_pretrained(model_name_or_path)).eval()
    return {ENCODER_FILE: (encoder, "ecg_features")}


def input_metadata(config: DBetaConfig, feature_extractor: DBetaFeatureExtractor) -> dict[str, str]:
    """What a caller without this package needs to build `ecg_values`, and the labels of a classifier's logits."""
    metadata = {
        "model_type": config.model_type,
        "lead_order": ",".join(feature_extractor.standard_leads),
        "sampling_rate_hz": str(feature_extractor.sampling_rate),
        "num_samples": str(config.num_samples),
        "units": "mV",
    }
    if config.architectures and DBetaForECGClassification.__name__ in config.architectures:
        metadata["id2label"] = json.dumps({str(index): label for index, label in config.id2label.items()})
    return metadata


def export_graph(module: nn.Module, example: torch.Tensor, path: Path, output_name: str, metadata: dict) -> Path:
    """`torch.onnx.export(dynamo=True)` of `module` with a dynamic batch axis, `metadata` in the file's properties."""
    weight_bytes = sum(tensor.numel() * tensor.element_size() for tensor in module.state_dict().values())
    with torch.no_grad():
        program = torch.onnx.export(
            module,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[output_name],
            dynamic_shapes={"ecg_values": {0: torch.export.Dim("batch")}},
            dynamo=True,
        )
    program.model.metadata_props.update(metadata)
    program.save(path, external_data=weight_bytes > MAX_EMBEDDED_WEIGHT_BYTES)
    return path


def onnx_session(path: Path) -> onnxruntime.InferenceSession:
    """
    An onnxruntime CPU session that shares the machine with PyTorch fairly: as many threads as torch uses, and no
    spin-waiting between runs (by default its idle threads keep spinning and starve the PyTorch code that runs next
    in the same process, most visibly on a machine with few cores).
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def max_onnx_difference(
    path: Path, module: nn.Module, example: torch.Tensor, batch_sizes=(1, 3), seed: int = 0
) -> float:
    """
    Largest absolute difference between onnxruntime's and PyTorch's outputs on random ECG batches shaped as
    `example` (leads, samples), of these sizes.
    """
    session = onnx_session(path)
    generator = torch.Generator().manual_seed(seed)
    largest = 0.0
    for batch_size in batch_sizes:
        ecg_values = torch.randn(batch_size, *example.shape[1:], generator=generator)
        with torch.no_grad():
            expected = module(ecg_values).numpy()
        (actual,) = session.run(None, {INPUT_NAME: ecg_values.numpy()})
        if actual.shape != expected.shape:
            raise RuntimeError(
                f"{path}: onnxruntime gave shape {actual.shape} for batch {batch_size}, PyTorch {expected.shape}."
            )
        largest = max(largest, float(np.abs(actual - expected).max()))
    return largest


def export_checkpoint(model_name_or_path, output_dir, tolerance: float = DEFAULT_TOLERANCE) -> dict[str, dict]:
    """
    Export the checkpoint's graphs into `output_dir` and check each in onnxruntime; returns {file: {"path",
    "max_abs_difference"}}. Raises `RuntimeError` when onnxruntime and PyTorch differ by more than `tolerance`.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    config = DBetaConfig.from_pretrained(model_name_or_path)
    metadata = input_metadata(config, DBetaFeatureExtractor.from_pretrained(model_name_or_path))
    example = torch.zeros(2, config.num_leads, config.num_samples)
    results = {}
    for file_name, (module, output_name) in load_for_export(model_name_or_path).items():
        logger.info("Exporting %s", file_name)
        path = export_graph(module, example, output_dir / file_name, output_name, metadata)
        difference = max_onnx_difference(path, module, example)
        if difference > tolerance:
            raise RuntimeError(
                f"{path}: onnxruntime differs from PyTorch by {difference:.3g} (more than {tolerance:g})."
            )
        results[file_name] = {"path": str(path), "max_abs_difference": difference}
    return results


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model_name_or_path", required=True, help="A D-BETA checkpoint folder or Hub id.")
    parser.add_argument("--output_dir", required=True, help=f"Where {ENCODER_FILE} (and {CLASSIFIER_FILE}) go.")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="Largest accepted difference between onnxruntime and PyTorch outputs.")
    return parser.parse_args(argv)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    results = export_checkpoint(args.model_name_or_path, args.output_dir, args.tolerance)
    for result in results.values():
        print(f"{result['path']}: onnxruntime matches PyTorch to {result['max_abs_difference']:.2g}")


if __name__ == "__main__":
    main()


__all__ = [
    "ClassifierForExport",
    "ECGEncoderForExport",
    "export_checkpoint",
    "load_for_export",
    "max_onnx_difference",
    "onnx_session",
]
