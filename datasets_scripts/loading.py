# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""`load_ecg_dataset`: the `load_dataset` of the ECG builders (datasets 4+ no longer runs loading scripts)."""

import os

import datasets

from .code_test import CODETest
from .cpsc2018 import CPSC2018
from .csn import ChapmanShaoxingNingbo
from .mimic_iv_ecg import MimicIVECG
from .physionet2021 import PhysioNet2021
from .ptb_xl import PTBXL
from .synthetic import SyntheticECG


# Name -> builder. A new source is one entry here.
ECG_BUILDERS: dict[str, type[datasets.DatasetBuilder]] = {
    "mimic-iv-ecg": MimicIVECG,
    "ptb-xl": PTBXL,
    "cpsc2018": CPSC2018,
    "csn": ChapmanShaoxingNingbo,
    "code-test": CODETest,
    "physionet2021": PhysioNet2021,
    "synthetic": SyntheticECG,
}


def load_ecg_dataset(
    path: str,
    name: str | None = None,
    data_dir: str | os.PathLike | None = None,
    split: str | None = None,
    cache_dir: str | None = None,
    download_mode: datasets.DownloadMode | str | None = None,
    num_proc: int | None = None,
    streaming: bool = False,
    **config_kwargs,
):
    """
    Load an ECG data set by name, as `datasets.load_dataset` would.

    Args:
        path (`str`): a key of `ECG_BUILDERS` (`"mimic-iv-ecg"`, `"ptb-xl"`, `"cpsc2018"`, `"csn"`, `"code-test"`,
            `"physionet2021"`, `"synthetic"`).
        name (`str`, *optional*): the config, e.g. `"super_class"` for PTB-XL.
        data_dir: the directory holding the raw data set (layouts in docs/DATA.md).
        split (`str`, *optional*): `"train"`, `"validation"`, `"test"`; all splits when `None`.
        cache_dir, download_mode, num_proc: as in `load_dataset`; they apply to the prepared (Arrow) form.
        streaming (`bool`): read the raw records on the fly (an `IterableDataset` sharded by record list) instead of
            preparing Arrow files first.
        **config_kwargs: config fields, e.g. `keep_samples=5000` (CPSC2018) or `validation_fraction=0.02` (MIMIC).

    Returns:
        `Dataset` / `DatasetDict`, or `IterableDataset` / `IterableDatasetDict` when streaming. The prepared form's
        `info.bad_records` holds the skipped and repaired record counts per split, `info.bad_rows` the table rows
        dropped. A split without records (e.g. `validation_fraction=0`, or every record skipped) is absent from the
        dict; asking for it by name is a `ValueError` saying why.
    """
    if path not in ECG_BUILDERS:
        raise ValueError(f"Unknown ECG data set {path!r}; available: {sorted(ECG_BUILDERS)}.")
    if data_dir is not None:
        data_dir = os.path.abspath(os.path.expanduser(data_dir))
    builder = ECG_BUILDERS[path](config_name=name, data_dir=data_dir, cache_dir=cache_dir, **config_kwargs)
    if streaming:
        streams = builder.as_streaming_dataset()
        if split is None:
            return streams
        require_split(split, list(streams), builder)
        return streams[split]
    builder.download_and_prepare(download_mode=download_mode, num_proc=num_proc)
    non_empty = [name for name, info in builder.info.splits.items() if info.num_examples > 0]
    if split is None:
        return datasets.DatasetDict({name: builder.as_dataset(split=name) for name in non_empty})
    if split in builder.info.splits or split in ("train", "validation", "test"):
        require_split(split, non_empty, builder)
    return builder.as_dataset(split=split)  # a split expression, e.g. "train[:10%]"


def require_split(split: str, available: list[str], builder) -> None:
    """A clear error for a split the data set does not have (a held-out fraction of 0, every record skipped)."""
    if split in available:
        return
    bad_records = getattr(builder.info, "bad_records", {}).get(split)
    why = (
        f"every one of its records was skipped ({bad_records['skipped']})"
        if bad_records
        else "it holds no records (a held-out fraction of 0?)"
    )
    raise ValueError(
        f"{builder.dataset_name}/{builder.config.name} has no {split!r} split: {why}. Available: {available}."
    )
