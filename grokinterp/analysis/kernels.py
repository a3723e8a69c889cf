"""The empirical neural tangent kernel of a checkpoint, kernel regression with it, and how
far it moves during training.

Mohamadi et al. 2024 ("Why do you grok? A theoretical analysis of grokking modular addition",
arXiv 2407.12332) argue that early in training a network is in the *kernel regime*, where it
behaves like kernel regression with its tangent kernel at initialization, and that such a
permutation-equivariant kernel method needs a constant fraction of all p² pairs to
generalize on modular addition; networks that generalize from fewer pairs must leave the
kernel regime. This module measures both halves:

* :func:`empirical_ntk`: ``K(x, x') = (1/C) Σ_c ⟨∂f_c(x)/∂θ, ∂f_c(x')/∂θ⟩`` (the trace of the
  C x C output-block NTK, divided by C), with the Jacobians from ``torch.func.jacrev`` batched
  by ``torch.func.vmap``; ``mode="full"`` returns every block ``K[i, j, c, c']``.
* :func:`kernel_regression`: the kernel (ridge) regression predictor
  ``f(x) = K(x, X) (K(X, X) + λ I)⁺ Y`` (the pseudo-inverse when λ = 0: the minimum-norm
  interpolant), on one-hot targets; the predicted class is the argmax. This is the limit
  of training the network linearized at the checkpoint with squared loss from a zero
  output (Jacot et al. 2018, arXiv 1806.07572; Lee et al. 2019, arXiv 1902.06720); we drop
  the initial output ``f_0``, as the kernel-regime argument of Mohamadi et al. does.
* :func:`kernel_distance` (Fort et al. 2020, arXiv 2010.15110):
  ``S(K_0, K_t) = 1 − ⟨K_0, K_t⟩_F / (‖K_0‖_F ‖K_t‖_F)``: 0 while the kernel only rescales,
  up to 1 as it rotates away from its initial value.
* :func:`kernel_alignment`: centered kernel-target alignment (Cortes, Mohri and Rostamizadeh
  2012, JMLR 13, Lemma 1 / Def. 4) of ``K`` with the label kernel ``Y Yᵀ`` (one-hot ``Y``):
  ``⟨HKH, HYYᵀH⟩_F / (‖HKH‖_F ‖HYYᵀH‖_F)`` with ``H = I − 11ᵀ/n``; Kumar et al. 2024 (ICLR,
  "Grokking as the transition from lazy to rich training dynamics") track it through grokking.

The model functions differentiate the training forwards, :func:`grokinterp.models.mlp_forward`
(``arch="mlp"``) and :func:`grokinterp.models.answer_logits` (the transformer's answer
position); their table look-ups are written in the form ``torch.func`` transforms.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import jacrev, vmap

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, arch_names, get_arch
from grokinterp.runs.run import Run

NtkMode = Literal["trace", "full"]
ModelFn = Callable[[Params, Tensor], Tensor]  # (params, inputs (batch, ...)) -> (batch, C)


def _jacobian(fn: ModelFn, params: Params, x: Tensor, chunk: int, out: int | None) -> Tensor:
    """The Jacobian w.r.t. the parameters (flattened and concatenated in the dict's order) of
    every output (``out=None``: ``(n, C, P)``) or of output ``out`` only (``(n, P)``) at every
    row of ``x``, by ``vmap(jacrev(.))`` over chunks of ``chunk`` rows."""

    def one(p: Params, row: Tensor) -> Tensor:
        y = fn(p, row.unsqueeze(0))[0]
        return y if out is None else y[out]

    per_row = vmap(jacrev(one), in_dims=(None, 0))
    blocks = []
    for start in range(0, len(x), chunk):
        jac = per_row(params, x[start : start + chunk])  # name -> (b, [C,] *shape)
        lead = 1 if out is not None else 2
        blocks.append(torch.cat([j.flatten(lead) for j in jac.values()], dim=lead))
    return torch.cat(blocks)


def empirical_ntk(
    fn: ModelFn,
    params: Params,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    mode: NtkMode = "trace",
    chunk: int = 128,
) -> Tensor:
    """The empirical NTK of ``fn`` at ``params`` between the rows of ``x1`` and ``x2``
    (default ``x1``), in float64: ``(n1, n2)`` for ``mode="trace"``, ``(1/C) Σ_c J_c(x1)
    J_c(x2)ᵀ``, accumulated one output at a time (memory ``(n1 + n2) P`` floats for ``P``
    parameters); ``(n1, n2, C, C)`` for ``mode="full"`` (memory ``(n1 + n2) C P``)."""
    if mode not in ("trace", "full"):
        raise ConfigError(f"mode must be 'trace' or 'full', got {mode!r}")
    params = {k: v.detach().float() for k, v in params.items()}
    if mode == "full":
        j1 = _jacobian(fn, params, x1, chunk, None).double()
        j2 = j1 if x2 is None else _jacobian(fn, params, x2, chunk, None).double()
        return torch.einsum("icp,jdp->ijcd", j1, j2)
    n_out = fn(params, x1[:1]).shape[-1]
    k = torch.zeros(len(x1), len(x1 if x2 is None else x2), dtype=torch.float64)
    for c in range(n_out):
        j1 = _jacobian(fn, params, x1, chunk, c)
        j2 = j1 if x2 is None else _jacobian(fn, params, x2, chunk, c)
        k += (j1 @ j2.T).double()
    return k / n_out


def model_fn(cfg: ModelConfig, n_classes: int) -> ModelFn:
    """``(params, tokens) -> logits[:, :n_classes]`` of a model (MLP or the transformer's
    answer position), for the NTK: the fast forward of its architecture, which must be
    one whose ``ntk`` flag is set (:mod:`grokinterp.models.registry`)."""
    arch = get_arch(cfg.arch)
    if not arch.ntk:
        raise ConfigError(
            f"the empirical NTK needs arch {' or '.join(sorted(arch_names(ntk=True)))}, "
            f"not {cfg.arch}"
        )

    def fn(params: Params, tokens: Tensor) -> Tensor:
        return arch.answer_forward(params, tokens, cfg)[0][:, :n_classes]

    return fn


def kernel_regression(
    k_train: Float[Tensor, "n n"],
    k_cross: Float[Tensor, "m n"],
    y_train: Float[Tensor, "n c"],
    ridge: float = 0.0,
) -> Float[Tensor, "m c"]:
    """``K(x, X) (K(X, X) + ridge I)⁺ Y`` in float64 (``⁺``: pseudo-inverse when ridge is 0,
    giving the minimum-norm interpolant; a solve otherwise)."""
    if ridge < 0:
        raise ConfigError(f"ridge must be >= 0, got {ridge}")
    k, kx, y = k_train.double(), k_cross.double(), y_train.double()
    if ridge > 0:
        coef = torch.linalg.solve(k + ridge * torch.eye(len(k), dtype=k.dtype), y)
    else:
        coef = torch.linalg.pinv(k, hermitian=True) @ y
    out: Tensor = kx @ coef
    return out


def kernel_distance(k0: Tensor, k1: Tensor) -> float:
    """``1 − ⟨K_0, K_1⟩_F / (‖K_0‖_F ‖K_1‖_F)`` (Fort et al. 2020)."""
    a, b = k0.double().flatten(), k1.double().flatten()
    return float(1 - a @ b / (a.norm() * b.norm()))


def kernel_alignment(k: Tensor, labels: Tensor, n_classes: int) -> float:
    """Centered kernel-target alignment of ``K`` with the one-hot label kernel ``Y Yᵀ``
    (Cortes, Mohri and Rostamizadeh 2012)."""
    y = torch.nn.functional.one_hot(labels.long(), n_classes).double()
    n = len(labels)
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    kc = h @ k.double() @ h
    yc = h @ (y @ y.T) @ h
    return float((kc * yc).sum() / (kc.norm() * yc.norm()))


def run_ntk(run: Run | str | Path, step: int) -> Tensor:
    """The NTK of a run's checkpoint over all its pairs, in the dataset's order."""
    run = run if isinstance(run, Run) else Run(run)
    fn = model_fn(run.config.model, run.dataset.n_classes)
    return empirical_ntk(fn, run.params(step), run.dataset.inputs)


def ntk_regression_accuracy(
    run: Run | str | Path, step: int, ridge: float = 0.0, kernel: Tensor | None = None
) -> float:
    """Test accuracy of kernel regression with the checkpoint's NTK (or ``kernel``, the
    :func:`run_ntk` of that checkpoint when already computed), fitted to one-hot labels of
    the run's own training pairs and evaluated on its test pairs."""
    run = run if isinstance(run, Run) else Run(run)
    ds = run.dataset
    k = run_ntk(run, step) if kernel is None else kernel
    tr, te = ds.train_mask, ~ds.train_mask
    y = torch.nn.functional.one_hot(ds.labels[tr], ds.n_classes).double()
    pred = kernel_regression(k[tr][:, tr], k[te][:, tr], y, ridge)
    return float((pred.argmax(-1) == ds.labels[te]).double().mean())


