"""
The synthetic ECG-report corpus: format, reproducibility, label logic, report wording, and physiology measured in
the signals with the usual tools (a QRS detector, median beats, interval and voltage criteria), not read back from
the generator's parameters.
"""

import re

import numpy as np
import pytest
from scipy.signal import butter, find_peaks, sosfiltfilt

from datasets_scripts.synthetic_ecg import SYNTHETIC_LABELS, generate_synthetic_corpus, iter_synthetic_corpus
from modeling_dbeta import STANDARD_LEADS, normalize_report
from modeling_dbeta.evaluation import load_prompt_sets


FS = 500
RHYTHMS = ("sinus rhythm", "sinus bradycardia", "sinus tachycardia", "atrial fibrillation")
# Independent of the generator's phrase table: how a reader would recognise each label in a machine report.
LABEL_PATTERNS = {
    "normal ecg": r"\bnormal ecg\b",
    "sinus rhythm": r"sinus rhythm",
    "sinus bradycardia": r"sinus bradycardia",
    "sinus tachycardia": r"sinus tachycardia",
    "atrial fibrillation": r"atrial fibrillation|\bafib\b",
    "first degree av block": r"(1st|first) degree a-?v block|prolonged pr",
    "right bundle branch block": r"right bundle branch block|\brbbb\b",
    "left bundle branch block": r"left bundle branch block|\blbbb\b",
    "left axis deviation": r"left axis deviation",
    "low qrs voltage": r"low (qrs |limb lead )?voltage",
    "left ventricular hypertrophy": r"left ventricular hypertrophy|\blvh\b",
    "st-t abnormality": r"\bst-t\b|st and t wave|st depression|repolarization abnormality",
    "premature ventricular complexes": r"premature ventricular|ventricular premature|\bpvc",
}
SUMMARY = re.compile(r"^(normal|borderline|abnormal) ecg$")


@pytest.fixture(scope="module")
def corpus():
    return generate_synthetic_corpus(600, seed=1)


@pytest.fixture(scope="module")
def labels(corpus):
    return {name: corpus["labels"][:, i].astype(bool) for i, name in enumerate(SYNTHETIC_LABELS)}


def bandpass(ecg, low, high):
    return sosfiltfilt(butter(2, [low, high], btype="band", fs=FS, output="sos"), ecg, axis=-1)


