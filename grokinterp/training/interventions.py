"""What happens to the gradients between the backward pass and the optimizer step.

Two interventions from the literature, options of every trainer (``OptimConfig``):

* **Grokfast** (Lee et al. 2024, arXiv 2405.20233): each parameter's gradient over the
  steps is a signal; add back an amplified low-pass copy of it. ``ema``:
  ``mu_t = alpha mu_{t-1} + (1 - alpha) g_t`` (``mu`` starts at the first gradient, as in
  their code), then ``g_t <- g_t + lambda mu_t``. ``ma``: ``g_t <- g_t + lambda mean(g_{t-w+1}
  .. g_t)`` over the last w gradients, the current one included; with ``grokfast_warmup``
  the gradients are left alone until w have been seen.
* **⊥Grad** (Prieto et al. 2025, arXiv 2501.04697): per parameter tensor ``w`` with
  gradient ``g``, ``g_perp = g - (w.g / (w.w + 1e-30)) w``, rescaled to the norm of ``g``
  (``g_perp * |g| / (|g_perp| + 1e-30)``, as their code does), so the step cannot grow the
  weights along themselves ("naive loss minimization").

When both are on, the filter runs first. The filter's state (the EMA, or the window of
past gradients, and the count of gradients seen) goes into the run's state file, so a run
resumes to the same numbers. The same functions serve the single run (one tensor per
parameter) and the ensemble (one flat ``(members, n)`` buffer, with per-member
``alpha`` and ``lambda`` columns), so their numbers agree.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokinterp.config import OptimConfig


class GradFilter:
    """Grokfast's filter (see the module docstring), applied in place.

    Args:
        kind: ``ema`` or ``ma``.
        window: the MA's window.
        warmup: the MA leaves gradients alone until the window is full.
    """

    def __init__(self, kind: str, window: int, warmup: bool):
        if kind not in ("ema", "ma"):
            raise ValueError(f"grokfast filter kind must be 'ema' or 'ma', got {kind!r}")
        self.kind, self.window, self.warmup = kind, window, warmup
        self.state: dict[str, Tensor] = {}  # EMA: (*shape); MA: a ring of (window, *shape)
        self.count = 0  # gradients seen

    @torch.no_grad()
    def __call__(self, grads: dict[str, Tensor], alpha: Tensor, lamb: Tensor) -> None:
        """Filter ``grads`` in place. ``alpha`` and ``lamb`` broadcast against each gradient
        (0-dim for a single run, a (members, 1) column for the ensemble)."""
        for name, g in grads.items():
            if self.kind == "ema":
                mu = self.state.get(name, g)  # Lee et al. start from the first gradient
                mu = mu * alpha + g * (1 - alpha)
                self.state[name] = mu
                g.add_(mu * lamb)
            else:
                ring = self.state.get(name)
                if ring is None:
                    ring = self.state[name] = g.new_zeros((self.window, *g.shape))
                ring[self.count % self.window] = g
                seen = min(self.count + 1, self.window)
                if not self.warmup or seen == self.window:
                    g.add_(ring[:seen].sum(0) / seen * lamb)
        self.count += 1

    def load(self, state: dict[str, Tensor], count: int) -> None:
        """Continue from a saved state (by parameter name, as the state file keeps it)."""
        self.state = {name: t.clone() for name, t in state.items()}
        self.count = count


@torch.no_grad()
def orthogonalize_(g: Tensor, w: Tensor, batch_dims: int = 0, eps: float = 1e-30) -> None:
    """⊥Grad (Prieto et al. 2025), in place: remove from ``g`` its component along ``w`` and
    rescale it to its former norm. The first ``batch_dims`` axes are independent (the
    ensemble's members); the rest is one vector."""
    g2, w2 = g.flatten(batch_dims), w.flatten(batch_dims)
    along = (w2 * g2).sum(-1, keepdim=True) / ((w2 * w2).sum(-1, keepdim=True) + eps)
    perp = g2 - along * w2
    scale = g2.norm(dim=-1, keepdim=True) / (perp.norm(dim=-1, keepdim=True) + eps)
    g.copy_((perp * scale).view_as(g))


def make_filter(optim: OptimConfig) -> GradFilter | None:
    """The Grokfast filter an optimizer config asks for, or None."""
    if optim.grokfast == "none":
        return None
    return GradFilter(optim.grokfast, optim.grokfast_window, optim.grokfast_warmup)


def coefficients(optims: list[OptimConfig]) -> tuple[Tensor, Tensor]:
    """Grokfast's ``alpha`` and ``lambda`` as float32 tensors, shaped (members, 1) for
    several configs and 0-dim for one, built the same way so both trainers agree."""
    alpha = torch.tensor([o.grokfast_alpha for o in optims], dtype=torch.float32)
    lamb = torch.tensor([o.grokfast_lamb for o in optims], dtype=torch.float32)
    if len(optims) == 1:
        return alpha[0], lamb[0]
    return alpha[:, None], lamb[:, None]
