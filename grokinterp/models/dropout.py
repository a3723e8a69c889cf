"""Dropout in training, at the sites of PyTorch's ``nn.TransformerEncoderLayer``.

Prieto et al. 2025's transformer (arXiv 2501.04697; LucasPrietoAl/grokking-at-the-edge-of-
numerical-stability@0cc9e8d models.py:L31-44) is one ``nn.TransformerEncoderLayer(128, 4)``
with PyTorch's default dropout 0.1, trained in ``model.train()`` mode
(grokking_experiments.py:L107) and evaluated in ``model.eval()`` mode (logger.py:L41-50).
That layer drops at four sites: the attention weights after the softmax (the attention's
own ``dropout``), the attention block's output before its residual add (``dropout1``), the
MLP's hidden activations after the activation (``dropout``), and the MLP's output before its
residual add (``dropout2``) (``_sa_block`` and ``_ff_block`` of torch's
``nn/modules/transformer.py``). :func:`grokinterp.models.forward.general_forward` applies a
:class:`Dropout` at the same four sites of every block when it is given one; evaluation,
the logged metrics and every analysis run without one (``ModelConfig.dropout``).

Each kept value is divided by ``1 - rate`` (inverted dropout, as ``F.dropout``), so the
expected activation is the undropped one. The masks of an update are drawn from a generator
seeded with the run's seed and the update's step, not from a stream carried across steps:
a resumed run draws the masks an uninterrupted run would, with nothing more in its state
file. The draws also depend on the device and the activations' dtype (a CUDA generator is
another stream than the CPU's), so a run resumes exactly on the device and dtype it trained
with. Runs that share a seed (the arms of a study) share their masks.

The loss a run descends is the loss with dropout; the early-loss record
(``early_loss.safetensors``, the curve early prediction reads) stores that loss, while every
logged metric is the network's without dropout.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor


def _mask_seed(seed: int, step: int) -> int:
    """A 63-bit generator seed for the masks of ``step`` of the run seeded ``seed`` (a hash,
    so nearby seeds and steps give unrelated streams)."""
    digest = hashlib.blake2b(f"dropout:{seed}:{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class Dropout:
    """The dropout of one training update: each call drops a fresh mask of its input's shape.

    Args:
        rate: the probability that a value is zeroed, in (0, 1).
        seed: the run's seed (``TrainConfig.seed``).
        step: the update's step; with ``seed`` it fixes every mask the update draws.
        device: where the masks are drawn (the activations' device).
    """

    def __init__(self, rate: float, seed: int, step: int, device: str | torch.device = "cpu"):
        if not 0.0 < rate < 1.0:
            raise ValueError(f"dropout rate must be in (0, 1), got {rate}")
        self.rate = rate
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(_mask_seed(seed, step))

    def __call__(self, x: Tensor) -> Tensor:
        keep = torch.rand(x.shape, generator=self.gen, device=x.device, dtype=x.dtype)
        return x * (keep >= self.rate) / (1.0 - self.rate)
