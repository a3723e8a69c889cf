"""Fourier analysis over a cyclic group Z_n for grokking models (Nanda et al. 2023,
arXiv 2301.05217).

The real Fourier basis of functions on Z_n is the orthonormal n x n matrix ``F`` whose rows
are, in this fixed order (every function in the toolkit uses it):

==========  ==============================================  ==========
row         function of x in Z_n                            name
==========  ==============================================  ==========
0           1 / sqrt(n)                                     ``const``
2k - 1      cos(w_k x) / ||cos(w_k .)||  = sqrt(2/n) cos    ``cos k``
2k          sin(w_k x) / ||sin(w_k .)||  = sqrt(2/n) sin    ``sin k``
n - 1       (n even only) cos(pi x) / sqrt(n) = (-1)^x / sqrt(n)   ``cos n/2``
==========  ==============================================  ==========

with ``w_k = 2 pi k / n`` and k = 1 .. n // 2 (:func:`n_freqs`); frequencies are always
numbered from 1, and the highest is a frequency like any other. For odd n (the additive
group Z_p of the ``add`` and ``sub`` tasks, p odd) every frequency has a cosine and a sine
row. For even n the top frequency n/2 (the Nyquist frequency) has only its cosine row,
``(-1)^x``: the sine of it vanishes on Z_n. Even orders arise for the multiplicative group
Z_p* of ``mul`` and ``div`` (order p - 1; there ``(-1)^(log x)`` is the Legendre symbol, whether
x is a square mod p); :mod:`grokinterp.analysis.groups` maps a task's tokens onto Z_n. The
real basis is the real form of the characters ``exp(2 pi i k x / n)`` of Z_n: the cosine
and sine of frequency k span the characters k and -k.

Every function below reads n from the length of the axis it transforms, so it applies to
any cyclic group once the task's tokens are indexed by it (the ``p`` of the arguments is
then the group's order n, or a :class:`~grokinterp.analysis.groups.GroupBasis`).

What is here:

* the basis, its row indices and 1D / 2D transforms (:func:`fourier_1d`, :func:`fourier_2d`);
* per-frequency norms of weight matrices (:func:`freq_norms`, :func:`embedding_freq_norms`,
  :func:`logit_weight_freq_norms`) and the key-frequency rule (:func:`key_frequencies`);
* neuron clusters (:func:`neuron_freq_fractions`, :func:`neuron_clusters`);
* the logit cube (:func:`logit_cube_similarity`), computed in O(p^2) extra memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.analysis import symmetric
from grokinterp.analysis.groups import GroupBasis, as_basis
from grokinterp.errors import ConfigError
from grokinterp.models import Params

Structure = Literal["sum", "difference"]
KeySource = Literal["embed", "logit", "both"]


# ----------------------------------------------------------------------------- basis
def check_order(n: int) -> None:
    """Raise a one-line ValueError unless n is an integer >= 2 (the order of a cyclic
    group with at least one non-constant frequency)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(
            f"the real Fourier basis over Z_n needs a group order n >= 2, got n={n!r}; "
            "use a modulus of at least 3 (e.g. 113)"
        )


def n_freqs(p: int) -> int:
    """Number of non-constant frequencies of Z_n (n = ``p``): ``n // 2``, that is
    ``(n - 1) / 2`` for odd n and ``n / 2`` (the last being the Nyquist frequency, with a
    cosine row only) for even n."""
    check_order(p)
    return p // 2


def has_nyquist(p: int) -> bool:
    """Whether Z_n (n = ``p``) has a Nyquist frequency n/2: n even. Its only basis row is
    ``cos n/2`` = ``(-1)^x / sqrt(n)``; it has no sine row."""
    check_order(p)
    return p % 2 == 0


def _check_freq(k: int, p: int | None) -> None:
    if k < 1 or (p is not None and k > n_freqs(p)):
        top = "n // 2" if p is None else f"{n_freqs(p)} = {p} // 2"
        raise ValueError(f"frequency k={k} is out of range: frequencies are 1 .. {top}")


