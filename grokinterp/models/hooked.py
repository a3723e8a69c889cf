"""Hooked models for analysis: the TransformerLens bridge, :class:`HookedPaperTransformer`
and :class:`HookedMLP`.

:func:`build_model` gives a TransformerLens 4 ``TransformerBridge`` (native boot) for Nanda
et al.'s transformer, a :class:`HookedPaperTransformer` for the papers' other transformers
(LayerNorm placements, sequences, positions and biases the native bridge cannot express),
or a :class:`HookedMLP`, with a parameter dict loaded: ``run_with_cache``, hooks, ``W_E`` ... Its
TransformerLens forward has a fixed cost per call that dominates small models, which is
why training runs :func:`grokinterp.models.forward.answer_logits` instead.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.hook_points import HookPoint
from transformer_lens.model_bridge.sources.native import boot

from grokinterp.config import ModelConfig
from grokinterp.models.forward import ACTIVATIONS, LN_EPS, mix_attention, mlp_forward
from grokinterp.models.params import (
    N_CTX,
    Params,
    is_nanda,
    n_ctx,
    sequence_tokens,
    sinusoidal_positions,
)
from grokinterp.models.registry import get_arch


class HookedMLP(HookedRootModule):
    """The toy MLP of Liu et al. 2022 / Gromov 2023 with TransformerLens hook points.

    ``h_0 = E[a] + E[b]`` (or ``[E[a], E[b]]`` with ``mlp_combine="concat"``);
    ``h_{i+1} = act(h_i W_in^i + b_in^i)``; ``logits = h_L W_U`` (with ``mlp_out_proj``,
    ``(h_L W_out + b_out) W_U``). The ``=`` token is read but ignored. Hooks: ``hook_embed``
    (batch, 2, d_model), ``blocks.{i}.mlp.hook_pre``, ``blocks.{i}.mlp.hook_post``, with
    ``mlp_out_proj`` ``blocks.{L-1}.hook_mlp_out``, ``hook_logits``.
    """

    def __init__(self, cfg: ModelConfig, params: Params):
        super().__init__()
        self.cfg = cfg
        self.params = nn.ParameterDict(
            {k.replace(".", "__"): nn.Parameter(v) for k, v in params.items()}
        )
        self.hook_embed = HookPoint()
        self.hook_pre = nn.ModuleList([HookPoint() for _ in range(cfg.n_layers)])
        self.hook_post = nn.ModuleList([HookPoint() for _ in range(cfg.n_layers)])
        if cfg.mlp_out_proj:
            self.hook_mlp_out = HookPoint()
        self.hook_logits = HookPoint()
        self.setup()  # type: ignore[no-untyped-call]  # TransformerLens: unannotated
        # expose TransformerLens-style names for the per-layer hooks
        last = f"blocks.{cfg.n_layers - 1}.hook_mlp_out"
        self.hook_dict = {
            last if k == "hook_mlp_out" else self._tl_name(k): v for k, v in self.hook_dict.items()
        }
        self.mod_dict = {
            last if k == "hook_mlp_out" else self._tl_name(k): v for k, v in self.mod_dict.items()
        }
        for name, hp in self.hook_dict.items():
            hp.name = name

    @staticmethod
    def _tl_name(name: str) -> str:
        for kind in ("pre", "post"):
            prefix = f"hook_{kind}."
            if name.startswith(prefix):
                return f"blocks.{name[len(prefix) :]}.mlp.hook_{kind}"
        return name

    def weights(self) -> Params:
        return {k.replace("__", "."): v for k, v in self.params.items()}

    @property
    def W_E(self) -> Tensor:
        w: Tensor = self.params["embed__W_E"]
        return w

    @property
    def W_U(self) -> Tensor:
        w: Tensor = self.params["unembed__W_U"]
        return w

    @staticmethod
    def functional(
        params: Params,
        tokens: Int[Tensor, "batch 3"],
        cfg: ModelConfig,
        hooks: HookedMLP | None,
    ) -> tuple[Float[Tensor, "batch d_vocab_out"], Float[Tensor, "batch d_mlp"]]:
        """(logits, last hidden layer) of :func:`grokinterp.models.forward.mlp_forward`;
        the hook points run when ``hooks`` is the module."""
        if hooks is None:
            return mlp_forward(params, tokens, cfg)
        hook_dict = hooks.hook_dict
        return mlp_forward(params, tokens, cfg, hook=lambda name, x: hook_dict[name](x))

    def forward(self, tokens: Int[Tensor, "batch 3"]) -> Float[Tensor, "batch 1 d_vocab_out"]:
        """Logits with a position axis of length 1 (the answer), like a transformer's last."""
        return self.functional(self.weights(), tokens, self.cfg, hooks=self)[0][:, None, :]


