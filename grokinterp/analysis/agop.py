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
(:func:`task_pattern`). This is our measure of the structure Mallinar et al. show as images of
M (their Figs. 2-3); their own scalar is not in their released code.
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


def pattern_share(
    block: Float[Tensor, "r c"], classes: Int[Tensor, "r c"], keep: Tensor | None = None
) -> float:
    """The share of ``block``'s energy about its mean that lies in the matrices constant on
    each class of ``classes`` (module docstring); ``keep`` (bool, same shape) restricts both
    to some entries (the others are ignored). NaN for a constant block."""
    if block.shape != classes.shape:
        raise ConfigError(f"block {tuple(block.shape)} and classes {tuple(classes.shape)} differ")
    b = block.double().reshape(-1)
    c = classes.reshape(-1).long()
    if keep is not None:
        b, c = b[keep.reshape(-1)], c[keep.reshape(-1)]
    b = b - b.mean()
    total = float((b**2).sum())
    if total <= 0:
        return float("nan")
    c = torch.unique(c, return_inverse=True)[1]
    sums = torch.zeros(int(c.max()) + 1, dtype=torch.float64).index_add_(0, c, b)
    counts = torch.bincount(c).double()
    return float((sums**2 / counts).sum()) / total


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


def agop_circulant_share(m: Float[Tensor, "d d"], task: str, p: int) -> float:
    """:func:`pattern_share` of the operand block ``M[:p, p:]`` of a feature matrix on
    ``[e_a, e_b]`` inputs, with ``task``'s pattern (:func:`task_pattern`)."""
    if tuple(m.shape) != (2 * p, 2 * p):
        raise ConfigError(f"M: expected shape ({2 * p}, {2 * p}) for p = {p}, got {tuple(m.shape)}")
    classes, keep = task_pattern(task, p)
    return pattern_share(m[:p, p:], classes, keep)
