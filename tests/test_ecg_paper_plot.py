"""The ECG printout: true paper scale and grid, the 3 x 4 layout of simultaneous 2.5 s windows, the rhythm strip."""

import numpy as np
import pytest

from modeling_dbeta import STANDARD_LEADS
from modeling_dbeta.ecg_paper_plot import LAYOUT, plot_ecg_paper, row_baseline


def test_grid_is_ecg_paper_at_true_scale():
    figure = plot_ecg_paper(np.zeros((12, 5000)), 500, STANDARD_LEADS, dpi=100)
    (axes,) = figure.axes
    assert np.diff(axes.xaxis.get_minor_locator()())[0] == pytest.approx(0.04)
    assert np.diff(axes.xaxis.get_major_locator()())[0] == pytest.approx(0.2)
    assert np.diff(axes.yaxis.get_minor_locator()())[0] == pytest.approx(0.1)
    assert np.diff(axes.yaxis.get_major_locator()())[0] == pytest.approx(0.5)
    # 25 mm per second and 10 mm per mV on the rendered figure (1 inch = 25.4 mm at the figure's dpi).
    figure.canvas.draw()
    to_pixels = axes.transData.transform
    pixels_per_mm = figure.dpi / 25.4
    (x0, y0), (x1, y1) = to_pixels([(0.0, -3.0), (1.0, -2.0)])
    assert (x1 - x0) / pixels_per_mm == pytest.approx(25.0, rel=1e-3)
    assert (y1 - y0) / pixels_per_mm == pytest.approx(10.0, rel=1e-3)


def test_each_lead_shows_its_own_window_of_the_same_ten_seconds():
    rng = np.random.default_rng(0)
    ecg = rng.normal(0, 0.3, (12, 5000))
    order = rng.permutation(12)  # leads passed in another order: placed by name
    figure = plot_ecg_paper(ecg[order], 500, [STANDARD_LEADS[i] for i in order], lead_notes={"V3": "absent"})
    lines = {line.get_label(): line for line in figure.axes[0].lines if not line.get_label().startswith("_")}
    assert len(lines) == 13
    time = np.arange(5000) / 500
    for row, names in enumerate(LAYOUT):
        for column, name in enumerate(names):
            window = (time >= 2.5 * column) & (time < 2.5 * (column + 1))
            np.testing.assert_allclose(lines[name].get_xdata(), time[window])
            expected = row_baseline(row) + ecg[STANDARD_LEADS.index(name)][window]
            np.testing.assert_allclose(lines[name].get_ydata(), expected)
    rhythm = lines["II (rhythm)"]
    np.testing.assert_allclose(rhythm.get_xdata(), time)
    np.testing.assert_allclose(rhythm.get_ydata(), row_baseline(3) + ecg[1])
    texts = {text.get_text() for text in figure.axes[0].texts}
    assert {"V3 (absent)", "V4", "aVR", "25 mm/s  10 mm/mV"} <= texts and "V3" not in texts
    assert lines["V3"].get_color() != lines["V4"].get_color()
