"""How block-circulant a feature matrix is: the structure Mallinar et al. 2025 (ICML 2025,
arXiv 2407.20199, Sec. 4) find in the AGOP of recursive feature machines and of networks that
solve modular arithmetic.

For a task ``a o b`` read from ``x = [e_a, e_b]`` (:mod:`grokinterp.models.rfm`), the feature
matrix M (2n x 2n) has the blocks ``M_aa``, ``M_ab``, ``M_ba``, ``M_bb``. Mallinar et al. report
that the learned ``M_ab`` is circulant for ``a + b`` (its entry ``(i, j)`` depends only on
``i - j mod p``; their random circulant features, nmallinar/rfm-grokking@73181df
train_random_circulant_kernel.py:L115-119, ``scipy.linalg.circulant``) and a reflected
circulant for ``a - b`` (``i + j mod p``: the same matrix turned by ``torch.rot90``, L110-114);
for ``a * b`` and ``a / b`` the same after re-indexing both operands by discrete logarithms
(utils.py:L6-77; the 0 row and column apart).

:func:`pattern_share` measures this for any pattern: the share of a matrix's energy, after its
mean is removed, that lies in the matrices constant on the pattern's classes::

    share(B) = |P(B - mean B)|_F^2 / |B - mean B|_F^2

where P replaces every entry by the mean of its class (the orthogonal projection onto the
matrices constant on each class). It is 1 for a matrix constant on the classes (an exact
circulant, for the circulant pattern) and, for a matrix of i.i.d. Gaussian entries, a
Beta((k - 1)/2, (N - k)/2) variable of mean ``(k - 1) / (N - 1)`` for N entries in k classes of
equal size (isotropic noise in the N - 1 directions orthogonal to the constant, k - 1 of them
in the pattern's span): ``1 / (p + 1)`` for the circulant pattern of a p x p block. The mean
is removed first because the constant matrix lies in every pattern's span.

:func:`agop_circulant_share` applies it to the operand block ``M_ab`` with the task's pattern
(:func:`task_pattern`). Mallinar et al.'s own scalar, the *circulant deviation* (their Sec. 3:
the summed variance of the wrapped diagonals of the bottom-left block over its squared norm,
0 for a circulant; not in their released code), is :func:`pattern_deviation` /
:func:`agop_circulant_deviation`; it keeps the block's mean, so a block close to a constant
also scores near 0. Their *AGOP alignment* (the cosine similarity of M_t with the final M) is
:func:`agop_alignment`.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.modular import discrete_log

# the pattern of M_ab per task (module docstring): +1 classes i - j, -1 classes i + j
_SIGN = {"add": 1, "sub": -1, "mul": 1, "div": -1}
LOG_TASKS = ("mul", "div")  # indexed by discrete logarithms, 0 excluded


def circulant_pattern(n: int, sign: int = 1) -> Int[Tensor, "n n"]:
    """The classes of an n x n circulant (``sign`` +1: ``(i - j) mod n``) or reflected
    circulant (``sign`` -1: ``(i + j) mod n``)."""
    if sign not in (1, -1):
        raise ConfigError(f"sign: +1 (i - j) or -1 (i + j), got {sign}")
    i = torch.arange(n)
    return (i[:, None] - sign * i[None, :]) % n


def _class_energy(
    block: Tensor, classes: Tensor, keep: Tensor | None, center: bool
) -> tuple[float, float]:
    """(energy of the class means' projection P(B), total energy |B|_F^2) over the kept
    entries, about the block's mean when ``center``."""
    if block.shape != classes.shape:
        raise ConfigError(f"block {tuple(block.shape)} and classes {tuple(classes.shape)} differ")
    b = block.double().reshape(-1)
    c = classes.reshape(-1).long()
    if keep is not None:
        b, c = b[keep.reshape(-1)], c[keep.reshape(-1)]
    if center:
        b = b - b.mean()
    c = torch.unique(c, return_inverse=True)[1]
    sums = torch.zeros(int(c.max()) + 1, dtype=torch.float64).index_add_(0, c, b)
    counts = torch.bincount(c).double()
    return float((sums**2 / counts).sum()), float((b**2).sum())


def pattern_share(
    block: Float[Tensor, "r c"], classes: Int[Tensor, "r c"], keep: Tensor | None = None
) -> float:
    """The share of ``block``'s energy about its mean that lies in the matrices constant on
    each class of ``classes`` (module docstring); ``keep`` (bool, same shape) restricts both
    to some entries (the others are ignored). NaN for a constant block."""
    projected, total = _class_energy(block, classes, keep, center=True)
    return projected / total if total > 0 else float("nan")


def pattern_deviation(
    block: Float[Tensor, "r c"], classes: Int[Tensor, "r c"], keep: Tensor | None = None
) -> float:
    """Mallinar et al.'s circulant deviation for any pattern (their Sec. 3): the summed
    squared deviations of the entries of each class from the class mean, over the block's
    squared Frobenius norm, ``|B - P(B)|_F^2 / |B|_F^2`` (no mean removed): 0 for a matrix
    constant on the classes; for i.i.d. zero-mean Gaussian entries its mean is
    ``1 - k / N`` (N entries in k classes; ``1 - 1/p`` for the circulant pattern). NaN for a
    zero block."""
    projected, total = _class_energy(block, classes, keep, center=False)
    return (total - projected) / total if total > 0 else float("nan")


def agop_alignment(a: Float[Tensor, "d d"], b: Float[Tensor, "d d"]) -> float:
    """AGOP alignment (Mallinar et al. 2025, Sec. 3; Zhu et al. 2024): the cosine similarity
    ``<A, B>_F / (|A|_F |B|_F)`` of two matrices, vectorized; they compare a feature matrix
    M_t with the final one."""
    if a.shape != b.shape:
        raise ConfigError(f"matrices of shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
    a64, b64 = a.double().reshape(-1), b.double().reshape(-1)
    return float(a64 @ b64 / (a64.norm() * b64.norm()))


def task_pattern(task: str, p: int) -> tuple[Int[Tensor, "p p"], Tensor | None]:
    """``(classes, keep)`` of the block ``M_ab`` for ``task`` mod ``p`` (module docstring):
    the circulant classes of add/sub on the operand values, of mul/div on their discrete
    logarithms with the 0 row and column left out (``keep``)."""
    if task not in _SIGN:
        raise ConfigError(
            f"task {task!r}: the circulant pattern is defined for {sorted(_SIGN)} (a cyclic group)"
        )
    if task not in LOG_TASKS:
        return circulant_pattern(p, _SIGN[task]), None
    idx = torch.as_tensor(np.asarray(discrete_log(p)), dtype=torch.long).clamp_min(0)
    classes = circulant_pattern(p - 1, _SIGN[task])[idx[:, None], idx[None, :]]
    keep = torch.ones(p, p, dtype=torch.bool)
    keep[0, :] = keep[:, 0] = False
    return classes, keep


def _check_m(m: Tensor, p: int) -> None:
    if tuple(m.shape) != (2 * p, 2 * p):
        raise ConfigError(f"M: expected shape ({2 * p}, {2 * p}) for p = {p}, got {tuple(m.shape)}")


def agop_circulant_deviation(m: Float[Tensor, "d d"], task: str, p: int) -> float:
    """Mallinar et al.'s circulant deviation of a feature matrix on ``[e_a, e_b]`` inputs:
    :func:`pattern_deviation` of its bottom-left block ``M[p:, :p]`` (theirs, Sec. 3) with
    ``task``'s pattern, transposed to that block's (b, a) indexing."""
    _check_m(m, p)
    classes, keep = task_pattern(task, p)
    return pattern_deviation(m[p:, :p], classes.T, None if keep is None else keep.T)


def agop_circulant_share(m: Float[Tensor, "d d"], task: str, p: int) -> float:
    """:func:`pattern_share` of the operand block ``M[:p, p:]`` of a feature matrix on
    ``[e_a, e_b]`` inputs, with ``task``'s pattern (:func:`task_pattern`)."""
    _check_m(m, p)
    classes, keep = task_pattern(task, p)
    return pattern_share(m[:p, p:], classes, keep)
