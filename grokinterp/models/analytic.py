"""Gromov's closed-form network for modular addition (arXiv 2301.02679), in our MLP arch.

Gromov 2023 ("Grokking modular arithmetic", Eqs. 1-2 and the analytic solution of Sec. 3)
studies ``f(x) = W2 phi(W1 x)`` with ``x = e_a ⊕ e_b`` (one-hot, 2p inputs), ``phi(z) = z²``,
``N`` hidden neurons, and gives weights that solve ``a + b mod p`` exactly: neuron ``j`` has
one frequency ``k_j`` (``w = 2π k_j / p``) and two phases ``α_j``, ``β_j``,

    W1[j, a]     = cos(w a + α_j)          (the a block)
    W1[j, p + b] = cos(w b + β_j)          (the b block)
    W2[q, j]     = cos(-w q - α_j - β_j)   (= cos(w q + α_j + β_j)).

Squaring ``cos(w a + α) + cos(w b + β)`` gives ``cos(w(a + b) + α + β)`` plus terms at other
frequency combinations; multiplied by ``W2`` the first gives ``½ cos(w(a + b − q))``, the
others carry phase factors ``e^{i(mα + nβ)}`` for ``(m, n)`` in ``{(1, 1), (1, −1), (3, 1),
(1, 3), (2, 2), (2, 0), (0, 2)}`` and cancel when summed over the neurons of a frequency.

* ``phases="random"`` is the paper's construction: i.i.d. uniform phases; the unwanted terms
  cancel only on average, so the network is exact only when the width is large enough
  (Gromov's "the noise averages out at large N").
* ``phases="balanced"`` (ours): the ``n_k >= 8`` neurons of frequency ``k`` get
  ``α_j = α_0 + 2π j / n_k``, ``β_j = β_0 + 4π j / n_k`` (random offsets ``α_0``, ``β_0``).
  Every sum ``Σ_j e^{i(mα_j + nβ_j)}`` above is then exactly 0 (``m + 2n`` is one of
  ±1, ±2, 3, 4, 5, 6, 7, never a multiple of ``n_k``), so the logits are exactly
  ``(A / |F|) Σ_{k ∈ F} cos(w_k (a + b − q))``: a peak of height ``A`` at ``q = a + b`` for any
  width ``>= 8 |F|``.

Frequencies are assigned round-robin (each of the ``|F|`` frequencies to ⌊N/|F|⌋ or
⌈N/|F|⌉ neurons); the paper draws the assignment ``σ(k)`` at random. Differences from the
paper: Gromov's mean-field factors ``1/√(2p)`` and ``1/N`` (and his MSE targets) are
replaced by one scale in the output layer, chosen so that the correct class gets logit
``amplitude`` (argmax, hence accuracy, does not depend on it; the cross-entropy does).

In our MLP arch (``arch="mlp"``, ``mlp_combine="concat"``, one hidden layer, ``quadratic``)
the one-hot input is an identity embedding ``W_E = I`` (d_model = d_vocab = p + 1; the ``=``
token's rows are 0), ``W_in`` holds ``W1ᵀ``, ``b_in = 0`` and ``W_U = W2ᵀ``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models.params import Params

PhaseKind = Literal["random", "balanced"]
MIN_BALANCED = 8  # neurons per frequency for the exact cancellation of the balanced phases


def gromov_model_config(p: int, width: int) -> ModelConfig:
    """The MLP config that holds Gromov's network for modulus ``p`` and ``width`` neurons."""
    return ModelConfig(
        arch="mlp",
        n_layers=1,
        d_model=p + 1,
        d_mlp=width,
        act_fn="quadratic",
        mlp_combine="concat",
    )


