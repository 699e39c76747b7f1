"""
Shared material of the evaluation tests: a tiny D-BETA checkpoint saved as a user would, small data sets in their
real on-disk formats (PTB-XL rows of MERL's packaged splits, MIMIC-IV-ECG, PhysioNet 2021 with a `weights.csv`), and
a model whose features are known in advance.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPooling

from datasets_scripts.physionet2021 import CLASS_NAMES as PHYSIONET_CLASSES
from datasets_scripts.splits import read_merl_split
from modeling_dbeta import STANDARD_LEADS, DBetaFeatureExtractor, DBetaForPreTraining, DBetaProcessor, apply_lead_mask
from tests.ecg_fixtures import (
    MIMIC_LEADS,
    ecg_signal,
    write_challenge_record,
    write_mimic_iv_ecg,
    write_ptb_xl,
)
from tests.tiny_models import tiny_config, tiny_t5_tokenizer


PTB_XL_METADATA = ["ecg_id", "patient_id", "strat_fold", "filename_lr", "filename_hr"]
SPLITS = ("train", "validation", "test")


def tiny_processor() -> DBetaProcessor:
    return DBetaProcessor(DBetaFeatureExtractor(), tiny_t5_tokenizer())


def save_tiny_checkpoint(directory: Path) -> Path:
    """A random tiny `DBetaForPreTraining` and its processor, saved as a pretraining run saves them."""
    torch.manual_seed(0)
    DBetaForPreTraining(tiny_config()).save_pretrained(directory)
    tiny_processor().save_pretrained(directory)
    return directory


def merl_ptb_xl_rows(task: str, counts: dict[str, int], seed: int = 0) -> dict:
    """A seeded sample of each packaged MERL split of a PTB-XL task: {split: (frame rows, class names)}."""
    rows = {}
    for split in SPLITS:
        frame, names = read_merl_split(f"ptbxl/{task}", f"ptbxl_{task}", split, [*PTB_XL_METADATA, task])
        rows[split] = (frame.sample(counts[split], random_state=seed).sort_values("ecg_id"), names)
    return rows


def write_ptb_xl_subset(root: Path, rows: dict, signals: dict | None = None) -> Path:
    """
    A PTB-XL tree holding the records of `rows` (and no other). `signals` maps an ecg_id to its (5000, 12) signal in
    mV; records not in it get a reproducible `ecg_signal`.
    """
    signals = signals or {}
    records = [
        {
            "ecg_id": int(row.ecg_id),
            "patient_id": row.patient_id,
            "strat_fold": row.strat_fold,
            "report": "sinusrhythmus",
            "signal": signals.get(int(row.ecg_id), ecg_signal(int(row.ecg_id))),
            "scp_codes": {"NORM": 100.0},
        }
        for frame, _ in rows.values()
        for row in frame.itertuples()
    ]
    return write_ptb_xl(root, records)


def constant_leads(values) -> np.ndarray:
    """(5000, 12) signal holding one constant per lead (standard order): its lead means are `values` exactly."""
    return np.tile(np.asarray(values, dtype=np.float64), (5000, 1))


def write_mimic_pairs(root: Path, reports: list[str], lead_values: np.ndarray | None = None) -> Path:
    """
    A MIMIC-IV-ECG tree with one record (and one patient) per report. `lead_values` ((num_records, 12), standard
    order) makes each record constant per lead; reproducible `ecg_signal`s otherwise.
    """
    mimic_order = [STANDARD_LEADS.index(name) for name in MIMIC_LEADS]
    records = []
    for index, report in enumerate(reports):
        signal = ecg_signal(index) if lead_values is None else constant_leads(lead_values[index])[:, mimic_order]
        records.append(
            {
                "subject_id": 10_000_000 + index,
                "study_id": 40_000_000 + index,
                "signal": signal,
                "statements": [report],
            }
        )
    return write_mimic_iv_ecg(root, records)


def write_physionet2021(root: Path, num_records: int) -> Path:
    """PhysioNet 2021 records in two sources, alternating sinus rhythm and atrial fibrillation, some with RBBB."""
    for index in range(num_records):
        source = ("cpsc_2018", "georgia")[index % 2]
        codes = ["426783006" if index % 4 < 2 else "164889003"] + (["59118001"] if index % 3 == 0 else [])
        signal = ecg_signal(index) + (0.3 if "164889003" in codes else 0.0)
        name = f"{source[0].upper()}{index:04d}"
        write_challenge_record(root / source / "g1", name, signal, STANDARD_LEADS, 500, codes)
    return root


def write_challenge_weights(path: Path) -> Path:
    """A `weights.csv` in the challenge's format: classes named by ("|"-joined) SNOMED CT codes, partial credit."""
    size = len(PHYSIONET_CLASSES)
    weights = np.eye(size) + 0.5 * (np.eye(size, k=1) + np.eye(size, k=-1))
    lines = ["," + ",".join(PHYSIONET_CLASSES)]
    lines += [
        name + "," + ",".join(f"{value:g}" for value in row)
        for name, row in zip(PHYSIONET_CLASSES, weights, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class FixedFeatureModel(nn.Module):
    """
    A stand-in with D-BETA's feature methods and known features: an ECG's features are its 12 lead means after the
    lead mask; a text's are the vector `text_vectors` assigns to its token ids.
    """

    def __init__(self, text_vectors: dict[tuple[int, ...], torch.Tensor] | None = None):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # gives the model a device and weights to fingerprint
        self.text_vectors = text_vectors or {}
        self.ecg_calls = self.ecg_rows = 0

    def get_ecg_features(self, ecg_values, lead_mask=None):
        self.ecg_calls += 1
        self.ecg_rows += len(ecg_values)
        pooled = self.scale * apply_lead_mask(ecg_values, lead_mask).mean(dim=-1)
        return BaseModelOutputWithPooling(pooler_output=pooled)

    def get_text_features(self, input_ids, attention_mask=None):
        return BaseModelOutputWithPooling(
            pooler_output=torch.stack(
                [
                    self.text_vectors[tuple(ids[mask.bool()].tolist())]
                    for ids, mask in zip(input_ids, attention_mask, strict=True)
                ]
            )
        )


def text_vectors_for(processor: DBetaProcessor, vectors: dict[str, np.ndarray]) -> dict:
    """
    `FixedFeatureModel.text_vectors` for `{normalised text: vector}`, keyed by the token ids of the text as given:
    a text that reaches the model without the pretraining normalisation finds no vector.
    """
    token_ids = {text: tuple(processor(text=[text], normalize_text=False)["input_ids"][0]) for text in vectors}
    return {token_ids[text]: torch.as_tensor(vector, dtype=torch.float32) for text, vector in vectors.items()}
