"""The ONNX and pipeline benchmarks' code paths, run small: what `python -m bench.onnx_export` and
`python -m bench.pipeline_latency` measure at full size."""

import json

import pytest

from bench import onnx_export, pipeline_latency
from tests.test_bench import TINY


def test_onnx_bench_compares_onnxruntime_with_pytorch(tmp_path):
    output = tmp_path / "onnx_export.json"
    onnx_export.main(["--sizes", "custom", "--config_overrides", TINY, "--batch_sizes", "1", "3", "--repeats", "1",
                      "--output", str(output)])
    result = json.loads(output.read_text())["sizes"]["custom"]
    assert result["max_abs_difference"] < 1e-4 and result["onnx_megabytes"] > 0
    assert [entry["batch_size"] for entry in result["throughput"]] == [1, 3]
    for entry in result["throughput"]:
        assert entry["pytorch_ecgs_per_second"] > 0 and entry["onnxruntime_ecgs_per_second"] > 0
        ratio = entry["onnxruntime_ecgs_per_second"] / entry["pytorch_ecgs_per_second"]
        assert entry["onnxruntime_speedup"] == pytest.approx(ratio)


def test_pipeline_latency_bench(tmp_path):
    output = tmp_path / "pipeline_latency.json"
    pipeline_latency.main(["--sizes", "tiny", "--repeats", "1", "--batch_size", "2", "--output", str(output)])
    result = json.loads(output.read_text())["sizes"]["tiny"]
    assert result["read_and_prepare_seconds"] > 0 and result["seconds_per_ecg"] > 0  # timings: no order asserted
    assert result["first_call_seconds"] > 0 and result["seconds_per_ecg_batch_2"] > 0
