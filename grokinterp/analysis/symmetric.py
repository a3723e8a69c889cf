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
from collections.abc import Sequence
from functools import cache

import numpy as np
import numpy.typing as npt
import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.permutation import _perm_tables

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


# ----------------------------------------------------------------------------- measures
# The group measures on S_n (issue 30, item 2): what the cyclic measures do with the
# frequencies of Z_n, done with the irreducible representations. Component k (1 .. number
# of partitions - 1) is ``partitions(n)[k]``; k = 0, the trivial representation, is the
# constant term, as frequency 0 is for Z_n.


def _component(n: int, k: int) -> npt.NDArray[np.float64]:
    shapes = partitions(n)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(shapes):
        raise ConfigError(
            f"S_{n} has representations 0 .. {len(shapes) - 1} (0 the trivial one), got {k!r}"
        )
    return irreps(n)[shapes[k]]


@cache
def _element_basis64(n: int, k: int) -> torch.Tensor:
    """(n!, d^2) orthonormal columns spanning the matrix elements of representation k."""
    R = _component(n, k)
    d = R.shape[1]
    # Schur: sum_g rho_ij(g) rho_kl(g) = (n!/d) [i=k][j=l], so sqrt(d/n!) rho_ij is orthonormal
    cols = R.reshape(len(R), d * d) * math.sqrt(d / len(R))
    return torch.from_numpy(np.ascontiguousarray(cols))


def element_basis(n: int, k: int) -> Float[Tensor, "order dd"]:
    """The orthonormal basis ``sqrt(d / n!) rho_ij(g)`` (columns, over the n! elements g) of
    the functions on S_n spanned by the matrix elements of representation k (dimension d,
    d^2 columns). Over every k (the trivial one included) these columns are an orthonormal
    basis of all functions on S_n (Peter-Weyl; Serre, *Linear Representations of Finite
    Groups*, section 2.4). Chughtai et al. 2023's ``orth_rep`` spans the same subspace (their
    ``utils/representations.py:L57-75`` orthonormalizes the matrix elements by QR)."""
    return _element_basis64(n, k).clone()


def component_norms(
    W: Float[Tensor, "..."], n: int, dim: int = 0, include_trivial: bool = False
) -> Float[Tensor, " m"]:
    """Norm of each representation of ``W`` along its axis ``dim`` (of length n!, indexed by
    the elements of S_n): ``||P_k W||`` with ``P_k`` the projection on the span of the
    matrix elements of representation k (:func:`element_basis`), summed over every other
    axis; the analogue of :func:`grokinterp.analysis.fourier.freq_norms`. Entry ``k - 1`` is
    representation k (``partitions(n)[k]``); with ``include_trivial`` entry 0 is the
    trivial representation (the mean) and entry k representation k. The squares add up
    to ``||W||^2``."""
    _check_n(n)
    x = W.detach().to(torch.float64).movedim(dim, 0)
    if x.shape[0] != math.factorial(n):
        raise ValueError(
            f"axis {dim} has {x.shape[0]} entries, not the {math.factorial(n)} elements of S_{n}"
        )
    flat = x.reshape(x.shape[0], -1)
    ks = range(0 if include_trivial else 1, len(partitions(n)))
    return torch.stack(
        [(_element_basis64(n, k).to(flat.device).T @ flat).pow(2).sum().sqrt() for k in ks]
    )


@cache
def _grid_directions64(n: int, keys: tuple[int, ...]) -> torch.Tensor:
    """(sum d^2, n!, n!) orthonormal grid directions ``(a, b) -> rho_ij(a o b) sqrt(d) / n!``
    of the representations in ``keys``, in the perm task's element numbering."""
    comp = torch.from_numpy(_perm_tables(n)[0])  # (x o y) by element numbers
    N = math.factorial(n)
    blocks = []
    for k in keys:
        basis = _element_basis64(n, k)  # (N, d^2), orthonormal over the elements
        # over the grid each product s appears N times: divide by sqrt(N)
        blocks.append(basis[comp].permute(2, 0, 1) / math.sqrt(N))
    if not blocks:
        return torch.zeros(0, N, N, dtype=torch.float64)
    return torch.cat(blocks)


