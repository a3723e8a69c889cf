"""The papers' transformers as configurations of the one family (issue 26, item 2).

Three kinds of check:

* the fast forward (:func:`grokinterp.models.answer_forward`, its general path) against the
  hooked model (:class:`grokinterp.models.hooked.HookedPaperTransformer`) to 1e-5 relative,
  for every variant, with and without a leading members axis;
* the hooked model against plain-torch re-implementations of the authors' modules, written
  here from their code (Power et al.: openai/grok@3d64b1d grok/transformer.py; Lee et al.:
  ironjr/grokfast@93b2248 main.py:L16-70; Prieto et al.: PyTorch's own
  ``nn.TransformerEncoder``, models.py:L31-44 of their repository), with weights copied
  from the authors' module into our parameter dict;
* the initializations' distributions, the config's validation and round trip.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from grokinterp.config import ModelConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import answer_forward, build_model, init_params, param_shapes
from grokinterp.models.forward import general_forward
from grokinterp.models.hooked import HookedPaperTransformer
from grokinterp.models.params import (
    embed_rows,
    is_nanda,
    n_ctx,
    sequence_labels,
    sinusoidal_positions,
)
from grokinterp.presets import PRESETS

P = 13  # residues 0..12, '=' is token 13, d_vocab 14
D_VOCAB = P + 1

POWER = PRESETS["power"].model
GROKFAST = PRESETS["grokfast"].model
PRIETO = PRESETS["prieto_transformer"].model

# every structural option at least once, with the three papers' models
VARIANTS = {
    "power": POWER,
    "grokfast": GROKFAST,
    "prieto": PRIETO,
    "pre_ln_3_layers": ModelConfig(n_layers=3, normalization="pre", d_model=32, d_head=8, d_mlp=64),
    "post_no_pos_noncausal": ModelConfig(
        n_layers=2, normalization="post", positional="none", causal=False, act_fn="silu"
    ),
    "sinusoidal_biases_a_op_b": ModelConfig(
        sequence="a_op_b_eq",
        positional="sinusoidal",
        attn_bias=True,
        unembed_bias=True,
        mlp_bias=False,
        n_heads=3,
        d_head=20,
        transformer_init="torch_linear",
    ),
    "nanda_shaped_but_grokfast_ln": ModelConfig(normalization="grokfast", n_layers=1),
}


def _tokens(n: int, seed: int, lead: tuple[int, ...] = ()) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    ab = torch.randint(0, P, (*lead, n, 2), generator=g)
    return torch.cat([ab, torch.full((*lead, n, 1), P)], dim=-1)


def _params(cfg: ModelConfig, seed: int, d_out: int = P) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    params = init_params(cfg, D_VOCAB, d_out, g)
    # nonzero biases and LayerNorm affine, so that every term of the function is checked
    return {
        k: v + 0.1 * torch.randn(v.shape, generator=g)
        if k.rsplit(".", 1)[1] in ("b", "w") or k.rsplit(".", 1)[1].startswith("b_")
        else v
        for k, v in params.items()
    }


def _rel(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


# --------------------------------------------------------------- fast forward vs hooked
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fast_forward_equals_hooked_model(name):
    cfg = VARIANTS[name]
    assert not is_nanda(cfg)
    params = _params(cfg, seed=1)
    tokens = _tokens(96, seed=2)
    logits, hidden = answer_forward(params, tokens, cfg)
    model = build_model(cfg, params)
    assert isinstance(model, HookedPaperTransformer)
    with torch.no_grad():
        full, cache = model.run_with_cache(tokens)
    assert full.shape == (96, n_ctx(cfg), P)
    assert _rel(logits, full[:, -1]) < 1e-5
    last = f"blocks.{cfg.n_layers - 1}.mlp.hook_post"
    assert _rel(hidden, cache[last][:, -1]) < 1e-5


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fast_forward_with_members_axis(name):
    """Members stacked along a leading axis each compute their own model on their own rows,
    as the ensemble stacks them."""
    cfg = VARIANTS[name]
    members = [_params(cfg, seed=s) for s in (3, 4, 5)]
    stacked = {k: torch.stack([m[k] for m in members]) for k in members[0]}
    tokens = _tokens(40, seed=6, lead=(3,))
    logits, hidden = answer_forward(stacked, tokens, cfg)
    assert logits.shape == (3, 40, P)
    for i, m in enumerate(members):
        with torch.no_grad():
            ref = build_model(cfg, m)(tokens[i])[:, -1]
        assert _rel(logits[i], ref) < 1e-5
        one, one_hidden = answer_forward(m, tokens[i], cfg)
        assert _rel(logits[i], one) < 1e-5
        assert _rel(hidden[i], one_hidden) < 1e-5


def test_default_config_keeps_nanda_path_and_bridge():
    cfg = ModelConfig()
    assert is_nanda(cfg) and is_nanda(dataclasses.replace(cfg, transformer_init="torch_mha"))
    assert not isinstance(build_model(cfg, _params(cfg, 0)), HookedPaperTransformer)
    # Nanda's parameter names, in the order they were always drawn (checkpoints unchanged)
    assert list(param_shapes(cfg, D_VOCAB, P)) == [
        "embed.W_E",
        "pos_embed.W_pos",
        "blocks.0.attn.W_Q",
        "blocks.0.attn.W_K",
        "blocks.0.attn.W_V",
        "blocks.0.attn.W_O",
        "blocks.0.mlp.W_in",
        "blocks.0.mlp.b_in",
        "blocks.0.mlp.W_out",
        "blocks.0.mlp.b_out",
        "unembed.W_U",
    ]


def test_general_path_computes_nanda_model_too():
    """The general path agrees with the table-lookup path on Nanda et al.'s model (both
    exact): a configuration that is Nanda's except for a zero attention bias."""
    cfg = ModelConfig(n_layers=2)
    params = _params(cfg, seed=7)
    biased = dataclasses.replace(cfg, attn_bias=True)
    zero = dict(params)
    for i in range(2):
        for b in ("b_Q", "b_K", "b_V"):
            zero[f"blocks.{i}.attn.{b}"] = torch.zeros(cfg.n_heads, cfg.d_head)
        zero[f"blocks.{i}.attn.b_O"] = torch.zeros(cfg.d_model)
    tokens = _tokens(64, seed=8)
    assert (
        _rel(answer_forward(zero, tokens, biased)[0], answer_forward(params, tokens, cfg)[0]) < 1e-5
    )


