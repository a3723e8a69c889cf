"""Phase boundaries of a grokking run, from its per-checkpoint measures.

Nanda et al. 2023 (arXiv 2301.05217, section 5) split training into memorization (train
loss falls, test loss rises), circuit formation (the Fourier circuit forms: restricted loss
falls, excluded loss rises, test loss stays high) and cleanup (weight decay removes the
memorizing components: test loss falls sharply, then plateaus). Their boundaries for the
main run were read off the plots (1.4k, 9.4k, 14k steps); we need a rule that works for any
run, so we use the shape of the test loss, in log space, which every task has:

* ``peak`` = the step of the highest test loss;
* the *fall* of log test loss from its peak value ``L_max`` to its final value ``L_end``;
* **memorization_end** = ``peak`` (test loss has stopped rising: what the network gets
  from memorizing is complete);
* **circuit_formation_end** = first step after the peak where log test loss has fallen
  ``start_frac`` (default 10%) of the way from ``L_max`` to ``L_end`` (cleanup starts:
  the sharp fall begins);
* **cleanup_end** = first step after that where it has fallen ``end_frac`` (default 90%)
  of the way;
* **grokking_step** = first step with test accuracy >= 99% (also reported as
  ``test_99_step``, with ``train_99_step``).

A boundary is None when the run does not show it (no fall of test loss: it never grokked,
so circuit formation and cleanup never ended). The fractions are arguments for users who
want a different convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _first_step(steps: np.ndarray, cond: np.ndarray) -> int | None:
    idx = np.flatnonzero(cond)
    return int(steps[idx[0]]) if len(idx) else None


def phase_boundaries(
    table: pd.DataFrame,
    start_frac: float = 0.1,
    end_frac: float = 0.9,
    min_fall: float = 1.0,
) -> dict[str, Any]:
    """Phase boundaries and landmarks from a measures table (see the module docstring).

    Args:
        table: one row per checkpoint with ``step``, ``test_loss``; ``train_acc`` and
            ``test_acc`` for the landmarks (optional).
        start_frac, end_frac: fractions of the fall of log test loss that mark the start
            and the end of cleanup.
        min_fall: the fall of natural-log test loss (``L_max - L_end``) below which the run
            is considered not to generalize (no circuit-formation or cleanup boundary).

    Returns:
        ``{"memorization_end", "circuit_formation_end", "cleanup_end", "grokking_step",
        "train_99_step", "test_99_step"}``, steps or None.
    """
    if not 0 < start_frac < end_frac < 1:
        raise ValueError(f"need 0 < start_frac < end_frac < 1, got {start_frac}, {end_frac}")
    t = table.sort_values("step")
    steps = t["step"].to_numpy()
    out: dict[str, Any] = {
        "memorization_end": None,
        "circuit_formation_end": None,
        "cleanup_end": None,
    }
    for name, col in (("train_99_step", "train_acc"), ("test_99_step", "test_acc")):
        out[name] = _first_step(steps, t[col].to_numpy() >= 0.99) if col in t else None
    out["grokking_step"] = out["test_99_step"]
    if "test_loss" not in t or len(t) < 3:
        return out
    log_loss = np.log(np.maximum(t["test_loss"].to_numpy(dtype=float), 1e-300))
    i_peak = int(np.argmax(log_loss))
    out["memorization_end"] = int(steps[i_peak])
    l_max, l_end = log_loss[i_peak], log_loss[-1]
    if l_max - l_end < min_fall:
        return out
    after = np.arange(len(steps)) > i_peak
    fallen = (l_max - log_loss) / (l_max - l_end)
    out["circuit_formation_end"] = _first_step(steps, after & (fallen >= start_frac))
    cf = out["circuit_formation_end"]
    if cf is not None:
        out["cleanup_end"] = _first_step(steps, (steps > cf) & (fallen >= end_frac))
    return out


#: the label of a run whose budget cannot decide it (:func:`liu_phase`, :func:`plateau_class`)
UNDECIDED = "undecided"


def liu_phase(metrics: pd.DataFrame, threshold: float = 0.9, window: int = 1000) -> str:
    """The phase of a run in the sense of Liu et al. 2022 (arXiv 2205.10343).

    Within the run's step budget (its logged metrics): ``comprehension`` if train and test
    accuracy both reach ``threshold`` and test does so within ``window`` steps of train;
    ``grokking`` if both reach it but test later; ``memorization`` if only train does;
    ``confusion`` if train does not (their phase diagrams use 90% and 10^3 steps).

    ``undecided`` where the budget is too short for the rule to tell: train accuracy
    reached the threshold but the run ended less than ``window`` steps later without test
    accuracy reaching it (it may still, within the window: comprehension), or train never
    reached it in a budget shorter than ``window`` steps.
    """
    t = metrics.sort_values("step")
    steps = t["step"].to_numpy()
    train = _first_step(steps, t["train_acc"].to_numpy() >= threshold)
    test = _first_step(steps, t["test_acc"].to_numpy() >= threshold)
    last = int(steps[-1]) if len(steps) else 0
    if train is None:
        return "confusion" if len(steps) and last - int(steps[0]) >= window else UNDECIDED
    if test is None:
        return "memorization" if last - train >= window else UNDECIDED
    return "comprehension" if test - train <= window else "grokking"


def still_rising(
    steps: np.ndarray, acc: np.ndarray, window: float = 0.2, horizon: float = 0.5
) -> float:
    """How much more accuracy the end of a run is heading for: the slope of a least-squares
    line through the last ``window`` fraction of the points (at least 3), times ``horizon``
    times the run's length in steps (the rise if training went on for that fraction of
    its budget again at the final rate). A fifth of the points keeps the evaluation noise
    of a flat plateau well below a rise."""
    n_fit = min(len(steps), max(3, int(round(len(steps) * window))))
    if n_fit < 2 or steps[-1] <= steps[0]:
        return 0.0
    x = steps[-n_fit:].astype(float)
    y = acc[-n_fit:].astype(float)
    if x[-1] <= x[0]:
        return 0.0
    slope = float(np.polyfit(x, y, 1)[0])
    return slope * horizon * float(steps[-1] - steps[0])


def plateau_class(
    metrics: pd.DataFrame,
    grok_acc: float = 0.95,
    semi_acc: float = 0.2,
    tail: float = 0.1,
    flat_tol: float = 0.05,
    horizon: float = 0.5,
) -> str:
    """Classify a run by its final test-accuracy plateau (semi-grokking, Varma et al. 2023).

    The plateau is the mean test accuracy over the last ``tail`` fraction of the logged
    steps. ``unfitted``: train accuracy never reaches 99%. ``grokked``: plateau >=
    ``grok_acc``. ``undecided``: below that, and the budget cannot tell a plateau yet:
    test accuracy is still rising at the end (at its final rate, :func:`still_rising`,
    another ``horizon`` of the budget would add more than ``flat_tol``), or train accuracy
    reached 99% only within the tail. ``semi-grokked``: a flat, middling plateau (>=
    ``semi_acc``) reached with a delay: test accuracy first reaches half the plateau after
    train accuracy reached 99%. ``memorized``: the rest. Varma et al. observe semi-grokking
    for training sets near D_crit, where neither circuit is clearly more efficient.
    """
    t = metrics.sort_values("step")
    n_tail = max(1, int(round(len(t) * tail)))
    steps = t["step"].to_numpy()
    acc = t["test_acc"].to_numpy()
    plateau = float(acc[-n_tail:].mean())
    fit = t.loc[t["train_acc"] >= 0.99, "step"]
    if fit.empty:
        return "unfitted"
    if plateau >= grok_acc:
        return "grokked"
    if still_rising(steps, acc, horizon=horizon) > flat_tol or fit.iloc[0] > steps[-n_tail]:
        return UNDECIDED
    rise = t.loc[t["test_acc"] >= plateau / 2, "step"]
    if plateau >= semi_acc and not rise.empty and rise.iloc[0] > fit.iloc[0]:
        return "semi-grokked"
    return "memorized"
