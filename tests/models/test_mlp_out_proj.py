"""Minegishi et al. 2024's OnlyMLP as an MLP configuration (``mlp_combine="sum"``,
``mlp_bias=False``, ``mlp_out_proj``, ``mlp_init="embed_vocab"``):
gouki510/Grokking-Tickets@bd705c8 model.py:L32-70 (Embed, Unembed), L161-176 (MLP),
L338-385 (OnlyMLP: embed, a projection shared by both tokens, summed, ReLU, projection back,
unembed)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_runs_close, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import ModelConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import answer_logits, build_model, init_params
from grokinterp.training import train, train_ensemble


def _cfg(d_model: int, d_mlp: int, **kw: object) -> ModelConfig:
    return ModelConfig(arch="mlp", n_layers=1, d_model=d_model, d_mlp=d_mlp, mlp_combine="sum",
                       mlp_bias=False, mlp_out_proj=True, mlp_init="embed_vocab", **kw)  # type: ignore[arg-type]  # fmt: skip


def _theirs(params: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """Their OnlyMLP.forward written out: ``x = W_E^T[:, tokens]`` per token, ``inproj``
    per token, sum over the two, ReLU, ``outproj``, ``@ W_U`` (their weights stored
    transposed: ``Embed.W_E`` (d_emb, d_vocab), ``MLP.W`` (d_out, d_in))."""
    w_e = params["embed.W_E"].T  # their (d_emb, d_vocab)
    w_in = params["blocks.0.mlp.W_in"].T  # their inproj.W (d_model, d_emb)
    w_out = params["blocks.0.mlp.W_out"].T  # their outproj.W (d_emb, d_model)
    x = torch.einsum("dbp -> bpd", w_e[:, tokens[:, :2]])  # Embed.forward
    x = x @ w_in.T  # inproj, per token
    x = torch.relu(x.sum(dim=1))
    x = x @ w_out.T  # outproj
    return x @ params["unembed.W_U"]  # Unembed.forward


@settings(max_examples=20, deadline=None)
@given(p=st.integers(3, 13), d_model=st.integers(1, 24), d_mlp=st.integers(1, 12),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_forward_equals_their_only_mlp(p: int, d_model: int, d_mlp: int, seed: int) -> None:
    cfg = _cfg(d_model, d_mlp)
    params = init_params(cfg, p + 1, p, torch.Generator().manual_seed(seed))
    assert {k: tuple(v.shape) for k, v in params.items()} == {
        "embed.W_E": (p + 1, d_model),
        "blocks.0.mlp.W_in": (d_model, d_mlp),
        "blocks.0.mlp.W_out": (d_mlp, d_model),
        "unembed.W_U": (d_model, p),
    }
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    ours = answer_logits(params, tokens, cfg)
    torch.testing.assert_close(ours, _theirs(params, tokens), rtol=1e-5, atol=1e-5)
    # symmetric in a and b, as summing the two projected tokens makes it
    swapped = tokens[:, [1, 0, 2]]
    torch.testing.assert_close(answer_logits(params, swapped, cfg), ours)
    hooked = build_model(cfg, params)
    logits, cache = hooked.run_with_cache(tokens)
    torch.testing.assert_close(logits[:, -1], ours, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        cache["blocks.0.hook_mlp_out"] @ params["unembed.W_U"], ours, rtol=1e-5, atol=1e-5
    )


def test_init_scales_are_theirs() -> None:
    """Embed N(0, 1/d_vocab) (their d_vocab = p, the operands), every matrix N(0, 1/fan_in)
    (their model.py:L37, L57, L165): 500-wide embeddings and 48 hidden units, p = 67."""
    p, cfg = 67, _cfg(500, 48)
    params = init_params(cfg, p + 1, p, torch.Generator().manual_seed(0))
    want = {"embed.W_E": 1 / math.sqrt(p), "blocks.0.mlp.W_in": 1 / math.sqrt(500),
            "blocks.0.mlp.W_out": 1 / math.sqrt(48), "unembed.W_U": 1 / math.sqrt(500)}  # fmt: skip
    for name, std in want.items():
        assert params[name].std().item() == pytest.approx(std, rel=0.05), name


def test_out_proj_needs_the_mlp_on_tokens() -> None:
    with pytest.raises(ConfigError, match="mlp_out_proj"):
        ModelConfig(arch="transformer", mlp_out_proj=True)
    with pytest.raises(ConfigError, match="mlp_out_proj"):
        ModelConfig(arch="mlp", mlp_input="onehot", mlp_out_proj=True)


def test_ensemble_members_equal_lone_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = tiny_config(max_steps=25).to_dict()
    model = {"arch": "mlp", "n_layers": 1, "d_model": 16, "d_mlp": 8, "mlp_combine": "sum",
             "mlp_bias": False, "mlp_out_proj": True, "mlp_init": "embed_vocab"}  # fmt: skip
    cfgs = [TrainConfig.from_dict({**base, "model": model, "seed": s}) for s in (0, 1)]
    dirs = [tmp_path / f"e{i}" for i in range(len(cfgs))]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        assert_runs_close(dirs[i], train(cfg, tmp_path / f"s{i}", progress=False), rtol=1e-4)
