"""The training and evaluation losses, and the numerics of the softmax.

Nanda et al. 2023 (arXiv 2301.05217) compute the loss in float64: in float32 the softmax
of a confidently classified example rounds to exactly 1 and its loss and gradient to 0,
which Prieto et al. 2025 (arXiv 2501.04697) call *softmax collapse*. Every loss in
grokinterp, in training and in the analysis, is computed in float64: :func:`cross_entropy64`
(softmax) or :func:`stablemax_cross_entropy64` (StableMax). :func:`softmax_collapse` and
:func:`cross_entropy32` show what float32 would have done to the same logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor

LossFn = Callable[..., Tensor]  # (logits, labels, reduction="mean") -> loss


def cross_entropy64(
    logits: Float[Tensor, "*batch classes"],
    labels: Int[Tensor, " *batch"],
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy of ``logits`` against ``labels`` in float64 (Nanda et al. 2023).

    Any leading shape: the class axis is the last. ``reduction`` is ``mean``, ``sum`` or
    ``none`` (per-example losses, shaped like ``labels``).
    """
    flat = logits.reshape(-1, logits.shape[-1]).to(torch.float64)
    out = F.cross_entropy(flat, labels.reshape(-1).long(), reduction=reduction)
    return out.view(labels.shape) if reduction == "none" else out


def stablemax(x: Tensor) -> Tensor:
    """``s(x) = x + 1`` for x >= 0 and ``1 / (1 - x)`` for x < 0 (Prieto et al. 2025): a
    positive, increasing replacement for exp that grows only linearly, so its normalized
    probabilities do not round to exactly 1 as a softmax's do.

    Each branch only sees its own side of 0 (``clamp``): evaluating ``1 / (1 - x)`` at
    x = 1 inside ``torch.where`` would make its unused gradient infinite and the used one
    NaN, a pitfall of the straightforward form.
    """
    return torch.where(x >= 0, x.clamp(min=0) + 1, 1 / (1 - x.clamp(max=0)))


def _reduce(losses: Tensor, labels: Tensor, reduction: str) -> Tensor:
    """Per-example ``losses`` reduced as torch's losses do (``mean``, ``sum``, or ``none``:
    the shape of ``labels``)."""
    if reduction == "none":
        return losses.view(labels.shape)
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def stablemax_cross_entropy64(
    logits: Float[Tensor, "*batch classes"],
    labels: Int[Tensor, " *batch"],
    reduction: str = "mean",
) -> Tensor:
    """StableMax cross-entropy in float64 (Prieto et al. 2025):
    ``-log(s(x_y) / sum_j s(x_j))`` with :func:`stablemax` s; same shapes and ``reduction``
    as :func:`cross_entropy64`. (Prieto et al.'s code computes StableMax in float64 at every
    commit; its precision option applies to their softmax only.)
    """
    flat = logits.reshape(-1, logits.shape[-1]).to(torch.float64)
    s = stablemax(flat)
    y = labels.reshape(-1, 1).long()
    losses = -torch.log(s.gather(1, y).squeeze(1) / s.sum(-1))
    return _reduce(losses, labels, reduction)


def mse64(
    logits: Float[Tensor, "*batch classes"],
    labels: Int[Tensor, " *batch"],
    reduction: str = "mean",
) -> Tensor:
    """Mean squared error of the logits against the one-hot labels, in float64: per
    example ``sum_j (x_j - [j = y])^2 / C`` over the C classes, so that the mean over
    examples equals ``torch.nn.MSELoss()(logits, one_hot)``, the loss Omnigrok (Liu,
    Michaud & Tegmark 2023, arXiv 2210.01117) trains its MNIST MLP with. Same shapes and
    ``reduction`` as :func:`cross_entropy64`.
    """
    flat = logits.reshape(-1, logits.shape[-1]).to(torch.float64)
    target = F.one_hot(labels.reshape(-1).long(), flat.shape[-1]).to(torch.float64)
    losses = (flat - target).pow(2).mean(-1)
    return _reduce(losses, labels, reduction)


def factual_mse64(
    outputs: Float[Tensor, "*batch 2"],
    labels: Float[Tensor, "*batch 2"],
    reduction: str = "mean",
) -> Tensor:
    """The factual squared error of a two-headed outcome model, in float64: ``labels`` are
    rows ``(t, y)`` (the arm a unit was assigned, 0 or 1, and its observed outcome) and each
    unit's loss is ``(outputs[t] - y)^2``, so only the head of the assigned arm is trained
    (the factual loss of TARNet, Shalit et al. 2017, arXiv 1606.03976, Sec. 4, with unit
    weights; the ``counterfactual`` task, :mod:`grokinterp.tasks.counterfactual`).
    ``reduction`` as :func:`cross_entropy64`, ``none`` giving ``labels.shape[:-1]``."""
    if labels.shape[-1] != 2 or outputs.shape[-1] < 2:
        raise ValueError(
            f"factual_mse64 needs (t, y) label rows and two outputs, got labels "
            f"{tuple(labels.shape)} and outputs {tuple(outputs.shape)}"
        )
    arm = labels[..., 0].long().unsqueeze(-1)
    y = labels[..., 1].to(torch.float64)
    pred = outputs.to(torch.float64).gather(-1, arm).squeeze(-1)
    losses = (pred - y).pow(2)
    return _reduce(losses.reshape(-1), labels[..., 0], reduction)


LOSSES: dict[str, LossFn] = {
    "softmax": cross_entropy64,
    "stablemax": stablemax_cross_entropy64,
    "mse": mse64,
    "factual_mse": factual_mse64,
}
REGRESSION_LOSSES = frozenset({"factual_mse"})  # no classes: no accuracy, no softmax


def loss_function(kind: str) -> LossFn:
    """The training loss named by ``OptimConfig.loss``: ``softmax``, ``stablemax``, ``mse``,
    ``factual_mse`` or ``softmax32`` (:func:`cross_entropy32`: the only loss not computed in
    float64)."""
    return LOSSES[kind]


def softmax_collapse(logits: Float[Tensor, "*batch classes"]) -> Bool[Tensor, " *batch"]:
    """Softmax collapse (Prieto et al. 2025), per example: in float32, the max-shifted
    exponentials sum to exactly 1, i.e. every class but the top one underflows and the
    softmax of the top class is exactly 1. (As in Prieto et al.'s code, the top class need
    not be the label; the loss of a collapsed, correctly classified example is exactly 0,
    and so is its gradient on the label's logit.)
    """
    x = logits.to(torch.float32)
    shifted = x - x.amax(dim=-1, keepdim=True)
    return torch.exp(shifted).sum(-1) == 1.0


def cross_entropy32(
    logits: Float[Tensor, "*batch classes"],
    labels: Int[Tensor, " *batch"],
    reduction: str = "mean",
) -> Tensor:
    """The softmax cross-entropy computed in float32: beside :func:`cross_entropy64` it shows
    how much of the loss float32 rounds away (all of it for collapsed examples)."""
    flat = logits.reshape(-1, logits.shape[-1]).to(torch.float32)
    out = F.cross_entropy(flat, labels.reshape(-1).long(), reduction=reduction)
    return out.view(labels.shape) if reduction == "none" else out


LOSSES["softmax32"] = cross_entropy32  # float32 softmax, as Prieto et al. train by default
