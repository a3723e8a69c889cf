"""Early-curve features: what a run's first N updates say about whether it will grok.

Three families, each computed from what a run directory holds at step N, and nothing after:

* **spectral** (:func:`spectral_features`): the signature of Notsawo, Zhou, Pezeshki, Rish
  and Dumas 2023 ("Predicting grokking long before it happens", arXiv 2306.13253). They
  observe that runs which grok later show oscillations of the training loss in their first
  epochs, and detect them with the Fourier transform of the early training-loss curve,
  quantifying the amplitude of its low-frequency components (their summary statistic is
  the Hjorth activity, i.e. the variance, of the signal). The curve here is the loss of
  every update (``early_loss.safetensors``); see :func:`oscillation` for the trend removal
  and :func:`spectral_features` for the statistics, and where they are our choices.
* **mechanistic** (:func:`mechanistic_features`): the progress measures of Nanda et al.
  2023 (arXiv 2301.05217) and Varma et al. 2023 (arXiv 2309.02390) at the checkpoint at
  step N, with the key frequencies chosen at that checkpoint (the causal rule of
  :mod:`grokinterp.analysis.keyfreqs`), and the trend of the parameter norm before N.
* **baseline** (:func:`baseline_features`): train / test loss and accuracy at step N.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from grokinterp.analysis.table import _Context, checkpoint_measures, fourier_structure
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs import layout
from grokinterp.runs.run import Run

#: the low-frequency band: periods of at least 10 updates (cycles per update)
LOW_FREQ = 0.1

SPECTRAL_FEATURES = [
    "spec_low_amp", "spec_high_amp", "spec_low_frac", "hjorth_activity",
    "hjorth_mobility", "hjorth_complexity", "spec_low_amp_log", "hjorth_activity_log",
]  # fmt: skip
MECHANISTIC_FEATURES = [
    "gen_share", "gini_embed", "gini_logit", "restricted_loss", "excluded_loss",
    "logit_cube_cos_sim", "frac_clustered", "sum_sq_weights", "norm_trend", "n_key_freqs",
]  # fmt: skip
BASELINE_FEATURES = ["train_loss", "train_acc", "test_loss", "test_acc"]
FAMILIES: dict[str, list[str]] = {
    "spectral": SPECTRAL_FEATURES,
    "mechanistic": MECHANISTIC_FEATURES,
    "baseline": BASELINE_FEATURES,
    "all": SPECTRAL_FEATURES + MECHANISTIC_FEATURES + BASELINE_FEATURES,
}


def _curve(loss: Any) -> np.ndarray:
    x = np.asarray(loss, dtype=np.float64).reshape(-1)
    if len(x) < 4:
        raise ConfigError(f"an early loss curve needs at least 4 points, got {len(x)}")
    if not np.isfinite(x).all():
        raise ConfigError("the early loss curve has non-finite values (the run diverged)")
    return x


def oscillation(loss: Any) -> np.ndarray:
    """The loss curve minus its slow trend: ``h_t - m_t``, where ``m`` is the least-squares
    non-increasing fit of ``h`` (isotonic regression, scikit-learn).

    Notsawo et al. look for oscillations on top of a decreasing curve; a monotone curve,
    however steep, has no oscillation, and here gives exactly zero (a linear detrend would
    leave the curvature of an exponential decay, all of it at low frequency). The choice of
    the monotone fit as the trend is ours.
    """
    h = _curve(loss)
    t = np.arange(len(h), dtype=np.float64)
    trend = np.asarray(IsotonicRegression(increasing=False).fit_transform(t, h), np.float64)
    out: np.ndarray = h - trend
    return out


def amplitude_spectrum(signal: Any) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (cycles per update, 0 to 0.5) and amplitudes ``|X_f| / T`` of the real
    discrete Fourier transform of a length-T signal."""
    x = np.asarray(signal, dtype=np.float64)
    return np.fft.rfftfreq(len(x)), np.abs(np.fft.rfft(x)) / len(x)


def hjorth(x: np.ndarray) -> tuple[float, float, float]:
    """Hjorth's (1970) activity ``var(x)``, mobility ``sqrt(var(x') / var(x))`` and
    complexity ``mobility(x') / mobility(x)`` (x' the first difference); 0 where undefined."""
    d1, d2 = np.diff(x), np.diff(x, 2)
    v0, v1, v2 = float(np.var(x)), float(np.var(d1)), float(np.var(d2))
    mob = math.sqrt(v1 / v0) if v0 > 0 else 0.0
    mob1 = math.sqrt(v2 / v1) if v1 > 0 else 0.0
    return v0, mob, (mob1 / mob if mob > 0 else 0.0)