def test_hook_names_and_shapes():
    cfg = POWER
    model = build_model(cfg, _params(cfg, 0, d_out=239))
    with torch.no_grad():
        _, cache = model.run_with_cache(_tokens(4, 0))
    n = 5
    assert cache["hook_embed"].shape == (4, n, 128)
    assert cache["hook_pos_embed"].shape == (n, 128)
    assert cache["blocks.1.attn.hook_pattern"].shape == (4, 4, n, n)
    assert cache["blocks.0.attn.hook_q"].shape == (4, n, 4, 32)
    assert cache["blocks.0.ln1.hook_normalized"].shape == (4, n, 128)
    assert cache["blocks.1.mlp.hook_post"].shape == (4, n, 512)
    for name in ("hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_resid_post"):
        assert f"blocks.1.{name}" in cache
    # causal: nothing attends to the future
    pattern = cache["blocks.0.attn.hook_pattern"]
    assert torch.all(pattern.triu(1) == 0)
    assert sequence_labels(cfg) == ("<eos>", "a", "op", "b", "=")
    noncausal = build_model(PRIETO, _params(PRIETO, 0))
    with torch.no_grad():
        _, cache = noncausal.run_with_cache(_tokens(4, 0))
    assert torch.all(cache["blocks.0.attn.hook_pattern"][..., 0, 1] > 0)  # a sees b


