"""Early-curve features: what a run's first N updates say about whether it will grok.

Three families, each computed from what a run directory holds at step N, and nothing after:

* **spectral** (:func:`spectral_features`, default ``detrend="none"``): the spectral
  signature of Notsawo, Zhou, Pezeshki, Rish and Dumas 2023 ("Predicting grokking long
  before it happens", arXiv 2306.13253), computed as they define it: on the training loss
  L(t) of each of the first N updates (their first 400 training steps), raw, with nothing
  removed, Hjorth's parameters of the moments ``m_n(L) = ∫ ω^n |F(L)(ω)|² dω`` of its energy
  spectrum; their statistic is the activity ``m_0(L)``, which is ``∫ L(t)² dt`` by Parseval
  (the first author's summary of the paper, Tikquuss/tikquuss.github.io@c8f595f
  _posts/2023-07-25-blog-post-1.md, lines 16-33 and the figure caption at line 41); the
  abstract's "amplitude of low-frequency components" is ``spec_low_amp``.
  ``detrend="isotonic"`` is an alternative of ours, kept under the names ``iso_*``
  (family ``spectral_isotonic``): the same on the loss minus its monotone fit, which is
  exactly zero on every monotone curve (:func:`oscillation`), so it cannot stand in for
  theirs.
* **mechanistic** (:func:`mechanistic_features`): the progress measures of Nanda et al.
  2023 (arXiv 2301.05217) and Varma et al. 2023 (arXiv 2309.02390) at the checkpoint at
  step N, with the key frequencies chosen at that checkpoint (the causal rule of
  :mod:`grokinterp.analysis.keyfreqs`), and the trend of the parameter norm before N.
* **baseline** (:func:`baseline_features`): train / test loss and accuracy at step N.

:func:`early_features` reads them from a run with every quantity that scales with the task's
size or the model's width normalized (our choice, so that one predictor can be applied
across p and widths): losses in units of ``log C`` (C output classes: the loss of the
uniform prediction), so is the curve the spectral features are computed on (within one task
this rescales every run alike: the ordering of runs, hence any AUC within a task, is that
of the raw statistic); the sum of squared weights per parameter (``mean_sq_weight``); the
number of key frequencies as a share of the ``(C - 1) // 2`` there are (``key_freq_share``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression

from grokinterp.analysis.table import _Context, checkpoint_measures, fourier_structure
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs import layout
from grokinterp.runs.run import Run
from grokinterp.tasks.registry import get_task

#: the low-frequency band: periods of at least 10 updates (cycles per update; our edge)
LOW_FREQ = 0.1

Detrend = Literal["none", "isotonic"]
_SPECTRAL_KEYS = [
    "spec_low_amp", "spec_high_amp", "spec_low_frac", "hjorth_activity", "hjorth_mobility",
    "hjorth_complexity",
]  # fmt: skip
#: Notsawo et al.'s signature on the raw curve (the paper's method)
SPECTRAL_FEATURES = list(_SPECTRAL_KEYS)
#: our alternative: the same on the curve minus its isotonic fit (zero on monotone curves)
ISOTONIC_FEATURES = [f"iso_{k}" for k in _SPECTRAL_KEYS]
MECHANISTIC_FEATURES = [
    "gen_share", "gini_embed", "gini_logit", "restricted_loss_rel", "excluded_loss_rel",
    "logit_cube_cos_sim", "frac_clustered", "mean_sq_weight", "norm_trend", "key_freq_share",
]  # fmt: skip
BASELINE_FEATURES = ["train_loss_rel", "train_acc", "test_loss_rel", "test_acc"]
FAMILIES: dict[str, list[str]] = {
    "activity": ["hjorth_activity"],
    "spectral": SPECTRAL_FEATURES,
    "spectral_isotonic": ISOTONIC_FEATURES,
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

    Our alternative to Notsawo et al.'s raw curve (``detrend="isotonic"``), not their
    method: a monotone curve, however steep, gives exactly zero here, and so does every
    statistic of it.
    """
    h = _curve(loss)
    t = np.arange(len(h), dtype=np.float64)
    trend = np.asarray(IsotonicRegression(increasing=False).fit_transform(t, h), np.float64)
    out: np.ndarray = h - trend
    return out


