"""Feature rank per layer: the progress measure of deep grokking (Fan, Pascanu, Jaggi 2024).

Fan et al. ("Deep grokking: would deep neural networks generalize better?", arXiv
2405.19454) train deep MLPs (4 to 12 layers of width 400) that grok, and find that the
*numerical rank of each layer's features* falls as the network generalizes (in multi-stage
runs it falls, rises and falls again: a double descent in rank). Their feature rank: stack a
layer's activations over ``n`` examples into ``H`` (n × d), form a d × d second-moment
matrix and count its singular values above a small threshold. Their released code
(Olivia-fsm/Deep-Grokking@52a0cab mnist/grokking/tunnel_methods.py:L269) takes
``torch.linalg.matrix_rank(torch.cov(H.T))``: the covariance of the *centered* features
(``center=True`` here), of the output of every ``nn.Linear`` (the pre-activations,
``features="pre"`` in :func:`feature_rank_table`), on the test set, in float64.

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

Both take ``center=False`` by default (``Hᵀ H``, the uncentered second moment);
``center=True`` subtracts the mean feature first (the covariance, as Fan et al.'s code).

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
FLOAT64_EPS = 2.0**-52  # torch.finfo(torch.float64).eps

Split = Literal["train", "test", "all"]
Precision = Literal["float32", "float64"]


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


def default_rtol(d: int, precision: Precision = "float32") -> float:
    """``d · ε``: ``torch.linalg.matrix_rank``'s default relative tolerance for a ``d × d``
    matrix (the feature Gram matrix ``Hᵀ H`` of ``d`` features) of the given precision
    (ε = 2^-23 for float32, 2^-52 for float64)."""
    return d * (FLOAT64_EPS if precision == "float64" else FLOAT32_EPS)


def numerical_rank(
    features: Float[Tensor, "n d"], rtol: float | None = None, center: bool = False
) -> int:
    """Numerical rank of the feature Gram matrix ``Hᵀ H`` (Fan et al. 2024, arXiv 2405.19454):
    the number of its singular values ``σ_i(H)²`` above ``rtol`` times the largest; ``rtol``
    defaults to :func:`default_rtol` (module doc)."""
    return _numerical_from_sv(_singular_values(features, center), features.shape[1], rtol)


def _numerical_from_sv(sv: Tensor, d: int, rtol: float | None) -> int:
    rtol = default_rtol(d) if rtol is None else rtol
    if not rtol >= 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    lam = sv**2
    if len(lam) == 0 or float(lam[0]) == 0.0:
        return 0
    return int((lam > rtol * lam[0]).sum())


def effective_rank(features: Float[Tensor, "n d"], center: bool = False) -> float:
    """Roy & Vetterli's (2007) effective rank of ``H``: ``exp`` of the Shannon entropy of the
    singular values normalized to sum 1 (module doc)."""
    return _effective_from_sv(_singular_values(features, center))


def _effective_from_sv(sv: Tensor) -> float:
    total = float(sv.sum())
    if total == 0.0:
        raise ValueError("the effective rank of all-zero features is undefined")
    prob = sv / total
    prob = prob[prob > 0]
    return math.exp(float(-(prob * prob.log()).sum()))


def layer_features(
    params: Params, tokens: Tensor, cfg: ModelConfig
) -> dict[str, Float[Tensor, "n d_mlp"]]:
    """Every hidden layer's activations (``blocks.{i}.mlp.hook_post``) and the linear
    outputs before them (``blocks.{i}.mlp.hook_pre``) of an MLP on ``tokens``, by hook
    name."""
    if not get_arch(cfg.arch).feature_rank:
        raise ConfigError(
            f"feature ranks are computed for MLPs (arch=mlp, Fan et al. 2024); got arch={cfg.arch}"
        )
    out: dict[str, Tensor] = {}

    def keep(name: str, x: Tensor) -> Tensor:
        if name.endswith(("hook_post", "hook_pre")):
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
    features: Literal["post", "pre"] = "post",
    precision: Precision = "float32",
) -> pd.DataFrame:
    """Numerical and effective rank of every hidden layer's features at each checkpoint of an
    MLP run (or the given ``steps``), on its training pairs, test pairs or all pairs.

    ``features``: ``post`` the activations after the nonlinearity
    (``blocks.{i}.mlp.hook_post``), ``pre`` the outputs of the linear maps before it
    (``blocks.{i}.mlp.hook_pre``: what Fan et al.'s code hooks, every ``nn.Linear``).
    ``precision``: the forward pass that computes the features (``float64``: the trained
    float32 weights cast to float64, as Fan et al. train and measure in float64), and the
    default ``rtol``, :func:`default_rtol` of that precision.

    One row per (step, layer): ``step``, ``layer`` (0-based), ``numerical_rank``,
    ``effective_rank`` (NaN where the layer's features are all zero, e.g. dead ReLUs), with the
    metrics logged at that step joined (:meth:`grokinterp.runs.run.Run.with_metrics`).
    """
    run = run if isinstance(run, Run) else Run(run)
    cfg = run.config
    ds = run.dataset
    if split not in ("train", "test", "all"):
        raise ConfigError(f"split must be train, test or all; got {split!r}")
    if features not in ("post", "pre"):
        raise ConfigError(f"features must be post or pre; got {features!r}")
    if precision not in ("float32", "float64"):
        raise ConfigError(f"precision must be float32 or float64; got {precision!r}")
    dtype = torch.float64 if precision == "float64" else torch.float32
    tokens = {"train": ds.train_inputs, "test": ds.inputs[~ds.train_mask], "all": ds.inputs}[split]
    rows = []
    for step in steps if steps is not None else run.steps:
        params = {k: v.to(dtype) for k, v in run.params(step).items()}
        feats = layer_features(params, tokens, cfg.model)
        for i in range(cfg.model.n_layers):
            h = feats[f"blocks.{i}.mlp.hook_{features}"]
            sv = _singular_values(h, center)  # once for both ranks
            tol = default_rtol(h.shape[1], precision) if rtol is None else rtol
            zero = not bool(sv.sum() > 0)
            rows.append(
                {
                    "step": step,
                    "layer": i,
                    "numerical_rank": _numerical_from_sv(sv, h.shape[1], tol),
                    "effective_rank": math.nan if zero else _effective_from_sv(sv),
                }
            )
    return run.with_metrics(pd.DataFrame(rows))
