"""Chughtai, Chan & Nanda 2023's per-representation readings of a model of S_n (arXiv
2302.03025): character similarities of the logits and the share of the embedding and
unembedding in each irreducible representation. Apart from :mod:`grokinterp.analysis.symmetric`
(the group theory), which :mod:`grokinterp.analysis.fourier` builds on, because these readings
use the logit map of :mod:`grokinterp.analysis.fourier`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.analysis import fourier
from grokinterp.analysis.groups import symmetric_basis
from grokinterp.analysis.symmetric import (
    _check_n,
    character_similarity,
    component_norms,
    dimension,
    partitions,
)


def representation_measures(
    params: dict[str, Tensor], logits: Float[Tensor, "order order c"], n: int
) -> dict[str, Any]:
    """Chughtai, Chan & Nanda 2023's per-representation readings of one model of S_n (their
    rep-theory-mech-interp ``utils/metrics.py``, commit 01b2063): for every irreducible
    representation k (0 the trivial one), in ``rows``:

    * ``character_similarity``: :func:`~grokinterp.analysis.symmetric.character_similarity` (their
      ``logit_trace_similarity``, L223-238; nontrivial representations only);
    * ``embed_fraction``: the fraction of ``||W_E||^2`` (rows of the n! elements) in the span
      of k's matrix elements along the token axis
      (:func:`~grokinterp.analysis.symmetric.element_basis`);
    * ``embed_a_fraction``, ``embed_b_fraction``: the same for the embeddings as the first
      layer sees them, ``W_E W_in[:d]`` and ``W_E W_in[d:]`` (an MLP that concatenates the
      two embeddings): their ``percent_total_embed`` of ``W_x W[:d]``, ``W_y W[d:]``
      (L300-322);
    * ``unembed_fraction``: the same for the map from the last neurons to the logits along
      the class axis (:func:`grokinterp.analysis.fourier.logit_weight`; ``W_U`` for the
      MLP): their ``percent_unembed`` (L282-298).

    The fractions of all representations add up to 1 (Peter-Weyl). ``logit_explained`` is
    the sum of the squared character similarities (their ``percent_logits_explained``).
    """
    _check_n(n)
    N = math.factorial(n)
    shapes = partitions(n)

    def fractions(W: Tensor, dim: int) -> list[float]:
        sq = component_norms(W, n, dim=dim, include_trivial=True).pow(2)
        total = float(sq.sum())
        return [float(v) / total if total > 0 else math.nan for v in sq]

    cols: dict[str, list[float]] = {}
    if "embed.W_E" in params:
        W_E = params["embed.W_E"].detach().to(torch.float64)[:N]
        cols["embed_fraction"] = fractions(W_E, 0)
        w_in = params.get("blocks.0.mlp.W_in")
        d = W_E.shape[1]
        if w_in is not None and w_in.ndim == 2 and w_in.shape[0] == 2 * d:
            w = w_in.detach().to(torch.float64)
            cols["embed_a_fraction"] = fractions(W_E @ w[:d], 0)
            cols["embed_b_fraction"] = fractions(W_E @ w[d:], 0)
    W_logit = fourier.logit_weight(params, symmetric_basis(n)).to(torch.float64)
    cols["unembed_fraction"] = fractions(W_logit, 1)
    rows = []
    sims = []
    for k, shape in enumerate(shapes):
        row: dict[str, Any] = {"k": k, "name": "(" + ",".join(map(str, shape)) + ")"}
        row["dim"] = dimension(shape)
        if k > 0:
            sim = character_similarity(logits, n, k)
            row["character_similarity"] = sim
            sims.append(sim)
        row.update({c: v[k] for c, v in cols.items()})
        rows.append(row)
    return {"rows": rows, "logit_explained": float(sum(x * x for x in sims))}