def ntk_table(
    run: Run | str | Path,
    steps: list[int] | None = None,
    n_points: int = 256,
    seed: int = 0,
) -> pd.DataFrame:
    """Per checkpoint: the NTK on a fixed random sample of ``n_points`` pairs (train and test
    alike), its :func:`kernel_distance` from the first checkpoint's, its
    :func:`kernel_alignment` with the labels, and its Frobenius norm; with the run's metrics
    at the same steps."""
    run = run if isinstance(run, Run) else Run(run)
    ds = run.dataset
    steps = run.steps if steps is None else steps
    if not steps:
        raise ConfigError(f"{run.path}: no checkpoints to compute the NTK of")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds.inputs), generator=gen)[: min(n_points, len(ds.inputs))]
    x, labels = ds.inputs[idx], ds.labels[idx]
    fn = model_fn(run.config.model, ds.n_classes)
    k0: Tensor | None = None
    rows = []
    for step in steps:
        k = empirical_ntk(fn, run.params(step), x)
        k0 = k if k0 is None else k0
        rows.append(
            {
                "step": step,
                "kernel_distance": kernel_distance(k0, k),
                "kernel_alignment": kernel_alignment(k, labels, ds.n_classes),
                "kernel_norm": float(k.norm()),
            }
        )
    return run.with_metrics(pd.DataFrame(rows))
