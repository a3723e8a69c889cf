"""Circuit efficiency measures (Varma et al. 2023, arXiv 2309.02390): D_crit from norm tables.

Varma et al. explain grokking by two families of circuits: C_mem, which memorizes and needs
more parameter norm the more training points it must fit, and C_gen, which generalizes and
needs about the same norm whatever the training-set size D. Weight decay favours the
circuit that reaches a given training loss with less norm, so generalization wins above
the critical dataset size D_crit where the two parameter-norm curves cross.

This module reads finished runs (:func:`run_circuit_stats`) and tables of final norms
against D (:func:`crossing_from_table`, :func:`estimate_dcrit`); the runs themselves are
trained by :mod:`grokinterp.experiments.efficiency`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from grokinterp.analysis import fourier, measures
from grokinterp.analysis.groups import task_basis, why_no_basis
from grokinterp.models import answer_forward_chunked
from grokinterp.runs.run import Run


@dataclass(frozen=True)
class Crossing:
    """An estimate of D_crit.

    Args:
        d_crit: the crossing, from the curves averaged over seeds (None if they do not
            cross inside the grid).
        per_seed: the crossing of each seed's curves (None where they do not cross).
        spread: (min, max) of the per-seed crossings that exist.
    """

    d_crit: float | None
    per_seed: list[float | None]
    spread: tuple[float, float] | None


def _crossing(d: np.ndarray, diff: np.ndarray) -> float | None:
    """The last D where ``diff`` (mem - gen) changes sign from < 0 to >= 0, interpolated
    linearly in log D: beyond it memorizing costs more norm at every size of the grid.
    (Below D_crit the true-label networks memorize too, so the two curves overlap and
    their difference changes sign with noise; the last change is the robust one.)"""
    for i in reversed(range(len(d) - 1)):
        if diff[i] < 0 <= diff[i + 1]:
            x0, x1 = math.log(d[i]), math.log(d[i + 1])
            t = -diff[i] / (diff[i + 1] - diff[i])
            return math.exp(x0 + t * (x1 - x0))
    return None  # no crossing inside the grid (e.g. memorization costs more everywhere)


def estimate_dcrit(
    sizes: npt.ArrayLike,
    mem_norms: npt.ArrayLike,
    gen_norms: npt.ArrayLike,
) -> Crossing:
    """Where the memorizing networks' parameter norm overtakes the generalizing ones'.

    Args:
        sizes: the training-set sizes D, ascending (at least two).
        mem_norms: (seeds, sizes): per seed, the parameter norm at the training-loss target of the
            memorization-only network (random labels) at each D.
        gen_norms: per seed, the same for the generalizing network.

    The crossing is the last D where ``mem - gen`` turns non-negative, interpolated linearly
    in log D between the two grid points around it (Varma et al. 2023 plot these curves against D on
    a log axis). Seeds are paired by position.
    """
    d = np.asarray(sizes, dtype=float)
    mem, gen = np.asarray(mem_norms, dtype=float), np.asarray(gen_norms, dtype=float)
    if d.ndim != 1 or len(d) < 2 or not np.all(np.diff(d) > 0) or d[0] <= 0:
        raise ValueError("sizes must be at least two positive, increasing training-set sizes")
    if mem.shape != gen.shape or mem.ndim != 2 or mem.shape[1] != len(d):
        raise ValueError(
            f"mem_norms and gen_norms must both be (seeds, {len(d)}); got "
            f"{mem.shape} and {gen.shape}"
        )
    per_seed = [_crossing(d, m - g) for m, g in zip(mem, gen, strict=True)]
    found = [x for x in per_seed if x is not None]
    return Crossing(
        d_crit=_crossing(d, mem.mean(0) - gen.mean(0)),
        per_seed=per_seed,
        spread=(min(found), max(found)) if found else None,
    )


DRIFT_TAIL = 0.1


def run_circuit_stats(run_dir: Path) -> dict[str, float]:
    """Per finished run: ``norm_drift``, the relative change of the parameter norm over the
    last ``DRIFT_TAIL`` of its logged steps (how far from converged the norm was when read),
    and ``gen_share``, the share of the final logits' norm in the trigonometric subspace of
    the run's own key frequencies (:func:`grokinterp.analysis.measures.trig_logit_share`; Varma et
    al. 2023 call a network generalizing when it is above 95%). ``gen_share`` is NaN for
    tasks with no cyclic structure (a sum or difference in Z_p or Z_p*:
    :mod:`grokinterp.analysis.groups`), for the additive tasks at an even p and for runs
    with no checkpoint; a run with random labels is measured in its inputs' group."""
    out = {"norm_drift": math.nan, "gen_share": math.nan}
    if not (run_dir / "config.json").exists():
        return out
    run = Run(run_dir)
    m = run.metrics
    if len(m) >= 2:
        norms = m["param_norm"].to_numpy()
        start = norms[int(len(norms) * (1 - DRIFT_TAIL))]
        out["norm_drift"] = float((norms[-1] - start) / norms[-1])
    task = run.config.task
    # the basis of the task's inputs, random labels or not: a memorization-only run (random
    # labels) is measured in its inputs' group too, where its low gen_share is the evidence
    # that its circuit is not the Fourier one (Varma et al. 2023's memorizing circuit)
    if not run.steps or why_no_basis(task.name, task.p):
        return out  # no checkpoint, or no cyclic group basis (as in analyze)
    basis = task_basis(task.name, task.p)
    params = run.params(run.steps[-1])
    keys = fourier.key_frequencies(params, basis)
    logits, _ = answer_forward_chunked(
        params, run.dataset.inputs, run.config.model, run.dataset.n_classes
    )
    grid = logits[basis.grid_index(run.dataset.inputs)]  # the group's (n, n, classes) grid
    out["gen_share"] = measures.trig_logit_share(grid, keys, basis.structure).generalizing
    return out