def cos_row(k: int, p: int | None = None) -> int:
    """Row of ``cos k`` in the basis: ``2k - 1`` (k = 1 .. n // 2; n = p checks the range)."""
    _check_freq(k, p)
    return 2 * k - 1


def sin_row(k: int, p: int | None = None) -> int:
    """Row of ``sin k`` in the basis: ``2k`` (k = 1 .. n // 2, but not the Nyquist frequency
    n/2 of an even n, which has no sine; n = p checks both)."""
    _check_freq(k, p)
    if p is not None and p % 2 == 0 and 2 * k == p:
        raise ValueError(f"frequency {k} = n/2 of Z_{p} (the Nyquist frequency) has no sine row")
    return 2 * k


def basis_names(p: int) -> list[str]:
    """Row names: ``["const", "cos 1", "sin 1", ..., "cos m", "sin m"]`` with m = n // 2,
    the last ``sin`` left out for even n (the Nyquist frequency has only ``cos n/2``)."""
    names = ["const"]
    for k in range(1, n_freqs(p) + 1):
        names += [f"cos {k}", f"sin {k}"]
    return names[:p]


def _angles(k: Tensor, x: Tensor, p: int) -> Tensor:
    """w_k x = 2 pi ((k x) mod p) / p in float64 (exact integer reduction first)."""
    return (2 * math.pi / p) * torch.remainder(k * x, p).to(torch.float64)


@lru_cache(maxsize=32)
def _basis64(p: int) -> Tensor:
    check_order(p)
    pairs = (p - 1) // 2  # frequencies with a cosine and a sine row
    x = torch.arange(p, dtype=torch.int64)
    k = torch.arange(1, pairs + 1, dtype=torch.int64)[:, None]
    ang = _angles(k, x[None, :], p)  # (pairs, p)
    F = torch.empty(p, p, dtype=torch.float64)
    F[0] = 1.0 / math.sqrt(p)
    F[1 : 2 * pairs : 2] = torch.cos(ang) * math.sqrt(2.0 / p)
    F[2 : 2 * pairs + 1 : 2] = torch.sin(ang) * math.sqrt(2.0 / p)
    if p % 2 == 0:  # the Nyquist row cos(pi x) = (-1)^x, norm sqrt(p)
        F[p - 1] = (1 - 2 * (x % 2)).to(torch.float64) / math.sqrt(p)
    return F


def _padded(x: Tensor, dim: int = 0) -> Tensor:
    """``x`` (indexed by basis rows along ``dim``) with a zero row appended for an even n
    (the missing ``sin n/2``), so that rows ``2k - 1`` and ``2k`` exist for every k."""
    if x.shape[dim] % 2 == 1:
        return x
    shape = list(x.shape)
    shape[dim] = 1
    return torch.cat([x, x.new_zeros(shape)], dim=dim)


