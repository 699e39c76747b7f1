"""
Records per second per core for the ECG data path, raw WFDB -> tensors and the prepared (Arrow) form. Prints and
writes JSON.

    python -m bench.data_loading [--data_dir /data/mimic-iv-ecg/1.0] [--num_records 400] \
        [--output bench/results/data_loading.json]    # from the repository root

Without `--data_dir`, a MIMIC-IV-ECG tree of `--num_records` records (12 x 5000 format-16 WFDB, MIMIC's lead order)
is written to a temporary directory with the test fixtures' writer. Everything runs in one process (no DataLoader
workers), so records/s is per core. Measured, in order:
1. `wfdb.rdrecord` + the feature extractor (the reference reader), and `read_wfdb` (header parsed by hand, `.dat`
   decoded with `np.fromfile`) + `prepare_recording` (the builders' path).
2. Streaming: `load_ecg_dataset(..., streaming=True).with_format("torch")` iterated, i.e. raw WFDB -> tensors
   through `datasets` (targets: >= 300 records/s/core).
3. Preparing the Arrow form (`download_and_prepare`), float32 and compact int16 + per-lead scale, then reading it
   with a torch DataLoader (batch 32, shuffled indices, `with_format("torch")`, decoded to float32 mV), as a training
   loop does (target: >= 3000 records/s/core). The page cache is warm: a first epoch over a data set larger than
   memory is bounded by the disk instead.
"""

import argparse
import tempfile
import time
from pathlib import Path

import datasets
import pandas as pd
import torch
import wfdb

from bench.reporting import machine, print_and_save
from datasets_scripts import load_ecg_dataset
from modeling_dbeta import DBetaFeatureExtractor
from modeling_dbeta.recording import prepare_recording
from modeling_dbeta.wfdb_reader import read_wfdb
from tests.ecg_fixtures import ecg_signal, write_mimic_iv_ecg


BATCH_SIZE = 32
STATEMENTS = [
    ["Sinus rhythm", "Normal ECG"], ["Sinus bradycardia", "Otherwise normal ECG"],
    ["Atrial fibrillation", "Low QRS voltages in limb leads"], ["Sinus rhythm", "Left bundle branch block"],
    ["Sinus tachycardia", "Nonspecific T wave abnormality"], ["Sinus rhythm", "1st degree A-V block"],
]


def records_per_second(function, items) -> float:
    start = time.perf_counter()
    count = function(items)
    return count / (time.perf_counter() - start)


def synthetic_mimic(root: Path, num_records: int) -> Path:
    records = [
        {
            "subject_id": 10_000_000 + index // 4,
            "study_id": 40_000_000 + index,
            "signal": ecg_signal(index),
            "statements": STATEMENTS[index % len(STATEMENTS)],
        }
        for index in range(num_records)
    ]
    return write_mimic_iv_ecg(root, records)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=None, help="a MIMIC-IV-ECG tree; synthetic if omitted")
    parser.add_argument("--num_records", type=int, default=400, help="records written when --data_dir is omitted")
    parser.add_argument("--prepared_passes", type=int, default=3, help="passes over the prepared form")
    parser.add_argument("--output", type=Path, default=Path("bench/results/data_loading.json"))
    args = parser.parse_args()
    datasets.disable_progress_bars()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as workdir:
        data_dir = args.data_dir or synthetic_mimic(Path(workdir) / "mimic-iv-ecg", args.num_records)
        record_list = pd.read_csv(data_dir / "record_list.csv", usecols=["path"], nrows=args.num_records)
        record_paths = [str(data_dir / path) for path in record_list["path"]]
        feature_extractor = DBetaFeatureExtractor()
        results = {"machine": machine(), "num_records": len(record_paths)}

        def with_wfdb(paths):
            for path in paths:
                record = wfdb.rdrecord(path)
                feature_extractor.preprocess_recording(record.p_signal, record.fs, record.sig_name)
            return len(paths)

        def with_fast_reader(paths):
            for path in paths:
                prepare_recording(read_wfdb(path), feature_extractor, repairs=[])
            return len(paths)

        results["wfdb_rdrecord_records_per_s"] = records_per_second(with_wfdb, record_paths)
        results["read_wfdb_records_per_s"] = records_per_second(with_fast_reader, record_paths)

        # All records in the train split, so that one split holds everything.
        cache_dir = str(Path(workdir) / "cache")
        options = {"data_dir": data_dir, "validation_fraction": 0.0, "split": "train", "cache_dir": cache_dir}
        streaming = load_ecg_dataset("mimic-iv-ecg", streaming=True, **options).with_format("torch")
        results["streaming_records_per_s"] = records_per_second(lambda dataset: sum(1 for _ in dataset), streaming)

        for storage in ("float32", "int16"):
            start = time.perf_counter()
            prepared = load_ecg_dataset("mimic-iv-ecg", storage=storage, **options)
            results[f"{storage}_prepare_records_per_s"] = len(prepared) / (time.perf_counter() - start)
            results[f"{storage}_prepared_bytes_per_record"] = prepared.info.dataset_size / len(prepared)
            columns = [c for c in ("ecg", "ecg_scale", "lead_mask", "report") if c in prepared.column_names]
            loader = torch.utils.data.DataLoader(
                prepared.with_format("torch", columns=columns), batch_size=BATCH_SIZE, shuffle=True
            )

            def epochs(passes, loader=loader):  # bound now: the loop rebinds `loader`
                count = 0
                for _ in range(passes):
                    for batch in loader:  # float32 mV (batch, 12, 5000), as the collator hands it to the model
                        ecg = batch["ecg"].float()
                        if "ecg_scale" in batch:
                            ecg = ecg.view(ecg.shape[0], 12, -1) * batch["ecg_scale"].unsqueeze(-1)
                        count += ecg.shape[0]
                return count

            epochs(1)  # warm the page cache
            results[f"{storage}_prepared_records_per_s"] = records_per_second(epochs, args.prepared_passes)
        results["targets_records_per_s"] = {"raw": 300, "prepared": 3000}

    results = {key: round(value, 1) if isinstance(value, float) else value for key, value in results.items()}
    print_and_save(results, args.output)


if __name__ == "__main__":
    main()
