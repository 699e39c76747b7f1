# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The command-line arguments that name an ECG data set, shared by `train/pretrain.py` and the `evaluation/` scripts
(`HfArgumentParser` dataclass), and the one call that loads a split from them.
"""

from dataclasses import dataclass, field

from modeling_dbeta.overrides import parse_overrides

from .loading import ECG_BUILDERS, load_ecg_dataset
from .raw_records import load_raw_ecg_records


@dataclass
class ECGDatasetArguments:
    dataset: str = field(
        default="mimic-iv-ecg", metadata={"help": "The ECG data set (docs/DATA.md).", "choices": sorted(ECG_BUILDERS)}
    )
    dataset_config: str | None = field(
        default=None, metadata={"help": "The data set's config, e.g. the PTB-XL task `super_class`."}
    )
    data_dir: str | None = field(
        default=None, metadata={"help": "The folder holding the raw data set (docs/DATA.md)."}
    )
    dataset_kwargs: str | None = field(
        default=None,
        metadata={"help": "Comma-separated builder config fields, e.g. 'num_records=4000,seed=0' or 'storage=int16'."},
    )
    dataset_cache_dir: str | None = field(
        default=None, metadata={"help": "Where the prepared (Arrow) data set is cached; the `datasets` default."}
    )

    @property
    def dataset_name(self) -> str:
        """How results name the data set: "ptb-xl/super_class", "cpsc2018", ..."""
        return self.dataset if self.dataset_config is None else f"{self.dataset}/{self.dataset_config}"

    def load_split(self, split: str, raw: bool = False):
        """
        One split: the prepared `Dataset` (prepared on first use), or with `raw` the records read from their raw
        files on access (`RawECGRecords`, nothing prepared).
        """
        if raw:
            return load_raw_ecg_records(
                self.dataset, self.dataset_config, self.data_dir, split, **parse_overrides(self.dataset_kwargs)
            )
        return load_ecg_dataset(
            self.dataset,
            name=self.dataset_config,
            data_dir=self.data_dir,
            split=split,
            cache_dir=self.dataset_cache_dir,
            **parse_overrides(self.dataset_kwargs),
        )


__all__ = ["ECGDatasetArguments"]
