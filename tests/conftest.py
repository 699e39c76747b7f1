import atexit
import os
import shutil
import tempfile


# Hub calls retry for tens of seconds before failing offline; nothing here may reach the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Builders write lock files in the datasets cache even when given a cache_dir: keep them out of the user's cache.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="dbeta-tests-datasets-")
atexit.register(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], ignore_errors=True)
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

from tests.tiny_models import REFERENCE_DIR, tiny_config, tiny_t5_tokenizer  # noqa: E402
from tests.transformers_common import SDIST_MARKERS  # noqa: E402


def pytest_configure(config):
    for marker in SDIST_MARKERS:
        config.addinivalue_line(
            "markers", f"{marker}: used by transformers' common tests (tests/transformers_common.py)"
        )


@pytest.fixture(autouse=True)
def isolate_process_settings():
    """Scripts' `main()` set library log levels and torch's thread count for their process: undo it after each test."""
    verbosities = transformers.logging.get_verbosity(), datasets.logging.get_verbosity()
    threads = torch.get_num_threads()
    yield
    transformers.logging.set_verbosity(verbosities[0])
    datasets.logging.set_verbosity(verbosities[1])
    torch.set_num_threads(threads)


@pytest.fixture
def config():
    return tiny_config()


@pytest.fixture
def tokenizer():
    return tiny_t5_tokenizer()


@pytest.fixture
def reference_dir():
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"Parity vectors not found at {REFERENCE_DIR}: they live in ../shared beside a source checkout.")
    return REFERENCE_DIR


@pytest.fixture
def batch(tokenizer, config):
    """Three ECG-report pairs, the second one mismatched, with two masked text tokens each, sized for `config`."""
    generator = torch.Generator().manual_seed(0)
    texts = ["sinus rhythm normal ecg", "atrial fibrillation with low qrs voltage", "left bundle branch block"]
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    mlm_labels = torch.full_like(encoded.input_ids, -100)
    masked_ids = encoded.input_ids.clone()
    for row in range(3):
        for col in (0, 1):
            mlm_labels[row, col] = masked_ids[row, col]
            masked_ids[row, col] = tokenizer.convert_tokens_to_ids("<extra_id_0>")
    return {
        "ecg_values": torch.randn(3, config.num_leads, config.num_samples, generator=generator),
        "input_ids": masked_ids,
        "attention_mask": encoded.attention_mask,
        "mlm_labels": mlm_labels,
        "is_aligned": torch.tensor([1.0, 0.0, 1.0]),
        "ecg_mask_noise": torch.rand(3, config.num_ecg_tokens, generator=generator),
    }