def fourier_basis(
    p: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> tuple[Float[Tensor, "p p"], list[str]]:
    """The orthonormal real Fourier basis of Z_n (n = ``p``) and its row names (Nanda et al.
    2023 for Z_p).

    ``F[0] = 1/sqrt(n)``, ``F[2k-1, x] = sqrt(2/n) cos(2 pi k x / n)``,
    ``F[2k, x] = sqrt(2/n) sin(2 pi k x / n)`` for k = 1 .. (n-1) // 2 and, for even n,
    ``F[n-1, x] = (-1)^x / sqrt(n)``; so ``F F^T = I``. A vector ``v`` over Z_n has
    coefficients ``F v`` and is recovered as ``F^T (F v)``.

    Raises:
        ValueError: n < 2.
    """
    F = _basis64(p).to(device=device, dtype=dtype, copy=True)  # never the cached tensor
    return F, basis_names(p)


def _basis_like(p: int, x: Tensor) -> Tensor:
    dtype = x.dtype if x.is_floating_point() else torch.float32
    return _basis64(p).to(device=x.device, dtype=dtype)


def fourier_1d(
    x: Float[Tensor, "..."], dim: int = 0, inverse: bool = False
) -> Float[Tensor, "..."]:
    """Project axis ``dim`` (of length n, the group order) onto the basis.

    ``y[.., j, ..] = sum_x F[j, x] x[.., x, ..]`` (coefficients of row j).
    With ``inverse=True`` apply ``F^T`` instead (coefficients back to values).
    """
    if not x.is_floating_point():
        x = x.to(torch.float32)
    p = x.shape[dim]
    F = _basis_like(p, x)
    if inverse:
        F = F.T
    dim = dim % x.ndim
    if dim == 0:  # one (p, p) @ (p, rest) matmul on a contiguous view: no copies
        return (F @ x.reshape(p, -1)).reshape(x.shape)
    if dim == x.ndim - 2:  # a batch of (p, p) @ (p, last) matmuls, again without copies
        return torch.matmul(F, x)
    out: Tensor = torch.tensordot(F, x.movedim(dim, 0), dims=1).movedim(0, dim)
    return out


def fourier_2d(x: Float[Tensor, "p p *rest"], inverse: bool = False) -> Float[Tensor, "p p *rest"]:
    """2D transform over the (a, b) grid in the first two axes: ``F x F^T`` per trailing index.

    ``y[i, j, ...] = sum_{a, b} F[i, a] F[j, b] x[a, b, ...]``; ``inverse=True`` applies
    ``F^T y F``. Row i of the result is the basis row i of a (see the module table), column j
    that of b.
    """
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"fourier_2d needs a (p, p, ...) grid, got shape {tuple(x.shape)}")
    return fourier_1d(fourier_1d(x, 0, inverse), 1, inverse)


# ----------------------------------------------------------------------------- frequency norms
def freq_norms(
    W: Float[Tensor, "..."], dim: int = 0, include_const: bool = False
) -> Float[Tensor, " n"]:
    """Norm of each frequency of ``W`` along its axis ``dim`` of length n (Nanda et al. 2023).

    With ``C = F W`` (transform along ``dim``), the norm of frequency k is
    ``sqrt(||C_{cos k}||^2 + ||C_{sin k}||^2)``, the sums running over every other axis
    (``||C_{cos n/2}||`` alone for the Nyquist frequency of an even n). The result has
    length n // 2 with entry ``k - 1`` for frequency k; with ``include_const=True`` it has
    length n // 2 + 1, entry 0 being ``||C_const||`` and entry k frequency k. See
    :func:`const_norm` for the constant term alone.
    """
    C = fourier_1d(W, dim).movedim(dim, 0)
    sq = _padded(C.reshape(C.shape[0], -1).pow(2).sum(1))  # energy per basis row
    per_freq = (sq[1::2] + sq[2::2]).sqrt()
    if include_const:
        return torch.cat([sq[:1].sqrt(), per_freq])
    return per_freq


def const_norm(W: Float[Tensor, "..."], dim: int = 0) -> float:
    """Norm of the constant component of ``W`` along ``dim``: ``||(F W)_const||``."""
    return float(freq_norms(W, dim, include_const=True)[0])


