# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
A seeded synthetic corpus of 12-lead ECGs with machine-statement reports, for the offline default pretraining run.

A fresh machine holds no real ECG data, so the default run learns from records simulated here. Each beat is a sum of
Gaussian waves as in ECGSYN (McSharry et al., 2003), but every wave is a 3-D cardiac dipole (x towards the patient's
left, y inferior, z anterior) instead of a per-lead amplitude, so that the 12 leads are projections of one heart:
I and II see the frontal plane, III, aVR, aVL and aVF follow from Einthoven's and Goldberger's equations, and V1..V6
see the horizontal plane, which produces the R-wave progression. Conditions change the dipoles (bundle branch
blocks, hypertrophy, axis, repolarisation), the timing (rate, PR interval, irregular RR, premature beats) or add
atrial activity (fibrillatory waves). The voltage criteria a label claims are met by calibrating the clean beat, so
every label can be measured in the signal. Noise is simulated per electrode (RA, LA, LL, V1..V6): baseline wander at
the respiration rate, powerline hum and broadband EMG-like noise, which reach the leads the way real noise does.

Labels (`SYNTHETIC_LABELS`, multi-hot in this order) and what the signal then satisfies:
    normal ecg                       sinus rhythm and none of the findings below
    sinus rhythm                     P before every QRS, 63-97 bpm            } exactly one rhythm per record
    sinus bradycardia                40-56 bpm                                }
    sinus tachycardia                104-150 bpm                              }
    atrial fibrillation              irregular RR (log-normal, CV 20-35 %), no P waves, 4-8 Hz fibrillatory waves
    first degree av block            PR 220-320 ms, at most 0.35 RR + 40 ms so that P clears the previous T wave
                                     (sinus rhythm or bradycardia only; others 120-190 ms)
    right bundle branch block        QRS >= 120 ms, rSR' in V1, wide S in I and V6, secondary T inversion V1-V2
    left bundle branch block         QRS >= 120 ms, broad notched R in I/V6, QS in V1, discordant ST-T
    left axis deviation              frontal QRS axis -40 to -80 degrees (others -15 to +80)
    low qrs voltage                  QRS peak-to-peak <= 0.45 mV in every limb lead (all waves attenuated alike)
    left ventricular hypertrophy     Sokolow-Lyon S(V1) + max R(V5, V6) 4.0-5.5 mV (others 1.4-3.0 mV)
    st-t abnormality                 lateral ST depression and inverted T in I, II, V5, V6
    premature ventricular complexes  1-3 wide premature beats with a compensatory pause
