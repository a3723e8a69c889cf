"""The fast forward: logits at the answer position, in plain torch over the parameter dict.

:func:`answer_forward` computes only what the loss needs (the last block only at the final
position, block 0's keys and values from per-token tables). It is pure, so it runs with a
leading members axis for the ensemble, and ``torch.func.vmap`` can batch it. Nanda et al.'s
transformer takes the table-lookup path of :func:`transformer_forward`; the papers' other
transformers (LayerNorm, other sequences, positions, biases, masks) take
:func:`general_forward`. Tests check both against the hooked models
(:func:`grokinterp.models.hooked.build_model`) to 1e-5.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models.dropout import Dropout
from grokinterp.models.params import (
    N_CTX,
    Params,
    is_nanda,
    sequence_tokens,
    sinusoidal_positions,
)
from grokinterp.models.registry import get_arch

# nn.LayerNorm's default eps, which all three papers' LayerNorms keep (openai/grok@3d64b1d
# grok/transformer.py:L214, L218; ironjr/grokfast@93b2248 main.py:L22-23, L58; PyTorch's
# TransformerEncoderLayer, layer_norm_eps=1e-5, for Prieto et al.)
LN_EPS = 1e-5

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "quadratic": torch.square,
    "tanh": torch.tanh,
}


def answer_logits(
    params: Params,
    tokens: Int[Tensor, "batch 3"],
    cfg: ModelConfig,
    base: Params | None = None,
    drop: Dropout | None = None,
) -> Float[Tensor, "batch d_vocab_out"]:
    """Logits at the answer (last) position, computing only what they depend on: the
    network's, times ``cfg.output_scale``; with ``cfg.center_output`` the predictor of Kumar
    et al. 2024 (arXiv 2310.06110, App. 8.1, Eq. 7; Chizat et al. 2019),
    ``alpha (f(x; params) - f(x; base))``, ``base`` the initial weights (no gradient flows
    into them). With the defaults (scale 1, no centering) the network's logits, unchanged.
    ``drop``: a training update's dropout (:mod:`grokinterp.models.dropout`; transformers
    of :func:`general_forward` only).
    """
    logits = answer_forward(params, tokens, cfg, drop)[0]
    if cfg.center_output:
        if base is None:
            raise ConfigError(
                "config field model.center_output: the centered predictor "
                "alpha (f(theta) - f(theta_0)) needs the initial weights theta_0 (base=)"
            )
        with torch.no_grad():
            initial = answer_forward(base, tokens, cfg)[0]
        logits = logits - initial
    if cfg.output_scale != 1.0:
        logits = logits * cfg.output_scale
    return logits


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
    score the ``=`` token). The analysis's forward over every pair: the network's own
    logits, so a run with Kumar et al.'s output scale (``output_scale``, ``center_output``),
    whose predictor they are not, is refused."""
    if cfg.output_scale != 1.0 or cfg.center_output:
        raise ConfigError(
            f"config field model.output_scale: this run's predictor is alpha (f - f_0) "
            f"(alpha={cfg.output_scale}, centered={cfg.center_output}); the analysis reads "
            f"the network's own logits: use grokinterp.analysis.kernels.ntk_table on it"
        )
    device = next(iter(params.values())).device
    logits, hidden = [], []
    for start in range(0, len(tokens), chunk_size):
        lg, h = answer_forward(params, tokens[start : start + chunk_size].to(device), cfg)
        logits.append(lg[:, :n_classes])
        hidden.append(h)
    return torch.cat(logits), torch.cat(hidden)


def _lookup(table: Tensor, idx: Tensor) -> Tensor:
    """Rows of a table, ``table[idx]``, as one ``index_select`` of the flattened indices.
    Its backward is one ``index_add`` into zeros. (Measured on 2 CPU cores: F.embedding's
    backward takes about 5x longer and indexing's, an accumulating index_put, 5-20x; a
    hand-written autograd function with the same index_add was 1.2-1.7x slower per call
    than the native op, its Python costing more than the kernel at small sizes.) Native,
    so ``torch.func`` differentiates and vmaps it (:mod:`grokinterp.analysis.kernels`)."""
    return table.index_select(0, idx.reshape(-1)).view(*idx.shape, table.shape[-1])


