"""Spectral optimizers for the hidden weight matrices: Muon and egalitarian gradient descent.

With ``optim.optimizer`` ``"muon"`` or ``"egd"`` a run's *hidden* matrices (every ``blocks.*``
parameter with two or more axes: attention's W_Q, W_K, W_V, W_O and the MLP's W_in, W_out)
take the spectral step below; the embeddings, positional embedding, unembedding and biases
take AdamW's step (:mod:`grokinterp.training.adamw`) with ``lr``. This split is the Muon
convention (Jordan et al. 2024; ``torch.optim.Muon``'s documentation: "Muon is an optimizer
for 2D parameters of neural network hidden layers. Other parameters, such as bias, and
embedding, should be optimized by a standard method such as AdamW"), which Tveit et al.
2025 (arXiv 2504.16041) follow; we apply the same split to EGD so that the two differ only
in the hidden matrices' step.

A hidden parameter is read as the matrix of the linear map it applies, ``(out, in)`` as an
``nn.Linear`` weight: W_in ``(d_model, d_mlp)`` -> ``(d_mlp, d_model)``; W_Q/W_K/W_V
``(heads, d_model, d_head)`` -> ``(heads * d_head, d_model)``; W_O ``(heads, d_head,
d_model)`` -> ``(d_model, heads * d_head)``. So a transformer's per-head tensors are
orthogonalized as the one projection they form, as Muon treats a model built of
``nn.Linear`` layers.

**Muon** (Jordan et al. 2024, "Muon: an optimizer for hidden layers in neural networks";
the update of ``torch.optim.Muon`` in torch 2.13, ``torch/optim/_muon.py``, with its
defaults: Nesterov, 5 Newton-Schulz steps with coefficients (3.4445, -4.775, 2.0315), eps
1e-7, the "original" lr adjustment): with momentum ``mu``, learning rate ``lr`` and weight
decay ``wd``::

    B <- mu B + (1 - mu) G;   U = (1 - mu) G + mu B   (Nesterov)
    O = NS_5(U)               (~ the orthogonal polar factor of U)
    W <- W (1 - lr wd) - lr sqrt(max(1, out / in)) O

One difference from torch, ours: the Newton-Schulz iteration runs in float32, where torch
casts to bfloat16 (a GPU speed choice; on CPU bfloat16 matmuls are no faster). bfloat16's
8-bit mantissa turns the ~1e-7 rounding differences between an ensemble's batched forward
and a lone run's into whole-ulp jumps: measured on the tests' tiny model, a member drifted
from its lone run by 1e-2 in 20 updates in bfloat16, by 2e-6 in float32. The result agrees
with torch's to bfloat16 precision (tests/training/test_spectral_optim.py).

**EGD** (Pasand & Dohmatob, "Egalitarian Gradient Descent: A Simple Approach to Accelerated
Grokking", ICLR 2026): gradient descent with the gradient preconditioned by
``(G G^T)^(-1/2)``, which sets every singular value of the step to 1; their code
(asahebpa/Egalitarian-Gradient-Descent@046e066, main-results/mod_add.py:L188-198) computes
``U diag(1 / max(s, eps)) U^T G`` from the thin SVD ``G = U diag(s) V^T`` with eps 1e-6
(L193), that is ``U diag(s / max(s, eps)) V^T``, and steps ``W <- W - lr E``. We compute the
SVD in float64 and add the decoupled weight decay ``W <- W (1 - lr wd)`` (their runs put a
small L2 term in the loss instead, L99-102: our choice, stated on the card). EGD keeps no
state.

Both are written for a leading *members* axis, so the ensemble updates its members' slices
of the stacked buffers in one call with the same arithmetic as a run alone (a run is a
batch of one). Muon's momentum buffer is stored in the run's ``exp_avg`` slot of that
parameter (the state file's first moment; ``exp_avg_sq`` stays zero), so the state file's
format and exact resume are the AdamW ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.training.schedule import lr_at

SPECTRAL = ("muon", "egd")
NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)  # torch.optim._muon DEFAULT_A, _B, _C
NS_STEPS = 5  # torch.optim._muon DEFAULT_NS_STEPS
NS_EPS = 1e-7  # torch.optim._muon EPS
NS_DTYPE = torch.float32  # torch computes in bfloat16: module doc
EGD_EPS = 1e-6  # Pasand & Dohmatob's floor on the singular values (mod_add.py:L193)


def hidden_names(cfg: TrainConfig, shapes: Iterable[tuple[str, tuple[int, ...]]]) -> list[str]:
    """The parameters that take the spectral step under ``cfg`` (none for AdamW / Adam):
    every ``blocks.*`` parameter of two or more axes. Raises ConfigError when the optimizer
    is spectral and the model has none."""
    if cfg.optim.optimizer not in SPECTRAL:
        return []
    names = [n for n, shape in shapes if n.startswith("blocks.") and len(shape) >= 2]
    if not names:
        raise ConfigError(
            f"config field optim.optimizer: {cfg.optim.optimizer} updates hidden weight "
            f"matrices and arch {cfg.model.arch!r} with this config has none (no blocks.* "
            f"parameter of two or more axes); use adamw"
        )
    return names


def to_matrix(name: str, t: Tensor) -> Tensor:
    """``t`` (members, *shape) of parameter ``name`` as (members, out, in) matrices (the
    linear map's ``nn.Linear`` weight; module doc)."""
    m = t.shape[0]
    leaf = name.rsplit(".", 1)[-1]
    if leaf in ("W_Q", "W_K", "W_V") and t.dim() == 4:  # (M, heads, in, d_head)
        return t.permute(0, 1, 3, 2).reshape(m, -1, t.shape[2])
    if leaf == "W_O" and t.dim() == 4:  # (M, heads, d_head, out)
        return t.reshape(m, -1, t.shape[3]).mT
    if t.dim() == 3:  # (M, in, out): x @ W
        return t.mT
    raise ConfigError(
        f"parameter {name} of shape {tuple(t.shape[1:])}: the spectral optimizers read 2-axis "
        f"weights and attention's W_Q/W_K/W_V/W_O only"
    )


def from_matrix(name: str, mat: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The inverse of :func:`to_matrix`: (members, out, in) back to (members, *shape)."""
    m = mat.shape[0]
    leaf = name.rsplit(".", 1)[-1]
    if leaf in ("W_Q", "W_K", "W_V") and len(shape) == 3:
        heads, d_in, d_head = shape
        return mat.reshape(m, heads, d_head, d_in).permute(0, 1, 3, 2)
    if leaf == "W_O" and len(shape) == 3:
        return mat.mT.reshape(m, *shape)
    return mat.mT


def newton_schulz(g: Tensor, steps: int = NS_STEPS, eps: float = NS_EPS) -> Tensor:
    """Muon's orthogonalization of each matrix of ``g`` (..., A, B): ``steps`` quintic
    Newton-Schulz iterations after scaling to unit Frobenius norm, on the wide orientation;
    the iteration of ``torch.optim._muon._zeropower_via_newtonschulz`` with a leading batch
    axis, in float32 rather than bfloat16 (module doc). Approximately U V^T for g = U S V^T
    (its singular values land in about [0.7, 1.2], not exactly 1: Jordan et al.'s
    coefficients trade accuracy for speed)."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(NS_DTYPE)
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)
    lead = x.shape[:-2]
    x = x.reshape(-1, *x.shape[-2:])
    for _ in range(steps):
        gram = x @ x.mT
        update = torch.baddbmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.baddbmm(x, update, x, beta=a)
    x = x.reshape(*lead, *x.shape[-2:])
    return (x.mT if tall else x).float()


def egalitarian(g: Tensor, eps: float = EGD_EPS) -> Tensor:
    """EGD's direction for each matrix of ``g`` (..., A, B): ``(G G^T)^(-1/2) G = U diag(s /
    max(s, eps)) V^T`` from the thin SVD (float64), in ``g``'s dtype (Pasand & Dohmatob,
    ICLR 2026; module doc)."""
    u, s, vh = torch.linalg.svd(g.double(), full_matrices=False)
    direction: Tensor = (u * (s / s.clamp(min=eps)).unsqueeze(-2)) @ vh
    return direction.to(g.dtype)


@dataclass(frozen=True)
class SpectralSettings:
    """The hidden matrices' step at one update: kind, learning rate, decoupled weight decay,
    Muon's momentum."""

    kind: str
    lr: float
    weight_decay: float
    momentum: float


def spectral_settings_of(cfg: TrainConfig, update: int) -> SpectralSettings | None:
    """The settings of update ``update`` (0-based) for the hidden matrices (None unless the
    optimizer is spectral): ``spectral_lr`` (default ``lr``) on ``lr``'s warm-up."""
    o = cfg.optim
    if o.optimizer not in SPECTRAL:
        return None
    base = o.lr if o.spectral_lr is None else o.spectral_lr
    wd = o.weight_decay if o.spectral_weight_decay is None else o.spectral_weight_decay
    return SpectralSettings(o.optimizer, base * lr_at(cfg, update) / o.lr, wd, o.spectral_momentum)


@torch.no_grad()
def spectral_step_(
    name: str, param: Tensor, grad: Tensor, buf: Tensor, s: SpectralSettings
) -> None:
    """One step of parameter ``name`` in place: ``param``, ``grad`` and ``buf`` (Muon's
    momentum) are (members, *shape); every member with the same settings ``s``."""
    shape = tuple(param.shape[1:])
    if s.kind == "muon":
        buf.lerp_(grad, 1 - s.momentum)
        direction = to_matrix(name, grad.lerp(buf, s.momentum))
        out, inp = direction.shape[-2:]
        ortho = newton_schulz(direction)
        step = from_matrix(name, ortho, shape)
        lr = s.lr * math.sqrt(max(1.0, out / inp))  # torch's "original" adjustment
    elif s.kind == "egd":
        step = from_matrix(name, egalitarian(to_matrix(name, grad)), shape)
        lr = s.lr
    else:
        raise ValueError(f"unknown spectral optimizer {s.kind!r}")
    param.mul_(1 - s.lr * s.weight_decay)
    param.add_(step, alpha=-lr)


__all__ = [
    "SPECTRAL",
    "SpectralSettings",
    "egalitarian",
    "from_matrix",
    "hidden_names",
    "newton_schulz",
    "spectral_settings_of",
    "spectral_step_",
    "to_matrix",
]
