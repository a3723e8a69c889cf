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

The transformer is by default the Nanda et al. 2023 model: no LayerNorm, no attention
biases, a causal mask, scores scaled by 1/sqrt(d_head), ReLU MLP with biases, no unembedding
bias. The papers' other transformers are configurations of it (``ModelConfig.sequence``,
``normalization``, ``positional``, ``attn_bias``, ``mlp_bias``, ``unembed_bias``,
``causal``), which add TransformerLens's ``blocks.{i}.ln1.w/b``, ``blocks.{i}.ln2.w/b``,
``ln_final.w/b`` (d_model,), ``blocks.{i}.attn.b_Q/b_K/b_V`` (n_heads, d_head),
``blocks.{i}.attn.b_O`` (d_model,) and ``unembed.b_U`` (d_vocab_out,), drop
``pos_embed.W_pos`` (sinusoidal or no positions) or the MLP biases, and give ``embed.W_E``
the sequence's extra token rows (:data:`SEQUENCES`); ``pos_embed.W_pos`` has one row per
position of the sequence.

The MLP arch has ``embed.W_E``, ``blocks.{i}.mlp.W_in/b_in`` and ``unembed.W_U``; on
feature vectors (``mlp_input="features"``) it has no ``embed.W_E`` and ``blocks.0.mlp.W_in``
is ``(n_features, d_mlp)`` (``d_vocab`` is then the number of features); on one-hot inputs
(``mlp_input="onehot"``, Prieto et al. 2025) no ``embed.W_E`` and ``blocks.0.mlp.W_in`` is
``(2 (d_vocab - 1), d_mlp)``; ``mlp_bias=False`` drops every ``b_in``.

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

import functools
import math
from collections.abc import Callable

import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.config import ModelConfig
from grokinterp.models.registry import Params as Params  # re-exported: the models name it here
from grokinterp.models.registry import get_arch

N_CTX = 3  # [a, b, =]: the dataset's rows, and Nanda et al.'s sequence

# ModelConfig.sequence -> (sequence length, embedding rows beyond the task's d_vocab): the
# answer is read at the last position of each. ``a_op_b_eq``: Lee et al. 2024's
# ``[x, op, y, =]`` (ironjr/grokfast@93b2248 main.py:L87, L98-99, L157); ``eos_a_op_b_eq``:
# Power et al. 2022's ``<eos> x op y =`` (openai/grok@3d64b1d grok/data.py:L250, L357); ``a_b``:
# Prieto et al. 2025's ``[x, y]`` with no ``=`` token (their datasets.py:L134, models.py:L40).
SEQUENCES: dict[str, tuple[int, int]] = {
    "a_b_eq": (3, 0),
    "a_op_b_eq": (4, 1),
    "eos_a_op_b_eq": (5, 2),
    "a_b": (2, -1),
}


def sequence_labels(cfg: ModelConfig) -> tuple[str, ...]:
    """Names of the positions of the transformer's sequence, e.g. ``("<eos>", "a", "op",
    "b", "=")`` (the attention figure's axes)."""
    return {
        "a_b_eq": ("a", "b", "="),
        "a_op_b_eq": ("a", "op", "b", "="),
        "eos_a_op_b_eq": ("<eos>", "a", "op", "b", "="),
        "a_b": ("a", "b"),
    }[cfg.sequence]


def n_ctx(cfg: ModelConfig) -> int:
    """Length of the transformer's sequence (``cfg.sequence``): 3 for ``[a, b, =]``."""
    return SEQUENCES[cfg.sequence][0]


def embed_rows(cfg: ModelConfig, d_vocab: int) -> int:
    """Rows of ``embed.W_E``: the task's ``d_vocab`` (residues and ``=``), plus the
    sequence's own tokens (operator, end-of-sequence), minus ``=`` where it is not read."""
    return d_vocab + SEQUENCES[cfg.sequence][1]


def is_nanda(cfg: ModelConfig) -> bool:
    """Whether the transformer computes Nanda et al.'s function (every structural field at
    its default; the initialization may differ): the fast forward's table-lookup path."""
    return (
        cfg.sequence == "a_b_eq"
        and cfg.normalization == "none"
        and cfg.positional == "learned"
        and not cfg.attn_bias
        and cfg.mlp_bias
        and not cfg.unembed_bias
        and cfg.causal
        and cfg.attention_rate == 1.0
    )