def answer_forward(
    params: Params,
    tokens: Int[Tensor, "*members batch 3"],
    cfg: ModelConfig,
    drop: Dropout | None = None,
) -> tuple[Float[Tensor, "*members batch d_vocab_out"], Float[Tensor, "*members batch d_mlp"]]:
    """Answer-position logits and the last MLP's activations there (``hook_post``): the
    fast forward of the config's architecture (:mod:`grokinterp.models.registry`), which
    is :func:`transformer_forward` or :func:`mlp_forward`; with ``drop`` (a training
    update's dropout), :func:`general_forward`, the only forward with dropout sites."""
    if drop is not None:
        if cfg.arch != "transformer":
            raise ConfigError(
                f"config field model.dropout: only the transformer has dropout, not {cfg.arch}"
            )
        return general_forward(params, tokens, cfg, drop)
    return get_arch(cfg.arch).answer_forward(params, tokens, cfg)


def transformer_forward(
    params: Params, tokens: Int[Tensor, "*members batch 3"], cfg: ModelConfig
) -> tuple[Float[Tensor, "*members batch d_vocab_out"], Float[Tensor, "*members batch d_mlp"]]:
    """The transformer's answer-position logits and its last MLP's activations there.

    Exactly the function of the TransformerLens model (tests check a relative error below
    1e-5), arranged for speed:

    * block 0's queries, keys and values at position j depend only on the token there, so
      they are read from ``(3, d_vocab, heads, d_head)`` tables (one small matmul per
      table) instead of a matmul per example;
    * the last block is evaluated at the answer position only (the only one the loss reads).

    For the transformer, every parameter may carry a leading *members* axis (an ensemble of
    models of one shape, see :mod:`grokinterp.training.ensemble`), with tokens shaped
    ``(members, batch, 3)``: each member runs on its own rows, as one batched computation.

    Long by design: the training hot path as one function, its shared tables and shapes
    read top to bottom. The papers' other transformers (a config that is not Nanda et al.'s
    function, :func:`grokinterp.models.params.is_nanda`) take :func:`general_forward`.
    """
    if not is_nanda(cfg):
        return general_forward(params, tokens, cfg)
    act = ACTIVATIONS[cfg.act_fn]
    scale = 1.0 / math.sqrt(cfg.d_head)
    nh, dh = cfg.n_heads, cfg.d_head
    w_e = params["embed.W_E"]
    lead = tuple(w_e.shape[:-2])  # () or (members,)
    d_vocab, d_model = w_e.shape[-2:]
    # row (j * d_vocab + t) of a table holds what position j computes when it reads token t
    flat = tokens + torch.arange(N_CTX, device=tokens.device) * d_vocab  # (*m, batch, 3)
    table_in = (w_e.unsqueeze(-3) + params["pos_embed.W_pos"].unsqueeze(-2)).reshape(
        *lead, N_CTX * d_vocab, d_model
    )  # (*m, 3 * d_vocab, d_model)

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
        out: Tensor = (table_in @ w_flat).unflatten(-1, (nh, dh))
        return out

    def gather(w: Tensor, idx: Tensor) -> Tensor:
        table = gather_table(w)
        out: Tensor = lookup(table.flatten(-2), idx).unflatten(-1, (nh, dh))
        return out

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
                q_tab = gather_table(w_q)[..., (N_CTX - 1) * d_vocab :, :, :]  # (*m, V, h, e)
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
            x = resid + member_mm(z.flatten(-2), w_o, bool(lead))  # (*m, batch, 3, d_model)
        pre = f"blocks.{i}.mlp."
        w_in, w_out = params[pre + "W_in"], params[pre + "W_out"]
        hidden = act(member_mm(x, w_in, bool(lead)) + bias(params[pre + "b_in"], x))
        x = x + member_mm(hidden, w_out, bool(lead)) + bias(params[pre + "b_out"], x)
        if i == last:
            return x @ params["unembed.W_U"], hidden
        resid = x
    raise AssertionError("unreachable: n_layers >= 1")