def spectral_features(loss: Any, low_freq: float = LOW_FREQ) -> dict[str, float]:
    """The spectral signature of an early loss curve (Notsawo et al. 2023).

    With ``r = oscillation(h)`` (the curve minus its monotone trend) and ``A_f`` its
    amplitude spectrum (:func:`amplitude_spectrum`):

    * ``spec_low_amp``: sum of ``A_f`` over ``0 < f <= low_freq`` (the paper's amplitude of
      the low-frequency components; the band edge, periods of 10 updates or more, is ours);
    * ``spec_high_amp``: the same over ``f > low_freq``; ``spec_low_frac`` the low band's
      share of the two;
    * ``hjorth_activity``, ``hjorth_mobility``, ``hjorth_complexity``: Hjorth's parameters
      of ``r`` (the activity, ``var(r)``, is the paper's statistic; it equals the total
      spectral energy of r by Parseval);
    * ``spec_low_amp_log``, ``hjorth_activity_log``: the same on ``log h`` (our variant:
      oscillations of a loss already near 0 are invisible on the linear scale).

    A monotone curve gives 0 for all of them; a pure oscillation puts its amplitude at its
    frequency (tests/analysis/test_early.py).
    """
    h = _curve(loss)
    out: dict[str, float] = {}
    for suffix, x in (("", h), ("_log", np.log(np.maximum(h, 1e-300)))):
        r = oscillation(x)
        f, a = amplitude_spectrum(r)
        low = float(a[(f > 0) & (f <= low_freq)].sum())
        act, mob, comp = hjorth(r)
        out[f"spec_low_amp{suffix}"] = low
        out[f"hjorth_activity{suffix}"] = act
        if not suffix:
            high = float(a[f > low_freq].sum())
            out["spec_high_amp"] = high
            out["spec_low_frac"] = low / (low + high) if low + high > 0 else 0.0
            out["hjorth_mobility"], out["hjorth_complexity"] = mob, comp
    return out


def early_loss(run_dir: str | Path, n: int) -> np.ndarray:
    """The training loss of the run's first ``n`` updates; one-line errors when the run has
    none or fewer than ``n``."""
    run_dir = Path(run_dir)
    loss = layout.read_early_loss(run_dir).numpy()
    if n < 4:
        raise ConfigError(f"N (--steps) must be at least 4 updates, got {n}")
    if len(loss) < n:
        raise ConfigError(
            f"{run_dir}: has the training loss of {len(loss)} updates, fewer than N = {n}; "
            f"train it to step {n} (with schedule.early_loss_steps >= {n}) or give N <= "
            f"{len(loss)}"
        )
    return loss[:n]


def _metrics_at(run: Run, step: int) -> dict[str, Any]:
    m = run.metrics
    if not len(m) or not (m["step"] == step).any():
        raise RunDirError(f"{run.path}: metrics.jsonl has no line at step {step}")
    return dict(m[m["step"] == step].iloc[-1])


def baseline_features(run: Run, step: int) -> dict[str, float]:
    """Train / test loss and accuracy logged at ``step``."""
    row = _metrics_at(run, step)
    return {k: float(row[k]) for k in BASELINE_FEATURES}


def norm_trend(run: Run, step: int) -> float:
    """Slope of log(parameter norm) per 100 updates, least squares over the logged steps in
    [step / 2, step]: positive while weights grow, negative once weight decay wins."""
    m = run.metrics
    w = m[(m["step"] >= step / 2) & (m["step"] <= step)]
    if len(w) < 2:
        return 0.0
    slope = np.polyfit(w["step"].to_numpy(float), np.log(w["param_norm"].to_numpy(float)), 1)[0]
    return float(slope * 100)


def mechanistic_features(run: Run, step: int, device: str = "cpu") -> dict[str, float]:
    """Progress measures at the checkpoint at ``step`` (:func:`checkpoint_measures`), with
    key frequencies chosen there by the causal rule (falling back to the embed rule when
    no frequency carries the output yet), plus :func:`norm_trend` and the number of key
    frequencies. The Fourier measures are NaN where they do not apply (a task without
    cyclic structure)."""
    if step not in run.steps:
        raise RunDirError(
            f"{run.path}: no checkpoint at step {step}, which the progress measures need; "
            f"checkpoints: {run.steps[:8]}{'...' if len(run.steps) > 8 else ''}; use the "
            f"step of one of them"
        )
    ctx = _Context(run, None, device)
    out = {k: math.nan for k in MECHANISTIC_FEATURES}
    if ctx.structure is not None:
        out["n_key_freqs"] = float(len(ctx.choose_key_freqs(step).key_freqs))
    row = checkpoint_measures(ctx, step)
    for k in MECHANISTIC_FEATURES:
        if k in row:
            out[k] = float(row[k])
    out["norm_trend"] = norm_trend(run, step)
    return out


def early_features(run_dir: str | Path, n: int, device: str = "cpu") -> dict[str, float]:
    """Every early feature of a run at step ``n`` (the three families)."""
    run = Run(run_dir)
    feats = spectral_features(early_loss(run.path, n))
    feats.update(mechanistic_features(run, n, device))
    feats.update(baseline_features(run, n))
    return feats


__all__ = [
    "FAMILIES",
    "amplitude_spectrum",
    "baseline_features",
    "early_features",
    "early_loss",
    "fourier_structure",
    "hjorth",
    "mechanistic_features",
    "oscillation",
    "spectral_features",
]