def sequence_tokens(
    tokens: Int[Tensor, "*members batch 3"], cfg: ModelConfig, rows: int
) -> Int[Tensor, "*members batch n_ctx"]:
    """The sequence ``cfg.sequence`` of each dataset row ``[a, b, =]``, as token ids of an
    embedding of ``rows`` rows: the sequence's own tokens are the rows after the task's
    (operator, or end-of-sequence then operator)."""
    base = rows - SEQUENCES[cfg.sequence][1]  # the task's d_vocab
    if cfg.sequence == "a_b_eq":
        return tokens
    if cfg.sequence == "a_b":
        return tokens[..., :2]
    a, b, eq = tokens.unbind(-1)
    if cfg.sequence == "a_op_b_eq":
        return torch.stack([a, torch.full_like(a, base), b, eq], dim=-1)
    eos, op = torch.full_like(a, base), torch.full_like(a, base + 1)
    return torch.stack([eos, a, op, b, eq], dim=-1)


@functools.lru_cache(maxsize=16)
def sinusoidal_positions(n: int, d_model: int) -> Tensor:
    """Power et al.'s fixed positional table (openai/grok@3d64b1d grok/transformer.py:L325-339):
    row ``pos``, column ``i``: ``sin(pos / 10000^(i / d))`` for even i, ``cos(pos /
    10000^((i - 1) / d))`` for odd i; computed in float64 (numpy there), stored float32 (their
    model is cast by ``.float()``, grok/training.py:L703). Cached: the forward reads it at
    every step; callers must not modify it in place."""
    pos = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(d_model, dtype=torch.float64)
    even = (i - i % 2) / d_model
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), even)
    table = torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(torch.float32)


