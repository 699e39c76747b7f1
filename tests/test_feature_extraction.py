"""The feature extractor turns real-world recordings into (batch, 12, 5000) float32, or says clearly why it cannot."""

import numpy as np
import pytest
import torch

from modeling_dbeta import STANDARD_LEADS, DBetaFeatureExtractor, canonical_lead_name


@pytest.fixture
def extractor():
    return DBetaFeatureExtractor()


def sine_leads(num_samples, rate, num_leads=12):
    """Lead k is a 1 Hz sine of amplitude k + 1, so reordering and resampling can be checked by value."""
    t = np.arange(num_samples) / rate
    return np.stack([(k + 1) * np.sin(2 * np.pi * t) for k in range(num_leads)])


def test_standard_input_passes_through(extractor):
    signal = sine_leads(5000, 500)
    out = extractor(signal, sampling_rate=500, return_tensors="pt").ecg_values
    assert out.shape == (1, 12, 5000) and out.dtype == torch.float32
    np.testing.assert_allclose(out[0].numpy(), signal, atol=1e-6)


def test_samples_first_layout_is_transposed(extractor):
    signal = sine_leads(5000, 500)
    np.testing.assert_allclose(extractor(signal.T, sampling_rate=500).ecg_values[0], signal, atol=1e-6)


