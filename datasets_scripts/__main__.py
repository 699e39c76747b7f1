# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""Prepare an ECG data set (Arrow files in the `datasets` cache): `python -m datasets_scripts ptb-xl --name ...`."""

import argparse
import json

import datasets

from modeling_dbeta.overrides import parse_overrides

from .loading import ECG_BUILDERS, load_ecg_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", choices=sorted(ECG_BUILDERS))
    parser.add_argument("--data_dir", required=True, help="directory holding the raw data set (docs/DATA.md)")
    parser.add_argument("--name", default=None, help="config name, e.g. super_class for ptb-xl")
    parser.add_argument("--cache_dir", default=None)
    parser.add_argument("--num_proc", type=int, default=None, help="processes preparing shards in parallel")
    parser.add_argument("--force", action="store_true", help="rebuild even if a prepared copy exists")
    parser.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="config fields, e.g. keep_samples=5000 (JSON values)",
    )
    args = parser.parse_args()
    try:
        config_kwargs = parse_overrides(args.config)
    except ValueError as error:
        raise SystemExit(f"--config: {error}") from None

    datasets.logging.set_verbosity_info()
    try:
        dataset = load_ecg_dataset(
            args.dataset,
            name=args.name,
            data_dir=args.data_dir,
            cache_dir=args.cache_dir,
            num_proc=args.num_proc,
            download_mode="force_redownload" if args.force else None,
            **config_kwargs,
        )
    except (OSError, ValueError, TypeError) as error:  # bad data_dir, tables, config fields: the message says why
        raise SystemExit(f"python -m datasets_scripts {args.dataset}: {error}") from None
    print(dataset)
    info = next(iter(dataset.values())).info
    print(json.dumps({"bad_records": info.bad_records, "bad_rows": info.bad_rows}, indent=2))


if __name__ == "__main__":
    main()