# ------------------------------------------------------------------ the papers' transformers
class _LayerNorm(nn.Module):
    """``nn.LayerNorm(d)`` with TransformerLens's parameter (``w``, ``b``) and hook names:
    ``hook_scale`` is sqrt(var + eps), ``hook_normalized`` the output (gain and bias
    applied)."""

    def __init__(self, d: int):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.b = nn.Parameter(torch.zeros(d))
        self.hook_scale = HookPoint()
        self.hook_normalized = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d"]) -> Float[Tensor, "batch pos d"]:
        x = x - x.mean(-1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + LN_EPS).sqrt())
        out: Tensor = self.hook_normalized(x / scale * self.w + self.b)
        return out


class _Attention(nn.Module):
    """Multi-head attention over the whole sequence: scores ``q . k / sqrt(d_head)``,
    causally masked when ``cfg.causal``; hooks ``hook_q``, ``hook_k``, ``hook_v``
    (batch, pos, head, d_head), ``hook_attn_scores`` and ``hook_pattern`` (batch, head,
    query, key), ``hook_z``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        nh, dm, dh = cfg.n_heads, cfg.d_model, cfg.d_head
        self.cfg = cfg
        for w in ("W_Q", "W_K", "W_V"):
            setattr(self, w, nn.Parameter(torch.zeros(nh, dm, dh)))
        self.W_O = nn.Parameter(torch.zeros(nh, dh, dm))
        if cfg.attn_bias:
            for b in ("b_Q", "b_K", "b_V"):
                setattr(self, b, nn.Parameter(torch.zeros(nh, dh)))
            self.b_O = nn.Parameter(torch.zeros(dm))
        self.hook_q, self.hook_k, self.hook_v = HookPoint(), HookPoint(), HookPoint()
        self.hook_attn_scores, self.hook_pattern, self.hook_z = (
            HookPoint(),
            HookPoint(),
            HookPoint(),
        )

    def forward(self, x: Float[Tensor, "batch pos d"]) -> Float[Tensor, "batch pos d"]:
        def project(w: str) -> Tensor:
            out = torch.einsum("bpd,hde->bphe", x, getattr(self, "W_" + w))
            if self.cfg.attn_bias:
                out = out + getattr(self, "b_" + w)
            hooked: Tensor = getattr(self, "hook_" + w.lower())(out)
            return hooked

        q, k, v = project("Q"), project("K"), project("V")
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        future = None
        if self.cfg.causal:
            n = x.shape[1]
            future = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        pattern = torch.softmax(self.hook_attn_scores(scores), dim=-1)
        pattern = self.hook_pattern(mix_attention(pattern, self.cfg.attention_rate, future))
        z = self.hook_z(torch.einsum("bhqk,bkhe->bqhe", pattern, v))
        out: Tensor = torch.einsum("bqhe,hed->bqd", z, self.W_O)
        return out + self.b_O if self.cfg.attn_bias else out


class _MLP(nn.Module):
    """``act(x W_in + b_in) W_out + b_out`` (biases when ``cfg.mlp_bias``); hooks
    ``hook_pre``, ``hook_post``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.W_in = nn.Parameter(torch.zeros(cfg.d_model, cfg.d_mlp))
        self.W_out = nn.Parameter(torch.zeros(cfg.d_mlp, cfg.d_model))
        if cfg.mlp_bias:
            self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
            self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d"]) -> Float[Tensor, "batch pos d"]:
        pre = x @ self.W_in + (self.b_in if self.cfg.mlp_bias else 0.0)
        post = self.hook_post(ACTIVATIONS[self.cfg.act_fn](self.hook_pre(pre)))
        out: Tensor = post @ self.W_out
        return out + self.b_out if self.cfg.mlp_bias else out