def _check_freqs(p: int, freqs: list[int]) -> None:
    top = (p - 1) // 2
    bad = [k for k in freqs if not 1 <= k <= top]
    if bad:
        raise ConfigError(f"frequencies must be in 1..{top} for p={p}, got {bad}")
    if len(set(freqs)) != len(freqs):
        raise ConfigError(f"frequencies must be distinct, got {freqs}")
    if math.gcd(p, *freqs) != 1:
        raise ConfigError(
            f"frequencies {freqs} all share a factor with p={p}: cos(2πk(a+b-q)/p) then "
            f"peaks at more than one q; add a frequency coprime to p"
        )


def gromov_params(
    p: int,
    width: int,
    *,
    freqs: list[int] | None = None,
    phases: PhaseKind = "balanced",
    seed: int = 0,
    amplitude: float = 10.0,
) -> tuple[ModelConfig, Params]:
    """Gromov's analytic weights for ``a + b mod p`` as (config, parameters) of our MLP arch.

    Args:
        p: the modulus (any integer >= 3; a frequency set sharing a factor with p is refused).
        width: hidden neurons N.
        freqs: frequencies to use (default: all of 1..(p-1)//2).
        phases: ``random`` (the paper's i.i.d. phases) or ``balanced`` (exact at any width
            >= 8 per frequency; see the module docstring).
        seed: seed of the phases (and of the balanced phase offsets).
        amplitude: the logit of the correct class (balanced phases: exactly).
    """
    if p < 3:
        raise ConfigError(f"Gromov's network needs p >= 3, got p={p}")
    freqs = list(range(1, (p - 1) // 2 + 1)) if freqs is None else list(freqs)
    if not freqs:
        raise ConfigError("give at least one frequency")
    _check_freqs(p, freqs)
    m = len(freqs)
    if width < m:
        raise ConfigError(f"width {width} is below the number of frequencies ({m})")
    if phases == "balanced" and width < MIN_BALANCED * m:
        raise ConfigError(
            f"balanced phases need at least {MIN_BALANCED} neurons per frequency: width >= "
            f"{MIN_BALANCED * m} for {m} frequencies, got {width} (or use phases='random')"
        )
    if not (amplitude > 0 and math.isfinite(amplitude)):
        raise ConfigError(f"amplitude must be positive and finite, got {amplitude}")
    gen = torch.Generator().manual_seed(seed)
    slot = torch.arange(width)
    freq_of = torch.tensor(freqs, dtype=torch.float64)[slot % m]  # round-robin (width,)
    count = torch.bincount(slot % m, minlength=m).to(torch.float64)[slot % m]  # n_k per neuron
    if phases == "random":
        alpha = (torch.rand(width, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
        beta = (torch.rand(width, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    elif phases == "balanced":
        idx = (slot // m).to(torch.float64)  # j-th neuron of its frequency
        off_a, off_b = (torch.rand(2, m, generator=gen, dtype=torch.float64) * 2 * math.pi)[
            :, slot % m
        ]
        alpha = off_a + 2 * math.pi * idx / count
        beta = off_b + 4 * math.pi * idx / count
    else:
        raise ConfigError(f"phases must be 'random' or 'balanced', got {phases!r}")
    w = 2 * math.pi * freq_of / p  # (width,)
    n = torch.arange(p, dtype=torch.float64)
    w1_a = torch.cos(n[:, None] * w + alpha)  # (p, width)
    w1_b = torch.cos(n[:, None] * w + beta)
    # ½ cos(w(a+b-q)) per neuron: scale 2A / (|F| n_k) makes the correct logit A
    w2 = torch.cos(n[:, None] * w + alpha + beta) * (2 * amplitude / (m * count))  # (p, width)
    cfg = gromov_model_config(p, width)
    d_vocab = p + 1
    w_in = torch.zeros(2 * d_vocab, width, dtype=torch.float64)
    w_in[:p] = w1_a
    w_in[d_vocab : d_vocab + p] = w1_b
    params: Params = {
        "embed.W_E": torch.eye(d_vocab),
        "blocks.0.mlp.W_in": w_in.float(),
        "blocks.0.mlp.b_in": torch.zeros(width),
        "unembed.W_U": w2.T.contiguous().float(),
    }
    return cfg, params
