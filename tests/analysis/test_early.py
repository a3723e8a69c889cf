"""Early-curve features on synthetic curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.analysis.early import (
    LOW_FREQ,
    amplitude_spectrum,
    hjorth,
    oscillation,
    spectral_features,
    spectral_moments,
)
from grokinterp.errors import ConfigError


def test_monotone_curve_vanishes_only_under_the_isotonic_alternative():
    t = np.arange(300)
    curve = 4.0 * np.exp(-t / 40) + 0.01  # steep, then flat: all its curvature is trend
    assert np.allclose(oscillation(curve), 0.0)
    iso = spectral_features(curve, detrend="isotonic")
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in iso.values())
    # the paper's statistic is computed on the curve as it is: its energy, not zero
    paper = spectral_features(curve)
    assert paper["hjorth_activity"] == pytest.approx(float(np.sum(curve**2)))
    assert paper["hjorth_activity"] > 1.0 and paper["spec_low_amp"] > 0.0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(16, 300),
    st.floats(0.01, 10.0),
    st.floats(-3.0, 3.0),
    st.floats(0.0, 2.0),
    st.floats(0.0, 2 * np.pi),
)
def test_activity_is_the_energy_of_the_spectrum(n, scale, level, amp, phase):
    """Parseval: m_0 = sum_t L_t^2 = (1/T) sum_k |X_k|^2 over the full DFT, any curve."""
    t = np.arange(n)
    curve = level + scale * np.exp(-t / (n / 5)) + amp * np.sin(0.3 * t + phase)
    m0, m2, m4 = spectral_moments(curve)
    assert m0 == pytest.approx(float(np.sum(np.abs(np.fft.fft(curve)) ** 2)) / n, rel=1e-9)
    feats = spectral_features(curve)
    assert feats["hjorth_activity"] == pytest.approx(m0, rel=1e-12)
    assert feats["hjorth_mobility"] == pytest.approx(np.sqrt(m2 / m0), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.floats(0.01, 1.0), st.floats(0.0, 2 * np.pi))
def test_a_sinusoid_on_a_decay_is_recovered_at_its_frequency(k, amp, phase):
    """L = trend + A sin(2 pi k t / T + phase), k whole cycles: by linearity the DFT of L
    minus that of the trend is the sinusoid's, A / 2 at bin k and nothing elsewhere; the
    activity gains exactly T A^2 / 2 plus the cross term 2 <trend, sinusoid>."""
    n = 400
    t = np.arange(n)
    trend = 2.0 * np.exp(-t / 60) + 0.1
    wave = amp * np.sin(2 * np.pi * k * t / n + phase)
    f, a_all = amplitude_spectrum(trend + wave)
    diff = np.abs(np.fft.rfft(trend + wave) - np.fft.rfft(trend)) / n
    assert diff[k] == pytest.approx(amp / 2, rel=1e-9)
    assert np.delete(diff, k).max() < 1e-9
    with_wave = spectral_features(trend + wave)["hjorth_activity"]
    alone = spectral_features(trend)["hjorth_activity"]
    expected = alone + n * amp**2 / 2 + 2 * float(trend @ wave)
    assert with_wave == pytest.approx(expected, rel=1e-9)
    assert f[k] == pytest.approx(k / n)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 199), st.floats(0.01, 1.0), st.floats(-2.0, 2.0))
def test_band_amplitudes_of_a_sinusoid_on_a_constant(k, amp, level):
    """A constant (f = 0, left out) plus a whole-cycle sinusoid: its amplitude A / 2 lands
    in the low band when k / T <= 0.1, else in the high band."""
    n = 400
    t = np.arange(n)
    feats = spectral_features(level + amp * np.cos(2 * np.pi * k * t / n))
    low, high = ("spec_low_amp", "spec_high_amp") if k / n <= LOW_FREQ else (
        "spec_high_amp", "spec_low_amp")  # fmt: skip
    assert feats[low] == pytest.approx(amp / 2, rel=1e-6)
    assert feats[high] == pytest.approx(0.0, abs=1e-9)
    assert feats["hjorth_activity"] == pytest.approx(n * (level**2 + amp**2 / 2), rel=1e-9)


def test_pure_oscillation_is_found_at_its_frequency_by_the_isotonic_alternative():
    n, period = 256, 32  # 0.03125 cycles per update: in the low band
    t = np.arange(n)
    curve = 1.0 + 0.2 * np.sin(2 * np.pi * t / period)
    r = oscillation(curve)
    f, a = amplitude_spectrum(r)
    assert f[np.argmax(a[1:]) + 1] == pytest.approx(1 / period)
    feats = spectral_features(curve, detrend="isotonic")
    # the monotone trend flattens the falling half-waves: harmonics, but most amplitude low
    assert feats["iso_spec_low_amp"] > 2 * feats["iso_spec_high_amp"] > 0
    assert feats["iso_spec_low_frac"] > 0.6


def test_fast_oscillation_lands_in_the_high_band():
    t = np.arange(256)
    curve = 2.0 - t / 256 + 0.05 * np.cos(np.pi * t)  # period 2 on a falling line
    feats = spectral_features(curve, detrend="isotonic")
    assert feats["iso_spec_high_amp"] > feats["iso_spec_low_amp"]
    assert feats["iso_spec_low_frac"] < 0.5


def test_amplitude_of_a_sinusoid():
    t = np.arange(200)
    f, a = amplitude_spectrum(0.3 * np.cos(2 * np.pi * 10 * t / 200))
    assert a[10] == pytest.approx(0.15)  # half the amplitude in the positive bin
    assert np.delete(a, 10).max() < 1e-12


def test_hjorth_parameters_of_a_sinusoid():
    t = np.arange(4000)
    w = 2 * np.pi / 50
    act, mob, comp = hjorth(np.sin(w * t))
    assert act == pytest.approx(0.5, rel=1e-3)
    assert mob == pytest.approx(2 * np.sin(w / 2), rel=1e-3)  # the difference's gain
    assert comp == pytest.approx(1.0, rel=1e-2)


def test_bad_curves_are_refused():
    with pytest.raises(ConfigError, match="at least 4"):
        spectral_features([1.0, 0.5])
    with pytest.raises(ConfigError, match="non-finite"):
        spectral_features([1.0, 0.5, float("nan"), 0.1, 0.1])
    with pytest.raises(ConfigError, match="detrend"):
        spectral_features([1.0, 0.5, 0.2, 0.1], detrend="linear")  # type: ignore[arg-type]