def detect_beats(ecg):
    """QRS complexes from the 5-20 Hz slope summed over the 12 leads, which finds them whatever their axis or shape."""
    slope = np.abs(np.diff(bandpass(ecg, 5.0, 20.0), axis=-1)).sum(axis=0)
    energy = np.convolve(slope, np.ones(FS // 10) / (FS // 10), mode="same")
    peaks, _ = find_peaks(energy, distance=int(0.25 * FS), height=0.3 * np.percentile(energy, 99))
    return peaks[(peaks > 0.1 * FS) & (peaks < ecg.shape[-1] - 0.1 * FS)]


BEFORE, AFTER = int(0.45 * FS), int(0.5 * FS)


def median_beat(ecg, peaks):
    """The median beat (robust to the odd ectopic beat), referred to the flattest 20 ms before the QRS."""
    filtered = bandpass(ecg, 0.5, 40.0)
    inside = peaks[(peaks >= BEFORE) & (peaks + AFTER <= ecg.shape[-1])]
    beat = np.median(np.stack([filtered[:, p - BEFORE : p + AFTER] for p in inside]), axis=0)
    search_start, search_stop = BEFORE - int(0.25 * FS), BEFORE - int(0.04 * FS)
    slope = np.abs(np.diff(beat[:, search_start:search_stop], axis=-1)).sum(axis=0)
    flat = search_start + np.convolve(slope, np.ones(10), mode="valid").argmin()
    return beat - beat[:, flat : flat + 10].mean(axis=1, keepdims=True)


def segment(beat, start, stop):
    """The median beat from `start` to `stop` seconds around the QRS."""
    return beat[:, BEFORE + int(start * FS) : BEFORE + int(stop * FS)]


def measure(ecg):
    peaks = detect_beats(ecg)
    rr = np.diff(peaks) / FS
    beat = median_beat(ecg, peaks)
    qrs = segment(beat, -0.08, 0.08)
    lead = {name: qrs[STANDARD_LEADS.index(name)] for name in ("I", "aVF", "V1", "V5", "V6")}
    velocity = np.abs(np.diff(segment(beat, -0.12, 0.12), axis=-1)).sum(axis=0)
    above = np.flatnonzero(velocity > 0.2 * velocity.max())
    repolarisation = segment(beat, 0.1, 0.1 + 0.3 * np.median(rr))
    before_qrs = segment(beat, -0.42, -0.1)[STANDARD_LEADS.index("II")]
    return {
        "heart_rate": 60 / np.median(rr),
        "rr_irregularity": np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean(),  # RMSSD / mean RR
        "prematurity": rr.min() / np.median(rr),
        "qrs_duration": (above[-1] - above[0]) / FS,
        "limb_qrs_amplitude": np.ptp(segment(beat, -0.06, 0.06)[:6], axis=1).max(),
        "sokolow_lyon": -lead["V1"].min() + max(lead["V5"].max(), lead["V6"].max()),
        "qrs_axis": np.degrees(np.arctan2(lead["aVF"].sum() * 2 / np.sqrt(3), lead["I"].sum())),
        "lateral_t_wave": repolarisation[[STANDARD_LEADS.index(name) for name in ("I", "V5", "V6")]].mean(),
        "p_to_r": 0.42 - before_qrs.argmax() / FS,
    }


@pytest.fixture(scope="module")
def measured(corpus):
    values = [measure(ecg) for ecg in corpus["ecg"]]
    return {key: np.array([value[key] for value in values]) for key in values[0]}


@pytest.fixture(scope="module")
def readable(labels):
    """Records a simple detector reads reliably: no ectopic beats and no low-voltage complexes drowned in noise."""
    return ~labels["premature ventricular complexes"] & ~labels["low qrs voltage"]


def test_shapes_dtypes_and_values():
    corpus = generate_synthetic_corpus(12, seed=5)
    assert corpus["ecg"].shape == (12, 12, 5000) and corpus["ecg"].dtype == np.float32
    assert np.isfinite(corpus["ecg"]).all() and np.abs(corpus["ecg"]).max() < 10.0  # millivolts
    assert corpus["labels"].shape == (12, len(SYNTHETIC_LABELS)) and set(np.unique(corpus["labels"])) <= {0.0, 1.0}
    assert len(corpus["report"]) == 12 and all(isinstance(report, str) and report for report in corpus["report"])
    assert corpus["subject_id"].dtype == np.int64 and corpus["record_id"].tolist() == list(range(12))
    assert generate_synthetic_corpus(0)["ecg"].shape == (0, 12, 5000)


def test_same_seed_same_corpus_in_any_chunking():
    corpus = generate_synthetic_corpus(15, seed=3)
    again = generate_synthetic_corpus(15, seed=3)
    chunks = list(iter_synthetic_corpus(15, seed=3, chunk_size=4))
    assert [len(chunk["report"]) for chunk in chunks] == [4, 4, 4, 3]
    for key in ("ecg", "labels", "subject_id", "record_id"):
        np.testing.assert_array_equal(again[key], corpus[key])
        np.testing.assert_array_equal(np.concatenate([chunk[key] for chunk in chunks]), corpus[key])
    assert again["report"] == corpus["report"] == [report for chunk in chunks for report in chunk["report"]]
    assert not np.array_equal(generate_synthetic_corpus(15, seed=4)["ecg"], corpus["ecg"])


def test_other_rate_and_duration():
    corpus = generate_synthetic_corpus(3, seed=2, sampling_rate=250, duration=6.0)
    assert corpus["ecg"].shape == (3, 12, 1500)
    assert np.isfinite(corpus["ecg"]).all()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_records": -1}, "num_records"),
        ({"num_records": 2, "sampling_rate": 50}, "sampling_rate"),
        ({"num_records": 2, "duration": 1.0}, "duration"),
    ],
)
def test_bad_arguments_say_what_is_wrong(arguments, message):
    with pytest.raises(ValueError, match=message):
        generate_synthetic_corpus(**arguments)
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_synthetic_corpus(2, chunk_size=0))