# ----------------------------------------------------------- the authors' modules, in torch
class PowerDecoder(nn.Module):
    """Power et al.'s ``Transformer`` (openai/grok@3d64b1d grok/transformer.py): per-head
    bias-free Q/K/V Linears (L89-91), a bias-free ``Wo`` (L142), post-LN blocks
    ``LN(x + attn(x))``, ``LN(a1 + ffn(a1))`` (L226-234), a bias-free 4x ReLU FFN
    (L191-195), fixed sinusoidal positions (L325-347) and a bias-free head (L318)."""

    def __init__(self, vocab: int, d: int = 128, heads: int = 4, layers: int = 2):
        super().__init__()
        self.heads, self.dk = heads, d // heads
        self.embedding = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            b = nn.Module()
            b.wq = nn.ModuleList([nn.Linear(d, self.dk, bias=False) for _ in range(heads)])
            b.wk = nn.ModuleList([nn.Linear(d, self.dk, bias=False) for _ in range(heads)])
            b.wv = nn.ModuleList([nn.Linear(d, self.dk, bias=False) for _ in range(heads)])
            b.wo = nn.Linear(d, d, bias=False)
            b.attn_norm = nn.LayerNorm(d)
            b.ffn = nn.Sequential(
                nn.Linear(d, 4 * d, bias=False), nn.ReLU(), nn.Linear(4 * d, d, bias=False)
            )
            b.ffn_norm = nn.LayerNorm(d)
            self.blocks.append(b)
        self.linear = nn.Linear(d, vocab, bias=False)

    @staticmethod
    def positions(n: int, d: int) -> Tensor:
        # their list comprehension, with numpy's float64 sin / cos (L326-339)
        rows = [
            [
                np.sin(pos / (10000 ** (i / d)))
                if i % 2 == 0
                else np.cos(pos / (10000 ** ((i - 1) / d)))
                for i in range(d)
            ]
            for pos in range(n)
        ]
        return torch.tensor(rows).float()

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[-1]
        h = self.embedding(x) + self.positions(n, self.embedding.embedding_dim)
        mask = torch.ones(n, n).tril()
        for b in self.blocks:
            outs = []
            for wq, wk, wv in zip(b.wq, b.wk, b.wv, strict=True):
                att = wq(h) @ wk(h).transpose(-2, -1) / math.sqrt(self.dk)
                att = att.masked_fill(mask == 0, float("-inf")).softmax(-1)
                outs.append(att @ wv(h))
            a1 = b.attn_norm(h + b.wo(torch.cat(outs, dim=-1)))
            h = b.ffn_norm(a1 + b.ffn(a1))
        return self.linear(h)


def _power_to_ours(m: PowerDecoder) -> dict[str, Tensor]:
    out = {"embed.W_E": m.embedding.weight.detach()}
    for i, b in enumerate(m.blocks):
        for w, lins in (("W_Q", b.wq), ("W_K", b.wk), ("W_V", b.wv)):
            out[f"blocks.{i}.attn.{w}"] = torch.stack([lin.weight.T for lin in lins]).detach()
        out[f"blocks.{i}.attn.W_O"] = b.wo.weight.T.reshape(m.heads, m.dk, -1).detach()
        out[f"blocks.{i}.ln1.w"], out[f"blocks.{i}.ln1.b"] = b.attn_norm.weight, b.attn_norm.bias
        out[f"blocks.{i}.ln2.w"], out[f"blocks.{i}.ln2.b"] = b.ffn_norm.weight, b.ffn_norm.bias
        out[f"blocks.{i}.mlp.W_in"] = b.ffn[0].weight.T
        out[f"blocks.{i}.mlp.W_out"] = b.ffn[2].weight.T
    out["unembed.W_U"] = m.linear.weight.T
    return {k: v.detach().clone() for k, v in out.items()}