def token_embedding(params: Params) -> Tensor:
    """The matrix whose rows embed the operand tokens: ``embed.W_E``; for an MLP on one-hot
    inputs (``mlp_input="onehot"``, Prieto et al. 2025's MLP: no embedding, its first layer
    reads ``[onehot(a), onehot(b)]``), the first layer's block of rows that reads ``a``,
    ``blocks.0.mlp.W_in[:n]`` (row t is what token t adds to every neuron's pre-activation;
    the block that reads ``b`` is its twin). ValueError for a model that has neither."""
    if "embed.W_E" in params:
        return params["embed.W_E"]
    w_in = params.get("blocks.0.mlp.W_in")
    if w_in is None or w_in.shape[0] % 2:
        raise ValueError(
            "the model has no token embedding (embed.W_E) and no one-hot first layer; the "
            "Fourier measures of the embedding do not apply"
        )
    return w_in[: w_in.shape[0] // 2]


def _check_rows(params: Params, p: int | GroupBasis) -> GroupBasis:
    basis = as_basis(p)
    p = basis.p
    if basis.group == "additive" and p % 2 == 0:
        raise ValueError(
            f"the additive analysis is for odd p (p={p}); pass an odd modulus (e.g. 113)"
        )
    check_order(basis.order)
    rows = token_embedding(params).shape[0]
    if rows < p:
        raise ValueError(
            f"the token embedding has {rows} rows, fewer than p={p}; pass the p of the model's task"
        )
    if params["unembed.W_U"].shape[1] < p:
        raise ValueError(
            f"unembed.W_U has {params['unembed.W_U'].shape[1]} columns, fewer than p={p}; "
            "pass the p of the model's task"
        )
    return basis


def embedding_freq_norms(params: Params, p: int | GroupBasis) -> Float[Tensor, " n_freqs"]:
    """Per-frequency norms of the token embedding along the token axis (:func:`token_embedding`:
    a one-hot MLP's first-layer rows for ``a``), in the group of ``p``.

    ``p`` an int: the additive group Z_p, rows ``W_E[:p]`` (row p, the ``=`` token, is left
    out). ``p`` a :class:`~grokinterp.analysis.groups.GroupBasis`: the rows of its elements
    in group order (for Z_p*, row ``g^i`` as row i: the token 0 is left out). Entry ``k - 1``
    is frequency k of the group.
    """
    basis = _check_rows(params, p)
    return component_norms(basis.tokens(token_embedding(params).detach(), 0), basis, dim=0)


def component_norms(W: Float[Tensor, "..."], basis: GroupBasis, dim: int = 0) -> Tensor:
    """Per-component norms of ``W`` along ``dim`` (indexed by the group's elements, in group
    order): :func:`freq_norms` for a cyclic group, the per-representation norms
    (:func:`grokinterp.analysis.symmetric.component_norms`) for S_n. Entry ``k - 1`` is
    component k."""
    if basis.cyclic:
        return freq_norms(W, dim=dim)
    out = symmetric.component_norms(W, basis.degree, dim=dim)
    return out.to(W.dtype) if W.is_floating_point() else out.to(torch.float32)


def logit_weight(params: Params, p: int | GroupBasis) -> Float[Tensor, "d_mlp n"]:
    """``W_logit = W_out W_U[:, :p]`` (d_mlp x p): the map from the last MLP's neurons to logits.

    ``p`` a :class:`~grokinterp.analysis.groups.GroupBasis`: the columns of its elements, in
    group order (d_mlp x n; for Z_p*, column ``g^i`` as column i, class 0 left out).

    Uses the ``W_out`` of the last block (the neurons that write the answer); only the first
    p output columns are answer classes (legacy models have p + 1). For the MLP arch (no
    ``W_out``: the last hidden layer feeds ``W_U`` directly) it is ``W_U[:, :p]``.

    A transformer with a LayerNorm between the last MLP and the unembedding (the post-LN
    models of Power et al. 2022 and Prieto et al. 2025: the last block's ``ln2``; the pre-LN
    and Grokfast models: ``ln_final``, their ``ln2`` being before the MLP) has the
    LayerNorm's linear part folded in, as TransformerLens's ``fold_ln`` and
    ``center_writing_weights`` do: ``W_out C diag(g) W_U``
    with ``C = I - 11^T / d_model`` the centering and ``g`` the LayerNorm's gain. What this
    leaves out is the division by each example's residual norm (a positive factor per
    example, the same for every class, so it does not move power between frequencies) and
    the LayerNorm's bias (a constant logit per class, written by no neuron).
    """
    basis = _check_rows(params, p)
    W_U = basis.tokens(params["unembed.W_U"].detach(), 1)
    layers = [
        int(k.split(".")[1]) for k in params if k.startswith("blocks.") and k.endswith(".mlp.W_out")
    ]
    if not layers:
        return W_U
    last = max(layers)
    w_out = params[f"blocks.{last}.mlp.W_out"].detach()
    final_ln = next(
        (params[k].detach() for k in ("ln_final.w", f"blocks.{last}.ln2.w") if k in params), None
    )
    if final_ln is not None:
        w_out = (w_out - w_out.mean(-1, keepdim=True)) * final_ln
    return w_out @ W_U


def logit_weight_freq_norms(params: Params, p: int | GroupBasis) -> Float[Tensor, " n_freqs"]:
    """Per-frequency norms of ``W_logit`` (:func:`logit_weight`) along its output (class) axis.

    The transform runs over the answer classes c of the group (axis 1 of the d_mlp x n
    matrix) and the norm sums over neurons (Nanda et al. 2023). Entry ``k - 1`` is
    frequency k.
    """
    return component_norms(logit_weight(params, p), as_basis(p), dim=1)


def check_key_freqs(key_freqs: Sequence[int], p: int) -> list[int]:
    """Validate an explicit key-frequency list: ints in 1 .. n // 2 for the group order
    n = ``p`` (p itself for Z_p, p - 1 for Z_p*); returned sorted, unique.

    Raises ConfigError (a ValueError) naming the frequencies out of range."""
    n = n_freqs(p)
    out = sorted({int(k) for k in key_freqs})
    bad = [k for k in out if not 1 <= k <= n]
    if bad:
        raise ConfigError(
            f"key frequencies {bad} are out of range for a group of order {p}: frequencies "
            f"are 1 .. {n} ({p} // 2); the constant term is not a frequency"
        )
    return out


def select_key_frequencies(norms: Float[Tensor, " n_freqs"], min_energy: float = 0.5) -> list[int]:
    """The key-frequency rule, applied to per-frequency norms (entry ``k - 1`` = frequency k).

    Rule (scale-free, any p): sort the norms in decreasing order ``s_1 >= s_2 >= ... >= s_n``
    and cut at the largest ratio ``s_m / s_{m+1}`` (the largest gap in log norm), among the
    cut points m = 1 .. n-1 whose top m frequencies hold at least ``min_energy`` of the total
    energy ``sum s_i^2``; ties go to the smaller m. The key frequencies are the top m,
    returned ascending. If no cut point holds ``min_energy`` every frequency is returned.
    The energy floor stops a single dominant frequency from hiding the others when the
    key frequencies have unequal norms; frequency (p-1)/2 is treated like any other.

    Raises:
        ValueError: every norm is zero.
    """
    s = norms.detach().to(torch.float64).flatten()
    n = s.numel()
    if n == 0 or not bool((s > 0).any()):
        raise ValueError("all frequency norms are zero; pass the key frequencies explicitly")
    if n == 1:
        return [1]
    vals, order = torch.sort(s, descending=True)
    logs = vals.clamp_min(vals[0] * 1e-12).log()
    gaps = logs[:-1] - logs[1:]  # gaps[m - 1]: cut after the top m
    cum = (vals.pow(2).cumsum(0) / vals.pow(2).sum())[:-1]
    ok = cum >= min_energy - 1e-12
    if not bool(ok.any()):
        return list(range(1, n + 1))
    m = int(torch.argmax(torch.where(ok, gaps, torch.full_like(gaps, -math.inf)))) + 1
    return sorted(int(i) + 1 for i in order[:m])


def key_frequencies(
    params: Params, p: int | GroupBasis, source: KeySource = "embed", min_energy: float = 0.5
) -> list[int]:
    """Key frequencies of a trained model (ascending, each in 1 .. n // 2) in the group of
    ``p`` (an int: Z_p; or a :class:`~grokinterp.analysis.groups.GroupBasis`).

    Applies :func:`select_key_frequencies` (largest log-gap of the sorted per-frequency
    norms, among cuts holding at least ``min_energy`` of the energy) to the norms of:

    * ``source="embed"`` (default): ``W_E[:p]`` along the token axis (Nanda et al. 2023,
      whose embedding is sparse in the Fourier basis after grokking);
    * ``source="logit"``: ``W_logit = W_out W_U[:, :p]`` along the class axis;
    * ``source="both"``: the two energy profiles, each normalized to sum 1, added.

    The rule is meant for a model whose circuit has formed (run it on the final checkpoint
    and pass the result to the measures of every checkpoint, as the paper does). Every
    measure takes the key frequencies as an explicit list, so a user can override this rule;
    :func:`check_key_freqs` validates such a list.
    """
    if source == "embed":
        norms = embedding_freq_norms(params, p)
    elif source == "logit":
        norms = logit_weight_freq_norms(params, p)
    elif source == "both":
        e1 = embedding_freq_norms(params, p).double().pow(2)
        e2 = logit_weight_freq_norms(params, p).double().pow(2)
        norms = (e1 / e1.sum().clamp_min(1e-300) + e2 / e2.sum().clamp_min(1e-300)).sqrt()
    else:
        raise ValueError(f"source must be 'embed', 'logit' or 'both', got {source!r}")
    return select_key_frequencies(norms, min_energy)


# ----------------------------------------------------------------------------- neuron clusters
def neuron_freq_fractions(
    acts: Float[Tensor, "p p d_mlp"], dtype: torch.dtype = torch.float32
) -> Float[Tensor, "d_mlp n_freqs"]:
    """Fraction of each neuron's activation variance over the grid explained by each frequency.

    For neuron n with activations ``A[a, b]`` over all pairs: center (subtract the grid mean),
    take ``G = F A F^T`` and, for frequency k with index set ``S_k = {const, cos k, sin k}``,
    ``frac[n, k] = sum_{(i, j) in S_k x S_k, (i, j) != (const, const)} G[i, j]^2 / ||A - mean||^2``
    (8 components: (const, cos k), (const, sin k), (cos k, const), (sin k, const),
    (cos k, cos k), (cos k, sin k), (sin k, cos k), (sin k, sin k)); Nanda et al. 2023.
    Different k use disjoint components, so a neuron's fractions sum to at most 1 (up to
    rounding in ``dtype``: the total is the centered energy, by Parseval). A neuron
    with no variance over the grid (dead or constant; centered energy below ~1e-25 of its
    raw energy) gets fractions 0. Computed in ``dtype`` (float32 by default: fractions are
    ratios, accurate to ~1e-6, and float64 doubles the cost of the 2D transform, the most
    expensive step of ``grokinterp analyze``). Column ``k - 1`` is frequency k.
    """
    if acts.ndim != 3 or acts.shape[0] != acts.shape[1]:
        raise ValueError(f"acts must have shape (p, p, d_mlp), got {tuple(acts.shape)}")
    p = acts.shape[0]
    n = n_freqs(p)  # for an even order the Nyquist block is {const, cos n/2} (a zero sine row)
    x = acts.detach().to(dtype)
    eps = torch.finfo(dtype).eps
    raw = x.pow(2).sum(dim=(0, 1))  # uncentered energy, for the dead-neuron test
    x = x - x.mean(dim=(0, 1), keepdim=True)
    # The basis is orthonormal, so the total energy of G is that of x (Parseval), and only
    # the blocks S_k x S_k of G are needed: transform the a axis in full, then, for row i of
    # frequency k, only the b components {const, cos k, sin k} (3 p^2 d operations instead of
    # the p^3 d of a full second transform); row const needs every b component.
    total = x.pow(2).sum(dim=(0, 1))  # (d,)
    Fb = _padded(_basis_like(p, x))
    Y = _padded(fourier_1d(x, 0))  # (p, p, d): G before the b transform
    c = torch.arange(1, n + 1, device=x.device) * 2 - 1
    s = c + 1
    rows = torch.stack([torch.zeros_like(c), c, s], dim=1)  # (n, 3) basis rows of block k
    blocks = Fb[rows]  # (n, 3, p)
    Gc = torch.bmm(blocks, Y[c]).pow(2)  # (n, 3, d): G[cos k, (const, cos k, sin k)]^2
    Gs = torch.bmm(blocks, Y[s]).pow(2)  # (n, 3, d): G[sin k, (const, cos k, sin k)]^2
    G0 = (Fb[torch.cat([c, s])] @ Y[0]).pow(2)  # (2n, d): G[const, (cos k | sin k)]^2
    part = G0[:n] + G0[n:] + Gc.sum(dim=1) + Gs.sum(dim=1)  # (n, d)
    # variance at the rounding level of the centering (a constant neuron) counts as none
    live = total > (1e3 * eps) ** 2 * raw
    frac = torch.where(live, part / total.clamp_min(torch.finfo(dtype).tiny), 0.0)
    return frac.T.contiguous()


class NeuronClusters(NamedTuple):
    """Neuron clusters by frequency (a named pair: ``cluster, fraction = neuron_clusters(..)``).

    Args:
        cluster: frequency k of each neuron's cluster, or -1 if no frequency explains more
            than the threshold of its variance.
        fraction_clustered: fraction of neurons with a cluster.
    """

    cluster: Int[Tensor, " d_mlp"]
    fraction_clustered: float

    def sizes(self) -> dict[int, int]:
        """Number of neurons per frequency (clustered neurons only), by frequency."""
        ks, counts = torch.unique(self.cluster[self.cluster > 0], return_counts=True)
        return {int(k): int(c) for k, c in zip(ks, counts, strict=True)}


def neuron_clusters(
    fractions: Float[Tensor, "d_mlp n_freqs"], threshold: float = 0.85
) -> NeuronClusters:
    """Assign each neuron to the frequency explaining more than ``threshold`` of its variance.

    Nanda et al. 2023 use 0.85 and find about 85% of neurons clustered. A threshold >= 0.5
    makes the assignment unique (a neuron's fractions sum to at most 1).
    """
    best, idx = fractions.max(dim=1)
    cluster = torch.where(best > threshold, idx + 1, torch.full_like(idx, -1))
    frac = float((cluster > 0).double().mean()) if cluster.numel() else 0.0
    return NeuronClusters(cluster=cluster, fraction_clustered=frac)


# ----------------------------------------------------------------------------- logit cube
FOLD_CHUNK = 1 << 22  # elements of the logits that fold_grid gathers at once


def fold_grid(logits: Float[Tensor, "p p c"], structure: str = "sum") -> Float[Tensor, "p c"]:
    """Sum the logits over the pairs with the same ``s = a + b`` (or ``a - b``) mod p, in float64.

    ``S[s, c] = sum_{a, b : a +- b = s mod p} logits[a, b, c]``. Every function of the grid
    that depends only on s (such as cos(w_k(a + b))) has inner products with the logits that
    reduce to inner products with ``S``.
    """
    p = logits.shape[0]
    if logits.ndim != 3 or logits.shape[1] != p:
        raise ValueError(f"logits must have shape (p, p, classes), got {tuple(logits.shape)}")
    _check_structure(structure)
    c = logits.shape[2]
    a = torch.arange(p, device=logits.device)
    S = torch.zeros(p, c, dtype=torch.float64, device=logits.device)
    # b = s - a (sum) or a - s (difference): row a of the result gathers logits[a, b(a, s)]
    rows = max(1, FOLD_CHUNK // max(1, p * c))  # rows of a at a time: bounded extra memory
    for lo in range(0, p, rows):
        ai = a[lo : lo + rows, None]
        b = torch.remainder(a[None, :] - ai if structure == "sum" else ai - a[None, :], p)
        block = torch.take_along_dim(logits[lo : lo + rows], b[:, :, None], dim=1)
        S += block.sum(dim=0, dtype=torch.float64)
    return S


@dataclass(frozen=True)
class LogitCube:
    """The logits as a function of (a, b, c), against cos(w_k(a + b - c)).

    Args:
        coefs: ``<L, D_k> / ||D_k||`` for every frequency (entry ``k - 1``), where
            ``D_k[a, b, c] = cos(w_k(a + b - c))`` (``a - b - c`` for difference tasks).
            The ``D_k`` are mutually orthogonal, so ``coefs**2`` is the energy along each.
        amplitudes: ``<L, D_k> / ||D_k||^2``: the best fit ``L ~ sum_k amplitude_k D_k``.
        key_freqs: the frequencies whose span is used below.
        norm: ``||L||`` (after centering, if asked).
        cos_sim: cosine similarity of L and its projection on ``span{D_k : k in key_freqs}``
            (= ``||proj|| / ||L||``).
        residual_norm: ``||L - proj||``.
        residual_fraction: ``||L - proj|| / ||L||``; ``cos_sim^2 + residual_fraction^2 = 1``.
    """

    coefs: Float[Tensor, " n_freqs"]
    amplitudes: Float[Tensor, " n_freqs"]
    key_freqs: tuple[int, ...]
    norm: float
    cos_sim: float
    residual_norm: float
    residual_fraction: float


def logit_cube_similarity(
    logits: Float[Tensor, "p p p"],
    key_freqs: Sequence[int],
    structure: str = "sum",
    center: bool = True,
) -> LogitCube:
    """Coefficients of the logits on cos(w_k(a + b - c)), and how much of them that explains.

    Nanda et al. 2023 (section 4) find the logits of a grokked model are close to
    ``sum_{k in K} alpha_k cos(w_k(a + b - c))``. The directions are never materialized:
    with ``cos(w(s - c)) = cos(ws) cos(wc) + sin(ws) sin(wc)`` and ``s = a + b mod p``,
    ``<L, D_k> = sum_{s, c} S[s, c] cos(w_k(s - c)) = (p/2) (G[cos k, cos k] + G[sin k, sin k])``
    with ``S`` = :func:`fold_grid` (p x p) and ``G = F S F^T``; ``||D_k||^2 = p^3 / 2``.
    Any cyclic group Z_n: ``logits`` indexed by group element along all three axes (n, n,
    n) (:meth:`~grokinterp.analysis.groups.GroupBasis.tokens` on the class axis, the grid
    from :meth:`~grokinterp.analysis.groups.GroupBasis.grid_index`); for an even n the
    Nyquist direction ``D_{n/2} = (-1)^(a + b - c)`` has ``<L, D> = n G[cos n/2, cos n/2]``
    and ``||D||^2 = n^3``. Extra memory is O(p^2) (the logits are read one row of a at a
    time, in float64).

    Args:
        logits: ``L[a, b, c]`` over all pairs and the p answer classes.
        key_freqs: frequencies spanning the projection.
        structure: ``sum`` (a + b - c) or ``difference`` (a - b - c).
        center: subtract each pair's mean over c first (it is invisible to the softmax and
            orthogonal to every D_k, so only ``norm`` and the fractions change).
    """
    p = logits.shape[0]
    if logits.shape != (p, p, p):
        raise ValueError(
            f"logits must have shape (p, p, p), got {tuple(logits.shape)}; drop extra output "
            "columns first (e.g. logits[..., :p])"
        )
    keys = check_key_freqs(key_freqs, p)
    _check_structure(structure)
    S = fold_grid(logits, structure)
    G = _padded(_padded(fourier_2d(S), 0), 1)
    n = n_freqs(p)
    c = torch.arange(1, n + 1, device=G.device) * 2 - 1
    w = torch.ones(n, dtype=torch.float64, device=G.device)
    if p % 2 == 0:
        w[-1] = 2.0  # the Nyquist direction: one basis row of norm sqrt(p) instead of two
    inner = (p / 2) * w * (G[c, c] + G[c + 1, c + 1])  # <L, D_k>, k = 1..n
    dnorm2 = (p**3 / 2) * w
    coefs = inner / dnorm2.sqrt()
    norm2 = 0.0
    for i in range(p):
        row = logits[i].to(torch.float64)
        if center:
            row = row - row.mean(dim=-1, keepdim=True)
        norm2 += float(row.pow(2).sum())
    proj2 = float(coefs[[k - 1 for k in keys]].pow(2).sum()) if keys else 0.0
    resid2 = max(norm2 - proj2, 0.0)
    norm = math.sqrt(norm2)
    return LogitCube(
        coefs=coefs,
        amplitudes=inner / dnorm2,
        key_freqs=tuple(keys),
        norm=norm,
        cos_sim=math.sqrt(proj2) / norm if norm > 0 else math.nan,
        residual_norm=math.sqrt(resid2),
        residual_fraction=math.sqrt(resid2) / norm if norm > 0 else math.nan,
    )


def _check_structure(structure: str) -> None:
    if structure not in ("sum", "difference"):
        raise ValueError(
            f"structure must be 'sum' (a + b) or 'difference' (a - b), got {structure!r}"
        )