def grid_directions(n: int, keys: tuple[int, ...]) -> Float[Tensor, "dirs order order"]:
    """Orthonormal directions over the (a, b) grid of S_n for the representations ``keys``:
    ``rho_ij(a o b) sqrt(d) / n!`` for every matrix element (i, j) of each, in float64
    (Schur orthogonality makes them orthonormal: each product s = a o b occurs n! times on
    the grid). The representation-theoretic counterpart of the cyclic measures' ``u_k, v_k
    ∝ cos, sin(w_k (a + b))``: the functions of a o b in representation k. Callers must not
    modify the result (cached)."""
    _check_n(n)
    for k in keys:
        _component(n, k)
    return _grid_directions64(n, tuple(keys))


@cache
def _character_cube64(n: int, k: int) -> torch.Tensor:
    """``chi_k(a o b o c^-1)`` over (a, b, c), float64."""
    comp, inv, _ = _perm_tables(n)
    chi = torch.from_numpy(np.trace(_component(n, k), axis1=1, axis2=2).copy())
    ab = torch.from_numpy(comp)  # (a, b) -> a o b
    abc = torch.from_numpy(comp)[ab[:, :, None], torch.from_numpy(inv)[None, None, :]]
    return chi[abc]


def character_cube(n: int, k: int) -> Float[Tensor, "order order order"]:
    """``T_k[a, b, c] = chi_k(a o b o c^-1)`` (float64): the logits that representation k
    alone would give if the network computed ``tr(rho(a) rho(b) rho(c^-1))``, Chughtai et
    al. 2023's hypothesis (their ``compute_logit_trace_tensor_cube``,
    ``utils/representations.py:L78-106``). For the cyclic group Z_n and frequency k this is
    ``2 cos(w_k (a + b - c))``, the logit cube of Nanda et al. 2023."""
    _check_n(n)
    return _character_cube64(n, k).clone()


def character_similarity(logits: Float[Tensor, "order order c"], n: int, k: int) -> float:
    """Cosine similarity of the class-centered logits ``L[a, b, c] - mean_c L[a, b, c]``
    with the character cube of representation k (:func:`character_cube`), over every
    (a, b, c): Chughtai et al. 2023's ``logit_trace_similarity`` (their
    ``utils/metrics.py:L223-238``), whose key representations are those above 0.005
    (``determine_key_reps``, ``utils/metrics.py:L80-89``). ``logits`` is the grid of the
    elements, classes in element order (n! of them). The cubes of different
    representations are orthogonal, so the squares of these over every representation add
    up to at most 1."""
    L = _class_centered(logits, n)
    T = _character_cube64(n, k).to(L.device)
    den = float(L.norm() * T.norm())
    return float((L * T).sum()) / den if den > 0 else math.nan


def _class_centered(logits: Tensor, n: int) -> Tensor:
    N = math.factorial(n)
    if logits.ndim != 3 or logits.shape != (N, N, N):
        raise ValueError(
            f"logits must be ({N}, {N}, {N}): every pair of S_{n} and its {N} classes, got "
            f"{tuple(logits.shape)}"
        )
    L = logits.detach().to(torch.float64)
    return L - L.mean(-1, keepdim=True)


def character_cube_similarity(
    logits: Float[Tensor, "order order c"], n: int, keys: Sequence[int]
) -> tuple[float, float]:
    """``(cos_sim, residual_fraction)`` of the class-centered logits against their
    projection on the span of the character cubes of ``keys``: the S_n counterpart of the
    logit cube (:func:`grokinterp.analysis.fourier.logit_cube_similarity`). The cubes are
    mutually orthogonal (character orthogonality), so ``cos_sim^2`` is the sum of the
    squared :func:`character_similarity` of the keys, and ``residual_fraction =
    sqrt(1 - cos_sim^2)``."""
    L = _class_centered(logits, n)
    total = float(L.pow(2).sum())
    if total == 0:
        return math.nan, math.nan
    share = 0.0
    for k in keys:
        T = _character_cube64(n, k).to(L.device)
        share += float((L * T).sum()) ** 2 / float(T.pow(2).sum()) / total
    share = min(share, 1.0)
    return math.sqrt(share), math.sqrt(max(0.0, 1.0 - share))
