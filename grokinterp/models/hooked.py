"""Hooked models for analysis: the TransformerLens bridge and :class:`HookedMLP`.

:func:`build_model` gives a TransformerLens 4 ``TransformerBridge`` (native boot) or a
:class:`HookedMLP` with a parameter dict loaded: ``run_with_cache``, hooks, ``W_E`` ... Its
TransformerLens forward has a fixed cost per call that dominates small models, which is
why training runs :func:`grokinterp.models.forward.answer_logits` instead.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.hook_points import HookPoint
from transformer_lens.model_bridge.sources.native import boot

from grokinterp.config import ModelConfig
from grokinterp.models.forward import mlp_forward
from grokinterp.models.params import N_CTX, Params
from grokinterp.models.registry import get_arch


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
        self.params = nn.ParameterDict(
            {k.replace(".", "__"): nn.Parameter(v) for k, v in params.items()}
        )
        self.hook_embed = HookPoint()
        self.hook_pre = nn.ModuleList([HookPoint() for _ in range(cfg.n_layers)])
        self.hook_post = nn.ModuleList([HookPoint() for _ in range(cfg.n_layers)])
        self.hook_logits = HookPoint()
        self.setup()  # type: ignore[no-untyped-call]  # TransformerLens: unannotated
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


# ----------------------------------------------------------------------------- bridge
def build_model(cfg: ModelConfig, params: Params, device: str | torch.device = "cpu") -> nn.Module:
    """A hooked model with ``params`` loaded: a TransformerBridge (:func:`build_bridge`), or
    a HookedMLP (:func:`build_hooked_mlp`), as the config's architecture says.

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
    (float32, already on ``device``) copied in."""
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
