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
* **Fixed pruning mask** (``mask_from``; Minegishi, Iwasawa & Matsuo 2024, "grokking
  tickets", arXiv 2310.19470): the weights a mask prunes are set to exactly 0, on the
  initial weights and after every step (:class:`FixedMask`, :mod:`grokinterp.training.masks`).
  The mask is copied into the run directory (``mask.safetensors``) when the run starts; a
  resumed run reads that copy. Applied before the fixed norm, which keeps zeros zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.training.masks import MASK_FILE, load_mask, save_mask


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


class FixedMask:
    """A fixed pruning mask (grokking tickets, Minegishi et al. 2024, arXiv 2310.19470):
    the pruned weights are set to exactly 0 (:mod:`grokinterp.training.masks`).

    Args:
        masks: per member, a mask (parameter name -> bool tensor, True = kept) or None for
            a member left dense; parameters a mask does not name are not pruned.
    """

    name = "mask"

    def __init__(self, masks: Sequence[Mapping[str, Tensor] | None]):
        names = sorted({n for m in masks if m is not None for n in m})
        # per parameter, the (members, *shape) bool tensor of the weights to zero
        self.pruned: dict[str, Tensor] = {}
        for n in names:
            shape = next(m[n].shape for m in masks if m is not None and n in m)
            self.pruned[n] = torch.stack(
                [
                    ~m[n] if m is not None and n in m else torch.zeros(shape, dtype=torch.bool)
                    for m in masks
                ]
            )

    @torch.no_grad()
    def apply_(self, params: Mapping[str, Tensor], active: Tensor) -> None:
        for n, pruned in self.pruned.items():
            t = params[n]
            keep_member = active.to(device=t.device).view(-1, *([1] * (t.dim() - 1)))
            t.masked_fill_(pruned.to(t.device) & keep_member, 0.0)


def _member_mask(cfg: TrainConfig, run_dir: Path | None) -> dict[str, Tensor] | None:
    """A member's mask: the copy in its run directory (a resumed run), else ``mask_from``,
    which is then copied there (so the run directory holds what it trained with)."""
    if cfg.mask_from is None:
        return None
    if run_dir is not None and (run_dir / MASK_FILE).is_file():
        return load_mask(run_dir / MASK_FILE)
    mask = load_mask(cfg.mask_from)
    if run_dir is not None:
        save_mask(mask, run_dir / MASK_FILE)
    return mask


def make_constraints(
    cfgs: Sequence[TrainConfig], run_dirs: Sequence[Path] | None = None
) -> list[Constraint]:
    """The constraints of a batch of members (one config for a single run), in the order
    they are applied; empty when no member asks for one. ``run_dirs`` (one per config) is
    where constraints that carry data read it (the pruning mask, :data:`MASK_FILE`)."""
    out: list[Constraint] = []
    if any(c.mask_from is not None for c in cfgs):
        dirs = list(run_dirs) if run_dirs is not None else [None] * len(cfgs)
        out.append(FixedMask([_member_mask(c, d) for c, d in zip(cfgs, dirs, strict=True)]))
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
    "FixedMask",
    "FixedNorm",
    "apply_constraints_",
    "make_constraints",
    "single",
    "total_norm",
]