def param_shapes(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the parameters of a model (see the module docstring), from its
    architecture's entry in :mod:`grokinterp.models.registry`."""
    return get_arch(cfg.arch).param_shapes(cfg, d_vocab, d_vocab_out)


def transformer_shapes(
    cfg: ModelConfig, d_vocab: int, d_vocab_out: int
) -> dict[str, tuple[int, ...]]:
    """The transformer's parameter names and shapes (the module docstring's table)."""
    dm, dh, nh, dmlp = cfg.d_model, cfg.d_head, cfg.n_heads, cfg.d_mlp
    norm = cfg.normalization != "none"
    shapes: dict[str, tuple[int, ...]] = {"embed.W_E": (embed_rows(cfg, d_vocab), dm)}
    if cfg.positional == "learned":
        shapes["pos_embed.W_pos"] = (n_ctx(cfg), dm)
    for i in range(cfg.n_layers):
        if norm:
            shapes[f"blocks.{i}.ln1.w"] = shapes[f"blocks.{i}.ln1.b"] = (dm,)
        for w in ("W_Q", "W_K", "W_V"):
            shapes[f"blocks.{i}.attn.{w}"] = (nh, dm, dh)
        shapes[f"blocks.{i}.attn.W_O"] = (nh, dh, dm)
        if cfg.attn_bias:
            for b in ("b_Q", "b_K", "b_V"):
                shapes[f"blocks.{i}.attn.{b}"] = (nh, dh)
            shapes[f"blocks.{i}.attn.b_O"] = (dm,)
        if norm:
            shapes[f"blocks.{i}.ln2.w"] = shapes[f"blocks.{i}.ln2.b"] = (dm,)
        shapes[f"blocks.{i}.mlp.W_in"] = (dm, dmlp)
        if cfg.mlp_bias:
            shapes[f"blocks.{i}.mlp.b_in"] = (dmlp,)
        shapes[f"blocks.{i}.mlp.W_out"] = (dmlp, dm)
        if cfg.mlp_bias:
            shapes[f"blocks.{i}.mlp.b_out"] = (dm,)
    if cfg.normalization in ("pre", "grokfast"):
        shapes["ln_final.w"] = shapes["ln_final.b"] = (dm,)
    shapes["unembed.W_U"] = (dm, d_vocab_out)
    if cfg.unembed_bias:
        shapes["unembed.b_U"] = (d_vocab_out,)
    return shapes


def mlp_shapes(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> dict[str, tuple[int, ...]]:
    """The MLP arch's parameter names and shapes: ``embed.W_E`` (none on feature vectors or
    one-hot inputs), ``blocks.{i}.mlp.W_in/b_in`` (no ``b_in`` when ``cfg.mlp_bias`` is
    False), with ``cfg.mlp_out_proj`` the last block's ``W_out`` (d_mlp, d_model) and
    ``b_out``, and ``unembed.W_U``. On one-hot inputs ``blocks.0.mlp.W_in`` has ``2 (d_vocab -
    1)`` rows: a's one-hot block, then b's (the ``=`` token, the last of ``d_vocab``, is not
    an input)."""
    dm, dmlp = cfg.d_model, cfg.d_mlp
    shapes: dict[str, tuple[int, ...]] = {"embed.W_E": (d_vocab, dm)}
    d_in = dm if cfg.mlp_combine == "sum" else 2 * dm
    if cfg.mlp_input == "features":  # d_vocab is the number of features; no embedding
        del shapes["embed.W_E"]
        d_in = d_vocab
    elif cfg.mlp_input == "onehot":  # [onehot(a), onehot(b)]; no embedding
        del shapes["embed.W_E"]
        d_in = 2 * (d_vocab - 1)
    for i in range(cfg.n_layers):
        shapes[f"blocks.{i}.mlp.W_in"] = (d_in if i == 0 else dmlp, dmlp)
        if cfg.mlp_bias:
            shapes[f"blocks.{i}.mlp.b_in"] = (dmlp,)
    d_last = dmlp
    if cfg.mlp_out_proj:  # h_L W_out: back to the embedding width, no activation
        last = cfg.n_layers - 1
        shapes[f"blocks.{last}.mlp.W_out"] = (dmlp, dm)
        if cfg.mlp_bias:
            shapes[f"blocks.{last}.mlp.b_out"] = (dm,)
        d_last = dm
    shapes["unembed.W_U"] = (d_last, d_vocab_out)
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
    """The transformer's initialization (``cfg.transformer_init``): ``normal``, N(0,
    1/d_model) and ``W_U`` N(0, 1/d_vocab), biases 0 and LayerNorm gains 1; or PyTorch's
    defaults for the authors' modules (:func:`_torch_transformer`)."""
    shapes = transformer_shapes(cfg, d_vocab, d_vocab_out)
    if cfg.transformer_init != "normal":
        return _torch_transformer(cfg, shapes, generator)
    return _normal(
        cfg,
        shapes,
        generator,
        lambda name, shape: d_vocab if name == "unembed.W_U" else cfg.d_model,
    )


def _torch_transformer(
    cfg: ModelConfig, shapes: dict[str, tuple[int, ...]], generator: torch.Generator
) -> Params:
    """PyTorch's default initialization of the authors' modules, times ``init_scale``, drawn
    in the order of ``shapes``:

    * ``embed.W_E``, ``pos_embed.W_pos``: N(0, 1) (``nn.Embedding``: Power et al.'s
      openai/grok@3d64b1d grok/transformer.py:L303; Lee et al.'s ironjr/grokfast@93b2248
      main.py:L52-53; Prieto et al.'s models.py:L34);
    * LayerNorm gains 1, biases 0 (``nn.LayerNorm``);
    * every other matrix and its bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), ``nn.Linear``'s
      default (kaiming-uniform with a = sqrt(5)); fan_in is ``d_model`` for ``W_Q``, ``W_K``,
      ``W_V``, ``W_in`` and ``W_U``, ``n_heads * d_head`` for ``W_O`` and ``d_mlp`` for
      ``W_out`` (Power et al.'s per-head ``Linear(d_model, d_key)`` and ``Wo``,
      grok/transformer.py:L89-91, L142; FFN L191-195; head L318);
    * with ``torch_mha``, the attention as ``nn.MultiheadAttention._reset_parameters``:
      ``W_Q``, ``W_K``, ``W_V`` together Xavier-uniform as one (3 n_heads d_head, d_model)
      matrix, bound sqrt(6 / (d_model + 3 n_heads d_head)); ``b_Q``, ``b_K``, ``b_V`` and
      ``b_O`` 0; ``W_O`` as ``nn.Linear`` (Lee et al.'s main.py:L24; Prieto et al.'s
      ``nn.TransformerEncoderLayer``, models.py:L35).
    """
    dm, dh, nh = cfg.d_model, cfg.d_head, cfg.n_heads
    mha = cfg.transformer_init == "torch_mha"
    xavier = math.sqrt(6.0 / (dm + 3 * nh * dh))
    fan_in = {"W_Q": dm, "W_K": dm, "W_V": dm, "W_O": nh * dh, "W_in": dm, "W_out": cfg.d_mlp}
    fan_in |= {"b_Q": dm, "b_K": dm, "b_V": dm, "b_O": nh * dh, "b_in": dm, "b_out": cfg.d_mlp}
    fan_in |= {"W_U": dm, "b_U": dm}
    params: Params = {}
    for name, shape in shapes.items():
        module, leaf = name.rsplit(".", 1)
        if name in ("embed.W_E", "pos_embed.W_pos"):
            w = torch.randn(shape, generator=generator)
        elif module.endswith(("ln1", "ln2", "ln_final")):
            w = torch.ones(shape) if leaf == "w" else torch.zeros(shape)
        elif mha and leaf in ("b_Q", "b_K", "b_V", "b_O"):
            w = torch.zeros(shape)
        else:
            bound = xavier if mha and leaf in ("W_Q", "W_K", "W_V") else fan_in[leaf] ** -0.5
            w = (torch.rand(shape, generator=generator) * 2 - 1) * bound
        params[name] = w * cfg.init_scale
    return params


def mlp_init_params(
    cfg: ModelConfig, d_vocab: int, d_vocab_out: int, generator: torch.Generator
) -> Params:
    """The MLP arch's initialization: LeCun normal (every matrix N(0, 1/fan_in); the
    embedding N(0, 1/d_model), or with ``embed_vocab`` N(0, 1/n), n = d_vocab - 1 the operand
    values, as Minegishi et al.'s ``Embed``, gouki510/Grokking-Tickets@bd705c8
    model.py:L36-37), Liu et al.'s uniform one, or Doshi et al. 2024's ``doshi`` (every
    matrix, the embedding included, N(0, 1 / (4 (2 d_mlp)^(2/3))): their ``fcn``,
    d-doshi/Grokking@0b4335f utils/models.py:L39-40)."""
    shapes = mlp_shapes(cfg, d_vocab, d_vocab_out)
    if cfg.mlp_init == "uniform":
        return _uniform_mlp(cfg, shapes, generator)
    if cfg.mlp_init == "doshi":  # std 0.25**0.5 / (2 N)^(1/3): variance 1 / (4 (2N)^(2/3))
        fan_doshi = 4.0 * (2 * cfg.d_mlp) ** (2.0 / 3.0)
        return _normal(cfg, shapes, generator, lambda name, shape: fan_doshi)
    embed_fan = d_vocab - 1 if cfg.mlp_init == "embed_vocab" else cfg.d_model
    return _normal(
        cfg,
        shapes,
        generator,
        lambda name, shape: embed_fan if name == "embed.W_E" else shape[0],
    )


def _normal(
    cfg: ModelConfig,
    shapes: dict[str, tuple[int, ...]],
    generator: torch.Generator,
    fan: Callable[[str, tuple[int, ...]], float],
) -> Params:
    """Every weight N(0, 1 / fan(name, shape)) times ``init_scale``, in the order of
    ``shapes``; biases 0; LayerNorm gains (``ln1.w`` ...) 1 times ``init_scale``."""
    params: Params = {}
    for name, shape in shapes.items():
        leaf = name.rsplit(".", 1)[1]
        if leaf.startswith("b_") or leaf == "b":
            params[name] = torch.zeros(shape)
            continue
        if leaf == "w":  # a LayerNorm's gain
            params[name] = torch.ones(shape) * cfg.init_scale
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
            matrix = name.replace(".b_in", ".W_in").replace(".b_out", ".W_out")
            bound = 1.0 / math.sqrt(shapes[matrix][0])
        u = torch.rand(shape, generator=generator) * 2 - 1
        params[name] = u * bound * cfg.init_scale
    return params
