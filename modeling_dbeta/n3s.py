# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
Nearest-neighbour negative sampling (N3S): hard-but-true negatives for ECG-text matching.

MIMIC-IV-ECG has ~800 k records but only ~180 k distinct reports, so a random report is often the very same text
(a false negative). N3S embeds every distinct report once with a frozen text encoder and keeps, for each one, the
reports farthest from it in cosine distance. The public D-BETA code encodes the query and searches FAISS inside the
collator for every negative, on every step (seconds per batch); here the search runs once per corpus and the
collator only looks a row up in a table.

Files written by [`N3SIndex.save`], next to each other:

- `n3s_config.json`: encoder, pooling, table width and build timings;
- `reports/`: a `datasets` Arrow dataset with the distinct normalised `report`s and their `embedding`s;
- `embeddings.faiss`: the FAISS inner-product index over the embeddings;
- `candidates.safetensors`: the `(num_reports, num_candidates)` int32 table of candidate ids, farthest first.
"""

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F
from datasets import Dataset, Features, List, Value, load_from_disk
from safetensors.numpy import load_file, save_file
from transformers import AutoModelForTextEncoding, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging

from .text_normalization import normalize_report


logger = logging.get_logger(__name__)

CONFIG_NAME = "n3s_config.json"
REPORTS_DIR = "reports"
FAISS_INDEX_NAME = "embeddings.faiss"
CANDIDATES_NAME = "candidates.safetensors"
EMBEDDING_COLUMN = "embedding"
DEFAULT_ENCODER = "google/flan-t5-small"


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average over real tokens only, so a report embeds the same alone or padded in a batch."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def embed_reports(
    reports: Sequence[str],
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 256,
    max_length: int = 512,
) -> np.ndarray:
    """
    Mean-pooled, L2-normalised embeddings `(len(reports), hidden_size)` float32 (inner product = cosine).

    Reports are batched longest first, which keeps padding (wasted compute) small; the order of the output is the
    order of `reports`.
    """
    device = model.device
    embeddings = np.empty((len(reports), model.config.hidden_size), dtype=np.float32)
    order = sorted(range(len(reports)), key=lambda i: len(reports[i]), reverse=True)
    with torch.inference_mode():
        for start in logging.tqdm(range(0, len(order), batch_size), desc="Embedding reports", unit="batch"):
            rows = order[start : start + batch_size]
            encoded = tokenizer(
                [reports[i] for i in rows], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            ).to(device)
            hidden = model(input_ids=encoded.input_ids, attention_mask=encoded.attention_mask).last_hidden_state
            pooled = F.normalize(mean_pool(hidden.float(), encoded.attention_mask), dim=-1)
            embeddings[rows] = pooled.cpu().numpy()
    return embeddings


def embeddings_dataset(reports: Sequence[str], embeddings: np.ndarray) -> Dataset:
    """The `report`/`embedding` dataset with an exact inner-product FAISS index on the embeddings."""
    dimension = embeddings.shape[1]
    flat = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(-1)
    dataset = Dataset.from_dict(
        {
            "report": list(reports),
            # Built straight from the buffer: a detour through Python lists costs seconds at 20 k x 384 already.
            EMBEDDING_COLUMN: pa.FixedSizeListArray.from_arrays(flat, dimension),
        },
        features=Features({"report": Value("string"), EMBEDDING_COLUMN: List(Value("float32"), length=dimension)}),
    )
    dataset.set_format("numpy", columns=[EMBEDDING_COLUMN], output_all_columns=True)
    # A flat (exact) index: the farthest-report search runs once per corpus, so exactness is worth its N^2 cost.
    dataset.add_faiss_index(EMBEDDING_COLUMN, metric_type=faiss.METRIC_INNER_PRODUCT)
    return dataset


def check_enough_reports(num_reports: int):
    if num_reports < 2:
        raise ValueError(f"N3S needs at least 2 distinct reports to draw negatives from, got {num_reports}.")


def farthest_candidates(dataset: Dataset, num_candidates: int = 64, batch_size: int = 1024) -> np.ndarray:
    """
    For every row of `dataset`, the ids of its `num_candidates` farthest rows (smallest cosine), farthest first.

    The farthest rows of `q` are the nearest of `-q` under inner product, so the index answers it directly. A corpus
    with `num_candidates` or fewer other reports gives every other report (the table is `len(dataset) - 1` wide).
    """
    num_reports = len(dataset)
    check_enough_reports(num_reports)
    width = min(num_candidates, num_reports - 1)
    # One extra hit, so that dropping the report itself (returned when the corpus has at most `num_candidates + 1`
    # reports, or when embeddings tie) still leaves `width` candidates.
    k = min(num_candidates + 1, num_reports)
    table = np.empty((num_reports, width), dtype=np.int32)
    for start in logging.tqdm(range(0, num_reports, batch_size), desc="Searching farthest reports", unit="batch"):
        queries = dataset[EMBEDDING_COLUMN][start : start + batch_size]
        _, hits = dataset.search_batch(EMBEDDING_COLUMN, -queries, k=k)
        is_self = hits == np.arange(start, start + len(queries))[:, None]
        # A stable sort on "is self" moves the query to the end and keeps the farthest-first order of the rest.
        keep = np.argsort(is_self, axis=1, kind="stable")[:, :width]
        table[start : start + len(queries)] = np.take_along_axis(hits, keep, axis=1)
    return table


class N3SIndex:
    r"""
    The distinct reports of a corpus, their embeddings (with a FAISS index) and each report's farthest reports.

    Build it once per corpus (`train/build_n3s_index.py`), save it, and load it in the data collator, where
    [`~N3SIndex.sample_negatives`] costs a dictionary and a table look-up per report.

    ```python
    >>> index = N3SIndex.build(reports, "google/flan-t5-small")
    >>> index.save("n3s/mimic-iv-ecg")
    >>> index = N3SIndex.load("n3s/mimic-iv-ecg")
    >>> negatives = index.sample_negatives(["sinus rhythm. normal ecg"], rng=np.random.default_rng(0))
    ```

    Args:
        dataset (`datasets.Dataset`):
            Distinct normalised `report`s and their L2-normalised `embedding`s, with a FAISS index on `embedding`.
        candidate_table (`np.ndarray` of shape `(len(dataset), num_candidates)`):
            Row `i` holds the ids of the reports farthest from report `i`, farthest first; never `i` itself. Made
            read-only, since [`~N3SIndex.candidates`] hands out views of it.
        info (`dict`):
            What built it (encoder, pooling, sizes, timings); saved as `n3s_config.json`.
    """

    def __init__(self, dataset: Dataset, candidate_table: np.ndarray, info: dict):
        if candidate_table.shape[0] != len(dataset):
            raise ValueError(
                f"The candidate table has {candidate_table.shape[0]} rows but there are {len(dataset)} reports."
            )
        self.dataset = dataset
        self.reports: list[str] = dataset["report"][:]
        self.candidate_table = candidate_table
        self.candidate_table.flags.writeable = False
        self.info = info
        self._report_ids = {report: report_id for report_id, report in enumerate(self.reports)}

    @classmethod
    def build(
        cls,
        reports: Iterable[str],
        encoder_name_or_path: str = DEFAULT_ENCODER,
        batch_size: int = 256,
        num_candidates: int = 64,
        search_batch_size: int = 1024,
        max_length: int = 512,
        device: str | torch.device | None = None,
    ) -> "N3SIndex":
        """
        Normalise and de-duplicate `reports`, embed each distinct one with the frozen `encoder_name_or_path` (any
        encoder `AutoModelForTextEncoding` loads: T5's encoder, BERT, ...), index them and tabulate their farthest
        reports. `device` defaults to CUDA when available.
        """
        start = time.perf_counter()
        reports = list(reports)
        distinct = list(dict.fromkeys(normalize_report(report) for report in reports))
        logger.info(f"N3S: {len(distinct)} distinct reports out of {len(reports)}.")
        check_enough_reports(len(distinct))  # before the expensive part
        normalise_seconds = time.perf_counter() - start

        start = time.perf_counter()
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModelForTextEncoding.from_pretrained(encoder_name_or_path).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(encoder_name_or_path)
        embeddings = embed_reports(distinct, model, tokenizer, batch_size=batch_size, max_length=max_length)
        embed_seconds = time.perf_counter() - start

        start = time.perf_counter()
        dataset = embeddings_dataset(distinct, embeddings)
        faiss_index_seconds = time.perf_counter() - start

        start = time.perf_counter()
        candidate_table = farthest_candidates(dataset, num_candidates=num_candidates, batch_size=search_batch_size)
        candidates_seconds = time.perf_counter() - start

        info = {
            "encoder_name_or_path": str(encoder_name_or_path),
            "pooling": "mean over attention-mask tokens, L2-normalised",
            "max_length": max_length,
            "embedding_dim": int(embeddings.shape[1]),
            "num_input_reports": len(reports),
            "num_reports": len(distinct),
            "num_candidates": int(candidate_table.shape[1]),
            "build_seconds": {
                "normalise_and_deduplicate": normalise_seconds,
                "embed": embed_seconds,
                "faiss_index": faiss_index_seconds,
                "candidates": candidates_seconds,
            },
        }
        return cls(dataset, candidate_table, info)

    def save(self, save_directory: str | Path):
        """Write the config, reports with embeddings (Arrow), FAISS index and candidate table into `save_directory`."""
        save_directory = Path(save_directory)
        save_directory.mkdir(parents=True, exist_ok=True)
        self.dataset.save_faiss_index(EMBEDDING_COLUMN, save_directory / FAISS_INDEX_NAME)
        # `save_to_disk` refuses a dataset with an attached index: save an index-free view of the same Arrow table.
        Dataset(self.dataset.data, info=self.dataset.info).save_to_disk(save_directory / REPORTS_DIR)
        save_file({"candidates": np.ascontiguousarray(self.candidate_table)}, save_directory / CANDIDATES_NAME)
        (save_directory / CONFIG_NAME).write_text(json.dumps(self.info, indent=2) + "\n")

    @classmethod
    def load(cls, save_directory: str | Path) -> "N3SIndex":
        """Load what [`~N3SIndex.save`] wrote; nothing is re-embedded or searched again."""
        save_directory = Path(save_directory)
        missing = [
            name
            for name in (CONFIG_NAME, REPORTS_DIR, FAISS_INDEX_NAME, CANDIDATES_NAME)
            if not (save_directory / name).exists()
        ]
        if missing:
            raise FileNotFoundError(
                f"{save_directory} is not a complete N3S index (missing {', '.join(missing)}). "
                "Build one with `python train/build_n3s_index.py --reports ... --output_dir ...`."
            )
        dataset = load_from_disk(save_directory / REPORTS_DIR)
        dataset.set_format("numpy", columns=[EMBEDDING_COLUMN], output_all_columns=True)
        dataset.load_faiss_index(EMBEDDING_COLUMN, save_directory / FAISS_INDEX_NAME)
        candidate_table = load_file(save_directory / CANDIDATES_NAME)["candidates"]
        info = json.loads((save_directory / CONFIG_NAME).read_text())
        return cls(dataset, candidate_table, info)

    def __len__(self) -> int:
        return len(self.reports)

    @property
    def embeddings(self) -> np.ndarray:
        """`(num_reports, embedding_dim)` float32, L2-normalised, row `i` for report `i`."""
        return self.dataset[EMBEDDING_COLUMN][:]

    def report_ids(self, reports: Sequence[str], missing_ok: bool = False) -> np.ndarray:
        """
        Ids of `reports`; a report not found verbatim is looked up again after `normalize_report` (normalised
        reports are the fast path: see `bench/results/n3s.json`). A report the index lacks is an error, or -1 with
        `missing_ok`.
        """
        ids = np.empty(len(reports), dtype=np.int64)
        for position, report in enumerate(reports):
            report_id = self._report_ids.get(report)
            if report_id is None:
                report_id = self._report_ids.get(normalize_report(report))
            if report_id is None:
                if not missing_ok:
                    raise KeyError(
                        f"Report {report!r} is not in this N3S index ({len(self)} reports, built with "
                        f"{self.info.get('encoder_name_or_path')}): rebuild the index on the corpus you train on."
                    )
                report_id = -1
            ids[position] = report_id
        return ids

    def candidates(self, report_id: int) -> np.ndarray:
        """The candidate negative ids of report `report_id`, farthest first (read-only)."""
        return self.candidate_table[report_id]

    def sample_negatives(
        self, reports: Sequence[str], rng: np.random.Generator, missing_ok: bool = False
    ) -> list[str | None]:
        """
        For each report, one of its candidate negatives drawn uniformly with `rng` (a normalised report text); `None`
        for a report the index lacks when `missing_ok` (an error otherwise).
        """
        ids = self.report_ids(reports, missing_ok=missing_ok)
        picks = rng.integers(self.candidate_table.shape[1], size=len(ids))
        negatives = self.candidate_table[np.maximum(ids, 0), picks]
        return [
            self.reports[negative] if report_id >= 0 else None
            for report_id, negative in zip(ids, negatives, strict=True)
        ]


__all__ = ["N3SIndex", "embed_reports", "embeddings_dataset", "farthest_candidates", "mean_pool"]