class GrokfastBlock(nn.Module):
    """Lee et al.'s ``Block`` (ironjr/grokfast@93b2248 main.py:L16-43), sequence-first."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))

    def forward(self, x: Tensor) -> Tensor:
        mask = torch.full((len(x), len(x)), -float("inf")).triu(1)
        x = self.ln_1(x)
        a, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        x = x + a
        return x + self.mlp(self.ln_2(x))


class GrokfastDecoder(nn.Module):
    """Lee et al.'s ``Decoder`` (main.py:L46-70): token and learned position embeddings
    (5 positions), blocks, a final LayerNorm, a bias-free head; sequence-first."""

    def __init__(self, tokens: int, dim: int = 128, layers: int = 2, heads: int = 4):
        super().__init__()
        self.token_embeddings = nn.Embedding(tokens, dim)
        self.position_embeddings = nn.Embedding(5, dim)
        self.layers = nn.ModuleList([GrokfastBlock(dim, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, tokens, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = self.token_embeddings(x)
        positions = torch.arange(x.shape[0]).unsqueeze(-1)
        h = h + self.position_embeddings(positions).expand_as(h)
        for layer in self.layers:
            h = layer(h)
        return self.head(self.ln_f(h))


def _mha_to_ours(attn: nn.MultiheadAttention, i: int, heads: int) -> dict[str, Tensor]:
    d = attn.embed_dim
    dh = d // heads
    out = {}
    wq, wk, wv = attn.in_proj_weight.split(d)
    bq, bk, bv = attn.in_proj_bias.split(d)
    for name, w, b in (("Q", wq, bq), ("K", wk, bk), ("V", wv, bv)):
        out[f"blocks.{i}.attn.W_{name}"] = w.T.reshape(d, heads, dh).permute(1, 0, 2)
        out[f"blocks.{i}.attn.b_{name}"] = b.reshape(heads, dh)
    out[f"blocks.{i}.attn.W_O"] = attn.out_proj.weight.T.reshape(heads, dh, d)
    out[f"blocks.{i}.attn.b_O"] = attn.out_proj.bias
    return out


def _ln(out: dict[str, Tensor], name: str, ln: nn.LayerNorm) -> None:
    out[name + ".w"], out[name + ".b"] = ln.weight, ln.bias


def _grokfast_to_ours(m: GrokfastDecoder) -> dict[str, Tensor]:
    out = {
        "embed.W_E": m.token_embeddings.weight,
        "pos_embed.W_pos": m.position_embeddings.weight[:4],  # 4 of their 5 rows are read
    }
    for i, layer in enumerate(m.layers):
        out |= _mha_to_ours(layer.attn, i, 4)
        _ln(out, f"blocks.{i}.ln1", layer.ln_1)
        _ln(out, f"blocks.{i}.ln2", layer.ln_2)
        out[f"blocks.{i}.mlp.W_in"], out[f"blocks.{i}.mlp.b_in"] = (
            layer.mlp[0].weight.T,
            layer.mlp[0].bias,
        )
        out[f"blocks.{i}.mlp.W_out"], out[f"blocks.{i}.mlp.b_out"] = (
            layer.mlp[2].weight.T,
            layer.mlp[2].bias,
        )
    _ln(out, "ln_final", m.ln_f)
    out["unembed.W_U"] = m.head.weight.T
    return {k: v.detach().clone() for k, v in out.items()}


def _perturb(module: nn.Module, seed: int) -> None:
    """Nonzero biases and non-trivial LayerNorms, so every term is compared."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, prm in module.named_parameters():
            if "bias" in name or "norm" in name or "ln" in name:
                prm.add_(0.2 * torch.randn(prm.shape, generator=g))


def test_power_block_matches_authors_module():
    torch.manual_seed(0)
    vocab = D_VOCAB + 2
    ref = PowerDecoder(vocab)
    _perturb(ref, 1)
    ours = _power_to_ours(ref)
    cfg = dataclasses.replace(POWER, d_vocab_out=vocab)
    assert {k: tuple(v.shape) for k, v in ours.items()} == param_shapes(cfg, D_VOCAB, vocab)
    tokens = _tokens(50, seed=3)
    # their sequence <eos> x op y =, with <eos> and op the two rows after the task's
    eos, op = D_VOCAB, D_VOCAB + 1
    seq = torch.stack(
        [torch.full((50,), eos), tokens[:, 0], torch.full((50,), op), tokens[:, 1], tokens[:, 2]],
        dim=1,
    )
    with torch.no_grad():
        want = ref(seq)
        got = build_model(cfg, ours)(tokens)
    assert _rel(got, want) < 1e-5  # every position: the whole forward, not just the answer
    assert _rel(answer_forward(ours, tokens, cfg)[0], want[:, -1]) < 1e-5
    # and the sinusoidal table itself, against their float64 formula
    assert torch.equal(sinusoidal_positions(5, 128), PowerDecoder.positions(5, 128))


def test_grokfast_block_matches_authors_module():
    torch.manual_seed(0)
    vocab = P + 2  # num_tokens = p + 2: residues, '=' (p) and op (p + 1)
    ref = GrokfastDecoder(vocab).eval()
    _perturb(ref, 2)
    ours = _grokfast_to_ours(ref)
    cfg = dataclasses.replace(GROKFAST, d_vocab_out=vocab)
    assert {k: tuple(v.shape) for k, v in ours.items()} == param_shapes(cfg, D_VOCAB, vocab)
    tokens = _tokens(50, seed=4)
    op = P + 1
    seq = torch.stack([tokens[:, 0], torch.full((50,), op), tokens[:, 1], tokens[:, 2]])
    with torch.no_grad():
        want = ref(seq).transpose(0, 1)  # (batch, 4, vocab)
        got = build_model(cfg, ours)(tokens)
    assert _rel(got, want) < 1e-5
    assert _rel(answer_forward(ours, tokens, cfg)[0], want[:, -1]) < 1e-5


