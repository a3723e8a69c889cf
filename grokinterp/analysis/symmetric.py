"""Irreducible representations and characters of the symmetric group S_n (n <= 5).

The first piece of the group-representation measures of issue 30 (item 2): Chughtai, Chan
& Nanda 2023 (arXiv 2302.03025) find that networks trained on the composition of S_n
compute it through a few irreducible representations rho, with logits close to
``sum_rho tr(rho(a) rho(b) rho(c^-1))``. What is here is the group theory those measures
stand on, in the element numbering of the ``perm`` tasks
(:mod:`grokinterp.tasks.permutation`: lexicographic order of the one-line notation,
``(x o y)(i) = x(y(i))``):

* the irreducible representations of S_n, one per partition lambda of n, in Young's
  orthogonal form (e.g. Sagan, *The Symmetric Group*, 2nd ed., section 3.10; James & Kerber
  1981): a basis indexed by the standard Young tableaux T of shape lambda, and for the
  adjacent transposition s_i exchanging i and i + 1,
  ``rho(s_i) e_T = (1/r) e_T + sqrt(1 - 1/r^2) e_{s_i T}``, with ``r`` the axial distance
  ``c_T(i + 1) - c_T(i)`` (content c = column - row of the box holding the entry) and
  ``s_i T`` the tableau with i and i + 1 exchanged (absent when |r| = 1). The matrices are
  real and orthogonal; every permutation is a product of adjacent transpositions;
* their characters ``chi_lambda(g) = tr rho_lambda(g)``.

The orthogonality relations that make these a basis of functions on S_n (Schur:
``sum_g rho(g)_ij rho'(g)_kl = (n!/d) [rho = rho'] [i = k] [j = l]``) are checked in
``tests/analysis/test_symmetric.py``.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np
import numpy.typing as npt

from grokinterp.errors import ConfigError

Partition = tuple[int, ...]
Tableau = tuple[tuple[int, ...], ...]
MAX_N = 5


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise ConfigError(
            f"the representations of S_n are built here for n = 1 .. {MAX_N} (the perm "
            f"tasks' range), got n={n!r}"
        )


def partitions(n: int) -> list[Partition]:
    """The partitions of n, parts in decreasing order, in reverse lexicographic order:
    ``(n,)`` (the trivial representation) first, ``(1, ..., 1)`` (the sign) last."""
    _check_n(n)

    def parts(m: int, top: int) -> list[Partition]:
        if m == 0:
            return [()]
        return [(k, *rest) for k in range(min(m, top), 0, -1) for rest in parts(m - k, k)]

    return parts(n, n)


def standard_tableaux(shape: Partition) -> list[Tableau]:
    """The standard Young tableaux of ``shape`` (entries 0 .. n-1 increasing along rows and
    down columns), in a fixed order: the basis of the representation of ``shape``."""
    n = sum(shape)
    out: list[Tableau] = []

    def place(rows: list[list[int]], k: int) -> None:
        if k == n:
            out.append(tuple(tuple(r) for r in rows))
            return
        for r, length in enumerate(shape):
            if len(rows[r]) < length and (r == 0 or len(rows[r - 1]) > len(rows[r])):
                rows[r].append(k)
                place(rows, k + 1)
                rows[r].pop()

    place([[] for _ in shape], 0)
    return out


def _content(t: Tableau) -> dict[int, int]:
    return {x: col - row for row, entries in enumerate(t) for col, x in enumerate(entries)}


def _swap(t: Tableau, i: int) -> Tableau:
    s = {i: i + 1, i + 1: i}
    return tuple(tuple(s.get(x, x) for x in row) for row in t)


@cache
def _generators(shape: Partition) -> tuple[npt.NDArray[np.float64], ...]:
    """Young's orthogonal form of the adjacent transpositions s_0 .. s_{n-2}."""
    basis = standard_tableaux(shape)
    index = {t: j for j, t in enumerate(basis)}
    d, n = len(basis), sum(shape)
    gens = []
    for i in range(n - 1):
        m = np.zeros((d, d))
        for j, t in enumerate(basis):
            c = _content(t)
            r = c[i + 1] - c[i]
            m[j, j] = 1.0 / r
            if abs(r) > 1:
                m[index[_swap(t, i)], j] = math.sqrt(1.0 - 1.0 / r**2)
        gens.append(m)
    return tuple(gens)


def _adjacent_word(perm: tuple[int, ...]) -> list[int]:
    """Adjacent transpositions ``[k_1, ..., k_m]`` with ``perm = s_{k_m} o ... o s_{k_1}``
    (bubble sort of the one-line notation: exchanging positions k, k + 1 of x's list is
    ``x o s_k``)."""
    x, word = list(perm), []
    changed = True
    while changed:
        changed = False
        for k in range(len(x) - 1):
            if x[k] > x[k + 1]:
                x[k], x[k + 1] = x[k + 1], x[k]
                word.append(k)
                changed = True
    return word


@cache
def irreps(n: int) -> dict[Partition, npt.NDArray[np.float64]]:
    """Every irreducible representation of S_n: ``{partition: R}`` with ``R[g]`` the
    (d x d) orthogonal matrix of element g (numbered as the ``perm`` tasks number them), so
    ``R[compose(x, y)] = R[x] @ R[y]``. Callers must not modify the arrays.

    Raises:
        ConfigError: n is not in 1 .. 5.
    """
    _check_n(n)
    elems = list(itertools.permutations(range(n)))
    out = {}
    for shape in partitions(n):
        gens = _generators(shape)
        d = len(standard_tableaux(shape))
        mats = np.empty((len(elems), d, d))
        for g, perm in enumerate(elems):
            m = np.eye(d)
            for k in _adjacent_word(perm):  # perm = s_{k_m} o ... o s_{k_1}
                m = gens[k] @ m
            mats[g] = m
        mats.setflags(write=False)
        out[shape] = mats
    return out


def characters(n: int) -> dict[Partition, npt.NDArray[np.float64]]:
    """The irreducible characters of S_n: ``{partition: chi}`` with ``chi[g] = tr rho(g)``
    (integers, as every character of S_n is)."""
    return {shape: np.trace(m, axis1=1, axis2=2).round(9) for shape, m in irreps(n).items()}


def dimension(shape: Partition) -> int:
    """The dimension of the representation of ``shape``: its number of standard tableaux."""
    return len(standard_tableaux(shape))
