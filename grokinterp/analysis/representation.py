"""Representation measures of Liu et al. 2022 (arXiv 2205.10343): parallelograms, the
Representation Quality Index (RQI), the effective loss, and the effective theory's ideal
accuracy and critical training fraction.

For an addition table ``i + j`` over the numbers ``0 .. p-1``, a *parallelogram* is a pair of
pairs ``(i, j), (m, n)`` with ``i + j = m + n`` (as sets, different). A representation
``E`` (one vector per number: the embedding matrix, any width) *has* the parallelogram when
``E_i + E_j = E_m + E_n``; a decoder that reads ``E_a + E_b`` then gives both pairs the same
answer, so a training pair answers a test pair through it. The perfectly structured
representation ``E_i = a + i v`` has every parallelogram.

* :func:`parallelograms`: every parallelogram of the full table (``P_0`` in the paper), or
  of a set of pairs (``P_0(D)`` for a training set D), with an optional modulus (``i + j = m
  + n mod p``: the modular tables the transformers learn).
* :func:`rqi`: the fraction of ``P_0`` that a representation has within a tolerance.
* :func:`effective_loss`: ``l_eff = sum_{P_0(D)} |E_i + E_j - E_m - E_n|^2 / sum_k |E_k -
  mean E|^2``.
* :func:`ideal_accuracy`, :func:`critical_fraction`: the accuracy that the parallelograms
  a training set implies allow (the paper's ``\\bar{Acc}``), and the training fraction where
  the expected ideal test accuracy crosses a threshold.
* :func:`rqi_over_checkpoints`: RQI of a run's embedding at each checkpoint (any model with
  ``embed.W_E``: the MLPs and the transformer).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.runs.run import Run


def parallelograms(
    p: int,
    pairs: Sequence[tuple[int, int]] | Int[np.ndarray, "pair 2"] | None = None,
    modulus: int | None = None,
) -> Int[np.ndarray, "parallelogram 4"]:
    """Every parallelogram ``(i, j, m, n)``: ``i + j = m + n`` (mod ``modulus`` if given),
    ``{i, j} != {m, n}``, with both unordered pairs in ``pairs`` (default: every pair ``0 <=
    a <= b < p``, the full table's ``P_0``). Each parallelogram is listed once.

    Liu et al. 2022 (arXiv 2205.10343), section 3: ``P_0(D)``, the parallelograms of the
    training set D, define the effective loss; those of the full table define RQI.
    """
    if p < 2:
        raise ValueError(f"parallelograms need p >= 2 numbers, got {p}")
    if pairs is None:
        a, b = np.triu_indices(p)
        arr = np.stack([a, b], axis=1)
    else:
        arr = np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1)
        if arr.size and (arr.min() < 0 or arr.max() >= p):
            raise ValueError(f"pairs must hold numbers in [0, {p}), got {arr.min()}..{arr.max()}")
        arr = np.unique(arr, axis=0)
    s = arr.sum(1) if modulus is None else arr.sum(1) % modulus
    out = []
    for value in np.unique(s):
        group = arr[s == value]
        if len(group) < 2:
            continue
        u, v = np.triu_indices(len(group), k=1)
        out.append(np.concatenate([group[u], group[v]], axis=1))
    if not out:
        return np.zeros((0, 4), dtype=np.int64)
    return np.concatenate(out).astype(np.int64)


def _as_tensor(emb: Tensor | np.ndarray) -> Tensor:
    e = torch.as_tensor(emb).detach().to(torch.float64)
    if e.dim() == 1:
        e = e[:, None]
    if e.dim() != 2:
        raise ValueError(f"a representation is (numbers, dim), got shape {tuple(e.shape)}")
    return e


def normalize(emb: Float[Tensor, "number dim"]) -> Float[Tensor, "number dim"]:
    """Each dimension centered and scaled to unit standard deviation (Bessel-corrected), as
    Liu et al.'s code normalizes before counting parallelograms; a constant dimension is only
    centered."""
    e = _as_tensor(emb)
    std = e.std(0, keepdim=True)
    return (e - e.mean(0, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))


def parallelogram_residuals(
    emb: Float[Tensor, "number dim"], pgrams: Int[np.ndarray, "parallelogram 4"]
) -> Float[Tensor, " parallelogram"]:
    """``mean_d (E_i + E_j - E_m - E_n)_d^2`` of each parallelogram ``(i, j, m, n)``."""
    e = _as_tensor(emb)
    idx = torch.as_tensor(pgrams, dtype=torch.long)
    diff = e[idx[:, 0]] + e[idx[:, 1]] - e[idx[:, 2]] - e[idx[:, 3]]
    return (diff**2).mean(-1)


def rqi(
    emb: Float[Tensor, "number dim"],
    delta: float = 0.01,
    modulus: int | None = None,
    pgrams: Int[np.ndarray, "parallelogram 4"] | None = None,
) -> float:
    """Representation Quality Index (Liu et al. 2022, arXiv 2205.10343, eq. 4):
    ``RQI = |P(R)| / |P_0|``, the fraction of the full table's parallelograms that the
    representation has, where a parallelogram (i, j, m, n) counts as had when
    ``mean_d (E_i + E_j - E_m - E_n)_d^2 < delta`` on the normalized representation
    (:func:`normalize`). The paper writes the test as ``|E_i + E_j - E_m - E_n| <= delta``;
    we follow their code (``toy/train_add.py``: the mean square over dimensions of the
    normalized embeddings, below 0.01).

    Args:
        emb: one row per number ``0 .. p-1`` (rows beyond the numbers, such as the ``=``
            token, must be dropped by the caller).
        delta: the tolerance.
        modulus: count parallelograms ``i + j = m + n mod modulus`` (a modular table); None
            for the integers.
        pgrams: the parallelograms to count over (default: all, :func:`parallelograms`).

    RQI = 1 for ``E_i = a + i v``; near 0 for random embeddings. The circular (Fourier)
    embeddings that transformers learn for modular addition do *not* satisfy
    ``E_i + E_j = E_m + E_n`` (the sum of two points on a circle depends on ``i - j`` too),
    so on those RQI measures linear structure, not the circuit the transformer uses.
    """
    e = normalize(emb)
    if pgrams is None:
        pgrams = parallelograms(e.shape[0], modulus=modulus)
    if len(pgrams) == 0:
        raise ValueError(f"no parallelograms among {e.shape[0]} numbers: RQI is undefined")
    return float((parallelogram_residuals(e, pgrams) < delta).double().mean())


def effective_loss(
    emb: Float[Tensor, "number dim"], train_pairs: Sequence[tuple[int, int]] | np.ndarray
) -> float:
    """The effective loss of Liu et al. 2022 (arXiv 2205.10343, eq. 3):
    ``l_eff = sum_{(i,j,m,n) in P_0(D)} |E_i + E_j - E_m - E_n|^2 / Z_0`` with
    ``Z_0 = sum_k |E_k - mean E|^2``, over the parallelograms of the training set D.

    The paper's ``Z_0 = sum_k |E_k|^2`` (their code applies it to the normalized, hence
    centered, embeddings); we center explicitly, so that the loss does not change when the
    representation is translated (the parallelogram sums do not). 0 for ``E_i = a + i v``.
    """
    e = _as_tensor(emb)
    pairs = np.asarray(train_pairs, dtype=np.int64).reshape(-1, 2)
    pg = parallelograms(e.shape[0], pairs)
    z0 = float(((e - e.mean(0, keepdim=True)) ** 2).sum())
    if z0 == 0:
        raise ValueError("all embeddings are equal: the effective loss's Z_0 is 0, undefined")
    if len(pg) == 0:
        return 0.0
    return float(parallelogram_residuals(e, pg).sum()) * e.shape[1] / z0


def _rows(pg: np.ndarray, p: int) -> np.ndarray:
    """The linear equation ``E_i + E_j - E_m - E_n = 0`` of each parallelogram, as rows."""
    a = np.zeros((len(pg), p))
    for col, sign in ((0, 1.0), (1, 1.0), (2, -1.0), (3, -1.0)):
        np.add.at(a, (np.arange(len(pg)), pg[:, col]), sign)
    return a


def ideal_accuracy(
    p: int, train_pairs: Sequence[tuple[int, int]] | np.ndarray, tol: float = 1e-8
) -> dict[str, float]:
    """The effective theory's accuracy from a training set alone (Liu et al. 2022, arXiv
    2205.10343, section 3.3: ``\\bar{Acc}``, the accuracy of an ideal model whose
    representation has exactly the parallelograms the training set implies).

    The training set's parallelograms ``P_0(D)`` are linear equations on ``E``; they imply
    every parallelogram whose equation lies in their span (orthogonal to their null space),
    ``P(D)``. A test pair (i, j) is answered when some training pair (m, n) with the same sum
    forms with it a parallelogram of ``P(D)``. The null space always holds the constant and
    the linear ``E_k = k`` (translation and scale); ``dof`` counts its other dimensions: with
    ``dof = 0`` the linear representation is the only one the training set allows.

    Returns:
        ``{"test_acc", "acc", "dof"}``: the ideal test accuracy, the ideal accuracy over
        every pair, and the representation's extra degrees of freedom.
    """
    pairs = np.unique(np.sort(np.asarray(train_pairs, dtype=np.int64).reshape(-1, 2), 1), axis=0)
    a_all, b_all = np.triu_indices(p)
    everything = np.stack([a_all, b_all], 1)
    in_train = {(int(x), int(y)) for x, y in pairs}
    test = np.array([pr for pr in everything if (int(pr[0]), int(pr[1])) not in in_train])
    if len(test) == 0:
        raise ValueError("the training set holds every pair: there is no test set")
    pg = parallelograms(p, pairs)
    a = _rows(pg, p) if len(pg) else np.zeros((0, p))
    _, s, vt = np.linalg.svd(a, full_matrices=True) if len(a) else (None, np.zeros(0), np.eye(p))
    rank = int((s > tol * max(1.0, s.max(initial=0.0))).sum())
    null = vt[rank:].T  # (p, null_dim)
    answered = 0
    train_by_sum: dict[int, list[np.ndarray]] = {}
    for pr in pairs:
        train_by_sum.setdefault(int(pr.sum()), []).append(pr)
    for pr in test:
        for q in train_by_sum.get(int(pr.sum()), []):
            row = _rows(np.array([[pr[0], pr[1], q[0], q[1]]]), p)
            if np.abs(row @ null).max(initial=0.0) < 1e-6:
                answered += 1
                break
    test_acc = answered / len(test)
    acc = (answered + len(pairs)) / len(everything)
    return {"test_acc": test_acc, "acc": acc, "dof": float(null.shape[1] - 2)}


def critical_fraction(
    p: int,
    fractions: Sequence[float],
    n_splits: int = 20,
    threshold: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """The effective theory's prediction of the critical training fraction (Liu et al. 2022,
    arXiv 2205.10343, section 3.3 and Fig. 3): for each fraction r of the ``p (p + 1) / 2``
    pairs, :func:`ideal_accuracy` of ``n_splits`` random training sets of ``int(r * n)``
    pairs. Above the critical fraction the training set's parallelograms leave only the
    linear representation (``dof = 0``) and an ideal model generalizes; below it other
    representations fit as well. ``attrs["r_c"]`` is the fraction where the share of splits
    with ``dof = 0`` first reaches ``threshold`` (linearly interpolated between the fractions
    given; None when it never does).

    Returns one row per fraction: ``fraction``, ``train_size``, ``ideal_test_acc`` and
    ``ideal_acc`` (means over splits: test pairs, all pairs), ``ideal_test_acc_std``,
    ``p_unique`` (share of splits with ``dof = 0``).
    """
    n = p * (p + 1) // 2
    a, b = np.triu_indices(p)
    everything = np.stack([a, b], 1)
    rng = np.random.default_rng(seed)
    rows = []
    for r in sorted(fractions):
        d = int(r * n)
        if not 1 <= d < n:
            raise ValueError(f"training fraction {r} gives {d} of {n} pairs; need 1 .. {n - 1}")
        results = [
            ideal_accuracy(p, everything[rng.choice(n, d, replace=False)]) for _ in range(n_splits)
        ]
        test_accs = [x["test_acc"] for x in results]
        rows.append(
            {
                "fraction": float(r),
                "train_size": d,
                "ideal_test_acc": float(np.mean(test_accs)),
                "ideal_test_acc_std": float(np.std(test_accs)),
                "ideal_acc": float(np.mean([x["acc"] for x in results])),
                "p_unique": float(np.mean([x["dof"] == 0 for x in results])),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["r_c"] = crossing(table["fraction"], table["p_unique"], threshold)
    return table


def crossing(
    x: Sequence[float] | pd.Series, y: Sequence[float] | pd.Series, level: float
) -> float | None:
    """The first x where y (sampled at increasing x) reaches ``level``, linearly
    interpolated between samples; None if it never does."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    above = np.flatnonzero(ys >= level)
    if len(above) == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(xs[0])
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return float(x0 + (level - y0) * (x1 - x0) / (y1 - y0))


