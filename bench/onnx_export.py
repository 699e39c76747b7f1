"""
ECGs per second of the exported ECG encoder (`python -m modeling_dbeta.export`) in onnxruntime against the same
encoder in PyTorch (fp32, inference mode, SDPA), on this CPU, at the paper configuration and at the demo's size,
with random weights. Also reports the export time, the file size and the largest output difference.

    python -m bench.onnx_export [--sizes paper demo] [--batch_sizes 1 16] [--repeats 3] \
        [--output bench/results/onnx_export.json]

`--config_overrides` (DBetaConfig fields, `field=value` or JSON) adds a size of its own ("custom").
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import onnxruntime
import torch

from bench.reporting import machine, print_and_save
from bench.train_step import time_calls
from modeling_dbeta import DBetaConfig, DBetaECGModel
from modeling_dbeta.export import ENCODER_FILE, ECGEncoderForExport, export_graph, max_onnx_difference, onnx_session
from modeling_dbeta.overrides import config_field_overrides


DEMO_CONFIG = Path(__file__).resolve().parents[1] / "train" / "configs" / "demo.json"


def size_overrides(size: str, custom: str | None) -> dict:
    """DBetaConfig fields of a named size: the paper's defaults, the demo's ECG tower, or the command line's."""
    if size == "paper":
        return {}
    if size == "demo":
        custom = json.dumps(json.loads(DEMO_CONFIG.read_text())["config_overrides"])
    return config_field_overrides(DBetaConfig, custom)


def bench_size(config: DBetaConfig, batch_sizes, repeats: int) -> dict:
    torch.manual_seed(0)
    encoder = ECGEncoderForExport(DBetaECGModel._from_config(config, attn_implementation="sdpa")).eval()
    example = torch.zeros(2, config.num_leads, config.num_samples)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = export_graph(encoder, example, Path(folder) / ENCODER_FILE, "ecg_features", {})
        export_seconds = time.perf_counter() - start
        session = onnx_session(path)
        result = {
            "ecg_tower_parameters": sum(parameter.numel() for parameter in encoder.parameters()),
            "export_seconds": export_seconds,
            "onnx_megabytes": path.stat().st_size / 1e6,
            "max_abs_difference": max_onnx_difference(path, encoder, example),
            "throughput": [],
        }
        for batch_size in batch_sizes:
            ecg_values = torch.randn(batch_size, config.num_leads, config.num_samples)
            inputs = {"ecg_values": ecg_values.numpy()}

            def pytorch(ecg_values=ecg_values):
                with torch.inference_mode():
                    encoder(ecg_values)

            pytorch_seconds = time_calls(pytorch, repeats, torch.device("cpu"))
            onnx_seconds = time_calls(lambda inputs=inputs: session.run(None, inputs), repeats, torch.device("cpu"))
            entry = {
                "batch_size": batch_size,
                "pytorch_ecgs_per_second": batch_size / pytorch_seconds,
                "onnxruntime_ecgs_per_second": batch_size / onnx_seconds,
                "onnxruntime_speedup": pytorch_seconds / onnx_seconds,
            }
            result["throughput"].append(entry)
            print(json.dumps(entry), flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["paper", "demo"], choices=["paper", "demo", "custom"])
    parser.add_argument("--config_overrides", default=None, help="DBetaConfig fields of the 'custom' size")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (the median is kept)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/onnx_export.json"))
    args = parser.parse_args(argv)
    results = {
        "machine": machine(onnxruntime=onnxruntime.__version__),
        "sizes": {},
    }
    for size in args.sizes:
        print(f"{size}:", flush=True)
        config = DBetaConfig(**size_overrides(size, args.config_overrides))
        results["sizes"][size] = bench_size(config, args.batch_sizes, args.repeats)
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
