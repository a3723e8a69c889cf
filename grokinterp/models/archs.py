"""The built-in architectures, registered when :mod:`grokinterp.models` is imported.

* ``transformer``: the Nanda et al. 2023 model by default, and the papers' other
  transformers as configurations of it (Power et al. 2022, Lee et al. 2024, Prieto et al.
  2025: :class:`grokinterp.config.ModelConfig`'s ``sequence``, ``normalization``, ...)
  (:func:`grokinterp.models.params.transformer_shapes`, :func:`grokinterp.models.forward.
  transformer_forward`, the TransformerLens bridge or :class:`grokinterp.models.hooked.
  HookedPaperTransformer`);
* ``mlp``: the toy MLP of Liu et al. 2022 / Gromov 2023, of any depth, on tokens or on
  feature vectors (:func:`grokinterp.models.forward.mlp_forward`, :class:`grokinterp.models.
  hooked.HookedMLP`);
* ``gp`` and ``linear``: the non-neural models of Miller et al. 2024
  (:mod:`grokinterp.models.nonneural`), trained by ``grokinterp nonneural``.
* ``rfm``: the recursive feature machine of Mallinar et al. 2025 (:mod:`grokinterp.models.
  rfm`) on pair tasks, trained by ``grokinterp nonneural``.

The hooked models are built by functions that import :mod:`grokinterp.models.hooked`
(and TransformerLens with it) when called, so that training never imports it.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

import torch
from torch import nn

from grokinterp.config import ModelConfig
from grokinterp.models.forward import mlp_forward, transformer_forward
from grokinterp.models.nonneural import load_gp, load_linear
from grokinterp.models.params import (
    Params,
    mlp_init_params,
    mlp_shapes,
    n_ctx,
    transformer_init_params,
    transformer_shapes,
)
from grokinterp.models.registry import Architecture, register
from grokinterp.models.rfm import describe_rfm, load_rfm


def describe_transformer(m: ModelConfig) -> str:
    """``transformer: 1 layer(s), d_model=128, 4 heads of 32, d_mlp=512, relu``, then what
    differs from Nanda et al.'s model (``; post-LN, sinusoidal positions, sequence
    eos_a_op_b_eq, no MLP biases``)."""
    line = (
        f"transformer: {m.n_layers} layer(s), d_model={m.d_model}, {m.n_heads} heads "
        f"of {m.d_head}, d_mlp={m.d_mlp}, {m.act_fn}"
    )
    extra = []
    if m.normalization != "none":
        extra.append(f"{m.normalization}-LN")
    if m.positional != "learned":
        extra.append("no positions" if m.positional == "none" else f"{m.positional} positions")
    if m.sequence != "a_b_eq":
        extra.append(f"sequence {m.sequence}")
    extra += [what for flag, what in ((m.attn_bias, "attention biases"),
                                      (not m.mlp_bias, "no MLP biases"),
                                      (m.unembed_bias, "unembedding bias"),
                                      (not m.causal, "no causal mask")) if flag]  # fmt: skip
    if m.transformer_init != "normal":
        extra.append(f"{m.transformer_init} init")
    return line + ("; " + ", ".join(extra) if extra else "")


def describe_mlp(m: ModelConfig) -> str:
    """``mlp: 2 hidden layer(s) of 200, embed 1, tanh`` (``on the features`` for an MLP on
    feature vectors)."""
    reads = {"features": "on the features", "onehot": "on one-hot a, b"}.get(
        m.mlp_input, f"embed {m.d_model}"
    )
    bias = "" if m.mlp_bias else ", no biases"
    return f"mlp: {m.n_layers} hidden layer(s) of {m.d_mlp}, {reads}, {m.act_fn}{bias}"


def describe_gp(m: ModelConfig) -> str:
    """``gp: variational GP classifier, scaled RBF kernel with ARD, Bernoulli likelihood``."""
    return "gp: variational GP classifier, scaled RBF kernel with ARD, Bernoulli likelihood"


def describe_linear(m: ModelConfig) -> str:
    """``linear: y = w . x, linear_init=high_complexity, noise_var=0.002, prior_var=0.5``."""
    return (
        f"linear: y = w . x, linear_init={m.linear_init}, noise_var={m.noise_var}, "
        f"prior_var={m.prior_var}"
    )


def transformer_row_floats(m: ModelConfig) -> int:
    """Per training row: each MLP layer's pre- and post-activation at the answer position,
    and the residual stream at every position of the sequence (6 vectors of d_model per
    block and position; LayerNorms keep 2 more each)."""
    per_pos = 6 + (4 if m.normalization != "none" else 0)
    return 2 * m.n_layers * m.d_mlp + per_pos * n_ctx(m) * m.d_model * m.n_layers


def mlp_row_floats(m: ModelConfig) -> int:
    """Per training row: each hidden layer's pre- and post-activation."""
    return 2 * m.n_layers * m.d_mlp


def hooked_transformer(cfg: ModelConfig, params: Params, device: str | torch.device) -> nn.Module:
    """:func:`grokinterp.models.hooked.build_bridge`, importing TransformerLens on call."""
    build: Any = importlib.import_module("grokinterp.models.hooked").build_bridge
    return cast(nn.Module, build(cfg, params, device))


def hooked_mlp(cfg: ModelConfig, params: Params, device: str | torch.device) -> nn.Module:
    """:func:`grokinterp.models.hooked.build_hooked_mlp`, importing TransformerLens on call."""
    build: Any = importlib.import_module("grokinterp.models.hooked").build_hooked_mlp
    return cast(nn.Module, build(cfg, params, device))


TRANSFORMER = register(
    Architecture(
        name="transformer",
        summary=describe_transformer,
        neural=True,
        shapes=transformer_shapes,
        init=transformer_init_params,
        forward=transformer_forward,
        hooked=hooked_transformer,
        row_floats=transformer_row_floats,
        attention=True,
        ntk=True,
    )
)
MLP = register(
    Architecture(
        name="mlp",
        summary=describe_mlp,
        neural=True,
        shapes=mlp_shapes,
        init=mlp_init_params,
        forward=mlp_forward,
        hooked=hooked_mlp,
        row_floats=mlp_row_floats,
        ntk=True,
        feature_rank=True,
        gromov=True,
    )
)
GP = register(
    Architecture(name="gp", summary=describe_gp, neural=False, load=load_gp, needs_gpytorch=True)
)
LINEAR = register(
    Architecture(name="linear", summary=describe_linear, neural=False, load=load_linear)
)
RFM = register(Architecture(name="rfm", summary=describe_rfm, neural=False, load=load_rfm))
