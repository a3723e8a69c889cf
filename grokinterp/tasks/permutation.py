"""Symmetric-group tasks on S_n, n <= 5 (Power et al. 2022).

The n! elements are numbered in the lexicographic order of their one-line notation
(``itertools.permutations``), and composition is ``(x o y)(i) = x(y(i))``.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np

from grokinterp.tasks.registry import IntArray, TaskSpec, register


@cache
def _perm_tables(n: int) -> tuple[IntArray, IntArray, IntArray]:
    """Composition table, inverse table and element list of S_n (lexicographic order)."""
    elems = list(itertools.permutations(range(n)))
    index = {e: i for i, e in enumerate(elems)}
    m = len(elems)
    comp = np.empty((m, m), dtype=np.int64)
    for i, x in enumerate(elems):
        for j, y in enumerate(elems):
            comp[i, j] = index[tuple(x[y[k]] for k in range(n))]
    inv = np.array([index[tuple(np.argsort(x))] for x in elems], dtype=np.int64)
    return comp, inv, np.array(elems, dtype=np.int64)


def _n_from_size(size: int) -> int:
    return next(n for n in range(1, 7) if math.factorial(n) == size)


def _perm_compose(a: IntArray, b: IntArray, size: int) -> IntArray:
    comp, _, _ = _perm_tables(_n_from_size(size))
    out: IntArray = comp[a, b]
    return out


def _perm_conjugate(a: IntArray, b: IntArray, size: int) -> IntArray:
    comp, inv, _ = _perm_tables(_n_from_size(size))
    out: IntArray = comp[comp[a, b], inv[a]]
    return out


def _perm_xyx(a: IntArray, b: IntArray, size: int) -> IntArray:
    comp, _, _ = _perm_tables(_n_from_size(size))
    out: IntArray = comp[comp[a, b], a]
    return out


register(TaskSpec("perm", "x o y in S_n", "perm", _perm_compose))
register(TaskSpec("perm_conj", "x o y o x^-1 in S_n", "perm", _perm_conjugate))
register(TaskSpec("perm_xyx", "x o y o x in S_n", "perm", _perm_xyx))