def test_grokfast_residual_quirk_is_what_is_computed():
    """Lee et al.'s attention residual adds to the normalized stream: a standard pre-LN
    block (``normalization="pre"``) computes another function on the same weights."""
    torch.manual_seed(0)
    ref = GrokfastDecoder(P + 2).eval()
    _perturb(ref, 3)
    ours = _grokfast_to_ours(ref)
    tokens = _tokens(20, seed=5)
    cfg = dataclasses.replace(GROKFAST, d_vocab_out=P + 2)
    pre = dataclasses.replace(cfg, normalization="pre")
    a, b = answer_forward(ours, tokens, cfg)[0], answer_forward(ours, tokens, pre)[0]
    assert _rel(a, b) > 1e-2


def _prieto_pair() -> tuple[nn.Embedding, nn.TransformerEncoder, nn.Linear, dict[str, Tensor]]:
    """Their modules (perturbed, dropout off) and our parameter dict with their weights."""
    torch.manual_seed(0)
    emb = nn.Embedding(P, 128)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(128, 4), 1, enable_nested_tensor=False)
    head = nn.Linear(128, P)
    for m in (emb, enc, head):
        m.eval()  # dropout off: ours has none
        _perturb(m, 4)
    layer = enc.layers[0]
    ours = {"embed.W_E": emb.weight} | _mha_to_ours(layer.self_attn, 0, 4)
    _ln(ours, "blocks.0.ln1", layer.norm1)
    _ln(ours, "blocks.0.ln2", layer.norm2)
    ours |= {
        "blocks.0.mlp.W_in": layer.linear1.weight.T,
        "blocks.0.mlp.b_in": layer.linear1.bias,
        "blocks.0.mlp.W_out": layer.linear2.weight.T,
        "blocks.0.mlp.b_out": layer.linear2.bias,
        "unembed.W_U": head.weight.T,
        "unembed.b_U": head.bias,
    }
    return emb, enc, head, {k: v.detach().clone() for k, v in ours.items()}


def test_prieto_encoder_matches_torch_transformer_encoder():
    emb, enc, head, ours = _prieto_pair()
    cfg = dataclasses.replace(PRIETO, d_vocab_out=None)
    assert {k: tuple(v.shape) for k, v in ours.items()} == param_shapes(cfg, D_VOCAB, P)
    tokens = _tokens(50, seed=6)
    with torch.no_grad():
        # their forward: embed, (seq, batch, d), encoder, back, head (models.py:L39-44)
        want = head(enc(emb(tokens[:, :2]).transpose(0, 1)).transpose(0, 1))
        got = build_model(cfg, ours)(tokens)
    assert _rel(got, want) < 1e-5
    assert _rel(answer_forward(ours, tokens, cfg)[0], want[:, -1]) < 1e-5


class _Scale(nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, x: Tensor) -> Tensor:
        return x * self.c


def test_dropout_sites_are_those_of_torch_encoder_layer():
    """general_forward's four dropout sites, in order, are PyTorch's encoder layer's: a drop
    that scales each site by its own factor gives the layer with its dropout1, dropout and
    dropout2 modules replaced by those scalings, and the attention weights' scaling (which
    torch applies inside its attention) folded into the value projection."""
    emb, enc, head, ours = _prieto_pair()
    cfg = dataclasses.replace(PRIETO, d_vocab_out=None)
    layer = enc.layers[0]
    layer.dropout1, layer.dropout, layer.dropout2 = _Scale(0.5), _Scale(1.5), _Scale(0.25)
    with torch.no_grad():  # pattern x 2 = values x 2: the V rows of the input projection
        layer.self_attn.in_proj_weight[256:] *= 2
        layer.self_attn.in_proj_bias[256:] *= 2
    tokens = _tokens(50, seed=6)
    with torch.enable_grad():  # not torch's inference fast path, which skips the modules
        want = head(enc(emb(tokens[:, :2]).transpose(0, 1)).transpose(0, 1))[:, -1].detach()
    factors, seen = iter([2.0, 0.5, 1.5, 0.25]), []

    def drop(x: Tensor) -> Tensor:
        seen.append(x)
        return x * next(factors)

    got, hidden = general_forward(ours, tokens, cfg, drop)
    assert _rel(got.detach(), want) < 1e-5
    assert len(seen) == 4
    # the first site is the attention pattern (rows of probabilities); the activations
    # returned are the undropped ones
    assert torch.allclose(seen[0].sum(-1), torch.ones(()))
    assert torch.equal(hidden, seen[2][:, 0])
    assert _rel(answer_forward(ours, tokens, cfg)[0], want) > 1e-2  # the scalings matter


