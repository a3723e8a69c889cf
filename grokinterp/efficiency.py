"""Circuit efficiency (Varma et al. 2023, arXiv 2309.02390): the critical dataset size.

Varma et al. explain grokking by two families of circuits: C_mem, which memorizes and needs
more parameter norm the more training points it must fit, and C_gen, which generalizes and
needs about the same norm whatever the training-set size D. Weight decay favours the
circuit that reaches a given training loss with less norm, so generalization wins above
the critical dataset size D_crit where the two parameter-norm curves cross.

This module holds the estimate of that crossing; the experiment that produces the curves
(memorization-only networks with random labels and generalizing networks, trained to the
same training-loss target over a geometric grid of D) is run with ``grokinterp sweep``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
    """First D where ``diff`` (mem - gen) changes sign from < 0 to >= 0, interpolated
    linearly in log D."""
    for i in range(len(d) - 1):
        if diff[i] < 0 <= diff[i + 1]:
            x0, x1 = math.log(d[i]), math.log(d[i + 1])
            t = -diff[i] / (diff[i + 1] - diff[i])
            return math.exp(x0 + t * (x1 - x0))
    return None  # no crossing inside the grid (e.g. memorization costs more everywhere)


def estimate_dcrit(
    sizes: Sequence[float],
    mem_norms: Sequence[Sequence[float]],
    gen_norms: Sequence[Sequence[float]],
) -> Crossing:
    """Where the memorizing networks' parameter norm overtakes the generalizing ones'.

    Args:
        sizes: the training-set sizes D, ascending (at least two).
        mem_norms: per seed, the parameter norm at the training-loss target of the
            memorization-only network (random labels) at each D.
        gen_norms: per seed, the same for the generalizing network.

    The crossing is where ``mem - gen`` turns non-negative, interpolated linearly in log D
    between the two grid points around it (Varma et al. 2023 plot these curves against D on
    a log axis). Seeds are paired by position.
    """
    d = np.asarray(sizes, dtype=float)
    mem, gen = np.asarray(mem_norms, dtype=float), np.asarray(gen_norms, dtype=float)
    if d.ndim != 1 or len(d) < 2 or not np.all(np.diff(d) > 0) or d[0] <= 0:
        raise ValueError("sizes must be at least two positive, increasing training-set sizes")
    if mem.shape != gen.shape or mem.ndim != 2 or mem.shape[1] != len(d):
        raise ValueError(f"mem_norms and gen_norms must both be (seeds, {len(d)}); got "
                         f"{mem.shape} and {gen.shape}")
    per_seed = [_crossing(d, m - g) for m, g in zip(mem, gen, strict=True)]
    found = [x for x in per_seed if x is not None]
    return Crossing(
        d_crit=_crossing(d, mem.mean(0) - gen.mean(0)),
        per_seed=per_seed,
        spread=(min(found), max(found)) if found else None,
    )