def test_limb_leads_follow_einthoven_and_goldberger(corpus):
    lead = {name: corpus["ecg"][:50, i] for i, name in enumerate(STANDARD_LEADS)}
    np.testing.assert_array_equal(lead["III"], lead["II"] - lead["I"])
    np.testing.assert_array_equal(lead["aVR"], -(lead["I"] + lead["II"]) / 2)
    np.testing.assert_array_equal(lead["aVL"], lead["I"] - lead["II"] / 2)
    np.testing.assert_array_equal(lead["aVF"], lead["II"] - lead["I"] / 2)


def test_labels_combine_only_where_physiology_allows(corpus, labels):
    assert (sum(labels[rhythm].astype(int) for rhythm in RHYTHMS) == 1).all()
    assert not (labels["right bundle branch block"] & labels["left bundle branch block"]).any()
    assert not (labels["left ventricular hypertrophy"] & labels["low qrs voltage"]).any()
    assert not (labels["first degree av block"] & (labels["atrial fibrillation"] | labels["sinus tachycardia"])).any()
    assert not (labels["st-t abnormality"] & labels["left bundle branch block"]).any()
    only_sinus_rhythm = labels["sinus rhythm"] & (corpus["labels"].sum(axis=1) - labels["normal ecg"] == 1)
    np.testing.assert_array_equal(labels["normal ecg"], only_sinus_rhythm)
    counts = corpus["labels"].sum(axis=0)
    assert counts.min() >= 15, dict(zip(SYNTHETIC_LABELS, counts, strict=True))


def test_subjects_have_several_consecutive_records(corpus):
    subjects, counts = np.unique(corpus["subject_id"], return_counts=True)
    assert (np.diff(corpus["subject_id"]) >= 0).all()
    assert 0.1 < (counts > 1).mean() < 0.9 and len(subjects) < len(corpus["subject_id"])


def test_reports_name_exactly_the_labels_they_carry(corpus):
    for report, multi_hot in zip(corpus["report"], corpus["labels"], strict=True):
        text = normalize_report(report)
        named = {label for label, pattern in LABEL_PATTERNS.items() if re.search(pattern, text)}
        carried = {label for label, value in zip(SYNTHETIC_LABELS, multi_hot, strict=True) if value}
        assert named == carried, report


def test_reports_read_like_machine_statements(corpus):
    wordings = {}
    for report in corpus["report"]:
        statements = normalize_report(report).split(". ")
        assert any(re.search(LABEL_PATTERNS[rhythm], statements[0]) for rhythm in RHYTHMS), report
        assert SUMMARY.match(statements[-1]), report
        for label in ("atrial fibrillation", "left ventricular hypertrophy", "st-t abnormality"):
            wordings.setdefault(label, set()).update(s for s in statements if re.search(LABEL_PATTERNS[label], s))
    assert all(len(variants) >= 3 for variants in wordings.values()), wordings
    assert len(set(corpus["report"])) > 100


def test_descriptions_cover_every_label_and_are_not_report_sentences(corpus):
    paraphrases = load_prompt_sets("synthetic")["paraphrases"]
    assert set(paraphrases) == set(SYNTHETIC_LABELS)
    statements = {statement for report in corpus["report"] for statement in normalize_report(report).split(". ")}
    assert not statements & {normalize_report(text) for text in paraphrases.values()}


def share(values) -> float:
    """Fraction of records meeting a criterion; a detector and median beats misread the odd record, as on real data."""
    assert len(values) >= 5, "too few records of this kind to judge"
    return float(np.mean(values))


