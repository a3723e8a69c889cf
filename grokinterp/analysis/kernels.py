"""The empirical neural tangent kernel of a checkpoint, the linearized network's predictor,
and how far the kernel moves during training.

Mohamadi et al. 2024 ("Why do you grok? A theoretical analysis of grokking modular addition",
arXiv 2407.12332) argue that early in training a network is in the *kernel regime*, where it
behaves like its linearization around the current weights, and that a permutation-equivariant
learner in that regime needs a constant fraction of all p² pairs to generalize on modular
addition; networks that generalize from fewer pairs must leave the kernel regime. This module
measures both halves.

* :func:`empirical_ntk`: the NTK ``Θ(x, x')_{cd} = ⟨∂f_c(x)/∂θ, ∂f_d(x')/∂θ⟩`` of a network
  with ``C`` outputs, with the Jacobians from ``torch.func.jacrev`` batched by
  ``torch.func.vmap``. ``mode="full"`` returns every ``C x C`` block ``K[i, j, c, d]`` (the
  kernel of the linearized network); ``mode="trace"`` returns ``(1/C) Σ_c Θ_{cc}``, a scalar
  kernel that drops the cross-class blocks and averages the diagonal ones. The trace kernel
  is an *approximation*: regression with it equals the linearized network only when
  ``Θ = k ⊗ I_C`` (e.g. a linear last layer with frozen features); on Gromov's exact analytic
  networks it fails where the full kernel works (tests).
* :func:`linearized_predictions`: the predictor of the network linearized around ``θ_0``,
  ``f_lin(x) = f(x; θ_0) + J(x)(θ − θ_0)``, trained to convergence on squared loss from
  ``θ_0`` by gradient flow: ``f_lin(x) = f(x; θ_0) + Θ(x, X) Θ(X, X)⁺ (Y − f(X; θ_0))``, with
  ``Θ`` the full NTK over ``(pair, class)`` and ``⁺`` the pseudo-inverse (the minimum-norm
  interpolant; Jacot et al. 2018, arXiv 1806.07572; Lee et al. 2019, arXiv 1902.06720,
  Eq. 9 at t → ∞). It also returns the *kernel* predictor ``Θ(x, X) Θ(X, X)⁺ Y``: the same
  regression from a zero output, which measures the kernel alone (what its features can
  express) rather than the network.
* :func:`kernel_regression`: ``K(x, X) (K(X, X) + λ I)⁺ Y`` for any kernel matrix.
* :func:`kernel_distance` (Fort et al. 2020, arXiv 2010.15110):
  ``S(K_0, K_t) = 1 − ⟨K_0, K_t⟩_F / (‖K_0‖_F ‖K_t‖_F)``: 0 while the kernel only rescales,
  up to 1 as it rotates away from its initial value.
* :func:`kernel_alignment`: centered kernel-target alignment (Cortes, Mohri and Rostamizadeh
  2012, JMLR 13, Lemma 1 / Def. 4) of a scalar kernel ``K`` with the label kernel ``Y Yᵀ``
  (one-hot ``Y``): ``⟨HKH, HYYᵀH⟩_F / (‖HKH‖_F ‖HYYᵀH‖_F)`` with ``H = I − 11ᵀ/n``; Kumar et
  al. 2024 (ICLR, "Grokking as the transition from lazy to rich training dynamics") track it.

At initialization with i.i.d. weights the expected NTK of a network on ``(a, b)`` pairs is
permutation-equivariant: it depends only on whether two pairs share ``a`` or ``b``. The pairs
of the training set that share ``a`` or ``b`` with a test pair all carry *other* labels
(``a + b' ≠ a + b`` for ``b' ≠ b``), so regression with such a kernel predicts against the
label at every fraction below 1: expected from the symmetry (the mechanism of Mohamadi et
al.'s lower bound), not an empirical finding about the network.

The model functions differentiate the training forwards, :func:`grokinterp.models.mlp_forward`
(``arch="mlp"``) and :func:`grokinterp.models.answer_logits` (the transformer's answer
position); their table look-ups are written in the form ``torch.func`` transforms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
RIDGELESS = 1e-9  # jitter of the ridgeless solve, relative to the mean kernel diagonal


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


def _check_mode(mode: str) -> None:
    if mode not in ("trace", "full"):
        raise ConfigError(f"mode must be 'trace' or 'full', got {mode!r}")


def empirical_ntk(
    fn: ModelFn,
    params: Params,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    mode: NtkMode,
    chunk: int = 128,
) -> Tensor:
    """The empirical NTK of ``fn`` at ``params`` between the rows of ``x1`` and ``x2``
    (default ``x1``), in float64.

    ``mode="full"``: ``(n1, n2, C, C)``, every block ``J_c(x1) J_d(x2)ᵀ`` (memory
    ``(n1 + n2) C P`` floats for ``P`` parameters): the kernel of the linearized network.
    ``mode="trace"``: ``(n1, n2)``, ``(1/C) Σ_c J_c(x1) J_c(x2)ᵀ``, accumulated one output at
    a time (memory ``(n1 + n2) P``): the mean of the diagonal blocks, an approximation that
    drops every cross-class block (module docstring)."""
    _check_mode(mode)
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


@dataclass(frozen=True)
class NtkPredictions:
    """Predictions (``(m, C)``, float64) on the test rows from the full NTK at ``θ_0``.

    Attributes:
        linearized: ``f(x; θ_0) + Θ(x, X) Θ(X, X)⁺ (Y − f(X; θ_0))``: the network linearized
            around ``θ_0`` and trained to convergence on squared loss.
        kernel: ``Θ(x, X) Θ(X, X)⁺ Y``: regression with the kernel alone, from zero output.
    """

    linearized: Tensor
    kernel: Tensor


def linearized_predictions(
    fn: ModelFn,
    params: Params,
    x_train: Tensor,
    y_train: Float[Tensor, "n c"],
    x_test: Tensor,
    *,
    ridge: float = 0.0,
    chunk: int = 64,
) -> NtkPredictions:
    """The linearized network's predictor and the kernel predictor from the full NTK at
    ``params`` (module docstring; :class:`NtkPredictions`), with ``y_train`` the ``(n, C)``
    targets (one-hot labels for classification).

    The ``(n C) x (n C)`` train kernel is formed whole; the test rows go through in chunks of
    ``chunk`` pairs, so memory is about ``8 (n C P + (n C)² + chunk C P)`` bytes for ``P``
    parameters (p = 31 at half the pairs with a 256-wide quadratic MLP: about 5 GB)."""
    if y_train.ndim != 2 or len(y_train) != len(x_train):
        raise ConfigError(
            f"y_train must be (n_train, C) = ({len(x_train)}, C), got {tuple(y_train.shape)}"
        )
    if ridge < 0:
        raise ConfigError(f"ridge must be >= 0, got {ridge}")
    params = {k: v.detach().double() for k, v in params.items()}  # Jacobians in float64
    x_train, x_test = (x.double() if x.is_floating_point() else x for x in (x_train, x_test))
    n, c = y_train.shape
    with torch.no_grad():
        f_train = fn(params, x_train).double()
        f_test = fn(params, x_test).double()
    if f_train.shape != (n, c):
        raise ConfigError(f"the model has {f_train.shape[-1]} outputs but y_train has {c} columns")
    j_train = _jacobian(fn, params, x_train, chunk, None).double().flatten(0, 1)  # (nC, P)
    k_train = j_train @ j_train.T
    # ridge 0: the ridgeless limit, an LU solve with a jitter of RIDGELESS x the mean diagonal
    # (eigh-based pseudo-inverses of a (nC)² kernel take minutes on 2 cores). Any component of
    # the coefficients along the kernel's null space is annihilated by J_trainᵀ below, so the
    # predictions match the pseudo-inverse interpolant (tests: to 1e-6).
    jitter = ridge if ridge > 0 else RIDGELESS * float(k_train.diagonal().mean())
    k_train.diagonal().add_(jitter)
    y = y_train.double().flatten()
    targets = torch.stack([y - f_train.flatten(), y], dim=1)  # (nC, 2)
    coef = torch.linalg.solve(k_train, targets)
    del k_train
    step = j_train.T @ coef  # (P, 2): the parameter displacement of each regression
    out = []
    for start in range(0, len(x_test), chunk):
        j = _jacobian(fn, params, x_test[start : start + chunk], chunk, None).double()
        out.append(j.flatten(0, 1) @ step)  # (b C, 2)
    pred = torch.cat(out).reshape(len(x_test), c, 2)
    return NtkPredictions(linearized=f_test + pred[..., 0], kernel=pred[..., 1])


def kernel_distance(k0: Tensor, k1: Tensor) -> float:
    """``1 − ⟨K_0, K_1⟩_F / (‖K_0‖_F ‖K_1‖_F)`` (Fort et al. 2020)."""
    a, b = k0.double().flatten(), k1.double().flatten()
    return float(1 - a @ b / (a.norm() * b.norm()))


def kernel_alignment(k: Tensor, labels: Tensor, n_classes: int) -> float:
    """Centered kernel-target alignment of a scalar kernel ``K`` (``(n, n)``) with the one-hot
    label kernel ``Y Yᵀ`` (Cortes, Mohri and Rostamizadeh 2012)."""
    if k.ndim != 2:
        raise ConfigError(f"kernel_alignment needs an (n, n) kernel, got {tuple(k.shape)}")
    y = torch.nn.functional.one_hot(labels.long(), n_classes).double()
    n = len(labels)
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    kc = h @ k.double() @ h
    yc = h @ (y @ y.T) @ h
    return float((kc * yc).sum() / (kc.norm() * yc.norm()))


def _run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else Run(run)


def run_ntk(run: Run | str | Path, step: int, *, mode: NtkMode) -> Tensor:
    """The NTK of a run's checkpoint over all its pairs, in the dataset's order."""
    run = _run(run)
    fn = model_fn(run.config.model, run.dataset.n_classes)
    return empirical_ntk(fn, run.params(step), run.dataset.inputs, mode=mode)


def _accuracy(pred: Tensor, labels: Tensor) -> float:
    return float((pred.argmax(-1) == labels).double().mean())


def ntk_accuracies(run: Run | str | Path, step: int, ridge: float = 0.0) -> dict[str, float]:
    """Test accuracies, on the run's own split, of the predictors from the full NTK of a
    checkpoint (:func:`linearized_predictions`, one-hot targets): ``linearized`` (the network
    linearized around that checkpoint) and ``kernel`` (the kernel alone, from zero output)."""
    run = _run(run)
    ds = run.dataset
    tr, te = ds.train_mask, ~ds.train_mask
    y = torch.nn.functional.one_hot(ds.labels[tr], ds.n_classes).double()
    fn = model_fn(run.config.model, ds.n_classes)
    pred = linearized_predictions(
        fn, run.params(step), ds.inputs[tr], y, ds.inputs[te], ridge=ridge
    )
    return {
        "linearized": _accuracy(pred.linearized, ds.labels[te]),
        "kernel": _accuracy(pred.kernel, ds.labels[te]),
    }


def trace_kernel_accuracy(
    run: Run | str | Path, step: int, ridge: float = 0.0, kernel: Tensor | None = None
) -> float:
    """Test accuracy of regression from zero output with the *trace* NTK of a checkpoint
    (``kernel``: its :func:`run_ntk` in trace mode when already computed), one-hot targets:
    the approximation of the module docstring, kept to compare with the full kernel."""
    run = _run(run)
    ds = run.dataset
    k = run_ntk(run, step, mode="trace") if kernel is None else kernel
    tr, te = ds.train_mask, ~ds.train_mask
    y = torch.nn.functional.one_hot(ds.labels[tr], ds.n_classes).double()
    pred = kernel_regression(k[tr][:, tr], k[te][:, tr], y, ridge)
    return _accuracy(pred, ds.labels[te])


def ntk_table(
    run: Run | str | Path,
    steps: list[int] | None = None,
    n_points: int = 256,
    seed: int = 0,
) -> pd.DataFrame:
    """Per checkpoint: the trace NTK (a scalar kernel, as kernel-label alignment needs) on a
    fixed random sample of ``n_points`` pairs (train and test alike), its
    :func:`kernel_distance` from the first checkpoint's, its :func:`kernel_alignment` with the
    labels, and its Frobenius norm; with the run's metrics at the same steps."""
    run = _run(run)
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
        k = empirical_ntk(fn, run.params(step), x, mode="trace")
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
