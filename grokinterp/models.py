"""Models: parameters in TransformerLens names, a fast exact forward, and hooked modules.

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
bias. The MLP arch has ``embed.W_E``, ``blocks.{i}.mlp.W_in/b_in`` and ``unembed.W_U``.

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
from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from grokinterp.config import ModelConfig

Params = dict[str, Tensor]

_ACT: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "quadratic": torch.square,
}

N_CTX = 3  # [a, b, =]


def param_shapes(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the parameters of a model (see the module docstring)."""
    dm, dh, nh, dmlp = cfg.d_model, cfg.d_head, cfg.n_heads, cfg.d_mlp
    shapes: dict[str, tuple[int, ...]] = {"embed.W_E": (d_vocab, dm)}
    if cfg.arch == "transformer":
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
    else:
        d_in = dm if cfg.mlp_combine == "sum" else 2 * dm
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
    fan is the input width of each matrix (LeCun init).
    """
    params: Params = {}
    for name, shape in param_shapes(cfg, d_vocab, d_vocab_out).items():
        leaf = name.rsplit(".", 1)[1]
        if leaf.startswith("b_"):
            params[name] = torch.zeros(shape)
            continue
        if cfg.arch == "transformer":
            fan = d_vocab if name == "unembed.W_U" else cfg.d_model
        else:
            fan = cfg.d_model if name == "embed.W_E" else shape[0]
        w = torch.randn(shape, generator=generator) / math.sqrt(fan)
        params[name] = w * cfg.init_scale
    return params


# ----------------------------------------------------------------------------- fast forward
def answer_logits(
    params: Params, tokens: Int[Tensor, "batch 3"], cfg: ModelConfig
) -> Float[Tensor, "batch d_vocab_out"]:
    """Logits at the answer (last) position, computing only what they depend on."""
    return answer_forward(params, tokens, cfg)[0]


@torch.no_grad()
def answer_forward_chunked(
    params: Params,
    tokens: Int[Tensor, "batch 3"],
    cfg: ModelConfig,
    n_classes: int | None = None,
    chunk_size: int = 8192,
) -> tuple[Float[Tensor, "batch n_classes"], Float[Tensor, "batch d_mlp"]]:
    """:func:`answer_forward` without gradients, in chunks of ``chunk_size`` rows, keeping
    the first ``n_classes`` logits (models imported from the progress-measures code also
    score the ``=`` token). The analysis's forward over every pair."""
    device = next(iter(params.values())).device
    logits, hidden = [], []
    for start in range(0, len(tokens), chunk_size):
        lg, h = answer_forward(params, tokens[start : start + chunk_size].to(device), cfg)
        logits.append(lg[:, :n_classes])
        hidden.append(h)
    return torch.cat(logits), torch.cat(hidden)


class _Lookup(torch.autograd.Function):
    """Rows of a table, ``table[idx]``, whose backward is one ``index_add_``. (Measured on
    2 CPU cores for an ensemble's tables: F.embedding's backward takes about 5x longer, and
    indexing's backward, an accumulating index_put, longer still.)"""

    @staticmethod
    def forward(ctx: Any, table: Tensor, idx: Tensor) -> Tensor:
        ctx.save_for_backward(idx)
        ctx.rows = table.shape[0]
        return table.index_select(0, idx.reshape(-1)).view(*idx.shape, table.shape[-1])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (idx,) = ctx.saved_tensors
        out = grad.new_zeros(ctx.rows, grad.shape[-1])
        out.index_add_(0, idx.reshape(-1), grad.reshape(-1, grad.shape[-1]))
        return out, None


def _lookup(table: Tensor, idx: Tensor) -> Tensor:
    return _Lookup.apply(table, idx)  # type: ignore[no-any-return]