def test_heart_rate_matches_the_rhythm(labels, measured, readable):
    heart_rate = measured["heart_rate"]
    assert share(heart_rate[labels["sinus bradycardia"] & readable] < 60) > 0.97
    assert share(heart_rate[labels["sinus tachycardia"] & readable] > 100) > 0.97
    normal_rate = heart_rate[labels["sinus rhythm"] & readable]
    assert share((normal_rate > 60) & (normal_rate < 100)) > 0.97


def test_atrial_fibrillation_is_irregular(labels, measured, readable):
    irregularity = measured["rr_irregularity"]
    assert share(irregularity[labels["atrial fibrillation"] & readable] > 0.1) > 0.97
    assert share(irregularity[~labels["atrial fibrillation"] & readable] < 0.1) > 0.97


def test_premature_beats_come_early(labels, measured, readable):
    prematurity = measured["prematurity"]
    pvc = labels["premature ventricular complexes"] & ~labels["atrial fibrillation"] & ~labels["low qrs voltage"]
    assert share(prematurity[pvc] < 0.85) > 0.9
    assert share(prematurity[~labels["atrial fibrillation"] & readable] > 0.85) > 0.97


def test_bundle_branch_blocks_widen_the_qrs(labels, measured, readable):
    clear = readable & ~labels["atrial fibrillation"]
    duration = measured["qrs_duration"]
    for block in ("right bundle branch block", "left bundle branch block"):
        assert share(duration[labels[block] & clear] >= 0.11) > 0.9, block
    narrow = duration[~labels["right bundle branch block"] & ~labels["left bundle branch block"] & clear]
    assert np.median(narrow) < 0.1 and share(narrow < 0.11) > 0.97


def test_low_voltage_records_have_small_limb_complexes(labels, measured):
    amplitude = measured["limb_qrs_amplitude"]
    no_ectopy = ~labels["premature ventricular complexes"]
    assert share(amplitude[labels["low qrs voltage"] & no_ectopy] < 0.5) > 0.97
    assert share(amplitude[~labels["low qrs voltage"] & no_ectopy] > 0.6) > 0.97


def test_hypertrophy_meets_sokolow_lyon(labels, measured, readable):
    clear = readable & ~labels["atrial fibrillation"]
    sokolow_lyon = measured["sokolow_lyon"]
    assert share(sokolow_lyon[labels["left ventricular hypertrophy"] & clear] > 3.5) > 0.97
    assert share(sokolow_lyon[~labels["left ventricular hypertrophy"] & clear] < 3.5) > 0.97


def test_left_axis_deviation_is_beyond_minus_30_degrees(labels, measured, readable):
    clear = readable & ~labels["atrial fibrillation"]
    axis = measured["qrs_axis"]
    assert share(axis[labels["left axis deviation"] & clear] < -30) > 0.97
    assert share(axis[~labels["left axis deviation"] & clear] > -30) > 0.97


def test_st_t_abnormality_inverts_lateral_t_waves(labels, measured):
    t_wave = measured["lateral_t_wave"]
    primary = (
        labels["st-t abnormality"] & ~labels["right bundle branch block"] & ~labels["premature ventricular complexes"]
    )
    assert share(t_wave[primary] < 0) > 0.97
    assert share(t_wave[labels["normal ecg"]] > 0) > 0.97


def test_first_degree_av_block_prolongs_pr(labels, measured, readable):
    # Slow enough that the previous T wave is over, and no block that moves the QRS onset.
    sinus = (
        (labels["sinus rhythm"] | labels["sinus bradycardia"])
        & readable
        & ~labels["right bundle branch block"]
        & ~labels["left bundle branch block"]
        & (measured["heart_rate"] < 80)
    )
    block = labels["first degree av block"]
    assert share(measured["p_to_r"][sinus & block] > 0.2) > 0.97
    assert share(measured["p_to_r"][sinus & ~block] < 0.2) > 0.97
