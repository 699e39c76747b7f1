# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
A 12-lead ECG drawn as an electrocardiograph prints it, so that a clinician reads it as they read paper: 25 mm/s and
10 mm/mV on a grid of 1 mm squares (40 ms by 0.1 mV) with bold lines every 5 mm (200 ms, 0.5 mV); three rows of
four leads, each column 2.5 s of the same 10 s (I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6), then lead II over the
whole recording as the rhythm strip; a 1 mV, 200 ms calibration pulse opens every row.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator, NullFormatter


PAPER_SPEED_MM_PER_S = 25.0
GAIN_MM_PER_MV = 10.0
SMALL_SQUARE_MM = 1.0
LARGE_SQUARE_MM = 5.0
LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
ROW_HEIGHT_MV = 3.0
CALIBRATION_SECONDS = 0.2
MARGIN_SECONDS = 0.4  # room for the calibration pulse before t = 0
GRID_COLOUR, TRACE_COLOUR, NOTED_COLOUR = "#f4a6a6", "black", "#9a9a9a"


def row_baseline(row: int) -> float:
    """The y (mV) of row `row`'s zero line; row 0 is at the top."""
    return -ROW_HEIGHT_MV * (row + 0.5)


def plot_ecg_paper(
    ecg: np.ndarray, sampling_rate: float, lead_names, lead_notes=None, title: str | None = None, dpi: int = 100
) -> Figure:
    """
    `ecg` `(leads, samples)` in mV, its channels named by `lead_names` (the 12 standard leads in any order), as an
    ECG printout at true scale (one figure inch is 25.4 mm of paper at `dpi`). Leads in `lead_notes` ({lead: note},
    e.g. {"V3": "absent"} for a lead not recorded, "masked" for one left out) are drawn grey, their note in the label.
    Returns a matplotlib `Figure` (not attached to pyplot, so a server can draw from several threads).
    """
    ecg = np.asarray(ecg, dtype=np.float64)
    lead_notes = lead_notes or {}
    leads = dict(zip(lead_names, ecg, strict=True))
    duration = ecg.shape[1] / sampling_rate
    column_seconds = duration / len(LAYOUT[0])
    time = np.arange(ecg.shape[1]) / sampling_rate
    num_rows = len(LAYOUT) + 1

    width_mm = (duration + MARGIN_SECONDS) * PAPER_SPEED_MM_PER_S
    height_mm = num_rows * ROW_HEIGHT_MV * GAIN_MM_PER_MV
    figure = Figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(-MARGIN_SECONDS, duration)
    axes.set_ylim(-num_rows * ROW_HEIGHT_MV, 0)
    axes.set_aspect(GAIN_MM_PER_MV / PAPER_SPEED_MM_PER_S)  # 1 mm squares: 40 ms wide, 0.1 mV high
    for axis, mm_per_unit in ((axes.xaxis, PAPER_SPEED_MM_PER_S), (axes.yaxis, GAIN_MM_PER_MV)):
        axis.set_minor_locator(MultipleLocator(SMALL_SQUARE_MM / mm_per_unit))
        axis.set_major_locator(MultipleLocator(LARGE_SQUARE_MM / mm_per_unit))
        axis.set_major_formatter(NullFormatter())
    axes.tick_params(which="both", length=0)
    axes.grid(which="minor", color=GRID_COLOUR, linewidth=0.3)
    axes.grid(which="major", color=GRID_COLOUR, linewidth=0.9)
    axes.set_axisbelow(True)
    for spine in axes.spines.values():
        spine.set_visible(False)

    rows = [[(name, column * column_seconds, (column + 1) * column_seconds) for column, name in enumerate(names)]
            for names in LAYOUT]
    rows.append([(RHYTHM_LEAD, 0.0, duration)])
    for row, segments in enumerate(rows):
        baseline = row_baseline(row)
        pulse_start = -MARGIN_SECONDS + 0.1
        pulse_x = [pulse_start, pulse_start, pulse_start + CALIBRATION_SECONDS, pulse_start + CALIBRATION_SECONDS]
        axes.plot(pulse_x, [baseline, baseline + 1.0, baseline + 1.0, baseline], color=TRACE_COLOUR, linewidth=0.8)
        for name, start, end in segments:
            window = (time >= start) & (time < end)
            note = lead_notes.get(name)
            line_label = f"{name} (rhythm)" if len(segments) == 1 else name
            colour = TRACE_COLOUR if note is None else NOTED_COLOUR
            axes.plot(time[window], baseline + leads[name][window], color=colour, linewidth=0.7, label=line_label)
            caption = name if note is None else f"{name} ({note})"
            axes.text(start + 0.05, baseline + 0.8, caption, fontsize=9, color=colour)
            if start > 0:  # the column break, as printed
                axes.plot([start, start], [baseline - 0.3, baseline + 0.3], color=TRACE_COLOUR, linewidth=0.8)
    bottom = -num_rows * ROW_HEIGHT_MV + 0.2
    scale = f"{PAPER_SPEED_MM_PER_S:g} mm/s  {GAIN_MM_PER_MV:g} mm/mV"
    axes.text(duration - 0.05, bottom, scale, ha="right", fontsize=8)
    if title:
        axes.text(-MARGIN_SECONDS + 0.1, bottom, title, fontsize=8)
    return figure


__all__ = ["LAYOUT", "RHYTHM_LEAD", "plot_ecg_paper", "row_baseline"]