Bundle branch blocks exclude each other; LBBB excludes LVH and primary ST-T abnormality (its own repolarisation
change is secondary); low voltage excludes LVH.
"""

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
from tqdm.auto import tqdm

from modeling_dbeta import STANDARD_LEADS, join_statements


SYNTHETIC_LABELS = (
    "normal ecg",
    "sinus rhythm",
    "sinus bradycardia",
    "sinus tachycardia",
    "atrial fibrillation",
    "first degree av block",
    "right bundle branch block",
    "left bundle branch block",
    "left axis deviation",
    "low qrs voltage",
    "left ventricular hypertrophy",
    "st-t abnormality",
    "premature ventricular complexes",
)

RHYTHMS = ("sinus rhythm", "sinus bradycardia", "sinus tachycardia", "atrial fibrillation")
RHYTHM_PROBABILITIES = (0.44, 0.18, 0.18, 0.20)
HEART_RATE_RANGES = {
    "sinus rhythm": (63.0, 97.0),
    "sinus bradycardia": (40.0, 56.0),
    "sinus tachycardia": (104.0, 150.0),
    "atrial fibrillation": (50.0, 150.0),
}
BUNDLE_BRANCH_BLOCKS = ("right bundle branch block", "left bundle branch block")
BUNDLE_BRANCH_BLOCK_PROBABILITIES = (0.10, 0.09)
FINDING_PROBABILITIES = {
    "first degree av block": 0.25,  # of sinus rhythm and bradycardia records
    "left axis deviation": 0.15,
    "low qrs voltage": 0.12,
    "left ventricular hypertrophy": 0.15,
    "st-t abnormality": 0.16,
    "premature ventricular complexes": 0.13,
}
# Machines call a tracing "Abnormal" for these and "Borderline" when only milder findings are present.
MAJOR_FINDINGS = frozenset(
    {
        "atrial fibrillation",
        "right bundle branch block",
        "left bundle branch block",
        "left ventricular hypertrophy",
        "st-t abnormality",
    }
)

# Statement wordings, after the GE 12SL / Philips statements found in MIMIC-IV-ECG's machine_measurements.csv.
PHRASES = {
    "sinus rhythm": ("Sinus rhythm", "Normal sinus rhythm"),
    "sinus bradycardia": ("Sinus bradycardia",),
    "marked sinus bradycardia": ("Marked sinus bradycardia", "Sinus bradycardia"),
    "sinus tachycardia": ("Sinus tachycardia",),
    "atrial fibrillation, slow": ("Atrial fibrillation with slow ventricular response", "Atrial fibrillation"),
    "atrial fibrillation, controlled": (
        "Atrial fibrillation",
        "Atrial fibrillation with controlled ventricular response",
        "AFib with controlled ventricular response",
    ),
    "atrial fibrillation, rapid": (
        "Atrial fibrillation with rapid ventricular response",
        "Atrial fibrillation with RVR",
        "AFib with rapid ventricular response",
    ),
    "first degree av block": ("1st degree A-V block", "First degree AV block", "Prolonged PR interval"),
    "with first degree av block": ("with 1st degree A-V block", "with first degree AV block"),
    "premature ventricular complexes": (
        "Premature ventricular complexes",
        "Ventricular premature complex",
        "PVC(s)",
        "Occasional premature ventricular complexes",
    ),
    "with premature ventricular complexes": ("with occasional PVCs", "with premature ventricular complexes"),
    "right bundle branch block": ("Right bundle branch block", "RBBB", "Complete right bundle branch block"),
    "left bundle branch block": ("Left bundle branch block", "LBBB", "Complete left bundle branch block"),
    "left axis deviation": ("Left axis deviation", "Abnormal left axis deviation"),
    "marked left axis deviation": ("Marked left axis deviation", "Left axis deviation"),
    "low qrs voltage": ("Low QRS voltages in limb leads", "Low voltage QRS", "Low limb lead voltage"),
    "left ventricular hypertrophy": (
        "Left ventricular hypertrophy",
        "Voltage criteria for left ventricular hypertrophy",
        "LVH by voltage criteria",
    ),
    "left ventricular hypertrophy with st-t abnormality": (
        "Left ventricular hypertrophy with repolarization abnormality",
        "LVH with secondary repolarization abnormality",
    ),
    "st-t abnormality": (
        "Nonspecific ST and T wave abnormality",
        "ST-T abnormality, consider lateral ischemia",
        "Lateral ST depression and T wave inversion",
        "Inferolateral ST-T changes",
    ),
    "normal": ("Normal ECG",),
    "borderline": ("Borderline ECG",),
    "abnormal": ("Abnormal ECG",),
}
MERGE_PROBABILITY = 0.4  # a machine often folds AV block or PVCs into the rhythm statement

# Lead vectors (x left, y inferior, z anterior) of the independent leads I, II, V1..V6: a lead reads the heart dipole's
# projection on its vector. I and II lie in the frontal plane at 0 and 60 degrees.
# Chest electrodes seen from above, in degrees from the patient's left towards anterior, and their proximity gain.
CHEST_ANGLES = np.deg2rad([115.0, 94.0, 78.0, 61.0, 33.0, 0.0])
CHEST_GAINS = np.array([1.6, 2.4, 2.6, 2.4, 2.0, 1.6])
LIMB_DIRECTIONS = np.array([[1.0, 0.0, 0.0], [0.5, np.sqrt(3) / 2, 0.0]])
CHEST_DIRECTIONS = np.stack([np.cos(CHEST_ANGLES), np.zeros(6), np.sin(CHEST_ANGLES)], axis=1)
LEAD_VECTORS = np.concatenate([LIMB_DIRECTIONS, CHEST_GAINS[:, None] * CHEST_DIRECTIONS])
# The atria lie back in the chest, far from the precordial electrodes: no proximity gain for P and f waves.
ATRIAL_LEAD_VECTORS = np.concatenate([LIMB_DIRECTIONS, 0.8 * CHEST_DIRECTIONS])
# Electrodes RA, LA, LL, V1..V6 -> independent leads: I = LA - RA, II = LL - RA, Vi = Ei - Wilson's central terminal.
ELECTRODE_TO_LEAD = np.zeros((8, 9), dtype=np.float32)
ELECTRODE_TO_LEAD[0, :2] = (-1.0, 1.0)
ELECTRODE_TO_LEAD[1, [0, 2]] = (-1.0, 1.0)
ELECTRODE_TO_LEAD[2:, :3] = -1.0 / 3.0
ELECTRODE_TO_LEAD[2:, 3:] = np.eye(6)

# A beat template spans from before the longest PR interval to after the latest T wave.
TEMPLATE_BEFORE_R = 0.45
TEMPLATE_AFTER_R = 0.70
MIN_SAMPLING_RATE = 100
MIN_DURATION = 4.0  # two beats at 40 bpm inside the window where premature beats are placed
SUBJECT_STREAM, RECORD_STREAM, SUBJECTS_STREAM = 0, 1, 2


@dataclass
class Waves:
    """Gaussian waves of one beat: centres (s from the R wave), rising and falling widths (s), dipoles (K, 3) in mV."""

    centers: np.ndarray
    rise: np.ndarray
    fall: np.ndarray
    dipoles: np.ndarray

    @classmethod
    def symmetric(cls, centers, widths, dipoles) -> "Waves":
        widths = np.asarray(widths, dtype=float)
        return cls(np.asarray(centers, dtype=float), widths, widths, np.asarray(dipoles, dtype=float).reshape(-1, 3))

    def __add__(self, other: "Waves") -> "Waves":
        return Waves(*(np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self)))

    def dipole_curve(self, times: np.ndarray) -> np.ndarray:
        """The heart vector over `times`: (3, len(times))."""
        offsets = times[None, :] - self.centers[:, None]
        widths = np.where(offsets < 0, self.rise[:, None], self.fall[:, None])
        return self.dipoles.T @ np.exp(-0.5 * (offsets / widths) ** 2)

    def net_area(self) -> np.ndarray:
        """Time integral of the heart vector (3,), which sets the electrical axis."""
        return np.sqrt(np.pi / 2) * (self.rise + self.fall) @ self.dipoles


@dataclass
class Anatomy:
    """What stays the same across one subject's records: body habitus, heart position, baseline intervals."""

    qrs_axis: float
    horizontal_rotation: float
    limb_qrs_amplitude: float
    sokolow_lyon: float
    qrs_dipole_scale: np.ndarray
    qrs_width_scale: float
    p_axis: float
    p_amplitude: float
    pr_interval: float
    t_wave_ratio: float
    qtc: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Anatomy":
        limb_qrs_amplitude = rng.uniform(0.8, 1.9)
        return cls(
            qrs_axis=np.deg2rad(rng.uniform(-15.0, 80.0)),
            horizontal_rotation=np.deg2rad(rng.uniform(-15.0, 15.0)),
            limb_qrs_amplitude=limb_qrs_amplitude,
            sokolow_lyon=np.clip(limb_qrs_amplitude * rng.uniform(1.4, 2.4), 1.4, 3.0),
            qrs_dipole_scale=1.0 + 0.15 * rng.standard_normal((4, 3)),
            qrs_width_scale=rng.uniform(0.9, 1.1),
            p_axis=np.deg2rad(rng.uniform(30.0, 75.0)),
            p_amplitude=rng.uniform(0.08, 0.16),
            pr_interval=rng.uniform(0.12, 0.19),
            t_wave_ratio=rng.uniform(0.2, 0.4),
            qtc=rng.uniform(0.38, 0.44),
        )