class _Block(nn.Module):
    """One block, its LayerNorms placed as ``cfg.normalization`` says (see
    :func:`grokinterp.models.forward.general_forward`); hooks ``hook_resid_pre``,
    ``hook_attn_out``, ``hook_resid_mid``, ``hook_mlp_out``, ``hook_resid_post``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm = cfg.normalization
        if self.norm != "none":
            self.ln1 = _LayerNorm(cfg.d_model)
            self.ln2 = _LayerNorm(cfg.d_model)
        self.attn = _Attention(cfg)
        self.mlp = _MLP(cfg)
        self.hook_resid_pre, self.hook_attn_out = HookPoint(), HookPoint()
        self.hook_resid_mid, self.hook_mlp_out = HookPoint(), HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d"]) -> Float[Tensor, "batch pos d"]:
        x = self.hook_resid_pre(x)
        if self.norm == "grokfast":  # Lee et al.: x = ln_1(x); x = x + attn(x)
            x = self.ln1(x)
        attn_in = self.ln1(x) if self.norm == "pre" else x
        x = x + self.hook_attn_out(self.attn(attn_in))
        if self.norm == "post":
            x = self.ln1(x)
        x = self.hook_resid_mid(x)
        mlp_in = self.ln2(x) if self.norm in ("pre", "grokfast") else x
        x = x + self.hook_mlp_out(self.mlp(mlp_in))
        if self.norm == "post":
            x = self.ln2(x)
        out: Tensor = self.hook_resid_post(x)
        return out


class _Embed(nn.Module):
    """``embed.W_E`` (rows, d_model)."""

    def __init__(self, rows: int, d_model: int):
        super().__init__()
        self.W_E = nn.Parameter(torch.zeros(rows, d_model))


class _PosEmbed(nn.Module):
    """``pos_embed.W_pos`` (n_ctx, d_model)."""

    def __init__(self, n: int, d_model: int):
        super().__init__()
        self.W_pos = nn.Parameter(torch.zeros(n, d_model))


class _Unembed(nn.Module):
    """``unembed.W_U`` (d_model, d_vocab_out) and, with ``bias``, ``unembed.b_U``."""

    def __init__(self, d_model: int, d_vocab_out: int, bias: bool):
        super().__init__()
        self.W_U = nn.Parameter(torch.zeros(d_model, d_vocab_out))
        self.b_U = nn.Parameter(torch.zeros(d_vocab_out)) if bias else None


class HookedPaperTransformer(HookedRootModule):
    """The transformer of any config that is not Nanda et al.'s (the papers' transformers:
    ``ModelConfig.sequence``, ``normalization``, ``positional``, biases, mask), written as
    modules with TransformerLens's parameter and hook names, for analysis.

    Its parameters are exactly :func:`grokinterp.models.params.param_shapes`'s (``embed.W_E``,
    ``pos_embed.W_pos``, ``blocks.{i}.ln1.w`` ..., ``unembed.W_U``). ``forward`` takes the
    dataset's rows ``[a, b, =]``, builds the config's sequence from them and returns logits
    at every position ``(batch, n_ctx, d_vocab_out)``; the answer is the last. Hooks:
    ``hook_embed``, ``hook_pos_embed``, ``blocks.{i}.hook_resid_pre``, ``blocks.{i}.ln1.
    hook_scale`` / ``hook_normalized``, ``blocks.{i}.attn.hook_q`` / ``hook_k`` / ``hook_v``
    / ``hook_attn_scores`` / ``hook_pattern`` / ``hook_z``, ``blocks.{i}.hook_attn_out``,
    ``blocks.{i}.hook_resid_mid``, ``blocks.{i}.mlp.hook_pre`` / ``hook_post``,
    ``blocks.{i}.hook_mlp_out``, ``blocks.{i}.hook_resid_post``, ``ln_final.hook_normalized``.
    """

    def __init__(self, cfg: ModelConfig, params: Params):
        super().__init__()
        self.cfg = cfg
        d_vocab, d_model = params["embed.W_E"].shape
        self.embed = _Embed(d_vocab, d_model)
        self.hook_embed = HookPoint()
        self.n_ctx = n_ctx(cfg)
        if cfg.positional == "learned":
            self.pos_embed = _PosEmbed(self.n_ctx, d_model)
        elif cfg.positional == "sinusoidal":
            self.sinusoidal: Tensor
            self.register_buffer(
                "sinusoidal", sinusoidal_positions(self.n_ctx, d_model), persistent=False
            )
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList([_Block(cfg) for _ in range(cfg.n_layers)])
        if cfg.normalization in ("pre", "grokfast"):
            self.ln_final = _LayerNorm(d_model)
        d_vocab_out = params["unembed.W_U"].shape[1]
        self.unembed = _Unembed(d_model, d_vocab_out, cfg.unembed_bias)
        self.setup()  # type: ignore[no-untyped-call]  # TransformerLens: unannotated
        self.load_state_dict(params, strict=True)

    @property
    def W_E(self) -> Tensor:
        w: Tensor = self.embed.W_E
        return w

    @property
    def W_U(self) -> Tensor:
        w: Tensor = self.unembed.W_U
        return w

    def forward(self, tokens: Int[Tensor, "batch 3"]) -> Float[Tensor, "batch n_ctx d_vocab_out"]:
        """Logits at every position of the config's sequence of each row ``[a, b, =]``."""
        seq = sequence_tokens(tokens, self.cfg, self.embed.W_E.shape[0])
        x = self.hook_embed(self.embed.W_E[seq])  # (batch, n, d)
        if self.cfg.positional == "learned":
            x = x + self.hook_pos_embed(self.pos_embed.W_pos)
        elif self.cfg.positional == "sinusoidal":
            x = x + self.hook_pos_embed(self.sinusoidal)
        for block in self.blocks:
            x = block(x)
        if self.cfg.normalization in ("pre", "grokfast"):
            x = self.ln_final(x)
        logits: Tensor = x @ self.unembed.W_U
        return logits if self.unembed.b_U is None else logits + self.unembed.b_U


