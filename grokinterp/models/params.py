"""Parameters of every model: names, shapes and initialization.

Weights of every model live in a flat ``dict[str, Tensor]`` with TransformerLens's
(legacy HookedTransformer) names and shapes, which is also what checkpoints store:

====================================  =================================
transformer                           shape
====================================  =================================
``embed.W_E``                         (d_vocab, d_model)
``pos_embed.W_pos``                   (3, d_model)
``blocks.{i}.attn.W_Q/W_K/W_V``       (n_heads, d_model, d_head)
``blocks.{i}.attn.W_O``               (n_heads, d_head, d_model)
``blocks.{i}.mlp.W_in`` / ``b_in``    (d_model, d_mlp) / (d_mlp,)
``blocks.{i}.mlp.W_out`` / ``b_out``  (d_mlp, d_model) / (d_model,)
``unembed.W_U``                       (d_model, d_vocab_out)
====================================  =================================

The transformer is the Nanda et al. 2023 model: no LayerNorm, no attention biases, a
causal mask, scores scaled by 1/sqrt(d_head), ReLU MLP with biases, no unembedding
bias. The MLP arch has ``embed.W_E``, ``blocks.{i}.mlp.W_in/b_in`` and ``unembed.W_U``; on
feature vectors (``mlp_input="features"``) it has no ``embed.W_E`` and ``blocks.0.mlp.W_in``
is ``(n_features, d_mlp)`` (``d_vocab`` is then the number of features).

Two forwards compute the same function:

* :func:`answer_logits`, plain torch over the parameter dict, computing only what the
  loss needs (the last block only at the final position). The trainer uses it; it is
  pure, so ``torch.func.vmap`` can batch it over stacked parameters.
* :func:`build_model`, a TransformerLens ``TransformerBridge`` (native boot) or a
  :class:`HookedMLP` with the weights loaded: ``run_with_cache``, hooks, ``W_E`` ...
  for analysis. Its TransformerLens forward has a fixed cost per call that dominates
  small models, which is why training does not go through it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from grokinterp.config import ModelConfig
from grokinterp.models.registry import Params as Params  # re-exported: the models name it here
from grokinterp.models.registry import get_arch

N_CTX = 3  # [a, b, =]


def param_shapes(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the parameters of a model (see the module docstring), from its
    architecture's entry in :mod:`grokinterp.models.registry`."""
    return get_arch(cfg.arch).param_shapes(cfg, d_vocab, d_vocab_out)


def transformer_shapes(
    cfg: ModelConfig, d_vocab: int, d_vocab_out: int
) -> dict[str, tuple[int, ...]]:
    """The transformer's parameter names and shapes (the module docstring's table)."""
    dm, dh, nh, dmlp = cfg.d_model, cfg.d_head, cfg.n_heads, cfg.d_mlp
    shapes: dict[str, tuple[int, ...]] = {"embed.W_E": (d_vocab, dm)}
    shapes["pos_embed.W_pos"] = (N_CTX, dm)
    for i in range(cfg.n_layers):
        for w in ("W_Q", "W_K", "W_V"):
            shapes[f"blocks.{i}.attn.{w}"] = (nh, dm, dh)
        shapes[f"blocks.{i}.attn.W_O"] = (nh, dh, dm)
        shapes[f"blocks.{i}.mlp.W_in"] = (dm, dmlp)
        shapes[f"blocks.{i}.mlp.b_in"] = (dmlp,)
        shapes[f"blocks.{i}.mlp.W_out"] = (dmlp, dm)
        shapes[f"blocks.{i}.mlp.b_out"] = (dm,)
    shapes["unembed.W_U"] = (dm, d_vocab_out)
    return shapes