def rqi_over_checkpoints(
    run: Run, delta: float = 0.01, steps: Sequence[int] | None = None
) -> pd.DataFrame:
    """RQI of the run's embedding ``embed.W_E`` (rows of the numbers ``0 .. p-1``) at each
    checkpoint (or at ``steps``), joined to the logged metrics (:meth:`Run.with_metrics`);
    for ``int_add`` also the effective loss over the run's training pairs. Parallelograms
    are taken mod p for the modular tasks (the transformer's ``W_E`` included) and over the
    integers for ``int_add``; a task without numbers (S_n, the feature and sample tasks)
    raises ValueError."""
    task = run.config.task
    if task.p is None or run.config.model.mlp_input != "tokens":
        raise ValueError(f"task {task.name!r} is not a table of numbers: RQI needs p and W_E")
    integer = task.name == "int_add"
    pg = parallelograms(task.p, modulus=None if integer else task.p)
    train_pairs = run.dataset.inputs[run.dataset.train_mask, :2].numpy() if integer else None
    rows = []
    for step in steps if steps is not None else run.steps:
        w_e = run.params(step)["embed.W_E"][: task.p]
        row = {"step": step, "rqi": rqi(w_e, delta, pgrams=pg)}
        if train_pairs is not None:
            row["effective_loss"] = effective_loss(w_e, train_pairs)
        rows.append(row)
    return run.with_metrics(pd.DataFrame(rows))


__all__ = [
    "critical_fraction",
    "crossing",
    "effective_loss",
    "ideal_accuracy",
    "normalize",
    "parallelogram_residuals",
    "parallelograms",
    "rqi",
    "rqi_over_checkpoints",
]
