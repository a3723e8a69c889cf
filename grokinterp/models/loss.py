"""The training and evaluation loss: cross-entropy computed in float64.

Nanda et al. 2023 (arXiv 2301.05217) compute the loss in float64: in float32 the softmax
of a confidently classified example rounds to 1 and its loss and gradient to 0 (Prieto et
al. 2025 call this softmax collapse). Every loss in grokinterp, in training and in the
analysis, goes through :func:`cross_entropy64`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor


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