def answer_forward(
    params: Params, tokens: Int[Tensor, "*members batch 3"], cfg: ModelConfig
) -> tuple[Float[Tensor, "*members batch d_vocab_out"], Float[Tensor, "*members batch d_mlp"]]:
    """Answer-position logits and the last MLP's activations there (``hook_post``).

    Exactly the function of the TransformerLens model (tests check a relative error below
    1e-5), arranged for speed:

    * block 0's queries, keys and values at position j depend only on the token there, so
      they are read from ``(3, d_vocab, heads, d_head)`` tables (one small matmul per
      table) instead of a matmul per example;
    * the last block is evaluated at the answer position only (the only one the loss reads).

    For the transformer, every parameter may carry a leading *members* axis (an ensemble of
    models of one shape, see :mod:`grokinterp.ensemble`), with tokens shaped
    ``(members, batch, 3)``: each member runs on its own rows, as one batched computation.
    """
    if cfg.arch == "mlp":
        return HookedMLP.functional(params, tokens, cfg, hooks=None)
    act = _ACT[cfg.act_fn]
    scale = 1.0 / math.sqrt(cfg.d_head)
    nh, dh = cfg.n_heads, cfg.d_head
    w_e = params["embed.W_E"]
    lead = tuple(w_e.shape[:-2])  # () or (members,)
    d_vocab, d_model = w_e.shape[-2:]
    # row (j * d_vocab + t) of a table holds what position j computes when it reads token t
    flat = tokens + torch.arange(N_CTX, device=tokens.device) * d_vocab  # (*m, batch, 3)
    table_in = (w_e.unsqueeze(-3) + params["pos_embed.W_pos"].unsqueeze(-2)).reshape(
        *lead, N_CTX * d_vocab, d_model)  # (*m, 3 * d_vocab, d_model)

    def lookup(table: Tensor, idx: Tensor) -> Tensor:
        # members index disjoint row blocks of one flattened table
        if not lead:
            return _lookup(table, idx)
        rows = table.shape[-2]
        offset = torch.arange(lead[0], device=idx.device).view(-1, *[1] * (idx.dim() - 1))
        return _lookup(table.reshape(-1, table.shape[-1]), idx + offset * rows)

    def gather_table(w: Tensor) -> Tensor:
        # (*m, heads, d_model, d_head) -> (*m, 3 * d_vocab, heads, d_head)
        w_flat = w.transpose(-3, -2).reshape(*lead, d_model, nh * dh)
        return (table_in @ w_flat).unflatten(-1, (nh, dh))

    def gather(w: Tensor, idx: Tensor) -> Tensor:
        table = gather_table(w)
        return lookup(table.flatten(-2), idx).unflatten(-1, (nh, dh))

    def bias(b: Tensor, x: Tensor) -> Tensor:
        # (*m, n) -> broadcastable against x (*m, ..., n)
        return b.reshape(*lead, *[1] * (x.dim() - len(lead) - 1), b.shape[-1])

    resid: Tensor | None = None  # (*m, batch, 3, d_model), only for blocks >= 1
    last = cfg.n_layers - 1
    for i in range(cfg.n_layers):
        pre = f"blocks.{i}.attn."
        w_q, w_k, w_v = (params[pre + w] for w in ("W_Q", "W_K", "W_V"))
        w_o = params[pre + "W_O"].reshape(*lead, nh * dh, d_model)
        if resid is None:  # block 0: keys and values are table look-ups
            if i != last:  # (a single block reads its scores from a table instead)
                k = gather(w_k, flat)  # (*m, batch, 3, heads, d_head)
            v = gather(w_v, flat)
        else:
            k = torch.einsum("...bpd,...hde->...bphe", resid, w_k)
            v = torch.einsum("...bpd,...hde->...bphe", resid, w_v)
        if i == last:
            # the answer position attends to every position: no mask needed
            if resid is None:
                # a score depends only on (answer token, position j, token at j): read it
                # from a (d_vocab * 3 * d_vocab, heads) table
                q_tab = gather_table(w_q)[..., (N_CTX - 1) * d_vocab:, :, :]  # (*m, V, h, e)
                k_tab = gather_table(w_k)  # (*m, 3V, h, e)
                s_tab = torch.einsum("...vhe,...rhe->...vrh", q_tab, k_tab) * scale
                s_idx = tokens[..., -1:] * (N_CTX * d_vocab) + flat  # (*m, batch, 3)
                scores = lookup(s_tab.flatten(-3, -2), s_idx)  # (*m, batch, 3, heads)
                x = lookup(table_in, flat[..., -1])  # (*m, batch, d_model)
            else:
                q = torch.einsum("...bd,...hde->...bhe", resid[..., -1, :], w_q)
                x = resid[..., -1, :]
                scores = (q.unsqueeze(-3) * k).sum(-1) * scale  # (*m, batch, 3, heads)
            pattern = torch.softmax(scores, dim=-2)
            z = (pattern.unsqueeze(-1) * v).sum(-3)  # (*m, batch, heads, d_head)
            x = x + z.flatten(-2) @ w_o  # (*m, batch, d_model)
        else:
            if resid is None:
                q = gather(w_q, flat)
                resid = lookup(table_in, flat)  # (*m, batch, 3, d_model)
            else:
                q = torch.einsum("...bpd,...hde->...bphe", resid, w_q)
            scores = torch.einsum("...qhe,...khe->...hqk", q, k) * scale
            mask = torch.ones(N_CTX, N_CTX, dtype=torch.bool, device=scores.device).triu(1)
            pattern = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
            z = torch.einsum("...hqk,...khe->...qhe", pattern, v)  # (*m, batch, 3, h, e)
            x = resid + z.flatten(-2) @ w_o.unsqueeze(-3)  # (*m, batch, 3, d_model)
        pre = f"blocks.{i}.mlp."
        w_in, w_out = params[pre + "W_in"], params[pre + "W_out"]
        if x.dim() > len(lead) + 2:  # (*m, batch, 3, d): matmul against (*m, 1, d, f)
            w_in, w_out = w_in.unsqueeze(-3), w_out.unsqueeze(-3)
        hidden = act(x @ w_in + bias(params[pre + "b_in"], x))
        x = x + hidden @ w_out + bias(params[pre + "b_out"], x)
        if i == last:
            return x @ params["unembed.W_U"], hidden
        resid = x
    raise AssertionError("unreachable: n_layers >= 1")


