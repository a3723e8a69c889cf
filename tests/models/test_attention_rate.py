"""The attention rate (Zhong et al. 2023, arXiv 2306.17844): ``ModelConfig.attention_rate``.

* rate 1 is the standard transformer (Nanda et al.'s fast path, untouched);
* rate 0 is constant attention: the head sums its values (a closed form, independent of
  ``W_Q`` and ``W_K``);
* every rate: the fast forward and the hooked model against a plain-torch re-implementation
  of the authors' ``Transformer`` (fjzzq2002/pizza@4c7f2f3 code/train-main.py:L65-213),
  their weights copied into our parameter dict;
* an ensemble member equals its run trained alone.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_runs_close, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import ModelConfig, TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.models import answer_forward, build_model, init_params
from grokinterp.models.forward import mix_attention
from grokinterp.models.params import is_nanda
from grokinterp.training import train, train_ensemble

P = 11
# the authors' model at a small width: 1 layer, 4 heads, d_mlp = 4 d_model, sequence [a, b]
# read at b's position, no causal mask (their mask buffer is never applied: L96, L109-110)
ZHONG = ModelConfig(
    d_model=16, n_heads=4, d_head=4, d_mlp=64, sequence="a_b", causal=False, d_vocab_out=P
)


def _tokens(p: int = P) -> torch.Tensor:
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    return torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], -1)


def _params(cfg: ModelConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    return init_params(cfg, P + 1, P, torch.Generator().manual_seed(seed))  # task d_vocab


def authors_forward(params: dict[str, torch.Tensor], tokens: torch.Tensor, rate: float):
    """Their Transformer.forward (train-main.py:L65-213) for one layer, in their weight
    layout: W_E (d_model, vocab), W_Q/K/V (heads, d_head, d_model), W_O (d_model,
    heads * d_head), W_in (d_mlp, d_model), W_out (d_model, d_mlp), W_U (d_model, vocab);
    logits at the last position."""
    w_e = params["embed.W_E"].T
    w_pos = params["pos_embed.W_pos"]
    w_q, w_k, w_v = (params[f"blocks.0.attn.W_{w}"].transpose(1, 2) for w in "QKV")
    nh, dh, dm = w_q.shape
    w_o = params["blocks.0.attn.W_O"].reshape(nh * dh, dm).T
    w_in, w_out = params["blocks.0.mlp.W_in"].T, params["blocks.0.mlp.W_out"].T
    b_in, b_out = params["blocks.0.mlp.b_in"], params["blocks.0.mlp.b_out"]
    x = torch.einsum("dbp -> bpd", w_e[:, tokens[:, :2]])  # Embed (L65-70)
    x = x + w_pos[: x.shape[-2]]  # PosEmbed (L79-85)
    k = torch.einsum("ihd,bpd->biph", w_k, x)  # Attention (L105-118)
    q = torch.einsum("ihd,bpd->biph", w_q, x)
    v = torch.einsum("ihd,bpd->biph", w_v, x)
    scores = torch.einsum("biph,biqh->biqp", k, q)
    attn = F.softmax(scores / np.sqrt(dh), dim=-1) * rate + (1 - rate)
    z = torch.einsum("biph,biqp->biqh", v, attn)
    z_flat = z.permute(0, 2, 1, 3).reshape(z.shape[0], z.shape[2], nh * dh)
    x = x + torch.einsum("df,bqf->bqd", w_o, z_flat)  # TransformerBlock (L180-183)
    h = F.relu(torch.einsum("md,bpd->bpm", w_in, x) + b_in)  # MLP (L134-145)
    x = x + torch.einsum("dm,bpm->bpd", w_out, h) + b_out
    return (x @ params["unembed.W_U"])[:, -1, :]


@settings(max_examples=12, deadline=None)
@given(rate=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_fast_and_hooked_forward_equal_the_authors_module(rate, seed):
    cfg = dataclasses.replace(ZHONG, attention_rate=rate)
    params = _params(cfg, seed)
    tokens = _tokens()
    theirs = authors_forward(params, tokens, rate)
    ours = answer_forward(params, tokens, cfg)[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    hooked = build_model(cfg, params)(tokens)[:, -1, :]
    torch.testing.assert_close(hooked, theirs, rtol=1e-5, atol=1e-5)


def test_rate_zero_is_constant_attention_in_closed_form():
    """At rate 0 the head's output is W_O applied to the sum of the values of every position
    it sees; W_Q and W_K do not enter."""
    cfg = dataclasses.replace(ZHONG, attention_rate=0.0)
    params = _params(cfg, 3)
    tokens = _tokens()
    h = params["embed.W_E"][tokens[:, :2]] + params["pos_embed.W_pos"]  # (batch, 2, d)
    v = torch.einsum("bpd,hde->bphe", h, params["blocks.0.attn.W_V"]).sum(1)  # summed values
    x = h[:, -1] + torch.einsum("bhe,hed->bd", v, params["blocks.0.attn.W_O"])
    hidden = F.relu(x @ params["blocks.0.mlp.W_in"] + params["blocks.0.mlp.b_in"])
    x = x + hidden @ params["blocks.0.mlp.W_out"] + params["blocks.0.mlp.b_out"]
    closed = x @ params["unembed.W_U"]
    torch.testing.assert_close(answer_forward(params, tokens, cfg)[0], closed)
    scrambled = {**params}
    for w in ("W_Q", "W_K"):
        scrambled[f"blocks.0.attn.{w}"] = torch.randn_like(params[f"blocks.0.attn.{w}"]) * 5
    torch.testing.assert_close(answer_forward(scrambled, tokens, cfg)[0], closed)


def test_rate_one_is_the_standard_transformer():
    """Rate 1 keeps Nanda et al.'s fast path (and the bridge); the general path with a rate
    a hair below 1 computes the same function to float precision."""
    cfg = ModelConfig(d_model=16, n_heads=4, d_head=4, d_mlp=32)
    assert cfg.attention_rate == 1.0 and is_nanda(cfg)
    near = dataclasses.replace(cfg, attention_rate=1.0 - 1e-7)
    assert not is_nanda(near)
    params, tokens = _params(cfg, 1), _tokens()
    torch.testing.assert_close(
        answer_forward(params, tokens, near)[0], answer_forward(params, tokens, cfg)[0],
        rtol=1e-5, atol=1e-5,
    )  # fmt: skip
    pattern = torch.softmax(torch.randn(2, 4, 3, 3), -1)
    assert mix_attention(pattern, 1.0) is pattern


def test_causal_mask_keeps_masked_positions_at_zero():
    """With a causal mask, the constant part goes only where the query may look."""
    pattern = torch.softmax(torch.randn(4, 3, 3).masked_fill(torch.ones(3, 3).triu(1).bool(),
                                                             float("-inf")), -1)  # fmt: skip
    masked = torch.ones(3, 3, dtype=torch.bool).triu(1)
    mixed = mix_attention(pattern, 0.25, masked)
    assert torch.all(mixed[..., masked] == 0)
    torch.testing.assert_close(mixed[..., ~masked], 0.25 * pattern[..., ~masked] + 0.75)


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_two_layer_causal_fast_forward_equals_hooked(rate):
    cfg = ModelConfig(d_model=16, n_heads=2, d_head=8, d_mlp=32, n_layers=2, attention_rate=rate)
    params, tokens = _params(cfg, 2), _tokens()
    hooked = build_model(cfg, params)(tokens)[:, -1, :]
    torch.testing.assert_close(answer_forward(params, tokens, cfg)[0], hooked, rtol=1e-5,
                               atol=1e-5)  # fmt: skip


def test_members_axis_equals_each_member_alone():
    cfg = dataclasses.replace(ZHONG, attention_rate=0.3)
    members = [_params(cfg, s) for s in range(3)]
    stacked = {k: torch.stack([m[k] for m in members]) for k in members[0]}
    tokens = torch.randint(0, P, (3, 40, 3))
    batched = answer_forward(stacked, tokens, cfg)[0]
    for i, m in enumerate(members):
        torch.testing.assert_close(batched[i], answer_forward(m, tokens[i], cfg)[0])


def test_ensemble_member_equals_its_lone_run(tmp_path):
    base = replace(tiny_config(max_steps=15), {"model": {"attention_rate": 0.0}})
    cfgs = [base, replace(base, {"": {"seed": 1}, "optim": {"weight_decay": 0.3}})]
    dirs = [tmp_path / f"e{i}" for i in range(2)]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        assert_runs_close(dirs[i], train(cfg, tmp_path / f"s{i}", progress=False), rtol=1e-4)


def test_bad_rate_is_a_config_error_and_round_trips():
    for bad in (-0.1, 1.01, float("nan")):
        with pytest.raises(ConfigError, match="attention_rate"):
            ModelConfig(attention_rate=bad)
    with pytest.raises(ConfigError, match="attention_rate"):
        ModelConfig(arch="mlp", attention_rate=0.5)
    cfg = replace(tiny_config(), {"model": {"attention_rate": 0.25}})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