# ------------------------------------------------------------------------- initialization
def test_torch_inits_have_pytorchs_distributions():
    """Each tensor lies within PyTorch's bound and has its uniform's std (bound / sqrt 3),
    or N(0, 1) for the embeddings, 1 and 0 for LayerNorms, 0 for MHA's biases."""
    big = ModelConfig(
        n_layers=1, d_model=64, n_heads=4, d_head=16, d_mlp=256, normalization="post",
        attn_bias=True, unembed_bias=True, transformer_init="torch_mha",
    )  # fmt: skip
    g = torch.Generator().manual_seed(0)
    p = init_params(big, 200, 150, g)
    xavier = math.sqrt(6 / (64 + 3 * 64))
    expect = {
        "blocks.0.attn.W_Q": xavier,
        "blocks.0.attn.W_O": 64**-0.5,
        "blocks.0.mlp.W_in": 64**-0.5,
        "blocks.0.mlp.b_in": 64**-0.5,
        "blocks.0.mlp.W_out": 256**-0.5,
        "unembed.W_U": 64**-0.5,
        "unembed.b_U": 64**-0.5,
    }
    for name, bound in expect.items():
        w = p[name]
        assert float(w.abs().max()) <= bound
        assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.12), name
    assert float(p["embed.W_E"].std()) == pytest.approx(1.0, rel=0.05)
    assert torch.equal(p["blocks.0.ln1.w"], torch.ones(64))
    assert torch.equal(p["blocks.0.attn.b_Q"], torch.zeros(4, 16))
    linear = dataclasses.replace(big, transformer_init="torch_linear")
    q = init_params(linear, 200, 150, torch.Generator().manual_seed(0))
    assert float(q["blocks.0.attn.W_Q"].std()) == pytest.approx(64**-0.5 / math.sqrt(3), rel=0.1)
    assert float(q["blocks.0.attn.b_Q"].abs().max()) > 0  # nn.Linear's bias, drawn


def test_torch_mha_init_matches_pytorch_module_statistics():
    """Our ``torch_mha`` Q/K/V bound is what ``nn.MultiheadAttention`` draws from."""
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(128, 4)
    theirs = float(attn.in_proj_weight.detach().abs().max())
    ours = init_params(GROKFAST, D_VOCAB, P + 2, torch.Generator().manual_seed(0))
    mine = float(torch.stack([ours[f"blocks.0.attn.W_{w}"] for w in "QKV"]).abs().max())
    bound = math.sqrt(6 / (128 + 384))
    assert theirs <= bound and mine <= bound
    assert theirs == pytest.approx(bound, rel=0.01) and mine == pytest.approx(bound, rel=0.01)


# ------------------------------------------------------------------------ config and shapes
def test_sequence_rows_and_lengths():
    assert embed_rows(POWER, D_VOCAB) == D_VOCAB + 2 and n_ctx(POWER) == 5
    assert embed_rows(GROKFAST, D_VOCAB) == D_VOCAB + 1 and n_ctx(GROKFAST) == 4
    assert embed_rows(PRIETO, D_VOCAB) == D_VOCAB - 1 and n_ctx(PRIETO) == 2
    assert "pos_embed.W_pos" not in param_shapes(POWER, D_VOCAB, P)
    assert param_shapes(GROKFAST, D_VOCAB, P)["pos_embed.W_pos"] == (4, 128)


@pytest.mark.parametrize(
    "field,value",
    [("sequence", "a_b"), ("normalization", "pre"), ("positional", "none"),
     ("attn_bias", True), ("unembed_bias", True), ("causal", False),
     ("transformer_init", "torch_mha")],  # not mlp_bias: the MLP arch has it too
)  # fmt: skip
def test_transformer_fields_refused_for_other_archs(field, value):
    with pytest.raises(ConfigError, match=f"model.{field}: is only available for arch=transformer"):
        ModelConfig(arch="mlp", **{field: value})