# ----------------------------------------------------------------------------- MLP module
class HookedMLP(HookedRootModule):
    """The toy MLP of Liu et al. 2022 / Gromov 2023 with TransformerLens hook points.

    ``h_0 = E[a] + E[b]`` (or ``[E[a], E[b]]`` with ``mlp_combine="concat"``);
    ``h_{i+1} = act(h_i W_in^i + b_in^i)``; ``logits = h_L W_U``. The ``=`` token is read
    but ignored. Hooks: ``hook_embed`` (batch, 2, d_model), ``blocks.{i}.mlp.hook_pre``,
    ``blocks.{i}.mlp.hook_post``, ``hook_logits``.
    """

    def __init__(self, cfg: ModelConfig, params: Params):
        super().__init__()
        self.cfg = cfg
        self.params = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(v) for k, v in
                                        params.items()})
        self.hook_embed = HookPoint()
        self.hook_pre = nn.ModuleList([HookPoint() for _ in range(cfg.n_layers)])
        self.hook_post = nn.ModuleList([HookPoint() for _ in range(cfg.n_layers)])
        self.hook_logits = HookPoint()
        self.setup()
        # expose TransformerLens-style names for the per-layer hooks
        self.hook_dict = {self._tl_name(k): v for k, v in self.hook_dict.items()}
        self.mod_dict = {self._tl_name(k): v for k, v in self.mod_dict.items()}
        for name, hp in self.hook_dict.items():
            hp.name = name

    @staticmethod
    def _tl_name(name: str) -> str:
        for kind in ("pre", "post"):
            prefix = f"hook_{kind}."
            if name.startswith(prefix):
                return f"blocks.{name[len(prefix):]}.mlp.hook_{kind}"
        return name

    def weights(self) -> Params:
        return {k.replace("__", "."): v for k, v in self.params.items()}

    @property
    def W_E(self) -> Tensor:
        return self.params["embed__W_E"]

    @property
    def W_U(self) -> Tensor:
        return self.params["unembed__W_U"]

    @staticmethod
    def functional(
        params: Params,
        tokens: Int[Tensor, "batch 3"],
        cfg: ModelConfig,
        hooks: HookedMLP | None,
    ) -> tuple[Float[Tensor, "batch d_vocab_out"], Float[Tensor, "batch d_mlp"]]:
        """(logits, last hidden layer); hooks run when ``hooks`` is the module."""

        def hook(name: str, x: Tensor) -> Tensor:
            return x if hooks is None else hooks.hook_dict[name](x)

        act = _ACT[cfg.act_fn]
        emb = hook("hook_embed", params["embed.W_E"][tokens[:, :2]])  # (batch, 2, d_model)
        h = emb.sum(1) if cfg.mlp_combine == "sum" else emb.flatten(1)
        for i in range(cfg.n_layers):
            pre = hook(f"blocks.{i}.mlp.hook_pre",
                       h @ params[f"blocks.{i}.mlp.W_in"] + params[f"blocks.{i}.mlp.b_in"])
            h = hook(f"blocks.{i}.mlp.hook_post", act(pre))
        return hook("hook_logits", h @ params["unembed.W_U"]), h

    def forward(self, tokens: Int[Tensor, "batch 3"]) -> Float[Tensor, "batch 1 d_vocab_out"]:
        """Logits with a position axis of length 1 (the answer), like a transformer's last."""
        return self.functional(self.weights(), tokens, self.cfg, hooks=self)[0][:, None, :]