def mlp_shapes(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> dict[str, tuple[int, ...]]:
    """The MLP arch's parameter names and shapes: ``embed.W_E`` (none on feature vectors),
    ``blocks.{i}.mlp.W_in/b_in`` and ``unembed.W_U``."""
    dm, dmlp = cfg.d_model, cfg.d_mlp
    shapes: dict[str, tuple[int, ...]] = {"embed.W_E": (d_vocab, dm)}
    d_in = dm if cfg.mlp_combine == "sum" else 2 * dm
    if cfg.mlp_input == "features":  # d_vocab is the number of features; no embedding
        del shapes["embed.W_E"]
        d_in = d_vocab
    for i in range(cfg.n_layers):
        shapes[f"blocks.{i}.mlp.W_in"] = (d_in if i == 0 else dmlp, dmlp)
        shapes[f"blocks.{i}.mlp.b_in"] = (dmlp,)
    shapes["unembed.W_U"] = (dmlp, d_vocab_out)
    return shapes


def init_params(
    cfg: ModelConfig, d_vocab: int, d_vocab_out: int, generator: torch.Generator
) -> Params:
    """Gaussian initialization, times Omnigrok's ``init_scale`` alpha.

    Scales follow the progress-measures code (Nanda et al. 2023): every weight is
    N(0, 1/fan) with fan = d_model for the embeddings, attention and ``W_in``/``W_out`` of
    the transformer, and fan = d_vocab for ``W_U``; biases start at 0. For the MLP arch,
    fan is the input width of each matrix (LeCun init); with ``mlp_init="uniform"``, see
    :func:`_uniform_mlp`. Each architecture's ``init`` in :mod:`grokinterp.models.registry`
    does the drawing (:func:`transformer_init_params`, :func:`mlp_init_params`).
    """
    return get_arch(cfg.arch).init_params(cfg, d_vocab, d_vocab_out, generator)


def transformer_init_params(
    cfg: ModelConfig, d_vocab: int, d_vocab_out: int, generator: torch.Generator
) -> Params:
    """The transformer's initialization: N(0, 1/d_model), ``W_U`` N(0, 1/d_vocab)."""
    shapes = transformer_shapes(cfg, d_vocab, d_vocab_out)
    return _normal(
        cfg,
        shapes,
        generator,
        lambda name, shape: d_vocab if name == "unembed.W_U" else cfg.d_model,
    )


def mlp_init_params(
    cfg: ModelConfig, d_vocab: int, d_vocab_out: int, generator: torch.Generator
) -> Params:
    """The MLP arch's initialization: LeCun normal, or Liu et al.'s uniform one."""
    shapes = mlp_shapes(cfg, d_vocab, d_vocab_out)
    if cfg.mlp_init == "uniform":
        return _uniform_mlp(cfg, shapes, generator)
    return _normal(
        cfg,
        shapes,
        generator,
        lambda name, shape: cfg.d_model if name == "embed.W_E" else shape[0],
    )


def _normal(
    cfg: ModelConfig,
    shapes: dict[str, tuple[int, ...]],
    generator: torch.Generator,
    fan: Callable[[str, tuple[int, ...]], int],
) -> Params:
    """Every weight N(0, 1 / fan(name, shape)) times ``init_scale``, in the order of
    ``shapes``; biases 0."""
    params: Params = {}
    for name, shape in shapes.items():
        leaf = name.rsplit(".", 1)[1]
        if leaf.startswith("b_"):
            params[name] = torch.zeros(shape)
            continue
        w = torch.randn(shape, generator=generator) / math.sqrt(fan(name, shape))
        params[name] = w * cfg.init_scale
    return params


def _uniform_mlp(
    cfg: ModelConfig, shapes: dict[str, tuple[int, ...]], generator: torch.Generator
) -> Params:
    """Liu et al. 2022's toy initialization (their ``toy/train_add.py``): the embedding
    U(-1/2, 1/2); every matrix and its bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's
    ``nn.Linear`` default; all times ``init_scale``."""
    params: Params = {}
    for name, shape in shapes.items():
        if name == "embed.W_E":
            bound = 0.5
        else:
            matrix = name.replace(".b_in", ".W_in")
            bound = 1.0 / math.sqrt(shapes[matrix][0])
        u = torch.rand(shape, generator=generator) * 2 - 1
        params[name] = u * bound * cfg.init_scale
    return params