def layer_norm(x: Tensor, w: Tensor, b: Tensor, eps: float = LN_EPS) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * w + b`` over the last axis (biased variance, as
    ``nn.LayerNorm``); ``w`` and ``b`` may carry a leading members axis, with ``x`` shaped
    ``(members, ..., d)``."""
    if w.dim() == 1:
        return F.layer_norm(x, (x.shape[-1],), w, b, eps)
    view = (w.shape[0], *[1] * (x.dim() - 2), w.shape[-1])
    return F.layer_norm(x, (x.shape[-1],), eps=eps) * w.view(view) + b.view(view)


def general_forward(
    params: Params,
    tokens: Int[Tensor, "*members batch 3"],
    cfg: ModelConfig,
    drop: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Float[Tensor, "*members batch d_vocab_out"], Float[Tensor, "*members batch d_mlp"]]:
    """The answer-position logits and last MLP activations of any transformer of the family
    (LayerNorm, positions, biases, sequence and mask as ``cfg`` says; see
    :class:`grokinterp.config.ModelConfig`), with an optional leading members axis on
    every parameter and on ``tokens``.

    Every block but the last runs at every position of the sequence; the last only at the
    answer (last) position, which attends to every position, so it needs no mask. Per block,
    with ``LN1``, ``LN2`` the block's LayerNorms and ``A`` its attention::

        none:      x = x + A(x);            x = x + MLP(x)
        pre:       x = x + A(LN1(x));       x = x + MLP(LN2(x))      (LN_final at the end)
        post:      x = LN1(x + A(x));       x = LN2(x + MLP(x))
        grokfast:  x = LN1(x); x = x + A(x); x = x + MLP(LN2(x))     (LN_final at the end)

    ``post`` is Power et al.'s ``DecoderBlock`` (openai/grok@3d64b1d grok/transformer.py:
    L226-234) and PyTorch's ``TransformerEncoderLayer`` with ``norm_first=False`` (Prieto
    et al.); ``grokfast`` is Lee et al.'s ``Block`` (ironjr/grokfast@93b2248 main.py:L38-42).

    ``drop`` (training only) drops at the four sites of PyTorch's encoder layer: the
    attention pattern, ``A``'s output before the residual add, the MLP's hidden activations
    after the activation, and the MLP's output before its add
    (:mod:`grokinterp.models.dropout`); the activations returned are the undropped ones.
    """
    keep = drop if drop is not None else _identity
    act = ACTIVATIONS[cfg.act_fn]
    scale = 1.0 / math.sqrt(cfg.d_head)
    nh, dh, norm = cfg.n_heads, cfg.d_head, cfg.normalization
    w_e = params["embed.W_E"]
    lead = tuple(w_e.shape[:-2])  # () or (members,)
    d_model = w_e.shape[-1]
    seq = sequence_tokens(tokens, cfg, w_e.shape[-2])  # (*m, batch, n)
    n = seq.shape[-1]
    x = _member_lookup(w_e, seq)  # (*m, batch, n, d)
    if cfg.positional == "learned":
        x = x + params["pos_embed.W_pos"].unsqueeze(-3)  # (*m, 1, n, d)
    elif cfg.positional == "sinusoidal":
        x = x + sinusoidal_positions(n, d_model).to(x)

    def mm(h: Tensor, w: Tensor) -> Tensor:
        # (*m, batch, pos, a) @ (*m, a, b): each member's rows by its own matrix
        return member_mm(h, w, bool(lead))

    def vec(name: str) -> Tensor:
        # a bias (*m, *shape) broadcastable against (*m, batch, pos, *shape)
        b = params[name]
        return b.reshape(*lead, 1, 1, *b.shape[len(lead) :]) if lead else b

    def ln(name: str, h: Tensor) -> Tensor:
        return layer_norm(h, params[name + ".w"], params[name + ".b"])

    last = cfg.n_layers - 1
    hidden = x
    for i in range(cfg.n_layers):
        pre = f"blocks.{i}."
        final = i == last
        if norm == "grokfast":
            x = ln(pre + "ln1", x)
        h = ln(pre + "ln1", x) if norm == "pre" else x
        q_in = h[..., -1:, :] if final else h  # the last block: the answer's query only
        q, k, v = (
            torch.einsum("...bpd,...hde->...bphe", src, params[pre + "attn." + w])
            for src, w in ((q_in, "W_Q"), (h, "W_K"), (h, "W_V"))
        )
        if cfg.attn_bias:
            q = q + vec(pre + "attn.b_Q")
            k = k + vec(pre + "attn.b_K")
            v = v + vec(pre + "attn.b_V")
        scores = torch.einsum("...qhe,...khe->...hqk", q, k) * scale  # (*m, b, h, q, k)
        mask = None
        if cfg.causal and not final:
            mask = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(mask, float("-inf"))
        pattern = mix_attention(torch.softmax(scores, dim=-1), cfg.attention_rate, mask)
        z = torch.einsum("...hqk,...khe->...qhe", keep(pattern), v)  # (*m, b, q, h, e)
        w_o = params[pre + "attn.W_O"].reshape(*lead, nh * dh, d_model)
        attn_out = mm(z.flatten(-2), w_o)
        if cfg.attn_bias:
            attn_out = attn_out + vec(pre + "attn.b_O")
        x = (x[..., -1:, :] if final else x) + keep(attn_out)
        if norm == "post":
            x = ln(pre + "ln1", x)
        m_in = ln(pre + "ln2", x) if norm in ("pre", "grokfast") else x
        hidden = mm(m_in, params[pre + "mlp.W_in"])
        if cfg.mlp_bias:
            hidden = hidden + vec(pre + "mlp.b_in")
        hidden = act(hidden)
        out = mm(keep(hidden), params[pre + "mlp.W_out"])
        if cfg.mlp_bias:
            out = out + vec(pre + "mlp.b_out")
        x = x + keep(out)
        if norm == "post":
            x = ln(pre + "ln2", x)
    if norm in ("pre", "grokfast"):
        x = ln("ln_final", x)
    logits = mm(x, params["unembed.W_U"])
    if cfg.unembed_bias:
        logits = logits + vec("unembed.b_U")
    return logits[..., 0, :], hidden[..., 0, :]


def _identity(x: Tensor) -> Tensor:
    return x


def mix_attention(pattern: Tensor, rate: float, masked: Tensor | None = None) -> Tensor:
    """Zhong et al. 2023's attention rate (arXiv 2306.17844, Sec. 5): ``rate * pattern +
    (1 - rate)`` at every position the query may see (``masked``, True where it may not,
    gets ``rate * pattern`` only, which is 0 there), as their ``Attention.forward``
    (fjzzq2002/pizza@4c7f2f3 code/train-main.py:L111-114, where nothing is masked). Rate 1
    returns ``pattern`` itself; rate 0 is their constant attention: weight 1 on each
    visible position, so the head sums the values it sees."""
    if rate == 1.0:
        return pattern
    constant = 1.0 - rate if masked is None else (1.0 - rate) * (~masked).to(pattern.dtype)
    return rate * pattern + constant


def member_mm(h: Tensor, w: Tensor, members: bool) -> Tensor:
    """``h @ w`` for activations ``(*m, ..., a)`` and a matrix ``(*m, a, b)``: with a leading
    members axis, each member's rows times its own matrix, as one batched matmul over the
    member's rows flattened. (Broadcasting ``h @ w.unsqueeze(-3)`` instead makes torch
    expand and copy ``w`` once per batch row: for 3 members of the ``grokfast`` preset, a
    400 MB copy per matmul and 6.5 s an update, against 0.2 s.)"""
    if not members:
        return h @ w
    m = h.shape[0]
    return (h.reshape(m, -1, h.shape[-1]) @ w).reshape(*h.shape[:-1], w.shape[-1])


def _member_lookup(table: Tensor, idx: Tensor) -> Tensor:
    """``table[idx]`` (:func:`_lookup`), or with a leading members axis on both, each
    member's rows of its own table: ``(M, V, d)``, ``(M, ...)`` -> ``(M, ..., d)``."""
    if table.dim() == 2:
        return _lookup(table, idx)
    m, rows = table.shape[:2]
    offset = torch.arange(m, device=idx.device).view(-1, *[1] * (idx.dim() - 1)) * rows
    return _lookup(table.reshape(m * rows, table.shape[-1]), idx + offset)