def amplitude_spectrum(signal: Any) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (cycles per update, 0 to 0.5) and amplitudes ``|X_f| / T`` of the real
    discrete Fourier transform of a length-T signal (a sinusoid of amplitude A on a bin
    shows A / 2 there)."""
    x = np.asarray(signal, dtype=np.float64)
    return np.fft.rfftfreq(len(x)), np.abs(np.fft.rfft(x)) / len(x)


def hjorth(x: np.ndarray) -> tuple[float, float, float]:
    """Hjorth's (1970) activity ``var(x)``, mobility ``sqrt(var(x') / var(x))`` and
    complexity ``mobility(x') / mobility(x)`` (x' the first difference); 0 where undefined.
    Used by the isotonic alternative (the moments about the mean)."""
    d1, d2 = np.diff(x), np.diff(x, 2)
    v0, v1, v2 = float(np.var(x)), float(np.var(d1)), float(np.var(d2))
    mob = math.sqrt(v1 / v0) if v0 > 0 else 0.0
    mob1 = math.sqrt(v2 / v1) if v1 > 0 else 0.0
    return v0, mob, (mob1 / mob if mob > 0 else 0.0)


def spectral_moments(x: np.ndarray) -> tuple[float, float, float]:
    """Notsawo et al.'s moments of the energy spectrum of a sampled curve L (one sample per
    update): ``m_0 = Σ_t L_t²`` (= ``(1/T) Σ_k |X_k|²`` over the full DFT, Parseval: their
    ``∫ |F(L)(ω)|² dω = ∫ L(t)² dt``), ``m_2 = Σ_t (ΔL_t)²`` and ``m_4 = Σ_t (Δ²L_t)²``
    (their ``∫ L'(t)² dt`` and ``∫ L''(t)² dt``, with finite differences: ours). About zero,
    not the mean: the curve as it is."""
    return (
        float(np.sum(x * x)),
        float(np.sum(np.diff(x) ** 2)),
        float(np.sum(np.diff(x, 2) ** 2)),
    )


def spectral_features(
    loss: Any, low_freq: float = LOW_FREQ, detrend: Detrend = "none"
) -> dict[str, float]:
    """The spectral signature of an early loss curve.

    ``detrend="none"`` (default): Notsawo et al. 2023's, on the raw curve L (module doc):

    * ``hjorth_activity``: ``m_0 = Σ_t L_t²`` (:func:`spectral_moments`), their statistic;
    * ``hjorth_mobility`` ``sqrt(m_2 / m_0)`` and ``hjorth_complexity`` ``sqrt(m_4 / m_2)``,
      as the summary defines them (0 where undefined);
    * ``spec_low_amp``: the amplitude of the low-frequency components, the sum of
      ``A_f = |X_f| / T`` (:func:`amplitude_spectrum`) over ``0 < f <= low_freq`` (the
      band edge, periods of 10 updates or more, is ours; the mean, f = 0, is left out);
      ``spec_high_amp`` the same over ``f > low_freq``; ``spec_low_frac`` the low band's
      share of the two.

    ``detrend="isotonic"``: our alternative, keys prefixed ``iso_``: the same band
    amplitudes and Hjorth's parameters about the mean (:func:`hjorth`) of
    ``oscillation(L)``, the curve minus its monotone fit: every monotone curve gives 0.
    """
    h = _curve(loss)
    if detrend == "none":
        x, prefix = h, ""
        m0, m2, m4 = spectral_moments(x)
        act = m0
        mob = math.sqrt(m2 / m0) if m0 > 0 else 0.0
        comp = math.sqrt(m4 / m2) if m2 > 0 else 0.0
    elif detrend == "isotonic":
        x, prefix = oscillation(h), "iso_"
        act, mob, comp = hjorth(x)
    else:
        raise ConfigError(f"detrend: 'none' (the paper's) or 'isotonic', got {detrend!r}")
    f, a = amplitude_spectrum(x)
    low = float(a[(f > 0) & (f <= low_freq)].sum())
    high = float(a[f > low_freq].sum())
    out = {
        "spec_low_amp": low,
        "spec_high_amp": high,
        "spec_low_frac": low / (low + high) if low + high > 0 else 0.0,
        "hjorth_activity": act,
        "hjorth_mobility": mob,
        "hjorth_complexity": comp,
    }
    return {prefix + k: v for k, v in out.items()}


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


def chance_loss(run: Run) -> float:
    """``log C``: the cross-entropy of the uniform prediction over the run's C output
    classes, the unit of every loss :func:`early_features` reports."""
    cfg = run.config.task
    c = get_task(cfg.name).n_classes(cfg)
    if c < 2:
        raise ConfigError(f"{run.path}: task {cfg.name!r} has {c} output class; no loss scale")
    return math.log(c)


def baseline_features(run: Run, step: int) -> dict[str, float]:
    """Train / test accuracy logged at ``step``, and train / test loss there in units of
    :func:`chance_loss`."""
    row = _metrics_at(run, step)
    unit = chance_loss(run)
    return {
        "train_loss_rel": float(row["train_loss"]) / unit,
        "train_acc": float(row["train_acc"]),
        "test_loss_rel": float(row["test_loss"]) / unit,
        "test_acc": float(row["test_acc"]),
    }


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
    no frequency carries the output yet), plus :func:`norm_trend`. Normalized (module doc):
    restricted / excluded loss in units of :func:`chance_loss`, the sum of squared weights
    per parameter, the key frequencies as a share of the ``(C - 1) // 2`` nonzero ones. The
    Fourier measures are NaN where they do not apply (a task without cyclic structure)."""
    if step not in run.steps:
        raise RunDirError(
            f"{run.path}: no checkpoint at step {step}, which the progress measures need; "
            f"checkpoints: {run.steps[:8]}{'...' if len(run.steps) > 8 else ''}; use the "
            f"step of one of them"
        )
    ctx = _Context(run, None, device)
    out = {k: math.nan for k in MECHANISTIC_FEATURES}
    unit = chance_loss(run)
    if ctx.structure is not None:
        n_freqs = (round(math.exp(unit)) - 1) // 2
        out["key_freq_share"] = len(ctx.choose_key_freqs(step).key_freqs) / max(n_freqs, 1)
    row = checkpoint_measures(ctx, step)
    for k in ("gen_share", "gini_embed", "gini_logit", "logit_cube_cos_sim", "frac_clustered"):
        if k in row:
            out[k] = float(row[k])
    for k in ("restricted_loss", "excluded_loss"):
        if k in row:
            out[f"{k}_rel"] = float(row[k]) / unit
    if "sum_sq_weights" in row:
        n_params = sum(int(v.numel()) for v in run.params(step).values())
        out["mean_sq_weight"] = float(row["sum_sq_weights"]) / n_params
    out["norm_trend"] = norm_trend(run, step)
    return out


def early_features(run_dir: str | Path, n: int, device: str = "cpu") -> dict[str, float]:
    """Every early feature of a run at step ``n``: the spectral signature of its first
    ``n`` losses in units of :func:`chance_loss` (the paper's, and ``iso_*``, our
    alternative), the mechanistic and the baseline features."""
    run = Run(run_dir)
    curve = early_loss(run.path, n) / chance_loss(run)
    feats = spectral_features(curve)
    feats.update(spectral_features(curve, detrend="isotonic"))
    feats.update(mechanistic_features(run, n, device))
    feats.update(baseline_features(run, n))
    return feats


__all__ = [
    "FAMILIES",
    "amplitude_spectrum",
    "baseline_features",
    "chance_loss",
    "early_features",
    "early_loss",
    "fourier_structure",
    "hjorth",
    "mechanistic_features",
    "oscillation",
    "spectral_features",
    "spectral_moments",
]