# ----------------------------------------------------------------------------- bridge
def build_model(cfg: ModelConfig, params: Params, device: str | torch.device = "cpu") -> nn.Module:
    """A hooked model with ``params`` loaded: a TransformerBridge or HookedPaperTransformer
    (:func:`build_bridge`), or a HookedMLP (:func:`build_hooked_mlp`), as the config's
    architecture says.

    The bridge is TransformerLens 4's native model (``boot``) with the attention biases
    set to zero and frozen, so it computes exactly :func:`answer_logits` at the last
    position (and the full causal forward at every position).
    """
    params = {k: v.detach().to(device=device, dtype=torch.float32) for k, v in params.items()}
    return get_arch(cfg.arch).build_hooked(cfg, params, device)


def build_hooked_mlp(cfg: ModelConfig, params: Params, device: str | torch.device) -> nn.Module:
    """The MLP arch's hooked model: a :class:`HookedMLP` with ``params``, on ``device``."""
    return HookedMLP(cfg, params).to(device)


def build_bridge(cfg: ModelConfig, params: Params, device: str | torch.device) -> nn.Module:
    """The transformer's hooked model: TransformerLens's native bridge with ``params``
    (float32, already on ``device``) copied in, for Nanda et al.'s transformer; a
    :class:`HookedPaperTransformer` for the papers' other transformers (the native bridge
    has neither post-LN blocks, Lee et al.'s block, fixed sinusoidal positions, nor
    per-config sequences)."""
    if not is_nanda(cfg):
        return HookedPaperTransformer(cfg, params).to(device)
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
                lin.weight.copy_(
                    params[f"blocks.{i}.attn.{w}"].permute(0, 2, 1).reshape(nh * dh, d_model)
                )
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