def test_bad_values_are_one_line_config_errors():
    d = TrainConfig().to_dict()
    d["model"]["normalization"] = "layer"
    with pytest.raises(ConfigError, match="model.normalization: bad value 'layer'"):
        TrainConfig.from_dict(d)
    d["model"]["normalization"] = "post"
    d["model"]["causal"] = "yes"
    with pytest.raises(ConfigError, match="model.causal: bad value 'yes'"):
        TrainConfig.from_dict(d)


@settings(max_examples=60, deadline=None)
@given(
    sequence=st.sampled_from(["a_b_eq", "a_op_b_eq", "eos_a_op_b_eq", "a_b"]),
    normalization=st.sampled_from(["none", "pre", "post", "grokfast"]),
    positional=st.sampled_from(["learned", "sinusoidal", "none"]),
    attn_bias=st.booleans(),
    mlp_bias=st.booleans(),
    unembed_bias=st.booleans(),
    causal=st.booleans(),
    transformer_init=st.sampled_from(["normal", "torch_linear", "torch_mha"]),
)
def test_new_fields_round_trip_through_json(**fields):
    cfg = TrainConfig(model=ModelConfig(**fields))
    back = TrainConfig.from_dict(__import__("json").loads(cfg.to_json()))
    assert back == cfg
    # and the shapes agree with the initialization, whatever the combination
    small = dataclasses.replace(cfg.model, d_model=8, n_heads=2, d_head=4, d_mlp=16, n_layers=2)
    params = init_params(small, D_VOCAB, P, torch.Generator().manual_seed(0))
    assert {k: tuple(v.shape) for k, v in params.items()} == param_shapes(small, D_VOCAB, P)
    logits, _ = answer_forward(params, _tokens(5, 0), small)
    assert logits.shape == (5, P) and torch.isfinite(logits).all()


def test_old_config_json_without_new_keys_loads_as_nanda():
    d = TrainConfig().to_dict()
    for k in ("sequence", "normalization", "positional", "attn_bias", "mlp_bias",
              "unembed_bias", "causal", "transformer_init"):  # fmt: skip
        del d["model"][k]
    cfg = TrainConfig.from_dict(d)
    assert cfg == TrainConfig() and is_nanda(cfg.model)


@settings(max_examples=40, deadline=None)
@given(
    sequence=st.sampled_from(["a_b_eq", "a_op_b_eq", "eos_a_op_b_eq", "a_b"]),
    normalization=st.sampled_from(["none", "pre", "post", "grokfast"]),
    positional=st.sampled_from(["learned", "sinusoidal", "none"]),
    attn_bias=st.booleans(),
    mlp_bias=st.booleans(),
    unembed_bias=st.booleans(),
    causal=st.booleans(),
    n_layers=st.integers(1, 3),
    act_fn=st.sampled_from(["relu", "gelu", "silu"]),
    seed=st.integers(0, 2**16),
)
def test_any_combination_fast_equals_hooked(n_layers, act_fn, seed, **fields):
    """Every combination of the options: the fast forward (with a members axis of 2) equals
    the hooked model on each member, to 1e-5 relative."""
    cfg = ModelConfig(
        n_layers=n_layers, d_model=16, n_heads=2, d_head=8, d_mlp=24, act_fn=act_fn,
        transformer_init="torch_mha", **fields,
    )  # fmt: skip
    members = [_params(cfg, seed=seed + i) for i in range(2)]
    stacked = {k: torch.stack([m[k] for m in members]) for k in members[0]}
    tokens = _tokens(12, seed=seed, lead=(2,))
    logits, _ = answer_forward(stacked, tokens, cfg)
    for i, m in enumerate(members):
        with torch.no_grad():
            ref = build_model(cfg, m)(tokens[i])[:, -1]
        assert _rel(logits[i], ref) < 1e-5


def test_shipped_run_initialization_is_unchanged():
    """The default transformer's initialization is bit-identical to what trained the shipped
    ``checkpoints/quick`` run (its step 0), through the new fields' defaults."""
    from pathlib import Path

    from grokinterp.runs.run import Run

    run = Run(Path(__file__).parents[2] / "checkpoints" / "quick")
    cfg = run.config
    gen = torch.Generator()
    gen.manual_seed(cfg.seed)
    params = init_params(cfg.model, cfg.task.p + 1, cfg.task.p, gen)
    saved = run.params(0)
    assert params.keys() == saved.keys()
    assert all(torch.equal(params[k], saved[k]) for k in saved)