def test_leads_are_reordered_by_name(extractor):
    # MIMIC-IV-ECG stores aVF before aVL; CODE names the limb leads DI, DII, DIII and capitalises aV*.
    mimic_order = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
    signal = sine_leads(5000, 500)
    out = extractor(signal, sampling_rate=500, lead_names=mimic_order).ecg_values[0]
    assert np.allclose(out[STANDARD_LEADS.index("aVF")], signal[4])
    assert np.allclose(out[STANDARD_LEADS.index("aVL")], signal[5])
    code_names = ["DI", "DII", "DIII", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    out = extractor(signal, sampling_rate=500, lead_names=code_names).ecg_values[0]
    np.testing.assert_allclose(out, signal, atol=1e-6)
    assert canonical_lead_name("Lead aVL") == "aVL" and canonical_lead_name("vx") is None


def test_wrong_lead_names_raise(extractor):
    signal = sine_leads(5000, 500)
    with pytest.raises(ValueError, match=r"Unknown lead name\(s\) \['X1'\]"):
        extractor(signal, sampling_rate=500, lead_names=["X1", *STANDARD_LEADS[1:]])
    with pytest.raises(ValueError, match="same lead twice"):
        extractor(signal, sampling_rate=500, lead_names=["I", "I", *STANDARD_LEADS[2:]])
    with pytest.raises(ValueError, match="no axis of 3 leads"):
        extractor(signal, sampling_rate=500, lead_names=["I", "II", "III"])


def test_subset_of_leads_zero_fills_the_rest(extractor):
    signal = sine_leads(5000, 500, num_leads=3)
    out = extractor(signal, sampling_rate=500, lead_names=["I", "II", "V2"], return_lead_mask=True)
    values, present = out.ecg_values[0], out.lead_mask[0]
    assert present.tolist() == [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    np.testing.assert_allclose(values[7], signal[2], atol=1e-6)
    assert not values[present == 0].any()


def test_one_dimensional_input(extractor):
    lead = sine_leads(5000, 500, num_leads=1)[0]
    with pytest.raises(ValueError, match="1-D signal"):
        extractor(lead, sampling_rate=500)
    out = extractor(lead, sampling_rate=500, lead_names=["II"]).ecg_values[0]
    np.testing.assert_allclose(out[1], lead, atol=1e-6)
    assert not np.delete(out, 1, axis=0).any()


def test_nan_and_inf_are_interpolated_or_zeroed(extractor):
    signal = sine_leads(5000, 500)
    broken = signal.copy()
    broken[0, 1000:1010] = np.nan
    broken[1, 2000] = np.inf
    broken[2, :] = np.nan  # a lead with no data at all
    out = extractor(broken, sampling_rate=500, return_lead_mask=True)
    values = out.ecg_values[0]
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values[0, 1000:1010], signal[0, 1000:1010], atol=0.02)  # linear over a short gap
    assert not values[2].any() and out.lead_mask[0, 2] == 0


def test_two_seconds_at_250_hz_is_resampled_and_padded(extractor):
    signal = sine_leads(500, 250)
    values = extractor(signal, sampling_rate=250).ecg_values[0]
    assert values.shape == (12, 5000)
    t = np.arange(1000) / 500
    np.testing.assert_allclose(values[3, 100:900], 4 * np.sin(2 * np.pi * t[100:900]), atol=0.02)
    assert not values[:, 1000:].any()


def test_sixty_seconds_at_1000_hz_is_resampled_and_cropped(extractor):
    signal = sine_leads(60_000, 1000)
    values = extractor(signal, sampling_rate=1000).ecg_values[0]
    t = np.arange(5000) / 500
    np.testing.assert_allclose(values[11, 100:], 12 * np.sin(2 * np.pi * t[100:]), atol=0.02)
    centred = DBetaFeatureExtractor(crop="center")(signal, sampling_rate=1000).ecg_values[0]
    np.testing.assert_allclose(centred[0, 100:-100], np.sin(2 * np.pi * (t[100:-100] + 25.0)), atol=0.02)


def test_code_test_rate_and_length(extractor):
    # CODE-test: 4096 samples at 400 Hz (10.24 s) -> 5120 samples at 500 Hz, the first 5000 kept.
    signal = sine_leads(4096, 400)
    values = extractor(signal.T, sampling_rate=400).ecg_values[0]
    np.testing.assert_allclose(values[0, 50:-50], np.sin(2 * np.pi * np.arange(5000) / 500)[50:-50], atol=0.02)


def test_impossible_input_raises(extractor):
    with pytest.raises(ValueError, match="at least 1 s"):
        extractor(sine_leads(200, 500), sampling_rate=500)
    with pytest.raises(ValueError, match="Sampling rate"):
        extractor(sine_leads(5000, 500), sampling_rate=0)
    with pytest.raises(ValueError, match="Sampling rate"):
        extractor(sine_leads(5000, 500), sampling_rate=float("nan"))
    with pytest.raises(ValueError, match="1, 2 or 3 dimensions"):
        extractor(np.zeros((2, 12, 5000, 1)), sampling_rate=500)


def test_batches_with_mixed_rates_and_lengths(extractor):
    recordings = [sine_leads(5000, 500), sine_leads(4096, 400).T, sine_leads(2500, 250)]
    out = extractor(recordings, sampling_rate=[500, 400, 250], return_tensors="np").ecg_values
    assert out.shape == (3, 12, 5000) and out.dtype == np.float32
    batch = np.stack([sine_leads(5000, 500)] * 2)
    assert extractor(batch, sampling_rate=500).ecg_values.shape == (2, 12, 5000)
    with pytest.raises(ValueError, match="3 sampling rates for 2 recordings"):
        extractor(list(batch), sampling_rate=[500, 500, 500])


def test_normalisation_is_optional(extractor):
    signal = sine_leads(5000, 500) + 3.0
    assert abs(extractor(signal, sampling_rate=500).ecg_values.mean() - 3.0) < 1e-3
    normalised = DBetaFeatureExtractor(do_normalize=True)(signal, sampling_rate=500).ecg_values[0]
    np.testing.assert_allclose(normalised.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(axis=1), 1, atol=1e-3)


def test_save_and_load(tmp_path):
    extractor = DBetaFeatureExtractor(crop="center", do_normalize=True)
    extractor.save_pretrained(tmp_path)
    reloaded = DBetaFeatureExtractor.from_pretrained(tmp_path)
    assert reloaded.crop == "center" and reloaded.do_normalize and reloaded.num_samples == 5000
