"""Progress measures of grokking: one function per measure, each with its formula and source.

Logits over the full grid are a tensor ``L[a, b, c]`` of shape (p, p, classes) (pair
``a * p + b`` of the dataset is ``L[a, b]``; see :func:`all_pairs_logits`). The measures of
Nanda et al. 2023 (arXiv 2301.05217) decompose ``L`` along the input grid, per class c, on
the orthonormal grid directions of each frequency k (:func:`grid_directions`):

* ``sum`` tasks (labels depend on a + b): ``u_k ∝ cos(w_k(a + b))``, ``v_k ∝ sin(w_k(a + b))``;
  in the Fourier basis ``u_k = (cos_k ⊗ cos_k - sin_k ⊗ sin_k)/√2``,
  ``v_k = (sin_k ⊗ cos_k + cos_k ⊗ sin_k)/√2``;
* ``difference`` tasks (a - b): ``u_k ∝ cos(w_k(a - b))``, ``v_k ∝ sin(w_k(a - b))``.

The u_k, v_k of all k and the constant direction are orthonormal, so "keeping" or
"removing" components is an orthogonal projection. Losses are cross-entropies computed in
float64, as in the paper. Which structure a task has comes from the registry
(:func:`check_fourier_task`).

Every measure here works on a cyclic group Z_n, reading n from the grid's side: for the
additive tasks the grid is the tokens' (n = p); for ``mul`` and ``div`` it is the grid of
discrete logarithms over the nonzero pairs (n = p - 1), built by
:class:`grokinterp.analysis.groups.GroupBasis` (which also says how the zero element is
treated). For an even n the Nyquist frequency n/2 has the one direction
``u_{n/2} ∝ cos(pi s) = (-1)^s`` (its sine vanishes on Z_n).

The same measures run on the symmetric group S_n (the ``perm`` task, x o y) when given
``basis`` (a :class:`~grokinterp.analysis.groups.GroupBasis` of group ``symmetric``): the key
components are then irreducible representations rho and their grid directions are the
functions ``rho_ij(a o b)`` (:func:`grokinterp.analysis.symmetric.grid_directions`), the
constant direction being the trivial representation's; everything else (the projection,
the losses, the shares) is the one code path below. Chughtai, Chan & Nanda 2023 (arXiv
2302.03025) restrict and exclude representations this way (on the hidden layer, in their
code; here on the logits, as for the frequencies).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from grokinterp.analysis import symmetric
from grokinterp.analysis.fourier import (
    Structure,
    _angles,
    _check_structure,
    check_key_freqs,
    embedding_freq_norms,
    logit_weight_freq_norms,
    n_freqs,
)
from grokinterp.analysis.groups import GroupBasis
from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, answer_forward_chunked, cross_entropy64
from grokinterp.tasks import Dataset, get_task


# ----------------------------------------------------------------------------- tasks, logits
def check_fourier_task(task_name: str) -> Structure:
    """The cyclic structure of a registered task: ``"sum"`` or ``"difference"``, in its
    group's index coordinates (the registry's ``group``: Z_p for ``add`` / ``sub``, Z_p*
    through the discrete logarithm for ``mul`` / ``div``; :mod:`grokinterp.analysis.groups`,
    whose :func:`~grokinterp.analysis.groups.task_basis` gives the re-indexing too).

    Raises:
        ConfigError (a ValueError): the task is unknown, or has no cyclic structure
            (``fourier=None`` in the registry, e.g. ``x2_y2``, ``perm``), so the Fourier
            progress measures do not apply to it.
    """
    spec = get_task(task_name)
    if spec.fourier is None:
        raise ConfigError(
            f"task {task_name!r} ({spec.description}) has no cyclic structure (a sum or "
            "difference in Z_p or Z_p*), so the Fourier progress measures do not apply; use "
            "them on 'add', 'sub', 'mul' or 'div'"
        )
    return spec.fourier


def _grid_p(dataset: Dataset) -> int:
    p = dataset.size
    n = dataset.inputs.shape[0]
    idx = torch.arange(p * p)
    if n != p * p or not (
        torch.equal(dataset.inputs[:, 0].cpu(), idx // p)
        and torch.equal(dataset.inputs[:, 1].cpu(), idx % p)
    ):
        raise ValueError(
            f"the dataset has {n} pairs, not the full p x p grid (p={p}) in row-major order; "
            "the grid measures need a modular task with every pair (not div)"
        )
    return p


def all_pairs_forward(
    params: Params, model_cfg: ModelConfig, dataset: Dataset, chunk_size: int = 4096
) -> tuple[Float[Tensor, "p p p"], Float[Tensor, "p p d_mlp"]]:
    """Answer logits and last-MLP activations over the whole grid, shaped (p, p, ·).

    Runs :func:`grokinterp.models.answer_forward` on ``dataset.inputs`` (row-major pairs
    ``a * p + b``) in chunks without gradients, keeps the first p output columns (legacy
    models score the ``=`` token too) and reshapes to ``[a, b, ...]``.
    """
    p = _grid_p(dataset)
    logits, acts = answer_forward_chunked(params, dataset.inputs, model_cfg, p, chunk_size)
    return logits.reshape(p, p, p), acts.reshape(p, p, -1)


def all_pairs_logits(
    params: Params, model_cfg: ModelConfig, dataset: Dataset, chunk_size: int = 4096
) -> Float[Tensor, "p p p"]:
    """Answer logits over the whole grid: ``L[a, b, c]`` for the p answer classes c."""
    return all_pairs_forward(params, model_cfg, dataset, chunk_size)[0]


# ----------------------------------------------------------------------------- directions
def grid_directions(
    p: int,
    structure: str = "sum",
    key_freqs: Sequence[int] | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Float[Tensor, "dirs p p"]:
    """Orthonormal grid directions ``u_k, v_k`` for the given frequencies (default: all).

    ``u_k[a, b] = cos(w_k s) / ||.||`` and ``v_k[a, b] = sin(w_k s) / ||.||`` with
    ``s = a + b`` (``sum``) or ``a - b`` (``difference``) mod p, ``w_k = 2 pi k / p`` and
    ``||cos(w_k s)|| = p / √2`` over the p^2 pairs (Nanda et al. 2023). Output row
    ``2i`` is ``u`` and row ``2i + 1`` is ``v`` of the i-th frequency (for all frequencies,
    rows ``2k - 2`` and ``2k - 1`` are those of frequency k), shape (2 * n, p, p). Here p
    is the group's order: for an even order the Nyquist frequency p/2 (the last, when
    present) has only ``u = (-1)^s / p`` and no ``v`` row, so the shape is (2 * n - 1, p, p).
    """
    _check_structure(structure)
    keys = list(range(1, n_freqs(p) + 1)) if key_freqs is None else check_key_freqs(key_freqs, p)
    return _directions64(p, structure, tuple(keys)).to(device=device, dtype=dtype, copy=True)


@functools.lru_cache(maxsize=8)
def _directions64(p: int, structure: str, keys: tuple[int, ...]) -> Tensor:
    """:func:`grid_directions` in float64 on the CPU, cached: every checkpoint of a run uses
    the same ones (callers must not modify the result)."""
    _check_structure(structure)
    a = torch.arange(p)
    s = torch.remainder(
        a[:, None] + a[None, :] if structure == "sum" else a[:, None] - a[None, :], p
    )
    k = torch.tensor(keys, dtype=torch.int64)[:, None, None]
    ang = _angles(k, s[None], p)  # (n, p, p)
    scale = math.sqrt(2.0) / p
    dirs = torch.stack([torch.cos(ang) * scale, torch.sin(ang) * scale], dim=1)
    dirs = dirs.reshape(2 * len(keys), p, p)
    if keys and 2 * keys[-1] == p:  # Nyquist: cos(pi s) = ±1 has norm p; its sine is 0
        dirs = torch.cat([dirs[:-2], (1 - 2 * (s % 2)).to(torch.float64)[None] / p])
    return dirs


def sum_directions(
    p: int,
    k: int,
    structure: str = "sum",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Float[Tensor, "p p"], Float[Tensor, "p p"]]:
    """The unit grid directions ``(u_k, v_k)`` ∝ (cos, sin)(w_k(a ± b)) of frequency k
    (for the Nyquist frequency k = p/2 of an even order, v is zero: sin(pi s) vanishes)."""
    d = grid_directions(p, structure, [k], device=device, dtype=dtype)
    return d[0], (d[1] if len(d) > 1 else torch.zeros_like(d[0]))


def component_directions64(
    n: int, key_freqs: Sequence[int], structure: str = "sum", basis: GroupBasis | None = None
) -> Tensor:
    """Orthonormal grid directions (float64, cached: do not modify) of the components
    ``key_freqs`` of the group of an (n, n) grid: frequencies of Z_n
    (:func:`grid_directions`), or, for a ``basis`` of S_n, irreducible representations
    (:func:`grokinterp.analysis.symmetric.grid_directions`)."""
    if basis is not None and not basis.cyclic:
        if basis.order != n:
            raise ValueError(
                f"the grid has side {n}, not the order {basis.order} of {basis.name()}"
            )
        keys = basis.check_components(key_freqs)
        return symmetric.grid_directions(basis.degree, tuple(keys))
    keys = check_key_freqs(key_freqs, n)
    return _directions64(n, structure, tuple(keys))


def _trig_part64(
    L: Tensor, key_freqs: Sequence[int], structure: str, basis: GroupBasis | None = None
) -> Tensor:
    """Projection of float64 logits (p, p, c) onto span{u_k, v_k : k in key_freqs} per class
    (the representations' directions for a ``basis`` of S_n)."""
    p = L.shape[0]
    dirs = component_directions64(p, key_freqs, structure, basis)
    if not len(dirs):
        return torch.zeros_like(L)
    dirs = dirs.to(L.device).reshape(-1, p * p)
    flat = L.reshape(p * p, -1)
    return (dirs.T @ (dirs @ flat)).reshape(L.shape)


def _as_grid64(logits: Tensor) -> Tensor:
    p = logits.shape[0]
    if logits.ndim != 3 or logits.shape[1] != p:
        raise ValueError(
            f"logits must have shape (p, p, classes) over the full grid, got "
            f"{tuple(logits.shape)}; see all_pairs_logits"
        )
    return logits.detach().to(torch.float64)


def _restricted64(
    logits: Tensor,
    key_freqs: Sequence[int],
    structure: str,
    add_mean: bool,
    basis: GroupBasis | None = None,
) -> Tensor:
    L = _as_grid64(logits)
    out = _trig_part64(L, key_freqs, structure, basis)
    if add_mean:
        out = out + L.mean(dim=(0, 1), keepdim=True)
    return out


def _excluded64(
    logits: Tensor, key_freqs: Sequence[int], structure: str, basis: GroupBasis | None = None
) -> Tensor:
    L = _as_grid64(logits)
    return L - _trig_part64(L, key_freqs, structure, basis)


def restricted_logits(
    logits: Float[Tensor, "p p c"],
    key_freqs: Sequence[int],
    structure: str = "sum",
    add_mean: bool = True,
    basis: GroupBasis | None = None,
) -> Float[Tensor, "p p c"]:
    """Logits restricted to the key frequencies (Nanda et al. 2023, restricted loss); with
    a ``basis`` of S_n, to the key representations (module docstring).

    ``R[a, b, c] = sum_{k in K} (<L_c, u_k> u_k[a, b] + <L_c, v_k> v_k[a, b]) + m_c`` with
    ``L_c = L[:, :, c]`` and, if ``add_mean``, ``m_c = mean_{a,b} L[a, b, c]`` (else 0).

    The paper keeps "the constant term and the key components", and its code restricts the
    neuron activations, maps them to logits and then adds back the grid mean of the part it
    removed. On the logits these are one and the same thing: u_k and v_k have zero grid mean,
    so the grid mean of the removed part is exactly the constant term ``m_c``. (The one
    difference from the paper's code is that here the key components of the paths that skip
    the neurons, the direct and attention paths, are kept too; in the paper's code they are
    replaced by their mean.) Default ``add_mean=True``, the paper's definition: ``m_c`` is a
    per-class bias that belongs to neither circuit, and dropping it would charge the restricted
    loss for something unrelated to the algorithm. ``add_mean=False`` gives the pure
    trigonometric part. Returned in the dtype of ``logits``.
    """
    return _restricted64(logits, key_freqs, structure, add_mean, basis).to(logits.dtype)


def excluded_logits(
    logits: Float[Tensor, "p p c"],
    key_freqs: Sequence[int],
    structure: str = "sum",
    basis: GroupBasis | None = None,
) -> Float[Tensor, "p p c"]:
    """Logits with the key-frequency components removed (Nanda et al. 2023, excluded loss).

    ``X[a, b, c] = L[a, b, c] - sum_{k in K} (<L_c, u_k> u_k[a, b] + <L_c, v_k> v_k[a, b])``.
    """
    return _excluded64(logits, key_freqs, structure, basis).to(logits.dtype)


# ----------------------------------------------------------------------------- losses
def grid_cross_entropy(
    logits: Float[Tensor, "p p c"],
    labels: Int[Tensor, "..."],
    mask: Bool[Tensor, "..."] | None = None,
) -> float:
    """Mean cross-entropy in float64 over the pairs in ``mask`` (all pairs if None).

    ``labels`` and ``mask`` are per pair, shaped (p * p,) in row-major order (as in the
    dataset) or (p, p).
    """
    p = logits.shape[0]
    flat = logits.reshape(p * p, -1).to(torch.float64)
    y = labels.reshape(-1).to(flat.device)
    if y.numel() != p * p:
        raise ValueError(f"labels must have one entry per pair ({p * p}), got {y.numel()}")
    if mask is not None:
        m = mask.reshape(-1).to(flat.device)
        if m.numel() != p * p:
            raise ValueError(f"mask must have one entry per pair ({p * p}), got {m.numel()}")
        flat, y = flat[m], y[m]
        if y.numel() == 0:
            raise ValueError("the mask selects no pairs")
    return float(cross_entropy64(flat, y))


def restricted_loss(
    logits: Float[Tensor, "p p c"],
    labels: Int[Tensor, "..."],
    key_freqs: Sequence[int],
    mask: Bool[Tensor, "..."] | None = None,
    structure: str = "sum",
    add_mean: bool = True,
    basis: GroupBasis | None = None,
) -> float:
    """Cross-entropy (float64) of :func:`restricted_logits` over the pairs in ``mask``
    (``basis``: of S_n, for its representations).

    Nanda et al. 2023 evaluate it on the test set (``mask=~dataset.train_mask``); None means
    all pairs. It falls as the generalizing circuit forms, before the test loss does.
    """
    return grid_cross_entropy(
        _restricted64(logits, key_freqs, structure, add_mean, basis), labels, mask
    )


def excluded_loss(
    logits: Float[Tensor, "p p c"],
    labels: Int[Tensor, "..."],
    key_freqs: Sequence[int],
    mask: Bool[Tensor, "..."] | None = None,
    structure: str = "sum",
    basis: GroupBasis | None = None,
) -> float:
    """Cross-entropy (float64) of :func:`excluded_logits` over the pairs in ``mask``
    (``basis``: of S_n, for its representations).

    Nanda et al. 2023 evaluate it on the training set (``mask=dataset.train_mask``); None
    means all pairs. It rises during circuit formation: the training set is fitted more and
    more through the key frequencies, which this removes.
    """
    return grid_cross_entropy(_excluded64(logits, key_freqs, structure, basis), labels, mask)


def excluded_loss_per_freq(
    logits: Float[Tensor, "p p c"],
    labels: Int[Tensor, "..."],
    key_freqs: Sequence[int],
    mask: Bool[Tensor, "..."] | None = None,
    structure: str = "sum",
    basis: GroupBasis | None = None,
) -> list[float]:
    """:func:`excluded_loss` removing one key frequency (representation) at a time.

    Returns one loss per entry of ``key_freqs``, in the given order: entry i is the
    excluded loss with only frequency ``key_freqs[i]``'s directions removed.
    """
    p = logits.shape[0]
    component_directions64(p, key_freqs, structure, basis)  # checks the keys
    return [excluded_loss(logits, labels, [k], mask, structure, basis) for k in key_freqs]


# ----------------------------------------------------------------------------- weights
def gini(x: Float[Tensor, "*batch n"]) -> Float[Tensor, "*batch"]:
    """Gini coefficient of nonnegative vectors (Hurley & Rickard 2009), along the last axis.

    With ``x_(1) <= ... <= x_(N)`` sorted ascending,
    ``G = 1 - 2 sum_k (x_(k) / ||x||_1) ((N - k + 1/2) / N)``. G = 0 for a uniform vector,
    ``1 - 1/N`` for a one-hot, and is scale invariant. Nanda et al. 2023 track the Gini of
    the per-frequency norms of ``W_E`` and ``W_logit`` (:func:`frequency_ginis`). A zero
    vector has no defined Gini: NaN.

    Raises:
        ValueError: an entry is negative.
    """
    x = x.detach().to(torch.float64)
    if bool((x < 0).any()):
        raise ValueError("gini needs nonnegative entries (e.g. norms); got a negative value")
    n = x.shape[-1]
    xs = torch.sort(x, dim=-1).values
    k = torch.arange(1, n + 1, dtype=torch.float64, device=x.device)
    weights = (n - k + 0.5) / n
    total = xs.sum(-1)
    return 1 - 2 * (xs * weights).sum(-1) / total.where(total > 0, torch.nan)


def frequency_ginis(params: Params, p: int | GroupBasis) -> dict[str, float]:
    """Gini of the per-frequency norms of ``W_E[:p]`` (``embed``) and ``W_logit`` (``logit``),
    in the group of ``p`` (an int: Z_p; or a :class:`~grokinterp.analysis.groups.GroupBasis`)."""
    return {
        "embed": float(gini(embedding_freq_norms(params, p))),
        "logit": float(gini(logit_weight_freq_norms(params, p))),
    }


def sum_squared_weights(params: Params) -> dict[str, float]:
    """Sum of squared weights ``sum_i theta_i^2`` (Nanda et al. 2023): total and per parameter.

    Returns ``{"total": sum over every tensor, "<param name>": its own sum, ...}``
    (parameter names contain dots, so none is ``total``). Every tensor counts, biases
    included, accumulated in float64. It falls during cleanup, as weight decay removes the
    memorizing components.
    """
    per = {name: float(t.detach().to(torch.float64).pow(2).sum()) for name, t in params.items()}
    return {"total": math.fsum(per.values()), **per}


# ----------------------------------------------------------------------------- logit shares
class LogitShare(NamedTuple):
    """Shares of the centered logit norm^2; ``generalizing + memorizing = 1``."""

    generalizing: float
    memorizing: float


class LogitNorms(NamedTuple):
    """Norms of the two parts of the centered logits: ``generalizing^2 + memorizing^2 =
    total^2``."""

    generalizing: float
    memorizing: float
    total: float

    def shares(self) -> LogitShare:
        """The squared norms as fractions of the total (NaN for constant logits)."""
        t2 = self.total**2
        if t2 == 0:
            return LogitShare(math.nan, math.nan)
        return LogitShare(self.generalizing**2 / t2, self.memorizing**2 / t2)


def trig_logit_norms(
    logits: Float[Tensor, "p p c"],
    key_freqs: Sequence[int],
    structure: str = "sum",
    basis: GroupBasis | None = None,
) -> LogitNorms:
    """Logit strength of the generalizing and the memorizing circuit (Varma et al. 2023).

    With ``L'`` the double-centered logits and ``P_K`` the projection on the trigonometric
    subspace of the key frequencies (see :func:`trig_logit_share`), returns ``||P_K L'||``,
    ``||L' - P_K L'||`` and ``||L'||`` (Frobenius norms over pairs and classes). Varma et al.
    compare circuits by the parameter norm they need for a given logit strength; these are
    the logit strengths, to be set against the parameter norm at the same checkpoint.
    """
    L = _as_grid64(logits)
    L = L - L.mean(dim=-1, keepdim=True)
    L = L - L.mean(dim=(0, 1), keepdim=True)
    P = _trig_part64(L, key_freqs, structure, basis)
    gen = float(P.pow(2).sum())
    mem = float((L - P).pow(2).sum())
    return LogitNorms(math.sqrt(gen), math.sqrt(mem), math.sqrt(gen + mem))


def trig_logit_share(
    logits: Float[Tensor, "p p c"],
    key_freqs: Sequence[int],
    structure: str = "sum",
    basis: GroupBasis | None = None,
) -> LogitShare:
    """Share of the logits in the trigonometric subspace of the key frequencies.

    Varma et al. 2023 (arXiv 2309.02390) call a network generalizing when most of its logit
    norm lies in the trigonometric subspace used by the generalizing circuit C_gen; the rest
    is the memorizing circuit C_mem's. Here the logits are first double-centered,
    ``L' = L - mean_c L - mean_{a,b} L + mean_{a,b,c} L``: the per-pair mean over classes is
    invisible to the softmax, and the per-class grid mean (the constant term) is a class bias
    that belongs to neither circuit, so both are excluded. Then, with ``P_K`` the projection
    on ``span{u_k, v_k : k in K}`` per class (see :func:`restricted_logits`),
    ``generalizing = ||P_K L'||^2 / ||L'||^2`` and ``memorizing = ||L' - P_K L'||^2 / ||L'||^2``.
    The trigonometric subspace has dimension 2|K| per class out of p^2 - 1, so logits with no
    structure (a random lookup table) have a generalizing share of about 2|K| / p^2.
    Constant logits (``L' = 0``) give NaN.
    """
    return trig_logit_norms(logits, key_freqs, structure, basis).shares()
