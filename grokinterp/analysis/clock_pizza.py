"""Clock or pizza: the two measures of Zhong et al. 2023 that tell the algorithms apart.

Zhong, Liu, Tegmark & Andreas, "The clock and the pizza: two stories in mechanistic
explanation of neural networks" (NeurIPS 2023, arXiv 2306.17844; code fjzzq2002/pizza@4c7f2f3,
``_Z`` below). For a + b mod p, with embeddings ``E_a`` on circles of frequency ``w``:

* the **clock** multiplies the two embeddings (adds their angles): its logits are
  ``Q_abc = cos(w (a + b - c))``, a product of ``E_a`` and ``E_b`` (their Sec. 3, Eq. for
  ``Q^clock``); the correct logit (c = a + b) is the same for every pair;
* the **pizza** reads the *midpoint* ``(E_a + E_b) / 2``, whose length is
  ``|cos(w (a - b) / 2)|``: ``Q_abc = |cos(w (a - b) / 2)| cos(w (a + b - c))`` (Sec. 3,
  ``Q^pizza``), so the logits are a function of ``E_a + E_b`` and the correct logit
  depends on the distance ``a - b``.

Their two measures (Sec. 4, "Gradient symmetricity" and "Distance irrelevance"; computed as
in ``_Z code/eval-main.ipynb``, cells "Gradient Symmetricity" and "Distance Irrelevance"):

* :func:`gradient_symmetricity`: over triples (a, b, c), the cosine similarity of
  ``dQ_abc / dE_a`` and ``dQ_abc / dE_b`` (the gradients with respect to the input
  embeddings at a's and b's positions, before the positional embedding), averaged. A function
  of ``E_a + E_b`` (pizza) has equal gradients: 1. The clock's gradients are unit vectors at
  angles ``w (c - b)`` and ``w (c - a)``: cosine ``cos(w (a - b))``, whose mean over all
  pairs is 0. Their sample: the first 100 of the ``p^3`` triples ``[(a, b, c) for a for b
  for c]`` after ``random.Random(42).shuffle`` (:func:`authors_triples`).
* :func:`distance_irrelevance`: arrange the correct logits by ``s = (a + b) mod p`` and
  ``d = (a - b) mod p``; the mean over d of the standard deviation over the pairs at
  distance d, divided by the standard deviation over all pairs (numpy's population
  standard deviation, as theirs): ``mean_d std_s L[s, d] / std L``. Logits that do not
  depend on the distance (clock) give 1 for odd p (at each d, s runs over every residue);
  logits that depend only on the distance (pizza) give 0.

The authors call a model pizza-like where gradient symmetricity is high and distance
irrelevance low (their Model A, constant attention: 99.37%, 0.17), clock-like where the
opposite (Model B, standard attention: 33.36%, 0.85) (Sec. 4, Table 1).

:func:`correct_logit_grid`, :func:`model_distance_irrelevance` and
:func:`model_gradient_symmetricity` apply them to a trained transformer or MLP of the
``add`` task (any p; the measures need a sum mod p, so other tasks are refused).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import answer_forward
from grokinterp.models.params import Params

# their sample: 100 triples, random.Random(42) (_Z code/eval-main.ipynb, "Gradient Symmetricity")
AUTHORS_SAMPLE = 100
AUTHORS_SEED = 42

LogitsOfEmbeddings = Callable[[Tensor, Tensor], Tensor]  # (E_a, E_b) (B, d) -> logits (B, n)


def _check_p(p: int) -> None:
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ConfigError(f"clock/pizza measures: p must be an integer >= 2, got {p!r}")


def authors_triples(
    p: int, n: int = AUTHORS_SAMPLE, seed: int = AUTHORS_SEED
) -> list[tuple[int, int, int]]:
    """The authors' sample of triples: ``[(a, b, c) for a in range(p) for b in range(p) for
    c in range(p)]`` shuffled by ``random.Random(seed)``, the first ``n`` (their n = 100,
    seed 42; ``_Z code/eval-main.ipynb``, "Gradient Symmetricity")."""
    _check_p(p)
    if n < 1:
        raise ConfigError(f"clock/pizza measures: the sample needs n >= 1 triples, got {n}")
    xs = [(a, b, c) for a in range(p) for b in range(p) for c in range(p)]
    random.Random(seed).shuffle(xs)
    return xs[:n]


def all_triples(p: int) -> list[tuple[int, int, int]]:
    """Every triple (a, b, c) of residues mod p, a-major."""
    _check_p(p)
    return [(a, b, c) for a in range(p) for b in range(p) for c in range(p)]


def gradient_symmetricity(
    logits_of: LogitsOfEmbeddings,
    embed_a: Float[Tensor, "batch d"],
    embed_b: Float[Tensor, "batch d"],
    c: Sequence[int] | Tensor,
) -> float:
    """Zhong et al.'s gradient symmetricity (arXiv 2306.17844, Sec. 4; module doc): the mean
    over rows i of ``cos(dQ_i / dE_a, dQ_i / dE_b)``, ``Q_i = logits_of(E_a, E_b)[i, c_i]``.

    ``logits_of`` maps the input embeddings of a batch of pairs, ``(B, d)`` each, to their
    logits ``(B, n_out)``, row i depending only on row i of its inputs (a model's forward
    is). A row whose gradient vanishes has no direction: refused (ValueError naming it).
    """
    ea = embed_a.detach().clone().double().requires_grad_(True)
    eb = embed_b.detach().clone().double().requires_grad_(True)
    c_idx = torch.as_tensor(c, dtype=torch.long)
    if ea.shape != eb.shape or ea.dim() != 2 or c_idx.shape != (ea.shape[0],):
        raise ConfigError(
            f"gradient symmetricity: give E_a, E_b of one shape (B, d) and B output classes, "
            f"got {tuple(ea.shape)}, {tuple(eb.shape)}, {tuple(c_idx.shape)}"
        )
    logits = logits_of(ea, eb)
    chosen = logits.gather(1, c_idx.to(logits.device).unsqueeze(1)).sum()
    ga, gb = torch.autograd.grad(chosen, (ea, eb))
    na, nb = ga.norm(dim=1), gb.norm(dim=1)
    flat = torch.nonzero((na == 0) | (nb == 0)).flatten().tolist()
    if flat:
        raise ValueError(
            f"gradient symmetricity: the logit's gradient vanishes on row(s) {flat[:5]}: no "
            "direction to compare"
        )
    return float(((ga * gb).sum(1) / (na * nb)).mean())


def distance_irrelevance(correct: Float[Tensor, "p p"] | np.ndarray) -> float:
    """Zhong et al.'s distance irrelevance (arXiv 2306.17844, Sec. 4; module doc):
    ``mean_d std_s L[s, d] / std L`` over the correct logits ``correct[a, b]`` (the logit of
    ``(a + b) mod p`` on the pair (a, b)), rearranged by ``s = (a + b) mod p`` and
    ``d = (a - b) mod p``, with population standard deviations (``_Z code/eval-main.ipynb``,
    "Distance Irrelevance": ``np.mean(np.std(oo, axis=0)) / np.std(oo.flatten())``).

    Defined for odd p (their p = 59): for even p the rearrangement leaves half the (s, d)
    cells empty (theirs would read them as 0), so even p is refused (ConfigError).
    Undefined where the correct logits are all equal (an ideal clock): refused (ValueError).
    """
    grid = np.asarray(correct.detach().cpu() if isinstance(correct, Tensor) else correct,
                      dtype=np.float64)  # fmt: skip
    if grid.ndim != 2 or grid.shape[0] != grid.shape[1] or grid.shape[0] < 2:
        raise ConfigError(
            f"distance irrelevance: give the correct logits as a (p, p) grid, got {grid.shape}"
        )
    p = grid.shape[0]
    if p % 2 == 0:
        raise ConfigError(
            f"distance irrelevance: defined for odd p only (p = {p}): (a, b) -> (a + b, a - b) "
            "mod p is one-to-one only where 2 is invertible mod p"
        )
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    by_sd = np.empty_like(grid)
    by_sd[(a + b) % p, (a - b) % p] = grid
    total = float(np.std(by_sd))
    if not math.isfinite(total) or total == 0.0:
        raise ValueError(
            "distance irrelevance: the correct logits are all equal (or not finite): the "
            "ratio is undefined"
        )
    return float(np.mean(np.std(by_sd, axis=0)) / total)


def _pairs(p: int) -> Tensor:
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    return torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], -1)


def correct_logit_grid(params: Params, cfg: ModelConfig, p: int) -> Float[Tensor, "p p"]:
    """The correct logit of every pair of a model of ``a + b mod p``: ``grid[a, b]`` is the
    logit of ``(a + b) mod p`` on the row ``[a, b, =]``."""
    _check_p(p)
    tokens = _pairs(p).to(next(iter(params.values())).device)
    with torch.no_grad():
        logits = answer_forward(params, tokens, cfg)[0].double()
    if logits.shape[-1] < p:
        raise ConfigError(f"clock/pizza measures: the model has {logits.shape[-1]} outputs, "
                          f"fewer than p = {p}")  # fmt: skip
    labels = (tokens[:, 0] + tokens[:, 1]) % p
    return logits.gather(1, labels.unsqueeze(1)).view(p, p).cpu()


def model_distance_irrelevance(params: Params, cfg: ModelConfig, p: int) -> float:
    """:func:`distance_irrelevance` of a model of ``a + b mod p``, over every pair."""
    return distance_irrelevance(correct_logit_grid(params, cfg, p))


def embedding_logits(params: Params, cfg: ModelConfig, p: int) -> LogitsOfEmbeddings:
    """The model's logits as a function of the input embeddings of a and b, ``(B, d)``
    each, for :func:`gradient_symmetricity`: the forward on a table whose first B rows are
    the E_a, the next B the E_b, then the model's own table (the ``=`` token and any
    operator rows), so that each row's embedding is its own leaf. The transformer's
    positional embedding is added after, as in the authors' ``forward_h`` (``_Z
    code/eval-main.ipynb``)."""
    if cfg.arch not in ("transformer", "mlp") or (cfg.arch == "mlp" and cfg.mlp_input != "tokens"):
        raise ConfigError(
            f"gradient symmetricity: needs a model with input embeddings (a transformer or "
            f"an MLP on tokens), not arch={cfg.arch} mlp_input={cfg.mlp_input}"
        )
    table = params["embed.W_E"]

    def logits_of(ea: Tensor, eb: Tensor) -> Tensor:
        n = ea.shape[0]
        own = table.to(ea.dtype)
        rest = {k: v.to(ea.dtype) for k, v in params.items() if k != "embed.W_E"}
        idx = torch.arange(n, device=ea.device)
        tokens = torch.stack([idx, idx + n, torch.full_like(idx, 2 * n + p)], -1)
        out = answer_forward({**rest, "embed.W_E": torch.cat([ea, eb, own])}, tokens, cfg)[0]
        return out

    return logits_of


def model_gradient_symmetricity(
    params: Params,
    cfg: ModelConfig,
    p: int,
    triples: Sequence[tuple[int, int, int]] | None = None,
) -> float:
    """:func:`gradient_symmetricity` of a model of ``a + b mod p`` over ``triples`` (None:
    the authors' 100, :func:`authors_triples`)."""
    trip = authors_triples(p) if triples is None else list(triples)
    if not trip or any(not all(0 <= x < p for x in t) for t in trip):
        raise ConfigError(f"gradient symmetricity: give triples of residues mod {p}")
    logits_of = embedding_logits(params, cfg, p)
    a, b, c = (torch.tensor(col) for col in zip(*trip, strict=True))
    table = params["embed.W_E"].detach()
    return gradient_symmetricity(logits_of, table[a], table[b], c)