def rotation(axis: str, angle: float) -> np.ndarray:
    """Rotation matrix about the frontal-plane normal ("z") or the vertical ("y") axis."""
    cos, sin = np.cos(angle), np.sin(angle)
    if axis == "z":
        return np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    return np.array([[cos, 0.0, -sin], [0.0, 1.0, 0.0], [sin, 0.0, cos]])


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=float)
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def limb_leads(lead_i: np.ndarray, lead_ii: np.ndarray) -> np.ndarray:
    """I, II, III, aVR, aVL, aVF from I and II (Einthoven's and Goldberger's equations), in the inputs' dtype."""
    return np.stack(
        [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    )


def draw_findings(rng: np.random.Generator) -> set[str]:
    """One rhythm plus the conduction, axis, voltage, repolarisation and ectopy findings that can coexist with it."""
    rhythm = RHYTHMS[rng.choice(len(RHYTHMS), p=RHYTHM_PROBABILITIES)]
    findings = {rhythm}
    chance = {name: rng.random() < probability for name, probability in FINDING_PROBABILITIES.items()}
    if rhythm in ("sinus rhythm", "sinus bradycardia") and chance["first degree av block"]:
        findings.add("first degree av block")
    block = rng.choice(3, p=(1.0 - sum(BUNDLE_BRANCH_BLOCK_PROBABILITIES), *BUNDLE_BRANCH_BLOCK_PROBABILITIES))
    if block:
        findings.add(BUNDLE_BRANCH_BLOCKS[block - 1])
    findings.update(
        name for name in ("left axis deviation", "low qrs voltage", "premature ventricular complexes") if chance[name]
    )
    if chance["left ventricular hypertrophy"] and not findings & {"low qrs voltage", "left bundle branch block"}:
        findings.add("left ventricular hypertrophy")
    if chance["st-t abnormality"] and "left bundle branch block" not in findings:
        findings.add("st-t abnormality")
    if findings == {"sinus rhythm"}:
        findings.add("normal ecg")
    return findings


def qrs_waves(findings: set[str], anatomy: Anatomy) -> Waves:
    """Ventricular depolarisation: septum, apex, free wall, base; the bundle branch blocks reorder and slow it."""
    width = anatomy.qrs_width_scale
    if "left bundle branch block" in findings:
        # No left-to-right septal wave; the left ventricle is reached late, slowly, through the septum.
        return Waves.symmetric(
            [-0.040, 0.000, 0.045],
            np.array([0.014, 0.017, 0.016]) * width,
            anatomy.qrs_dipole_scale[:3] * [[0.35, 0.1, -0.1], [1.0, 0.3, -0.6], [0.9, 0.15, -0.45]],
        )
    dipoles = anatomy.qrs_dipole_scale * [
        [-0.25, 0.05, 0.2],  # septum, left to right and forwards: q in I and V6, r in V1
        [0.45, 0.55, 0.3],  # apex
        [1.2, 0.45, -0.7],  # left ventricular free wall: tall R in V5-V6, deep S in V1-V2
        [-0.25, -0.35, -0.3],  # basal segments: small s in I and V6
    ]
    waves = Waves.symmetric([-0.030, -0.010, 0.004, 0.026], np.array([0.008, 0.009, 0.010, 0.009]) * width, dipoles)
    if "right bundle branch block" in findings:
        # The right ventricle depolarises last, rightwards and forwards: R' in V1, wide S in I and V6.
        waves.dipoles[3] *= 0.5
        waves += Waves.symmetric([0.060], [0.016 * width], [-0.6, 0.05, 0.6])
    return waves


def calibrate_qrs(waves: Waves, findings: set[str], anatomy: Anatomy, rng: np.random.Generator, times) -> float:
    """
    Rotate the QRS to its frontal axis and scale it to the subject's limb voltage, in place; returns the chest-lead
    gain that sets the precordial voltage. Calibrating on the clean beat makes each voltage label a measured fact.
    """
    waves.dipoles = waves.dipoles @ rotation("y", anatomy.horizontal_rotation).T
    area = waves.net_area()
    target_axis = np.deg2rad(rng.uniform(-80.0, -40.0)) if "left axis deviation" in findings else anatomy.qrs_axis
    axis_shift = target_axis - np.arctan2(area[1], area[0])
    waves.dipoles = waves.dipoles @ rotation("z", axis_shift).T

    leads = LEAD_VECTORS @ waves.dipole_curve(times)
    limbs = limb_leads(leads[0], leads[1])
    limb_target = anatomy.limb_qrs_amplitude
    if "left ventricular hypertrophy" in findings:
        limb_target *= rng.uniform(1.2, 1.6)  # a thicker wall is a larger dipole, seen by every lead
    scale = limb_target / np.ptp(limbs, axis=1).max()
    waves.dipoles *= scale
    chest = scale * leads[2:]
    sokolow_lyon = -chest[0].min() + chest[4:].max()
    target = rng.uniform(4.0, 5.5) if "left ventricular hypertrophy" in findings else anatomy.sokolow_lyon
    return target / sokolow_lyon


def repolarisation_waves(findings: set[str], anatomy: Anatomy, qrs: Waves, mean_rr: float, axis_shift: float):
    """ST segment and T wave: concordant with the QRS normally, inverted laterally or discordant after a block."""
    qrs_onset = (qrs.centers - 2.2 * qrs.rise).min()
    qrs_end = (qrs.centers + 2.2 * qrs.fall).max()
    qt = anatomy.qtc * np.sqrt(mean_rr) + (qrs_end - qrs_onset - 0.09)
    # The T wave narrows less than the QT shortens; it ends about 2.5 falling widths after its peak.
    rise, fall = np.array([0.065, 0.035]) * np.sqrt(qt / 0.4)
    t_peak = qrs_onset + qt - 2.5 * fall
    amplitude = anatomy.t_wave_ratio * np.linalg.norm(qrs.dipoles, axis=1).max()
    direction = [0.3, 0.25, 0.25]
    if "right bundle branch block" in findings:
        direction = [0.35, 0.25, -0.15]  # secondary T inversion in V1-V2
    if "left bundle branch block" in findings:
        direction = -unit(qrs.dipoles[1])  # discordant to the main QRS force, broad like the slowed QRS
        amplitude *= 1.2
        rise, fall = 1.3 * rise, 1.3 * fall
    if "st-t abnormality" in findings:
        direction = [-0.35, -0.25, 0.1]
        amplitude *= 1.2
    # The T axis follows a rotated QRS axis only part of the way (the QRS-T angle widens in axis deviation).
    t_dipole = amplitude * unit(direction) @ rotation("z", axis_shift / 2).T
    waves = Waves(np.array([t_peak]), np.array([rise]), np.array([fall]), t_dipole[None])
    if "st-t abnormality" in findings:
        depression = -0.4 * amplitude * unit([1.0, 0.5, -0.2])
        waves += Waves.symmetric([qrs_end + 0.06], [0.04], depression)
    return waves


def p_waves(anatomy: Anatomy, qrs: Waves, pr_interval: float) -> Waves:
    """Right then left atrial depolarisation: upright in II, biphasic in V1."""
    p_onset = (qrs.centers - 2.2 * qrs.rise).min() - pr_interval
    frontal = np.array([np.cos(anatomy.p_axis), np.sin(anatomy.p_axis), 0.0])
    dipoles = anatomy.p_amplitude * (frontal + np.array([[0.0, 0.0, 0.5], [0.3, 0.0, -0.5]]))  # (2, 3): right, left
    return Waves.symmetric(p_onset + np.array([0.035, 0.065]), [0.016, 0.016], dipoles)


def pvc_waves(rng: np.random.Generator, amplitude: float, qtc: float) -> Waves:
    """A ventricular ectopic beat: wide, bizarre, from one focus, with a T wave opposite to it."""
    focus = unit(
        [[0.2, 1.0, -0.5], [-0.6, 0.4, 0.7], [-0.3, -0.9, 0.2]][rng.integers(3)] + 0.25 * rng.standard_normal(3)
    )
    late = unit(focus + 0.6 * rng.standard_normal(3))
    qrs = Waves.symmetric([-0.035, 0.025], [0.022, 0.026], amplitude * np.stack([focus, 0.7 * late]))
    return qrs + Waves(
        np.array([0.1 + qtc * 0.6]), np.array([0.06]), np.array([0.045]), -0.35 * amplitude * focus[None]
    )


def beat_times(findings: set[str], heart_rate: float, respiration: float, rng, duration: float) -> np.ndarray:
    """R-wave times (s) covering the record and its edges: sinus arrhythmia with respiration, or fibrillation."""
    mean_rr = 60.0 / heart_rate
    start = -TEMPLATE_AFTER_R - rng.uniform(0.0, mean_rr)
    count = int(np.ceil((duration + TEMPLATE_AFTER_R + TEMPLATE_BEFORE_R + mean_rr) / (0.5 * mean_rr)))
    if "atrial fibrillation" in findings:
        spread = rng.uniform(0.2, 0.35)
        intervals = np.maximum(mean_rr * np.exp(spread * rng.standard_normal(count) - spread**2 / 2), 0.28)
    else:
        nominal = start + mean_rr * np.arange(count)
        modulation = rng.uniform(0.0, 0.04) * np.sin(2 * np.pi * respiration * nominal + rng.uniform(0, 2 * np.pi))
        intervals = mean_rr * (1.0 + modulation + 0.008 * rng.standard_normal(count))
    times = start + np.concatenate([[0.0], np.cumsum(intervals)])
    return times[times < duration + TEMPLATE_BEFORE_R]


def insert_pvcs(times: np.ndarray, rng: np.random.Generator, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """
    Make 1-3 non-adjacent beats (fewer in short records) premature ventricular ones; the beat after each keeps its
    time, which leaves the compensatory pause. Returns the new times and which of them are ectopic.
    """
    intervals = np.diff(times, prepend=times[0])
    # Inside the record, after a beat that is inside it too, so that the prematurity shows.
    eligible = np.flatnonzero((intervals < times - 0.2) & (times < duration - 0.4))
    every_other = eligible[rng.integers(min(2, len(eligible))) :: 2]
    count = min(rng.integers(1, 4), max(len(every_other) // 3, 1))  # occasional ectopy, not bigeminy
    chosen = rng.choice(every_other, size=count, replace=False)
    times = times.copy()
    times[chosen] = times[chosen - 1] + rng.uniform(0.55, 0.8, count) * intervals[chosen]
    ectopic = np.zeros(len(times), dtype=bool)
    ectopic[chosen] = True
    return times, ectopic


def electrode_noise(rng: np.random.Generator, respiration: float, time: np.ndarray, sampling_rate: int) -> np.ndarray:
    """
    Baseline wander, powerline hum and EMG-like noise on the 9 electrodes, as seen by the 8 independent leads.
    Computed in float32 (`time` is float32): its trigonometry is ~10 times faster and exact enough over 10 s.
    """
    wander_frequencies = np.array([respiration, rng.uniform(0.02, 0.1)], dtype=np.float32)
    phases = np.float32(2 * np.pi) * wander_frequencies[:, None] * time
    wander = (0.15 * rng.random() ** 2 * rng.standard_normal((9, 4))).astype(np.float32)
    noise = wander @ np.concatenate([np.sin(phases), np.cos(phases)])
    powerline = rng.choice([50.0, 60.0])
    if rng.random() < 0.5 and sampling_rate > 2 * powerline:
        phase = np.float32(2 * np.pi * powerline) * time
        hum = (0.03 * rng.random() * rng.standard_normal((9, 2))).astype(np.float32)
        noise += hum @ np.stack([np.sin(phase), np.cos(phase)])
    # Broadband noise: the difference of two uniforms is close to Gaussian and 4 times cheaper to draw.
    uniforms = rng.random((2, 9, len(time)), dtype=np.float32)
    emg_levels = (0.002 + 0.04 * rng.random() ** 2) * np.sqrt(6) * rng.uniform(0.5, 1.5, (9, 1))
    noise += emg_levels.astype(np.float32) * (uniforms[0] - uniforms[1])
    return ELECTRODE_TO_LEAD @ noise


def fibrillatory_waves(rng: np.random.Generator, time: np.ndarray) -> np.ndarray:
    """Atrial fibrillation's chaotic 4-8 Hz activity as a wandering atrial dipole: (3, samples)."""
    frequencies = rng.uniform(4.0, 8.0, 3)
    wobble = rng.uniform(0.2, 1.5, 3)[:, None] * np.sin(2 * np.pi * rng.uniform(0.1, 0.5, 3)[:, None] * time)
    oscillations = np.sin(2 * np.pi * frequencies[:, None] * time + rng.uniform(0, 2 * np.pi, (3, 1)) + wobble)
    directions = unit([-0.3, 0.6, 0.75] + 0.3 * rng.standard_normal((3, 3)))
    return rng.uniform(0.03, 0.1) * directions.T @ oscillations


def write_report(findings: set[str], heart_rate: float, qrs_axis: float, rng: np.random.Generator) -> str:
    """Machine statements in a machine's order: rhythm, conduction, axis, QRS, ST-T, then a summary."""

    def say(key: str) -> str:
        return PHRASES[key][rng.integers(len(PHRASES[key]))]

    rhythm = next(name for name in RHYTHMS if name in findings)
    if rhythm == "atrial fibrillation":
        response = "slow" if heart_rate < 60 else "rapid" if heart_rate > 100 else "controlled"
        rhythm_key = f"atrial fibrillation, {response}"
    elif rhythm == "sinus bradycardia" and heart_rate < 50:
        rhythm_key = "marked sinus bradycardia"
    else:
        rhythm_key = rhythm
    statements = [say(rhythm_key)]
    for finding in ("first degree av block", "premature ventricular complexes"):
        if finding in findings:
            if rng.random() < MERGE_PROBABILITY:
                statements[0] += " " + say(f"with {finding}")
            else:
                statements.append(say(finding))
    for finding in BUNDLE_BRANCH_BLOCKS:
        if finding in findings:
            statements.append(say(finding))
    if "left axis deviation" in findings:
        statements.append(say("marked left axis deviation" if qrs_axis < np.deg2rad(-60) else "left axis deviation"))
    if "low qrs voltage" in findings:
        statements.append(say("low qrs voltage"))
    if {"left ventricular hypertrophy", "st-t abnormality"} <= findings and rng.random() < MERGE_PROBABILITY:
        statements.append(say("left ventricular hypertrophy with st-t abnormality"))
    else:
        statements.extend(
            say(finding) for finding in ("left ventricular hypertrophy", "st-t abnormality") if finding in findings
        )
    statements.append(
        say("normal" if "normal ecg" in findings else "abnormal" if findings & MAJOR_FINDINGS else "borderline")
    )
    # Joined like MIMIC-IV-ECG's report_0..report_17, so the model sees the text a real corpus would give it.
    return join_statements(statements)


def simulate_record(rng: np.random.Generator, anatomy: Anatomy, sampling_rate: int, num_samples: int):
    """One record: (12, samples) float32 millivolts, its findings and its report."""
    duration = num_samples / sampling_rate
    findings = draw_findings(rng)
    rhythm = next(name for name in RHYTHMS if name in findings)
    heart_rate = rng.uniform(*HEART_RATE_RANGES[rhythm])
    respiration = rng.uniform(0.12, 0.45)
    template_times = np.arange(-round(TEMPLATE_BEFORE_R * sampling_rate), round(TEMPLATE_AFTER_R * sampling_rate))
    template_times = template_times / sampling_rate

    qrs = qrs_waves(findings, anatomy)
    axis_before = np.arctan2(*qrs.net_area()[1::-1])
    chest_gain = calibrate_qrs(qrs, findings, anatomy, rng, template_times)
    qrs_axis = np.arctan2(*qrs.net_area()[1::-1])
    # Fluid, fat or air between heart and electrodes (effusion, obesity, emphysema) damps every wave alike.
    damping = rng.uniform(0.28, 0.45) / anatomy.limb_qrs_amplitude if "low qrs voltage" in findings else 1.0
    ventricular_leads = damping * LEAD_VECTORS * np.r_[1.0, 1.0, np.full(6, chest_gain)][:, None]
    atrial_leads = damping * ATRIAL_LEAD_VECTORS

    times = beat_times(findings, heart_rate, respiration, rng, duration)
    mean_rr = np.diff(times).mean()
    ventricles = qrs + repolarisation_waves(findings, anatomy, qrs, mean_rr, qrs_axis - axis_before)
    templates = [ventricular_leads @ ventricles.dipole_curve(template_times)]
    if "atrial fibrillation" not in findings:
        pr_interval = anatomy.pr_interval
        if "first degree av block" in findings:
            pr_interval = rng.uniform(0.22, min(0.32, 0.35 * mean_rr + 0.04))
        templates[0] += atrial_leads @ p_waves(anatomy, qrs, pr_interval).dipole_curve(template_times)
    ectopic = np.zeros(len(times), dtype=bool)
    if "premature ventricular complexes" in findings:
        times, ectopic = insert_pvcs(times, rng, duration)
        pvc_amplitude = np.linalg.norm(qrs.dipoles, axis=1).max() * rng.uniform(1.0, 1.8)
        pvc = pvc_waves(rng, pvc_amplitude, anatomy.qtc)
        templates.append(ventricular_leads @ pvc.dipole_curve(template_times))

    time = np.arange(num_samples, dtype=np.float32) / np.float32(sampling_rate)
    signal = electrode_noise(rng, respiration, time, sampling_rate)
    if "atrial fibrillation" in findings:
        signal += atrial_leads @ fibrillatory_waves(rng, time)
    # Breathing moves the heart against the electrodes: beat amplitudes swell and shrink with respiration.
    scales = 1.0 + rng.uniform(0.0, 0.08) * np.sin(2 * np.pi * respiration * times + rng.uniform(0, 2 * np.pi))
    starts = np.round(times * sampling_rate).astype(int) + round(template_times[0] * sampling_rate)
    width = len(template_times)
    for start, template, scale in zip(starts, ectopic.astype(int), scales, strict=True):
        low, high = max(start, 0), min(start + width, num_samples)
        if low < high:
            signal[:, low:high] += scale * templates[template][:, low - start : high - start]

    ecg = np.concatenate([limb_leads(signal[0], signal[1]), signal[2:]])
    report = write_report(findings, 60.0 / mean_rr, qrs_axis, rng)
    return ecg, findings, report


def subject_ids(num_records: int, seed: int) -> np.ndarray:
    """Consecutive records share a subject; 1 + Geometric(1/2) records each, so patient-level splits matter."""
    counts = np.random.default_rng([SUBJECTS_STREAM, seed]).geometric(0.5, size=max(num_records, 1))
    return np.repeat(np.arange(len(counts)), counts)[:num_records]


def check_arguments(num_records: int, sampling_rate: int, duration: float) -> int:
    """Validate the corpus arguments; returns the number of samples per lead."""
    if num_records < 0:
        raise ValueError(f"num_records must be >= 0, got {num_records}.")
    if sampling_rate < MIN_SAMPLING_RATE:
        raise ValueError(f"sampling_rate must be >= {MIN_SAMPLING_RATE} Hz to resolve a QRS, got {sampling_rate}.")
    if duration < MIN_DURATION:
        raise ValueError(f"duration must be >= {MIN_DURATION} s to hold a few beats, got {duration}.")
    return round(sampling_rate * duration)


def simulate_records(
    record_ids: np.ndarray,
    subjects: np.ndarray,
    seed: int,
    sampling_rate: int,
    num_samples: int,
    progress: bool = False,
) -> dict:
    """The records `record_ids` of the corpus `seed`; each record has its own random stream, so chunking is free."""
    ecg = np.empty((len(record_ids), len(STANDARD_LEADS), num_samples), dtype=np.float32)
    labels = np.zeros((len(record_ids), len(SYNTHETIC_LABELS)), dtype=np.float32)
    reports = []
    for row, record_id in enumerate(tqdm(record_ids, desc="Simulating ECGs", unit="record", disable=not progress)):
        subject = int(subjects[record_id])
        anatomy = Anatomy.draw(np.random.default_rng([SUBJECT_STREAM, seed, subject]))
        rng = np.random.default_rng([RECORD_STREAM, seed, record_id])
        ecg[row], findings, report = simulate_record(rng, anatomy, sampling_rate, num_samples)
        labels[row, [SYNTHETIC_LABELS.index(name) for name in findings]] = 1.0
        reports.append(report)
    return {
        "ecg": ecg,
        "report": reports,
        "labels": labels,
        "subject_id": subjects[record_ids].astype(np.int64),
        "record_id": np.asarray(record_ids, dtype=np.int64),
    }


def iter_synthetic_corpus(
    num_records: int, seed: int = 0, sampling_rate: int = 500, duration: float = 10.0, chunk_size: int = 1000
) -> Iterator[dict]:
    """
    The corpus of `generate_synthetic_corpus` in chunks of `chunk_size` records, so that 20 000 records (4.8 GB of
    signal) never sit in memory at once. Concatenating the chunks gives exactly the same corpus.
    """
    num_samples = check_arguments(num_records, sampling_rate, duration)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    subjects = subject_ids(num_records, seed)
    for start in range(0, num_records, chunk_size):
        record_ids = np.arange(start, min(start + chunk_size, num_records))
        yield simulate_records(record_ids, subjects, seed, sampling_rate, num_samples)


def generate_synthetic_corpus(
    num_records: int, seed: int = 0, sampling_rate: int = 500, duration: float = 10.0, progress: bool = False
) -> dict:
    """
    Simulate `num_records` ECG-report pairs, reproducibly for a `seed`.

    Returns a dict with `ecg` (num_records, 12, samples) float32 millivolts in the lead order of `STANDARD_LEADS`,
    `report` (list of str, machine statements), `labels` (num_records, len(SYNTHETIC_LABELS)) float32 multi-hot,
    `subject_id` and `record_id` (int64). Several consecutive records belong to one subject and share its anatomy.
    """
    num_samples = check_arguments(num_records, sampling_rate, duration)
    subjects = subject_ids(num_records, seed)
    return simulate_records(np.arange(num_records), subjects, seed, sampling_rate, num_samples, progress)


__all__ = [
    "SYNTHETIC_LABELS",
    "generate_synthetic_corpus",
    "iter_synthetic_corpus",
]
