"""Early-curve features on synthetic curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from grokinterp.analysis.early import (
    amplitude_spectrum,
    hjorth,
    oscillation,
    spectral_features,
)
from grokinterp.errors import ConfigError


def test_monotone_curve_has_no_oscillation():
    t = np.arange(300)
    curve = 4.0 * np.exp(-t / 40) + 0.01  # steep, then flat: all its curvature is trend
    assert np.allclose(oscillation(curve), 0.0)
    feats = spectral_features(curve)
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in feats.values())


def test_pure_oscillation_is_found_at_its_frequency():
    n, period = 256, 32  # 0.03125 cycles per update: in the low band
    t = np.arange(n)
    curve = 1.0 + 0.2 * np.sin(2 * np.pi * t / period)
    r = oscillation(curve)
    f, a = amplitude_spectrum(r)
    assert f[np.argmax(a[1:]) + 1] == pytest.approx(1 / period)
    feats = spectral_features(curve)
    # the monotone trend flattens the falling half-waves: harmonics, but most amplitude low
    assert feats["spec_low_amp"] > 2 * feats["spec_high_amp"] > 0
    assert feats["spec_low_frac"] > 0.6


def test_fast_oscillation_lands_in_the_high_band():
    t = np.arange(256)
    curve = 2.0 - t / 256 + 0.05 * np.cos(np.pi * t)  # period 2 on a falling line
    feats = spectral_features(curve)
    assert feats["spec_high_amp"] > feats["spec_low_amp"]
    assert feats["spec_low_frac"] < 0.5


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
