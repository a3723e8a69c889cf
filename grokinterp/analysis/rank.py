"""Feature rank per layer: the progress measure of deep grokking (Fan, Pascanu, Jaggi 2024).

Fan et al. ("Deep grokking: would deep neural networks generalize better?", arXiv
2405.19454) train deep MLPs (4 to 12 layers of width 400) that grok, and find that the
*numerical rank of each layer's features* falls as the network generalizes (in multi-stage
runs it falls, rises and falls again: a double descent in rank). Their feature rank: stack a
layer's activations over ``n`` examples into ``H`` (n × d), form ``C = Hᵀ H`` (d × d), and
count its singular values above a small threshold.

Definitions used here (``σ_1 >= σ_2 >= ...`` the singular values of ``H``, computed in
float64 so that the count does not depend on the rounding of ``C``):

* :func:`numerical_rank`: the singular values of ``C`` are ``λ_i = σ_i²``;
  ``rank = #{i : λ_i > rtol · λ_1}``. The default ``rtol = d · ε`` with ``ε = 2^-23`` (float32
  machine epsilon) is the default tolerance of ``torch.linalg.matrix_rank`` (and of
  ``numpy.linalg.matrix_rank``) on a float32 ``d × d`` matrix, i.e. what calling it on
  float32 ``C`` thresholds at. Fan et al. state a machine-precision threshold; a different
  ``rtol`` is a different measure, so it is a stated argument, not a hidden constant.
  Zero features (``H = 0``) have rank 0.
* :func:`effective_rank`: Roy & Vetterli 2007 ("The effective rank: a measure of effective
  dimensionality", EUSIPCO): with ``p_i = σ_i / Σ_j σ_j``, ``erank = exp(-Σ_i p_i log p_i)``
  (``0 log 0 = 0``). A continuous rank: ``k`` for ``k`` equal nonzero singular values, between
  1 and the rank otherwise; unaffected by the threshold. Undefined (raises) for ``H = 0``.

Both take ``center=False`` by default (``Hᵀ H`` as in Fan et al., not the covariance of
centered features); ``center=True`` subtracts the mean feature first.

:func:`feature_rank_table` computes both for every hidden layer (``blocks.{i}.mlp.hook_post``)
of an MLP run at each checkpoint.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, get_arch
from grokinterp.models.forward import mlp_forward
from grokinterp.runs.run import Run

FLOAT32_EPS = 2.0**-23  # torch.finfo(torch.float32).eps

Split = Literal["train", "test", "all"]


def _singular_values(features: Float[Tensor, "n d"], center: bool) -> Tensor:
    if features.dim() != 2:
        raise ValueError(
            f"features must be a 2-D (examples, features) matrix, got {features.dim()}-D"
        )
    h = features.detach().double()
    if center:
        h = h - h.mean(0, keepdim=True)
    sv: Tensor = torch.linalg.svdvals(h)
    return sv


def default_rtol(d: int) -> float:
    """``d · ε(float32)``: ``torch.linalg.matrix_rank``'s default relative tolerance for a
    float32 ``d × d`` matrix (the feature Gram matrix ``Hᵀ H`` of ``d`` features)."""
    return d * FLOAT32_EPS


def numerical_rank(
    features: Float[Tensor, "n d"], rtol: float | None = None, center: bool = False
) -> int:
    """Numerical rank of the feature Gram matrix ``Hᵀ H`` (Fan et al. 2024, arXiv 2405.19454):
    the number of its singular values ``σ_i(H)²`` above ``rtol`` times the largest; ``rtol``
    defaults to :func:`default_rtol` (module doc)."""
    sv = _singular_values(features, center)
    rtol = default_rtol(features.shape[1]) if rtol is None else rtol
    if not rtol >= 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    lam = sv**2
    if len(lam) == 0 or float(lam[0]) == 0.0:
        return 0
    return int((lam > rtol * lam[0]).sum())


def effective_rank(features: Float[Tensor, "n d"], center: bool = False) -> float:
    """Roy & Vetterli's (2007) effective rank of ``H``: ``exp`` of the Shannon entropy of the
    singular values normalized to sum 1 (module doc)."""
    sv = _singular_values(features, center)
    total = float(sv.sum())
    if total == 0.0:
        raise ValueError("the effective rank of all-zero features is undefined")
    prob = sv / total
    prob = prob[prob > 0]
    return math.exp(float(-(prob * prob.log()).sum()))


def layer_features(
    params: Params, tokens: Tensor, cfg: ModelConfig
) -> dict[str, Float[Tensor, "n d_mlp"]]:
    """Every hidden layer's activations (``blocks.{i}.mlp.hook_post``) of an MLP on
    ``tokens``, by hook name."""
    if not get_arch(cfg.arch).feature_rank:
        raise ConfigError(
            f"feature ranks are computed for MLPs (arch=mlp, Fan et al. 2024); got arch={cfg.arch}"
        )
    out: dict[str, Tensor] = {}

    def keep(name: str, x: Tensor) -> Tensor:
        if name.endswith("hook_post"):
            out[name] = x.detach()
        return x

    with torch.no_grad():
        mlp_forward(params, tokens, cfg, hook=keep)
    return out


def feature_rank_table(
    run: Run | str | Path,
    steps: list[int] | None = None,
    split: Split = "train",
    rtol: float | None = None,
    center: bool = False,
) -> pd.DataFrame:
    """Numerical and effective rank of every hidden layer's features at each checkpoint of an
    MLP run (or the given ``steps``), on its training pairs, test pairs or all pairs.

    One row per (step, layer): ``step``, ``layer`` (0-based), ``numerical_rank``,
    ``effective_rank`` (NaN where the layer's features are all zero, e.g. dead ReLUs), with the
    metrics logged at that step joined (:meth:`grokinterp.runs.run.Run.with_metrics`).
    """
    run = run if isinstance(run, Run) else Run(run)
    cfg = run.config
    ds = run.dataset
    if split not in ("train", "test", "all"):
        raise ConfigError(f"split must be train, test or all; got {split!r}")
    tokens = {"train": ds.train_inputs, "test": ds.inputs[~ds.train_mask], "all": ds.inputs}[split]
    rows = []
    for step in steps if steps is not None else run.steps:
        feats = layer_features(run.params(step), tokens, cfg.model)
        for i in range(cfg.model.n_layers):
            h = feats[f"blocks.{i}.mlp.hook_post"]
            zero = not bool(h.abs().sum() > 0)
            rows.append(
                {
                    "step": step,
                    "layer": i,
                    "numerical_rank": numerical_rank(h, rtol, center),
                    "effective_rank": math.nan if zero else effective_rank(h, center),
                }
            )
    return run.with_metrics(pd.DataFrame(rows))