def mlp_forward(
    params: Params,
    tokens: Int[Tensor, "*members batch 3"],
    cfg: ModelConfig,
    hook: Callable[[str, Tensor], Tensor] | None = None,
) -> tuple[Float[Tensor, "*members batch d_vocab_out"], Float[Tensor, "*members batch d_mlp"]]:
    """(logits, last hidden layer) of the MLP arch (Liu et al. 2022, Gromov 2023), of any
    depth (the deep MLPs of Fan et al. 2024, arXiv 2405.19454).

    Every parameter may carry a leading *members* axis, with tokens ``(members, batch, 3)``
    (the ensemble, as for the transformer): one batched matmul per layer.

    ``h_0 = E[a] + E[b]`` (or ``[E[a], E[b]]`` with ``mlp_combine="concat"``; with
    ``mlp_input="features"``, ``tokens`` are float feature rows and ``h_0`` is them; with
    ``mlp_input="onehot"``, ``h_0 = [onehot(a), onehot(b)]``, computed as the rows
    ``W_in^0[a] + W_in^0[n + b]``, n the operand values);
    ``h_{i+1} = act(h_i W_in^i + b_in^i)`` (no ``b_in^i`` when ``cfg.mlp_bias`` is False);
    ``logits = h_L W_U``, or with ``cfg.mlp_out_proj`` ``(h_L W_out + b_out) W_U`` (the
    linear map back to ``d_model`` of Minegishi et al. 2024's OnlyMLP; hook
    ``blocks.{L-1}.hook_mlp_out``); the ``=`` token is ignored.
    ``hook(name, x)``, when given, sees (and may replace) each activation under its
    TransformerLens name: ``hook_embed``, ``blocks.{i}.mlp.hook_pre`` / ``hook_post``,
    ``hook_logits`` (:class:`grokinterp.models.hooked.HookedMLP` passes its hook points).
    """

    def at(name: str, x: Tensor) -> Tensor:
        return x if hook is None else hook(name, x)

    act = ACTIVATIONS[cfg.act_fn]
    onehot = cfg.mlp_input == "onehot"
    if cfg.mlp_input == "features":  # float rows (*m, batch, n_features): no embedding
        h = tokens.to(params["blocks.0.mlp.W_in"].dtype)
    elif not onehot:
        emb = at("hook_embed", _member_lookup(params["embed.W_E"], tokens[..., :2]))
        h = emb.sum(-2) if cfg.mlp_combine == "sum" else emb.flatten(-2)  # (*m, batch, d)
    for i in range(cfg.n_layers):
        w, b = params[f"blocks.{i}.mlp.W_in"], params.get(f"blocks.{i}.mlp.b_in")
        if i == 0 and onehot:  # [onehot(a), onehot(b)] @ W_in = W_in[a] + W_in[n + b]
            n = w.shape[-2] // 2
            lin = _member_lookup(w, tokens[..., 0]) + _member_lookup(w, tokens[..., 1] + n)
        else:
            lin = h @ w
        pre = at(f"blocks.{i}.mlp.hook_pre", lin if b is None else lin + b.unsqueeze(-2))
        h = at(f"blocks.{i}.mlp.hook_post", act(pre))  # (*m, batch, d_mlp)
    out = h
    if cfg.mlp_out_proj:
        last = cfg.n_layers - 1
        b_out = params.get(f"blocks.{last}.mlp.b_out")
        out = h @ params[f"blocks.{last}.mlp.W_out"]
        out = at(f"blocks.{last}.hook_mlp_out", out if b_out is None else out + b_out.unsqueeze(-2))
    return at("hook_logits", out @ params["unembed.W_U"]), h