# ----------------------------------------------------------------------------- bridge
def build_model(
    cfg: ModelConfig, params: Params, device: str | torch.device = "cpu"
) -> nn.Module:
    """A hooked model with ``params`` loaded: a TransformerBridge, or a HookedMLP.

    The bridge is TransformerLens 4's native model (``boot``) with the attention biases
    set to zero and frozen, so it computes exactly :func:`answer_logits` at the last
    position (and the full causal forward at every position).
    """
    params = {k: v.detach().to(device=device, dtype=torch.float32) for k, v in params.items()}
    if cfg.arch == "mlp":
        return HookedMLP(cfg, params).to(device)
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge.sources.native import boot

    d_vocab, d_model = params["embed.W_E"].shape
    d_vocab_out = params["unembed.W_U"].shape[1]
    tl_cfg = TransformerBridgeConfig(
        d_model=d_model,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_mlp=cfg.d_mlp,
        n_layers=cfg.n_layers,
        n_ctx=N_CTX,
        d_vocab=d_vocab,
        d_vocab_out=d_vocab_out,
        act_fn=cfg.act_fn,
        normalization_type=None,
        seed=0,
    )
    bridge = boot(tl_cfg, device=device)
    native: Any = bridge.original_model
    nh, dh = cfg.n_heads, cfg.d_head
    with torch.no_grad():
        native.tok_embed.weight.copy_(params["embed.W_E"])
        native.pos.weight.copy_(params["pos_embed.W_pos"])
        for i, layer in enumerate(native.layers):
            attn, mlp = layer.attn, layer.mlp
            for w, lin in (("W_Q", attn.q), ("W_K", attn.k), ("W_V", attn.v)):
                # (heads, d_model, d_head) -> (heads * d_head, d_model)
                lin.weight.copy_(params[f"blocks.{i}.attn.{w}"].permute(0, 2, 1).reshape(nh * dh,
                                                                                         d_model))
                lin.bias.zero_()
                lin.bias.requires_grad_(False)
            attn.o.weight.copy_(params[f"blocks.{i}.attn.W_O"].reshape(nh * dh, d_model).T)
            attn.o.bias.zero_()
            attn.o.bias.requires_grad_(False)
            mlp.fc_in.weight.copy_(params[f"blocks.{i}.mlp.W_in"].T)
            mlp.fc_in.bias.copy_(params[f"blocks.{i}.mlp.b_in"])
            mlp.fc_out.weight.copy_(params[f"blocks.{i}.mlp.W_out"].T)
            mlp.fc_out.bias.copy_(params[f"blocks.{i}.mlp.b_out"])
        native.head.weight.copy_(params["unembed.W_U"].T)
    bridge.eval()
    return bridge
