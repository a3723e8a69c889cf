"""Pruning masks for grokking tickets (Minegishi, Iwasawa & Matsuo 2024, arXiv 2310.19470).

A *grokking ticket* is a sparse subnetwork found by magnitude pruning a network that has
grokked, retrained from the network's initial weights with the pruning mask held fixed
(the lottery-ticket recipe of Frankle & Carbin 2019). Minegishi et al. find that it
generalizes without the long delay of the dense network, and faster than a dense network
whose weight norm matches the ticket's, so the norm alone does not explain grokking.

A mask is a dict from parameter name to a bool tensor of the parameter's shape (True: the
weight is kept). Only weight matrices (names whose last part starts with ``W_``) are pruned;
biases are kept whole, as in the pruning code the paper uses (it prunes layers' weights).

* :func:`magnitude_mask`: global magnitude pruning (their ``scope="global"``, ``pruner="mag"``):
  among all prunable weights together, keep the ``k = round((1 - sparsity) · N)`` of largest
  ``|w|`` (exactly ``k``; ties broken by position) and prune the rest; ``sparsity`` is the
  paper's pruning rate, the fraction of weights set to zero.
* :func:`random_mask`: the paper's random-pruning control, here with the same number of kept
  weights *in each tensor* as a given mask (so layer-wise sparsity is matched too), at
  uniformly random positions from a seed.

During training (``TrainConfig.mask_from``) the mask is a constraint
(:class:`grokinterp.training.constraints.FixedMask`): masked weights are set to exactly 0
on the initial weights and after every optimizer update; the mask file is copied into the
run directory (:data:`MASK_FILE`) at the start, and a resumed run reads that copy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs.io import load_tensors, save_tensors

MASK_FILE = "mask.safetensors"  # the mask of a run, in its run directory

Mask = dict[str, Tensor]


def prunable(params: Mapping[str, Tensor]) -> list[str]:
    """Names of the weight matrices (``...W_*``), in the order of ``params``; biases are not
    pruned."""
    return [n for n in params if n.rsplit(".", 1)[-1].startswith("W_")]


def _check_sparsity(sparsity: float) -> None:
    if not (0.0 <= sparsity < 1.0 and math.isfinite(sparsity)):
        raise ConfigError(f"sparsity must be in [0, 1), got {sparsity}")


def magnitude_mask(
    params: Mapping[str, Tensor], sparsity: float, names: Sequence[str] | None = None
) -> Mask:
    """Global magnitude pruning (Minegishi et al. 2024): keep exactly the
    ``round((1 - sparsity) · N)`` weights of largest magnitude among all ``N`` weights of the
    weight matrices (or of the matrices ``names``); biases are not in the mask."""
    _check_sparsity(sparsity)
    if names is None:
        names = prunable(params)
    else:
        bad = [n for n in names if n not in prunable(params)]
        if bad:
            raise ConfigError(f"cannot prune {bad}: not weight matrices of the model")
        names = list(names)
    if not names:
        raise ConfigError("no weight matrices to prune")
    flat = torch.cat([params[n].detach().abs().flatten().double() for n in names])
    keep_n = round((1.0 - sparsity) * flat.numel())
    # a stable sort: equal magnitudes keep the earlier position
    order = torch.sort(flat, descending=True, stable=True).indices[:keep_n]
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[order] = True
    out: Mask = {}
    for n, part in zip(names, keep.split([params[n].numel() for n in names]), strict=True):
        out[n] = part.view(params[n].shape).clone()
    return out


def random_mask(like: Mapping[str, Tensor], seed: int) -> Mask:
    """A mask with as many kept weights in each tensor as ``like`` has, at positions drawn
    uniformly at random (seeded): the random-pruning control at matched layer-wise sparsity."""
    gen = torch.Generator().manual_seed(seed)
    out: Mask = {}
    for n, m in like.items():
        k = int(m.sum())
        keep = torch.zeros(m.numel(), dtype=torch.bool)
        keep[torch.randperm(m.numel(), generator=gen)[:k]] = True
        out[n] = keep.view(m.shape)
    return out


def sparsity_of(mask: Mapping[str, Tensor]) -> float:
    """Fraction of the masked weights that are pruned."""
    total = sum(m.numel() for m in mask.values())
    kept = sum(int(m.sum()) for m in mask.values())
    return 1.0 - kept / total


def apply_mask(params: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A copy of ``params`` with the pruned weights set to 0."""
    return {
        n: (p.masked_fill(~mask[n], 0.0) if n in mask else p.clone()) for n, p in params.items()
    }


def save_mask(mask: Mapping[str, Tensor], path: str | Path) -> Path:
    """Write a mask as a checksummed safetensors file (atomic)."""
    path = Path(path)
    save_tensors(path, {n: m.to(torch.bool) for n, m in mask.items()}, {"kind": "mask"})
    return path


def load_mask(path: str | Path, shapes: Mapping[str, tuple[int, ...]] | None = None) -> Mask:
    """Read a mask file; with ``shapes`` (the model's parameter shapes), check that every
    tensor names a parameter of that shape. Bad files raise one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config field mask_from: {path} is not a file; give a mask file")
    try:
        tensors, _ = load_tensors(path)
    except RunDirError as e:
        raise ConfigError(f"config field mask_from: {e}") from None
    if not tensors:
        raise ConfigError(f"config field mask_from: {path} holds no tensors")
    mask: Mask = {}
    for n, t in tensors.items():
        if t.dtype != torch.bool:
            raise ConfigError(
                f"config field mask_from: {path}: tensor {n!r} is {t.dtype}, a mask is bool"
            )
        if shapes is not None:
            if n not in shapes:
                raise ConfigError(
                    f"config field mask_from: {path} masks {n!r}, which the model does not have"
                )
            if tuple(t.shape) != tuple(shapes[n]):
                raise ConfigError(
                    f"config field mask_from: {path}: {n!r} has shape {tuple(t.shape)}, the "
                    f"model's is {tuple(shapes[n])}"
                )
        mask[n] = t
    return mask


__all__ = [
    "MASK_FILE",
    "Mask",
    "apply_mask",
    "load_mask",
    "magnitude_mask",
    "prunable",
    "random_mask",
    "save_mask",
    "sparsity_of",
]
