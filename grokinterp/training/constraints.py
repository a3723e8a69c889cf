"""Weight constraints: a projection applied to the weights after every optimizer step.

A constraint restricts training to a set of weights and keeps it there by projecting the
weights back onto the set after each update (and once onto the initial weights of a fresh
run, so that every checkpoint, step 0 included, lies in the set). Both trainers apply the
same constraints through the same two calls, so a run trained alone and the same run in
an ensemble stay equal:

* :func:`make_constraints` ``(cfgs, run_dirs) -> list[Constraint]``: the constraints that
  the configs of a batch of members (one config for a single run) ask for; each member
  may ask for its own (or none).
* :meth:`Constraint.apply_` ``(params, active)``: project in place, under ``no_grad``.
  ``params`` maps each parameter name to a tensor with a leading members axis,
  ``(members, *shape)`` (the single run passes ``p.unsqueeze(0)`` views of its parameters;
  the ensemble the views into its flat buffer); ``active`` is a ``(members,)`` bool mask,
  members where it is False are left exactly unchanged (they have stopped).

A projection has no state of its own: the weights it leaves behind are in the checkpoint
and its target is in the config, so resume needs nothing more (a resumed run does not
project again at its first step; the saved weights are already projected, and projecting
twice could change their last bits). A constraint that needs data (e.g. a fixed pruning
mask stored in the run directory) reads it in :func:`make_constraints` from ``run_dirs``.

Constraints today:

* **Fixed total norm** (``optim.fixed_norm``; Liu, Michaud & Tegmark 2023, "Omnigrok",
  arXiv 2210.01117, Sec. 3 "constrained optimization"): the L2 norm of *all* the
  parameters, concatenated into one vector (every matrix and every bias, embeddings and
  unembedding included, as their code sums ``p**2`` over ``model.parameters()``), is held
  at ``fixed_norm``: after each step, ``theta <- theta * fixed_norm / |theta|``. Their
  code takes the target to be the norm of the initial weights at init scale alpha; here
  the target is given, and the initial weights are rescaled onto it. The norm is computed
  in float64, parameter by parameter in the order of the parameter dict; the weights stay
  float32, so the norm holds to float32 precision (relative error ~1e-7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError


class Constraint(Protocol):
    """A projection of the weights, applied after every optimizer step."""

    name: str

    def apply_(self, params: Mapping[str, Tensor], active: Tensor) -> None:
        """Project ``params`` (name -> ``(members, *shape)``) in place, leaving the members
        where ``active`` is False unchanged."""
        ...


def total_norm(params: Mapping[str, Tensor]) -> Tensor:
    """The L2 norm of all parameters together, per member: ``(members,)`` float64, from
    ``(members, *shape)`` tensors."""
    sq = [t.detach().flatten(1).double().pow(2).sum(1) for t in params.values()]
    return torch.stack(sq).sum(0).sqrt()


class FixedNorm:
    """Omnigrok's constrained-norm training: rescale all weights to a fixed total L2 norm.

    Args:
        targets: per member, the norm to hold, or None for a member left unconstrained.
    """

    name = "fixed_norm"

    def __init__(self, targets: Sequence[float | None]):
        for t in targets:
            if t is not None and not t > 0:
                raise ConfigError(f"config field optim.fixed_norm: must be positive, got {t}")
        self.targets = torch.tensor(
            [float("nan") if t is None else t for t in targets], dtype=torch.float64
        )

    @torch.no_grad()
    def apply_(self, params: Mapping[str, Tensor], active: Tensor) -> None:
        norm = total_norm(params)
        if bool((norm == 0).any() & active.any()):
            raise ValueError("cannot rescale all-zero weights to a fixed norm")
        use = active.cpu() & ~torch.isnan(self.targets)
        factor = torch.where(use, self.targets / norm.cpu(), torch.ones_like(norm.cpu()))
        for t in params.values():
            f = factor.to(device=t.device, dtype=t.dtype)
            t.mul_(f.view(-1, *([1] * (t.dim() - 1))))


def make_constraints(
    cfgs: Sequence[TrainConfig], run_dirs: Sequence[Path] | None = None
) -> list[Constraint]:
    """The constraints of a batch of members (one config for a single run), in the order
    they are applied; empty when no member asks for one. ``run_dirs`` (one per config) is
    where constraints that carry data read it."""
    del run_dirs  # no constraint reads data from the run directory yet
    out: list[Constraint] = []
    norms = [c.optim.fixed_norm for c in cfgs]
    if any(n is not None for n in norms):
        out.append(FixedNorm(norms))
    return out


def apply_constraints_(
    constraints: Sequence[Constraint], params: Mapping[str, Tensor], active: Tensor | None = None
) -> None:
    """Apply each constraint in turn (``active`` defaults to every member)."""
    if not constraints:
        return
    if active is None:
        m = next(iter(params.values())).shape[0]
        active = torch.ones(m, dtype=torch.bool)
    for c in constraints:
        c.apply_(params, active)


def single(params: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A single run's parameters as one-member ``(1, *shape)`` views, detached from autograd
    (writes go through to the parameters)."""
    return {n: p.detach().unsqueeze(0) for n, p in params.items()}


__all__ = [
    "Constraint",
    "FixedNorm",
    "apply_constraints_",
    "make_constraints",
    "single",
    "total_norm",
]