GENERALIZING_SHARE = 0.95  # Varma et al.: a generalizing network has >95% of its logit
# norm in the trigonometric subspace of its key frequencies


def _norm_pivot(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    ok = table[table["reached_target"].astype(bool) & (table["kind"] == kind)]
    return ok.pivot_table(index="seed", columns="D", values="final_param_norm")


def generalizing_norms(table: pd.DataFrame) -> pd.Series:
    """Per seed, the mean parameter norm of its true-label runs that generalized (share of
    the logit norm in the trigonometric subspace >= ``GENERALIZING_SHARE``): the norm of the
    generalizing circuit C_gen, which Varma et al. find independent of D."""
    ok = table[
        table["reached_target"].astype(bool)
        & (table["kind"] == "gen")
        & (table["gen_share"] >= GENERALIZING_SHARE)
    ]
    return ok.groupby("seed")["final_param_norm"].mean()


def crossing_from_table(table: pd.DataFrame) -> Crossing:
    """D_crit from a ``curves.csv`` table, as Varma et al. 2023 define it: where the
    memorization-only networks' norm reaches the generalizing circuit's
    (:func:`generalizing_norms`, a constant in D), per seed and for the seed averages
    (:func:`estimate_dcrit` against a flat curve). Seeds with no generalized run, and sizes
    where some seed's memorization run missed the loss target, are left out."""
    mem, level = _norm_pivot(table, "mem"), generalizing_norms(table)
    flat = pd.DataFrame({d: level for d in mem.columns})  # (seed, D): the level at every D
    return _paired_crossing(mem, flat)


def raw_crossing(table: pd.DataFrame) -> Crossing:
    """Where the random-label and the true-label norm curves cross (:func:`estimate_dcrit`
    on the two curves as measured). Below the smallest D at which the true-label networks
    generalize within the step budget they memorize and the curves coincide, so this marks
    that D: an upper bound on D_crit that moves with the budget (grokking slows down as D
    approaches D_crit from above)."""
    return _paired_crossing(_norm_pivot(table, "mem"), _norm_pivot(table, "gen"))


def _paired_crossing(mem: pd.DataFrame, other: pd.DataFrame) -> Crossing:
    """:func:`estimate_dcrit` on two (seed x D) norm tables: the seeds in both, the sizes
    where every such seed has both values."""
    seeds = [s for s in mem.index if s in other.index]
    cols = [
        d
        for d in sorted(mem.columns)
        if d in other.columns
        and not mem.loc[seeds, d].isna().any()
        and not other.loc[seeds, d].isna().any()
    ]
    if len(cols) < 2 or not seeds:
        return Crossing(None, [], None)
    return estimate_dcrit(cols, mem.loc[seeds, cols].to_numpy(), other.loc[seeds, cols].to_numpy())


def _fmt(c: Crossing) -> str:
    per = [None if x is None else round(x) for x in c.per_seed]
    spread = f"{c.spread[0]:.0f}-{c.spread[1]:.0f}" if c.spread else "none"
    return (
        f"{c.d_crit:.0f}" if c.d_crit else "none inside the grid"
    ) + f" (per seed {per}, spread {spread})"


def crossing_lines(crossing: Crossing, raw: Crossing, level: pd.Series) -> list[str]:
    """The text lines that report both estimates."""
    return [
        f"generalizing circuit's norm (true-label runs with >= {GENERALIZING_SHARE:.0%} of "
        "the logit norm in the trig subspace): "
        + (
            f"{level.mean():.2f} (per seed {[round(float(x), 2) for x in level]})"
            if len(level)
            else "no true-label run reached that share"
        ),
        f"D_crit, where memorization's norm reaches it: {_fmt(crossing)}",
        f"the measured curves cross (true-label runs generalize within the budget above): "
        f"{_fmt(raw)}",
    ]


def near_dcrit(sizes: Sequence[int], *crossings: Crossing) -> list[int]:
    """The grid sizes from two below the lowest of ``crossings`` to two above the highest
    (all sizes when none crossed). Given D_crit and the crossing of the measured curves,
    that is where the circuits compete: memorization no cheaper, generalization not yet
    learned within the budget."""
    found = [c.d_crit for c in crossings if c.d_crit is not None]
    if not found:
        return list(sizes)
    lo, hi = min(found), max(found)
    below = [d for d in sizes if d <= lo][-2:]
    between = [d for d in sizes if lo < d <= hi]
    above = [d for d in sizes if d > hi][:2]
    return below + between + above


def ungrokking_transitions(table: pd.DataFrame) -> dict[float, float | None]:
    """The ungrokking transition D'_t per weight decay (Varma et al. 2023).

    ``table`` has one row per continued run: ``weight_decay``, ``D_prime`` (the smaller
    training-set size) and ``final_test_acc``. D'_t is the geometric mean of the largest D'
    whose final test accuracy is below 50% and the smallest D' at or above it; None when the
    runs do not switch once from below to above along D' (all on one side, or interleaved).
    """
    transitions: dict[float, float | None] = {}
    for wd, t in table.groupby("weight_decay"):
        low = t[t["final_test_acc"] < 0.5]["D_prime"]
        high = t[t["final_test_acc"] >= 0.5]["D_prime"]
        switches = len(low) and len(high) and low.max() < high.min()
        transitions[cast(float, wd)] = math.sqrt(low.max() * high.min()) if switches else None
    return transitions
