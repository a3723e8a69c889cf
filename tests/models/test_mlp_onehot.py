"""The MLP on concatenated one-hot inputs without biases (``mlp_input="onehot"``,
``mlp_bias=False``): Prieto et al. 2025's MLP (LucasPrietoAl/grokking-at-the-edge-of-
numerical-stability@0cc9e8d models.py:L4-28, utils.py:L186-187, datasets.py:L56-59)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import answer_logits, build_model, init_params
from grokinterp.training.loop import train

P = 7
CFG = ModelConfig(
    arch="mlp", n_layers=2, d_mlp=20, mlp_input="onehot", mlp_bias=False, mlp_init="uniform"
)


def _pairs() -> torch.Tensor:
    a, b = torch.cartesian_prod(torch.arange(P), torch.arange(P)).T
    return torch.stack([a, b, torch.full_like(a, P)], dim=1)  # [a, b, =]


def test_shapes_init_and_forward_match_their_mlp() -> None:
    params = init_params(CFG, P + 1, P, torch.Generator().manual_seed(0))
    assert {k: tuple(v.shape) for k, v in params.items()} == {
        "blocks.0.mlp.W_in": (2 * P, 20),
        "blocks.1.mlp.W_in": (20, 20),
        "unembed.W_U": (20, P),
    }
    # PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert params["blocks.0.mlp.W_in"].abs().max() <= 1 / math.sqrt(2 * P)
    # their MLP: three bias-free nn.Linear on [onehot(a), onehot(b)], ReLU between
    layers = [nn.Linear(2 * P, 20, bias=False), nn.Linear(20, 20, bias=False),
              nn.Linear(20, P, bias=False)]  # fmt: skip
    with torch.no_grad():
        for layer, name in zip(layers, ("blocks.0.mlp.W_in", "blocks.1.mlp.W_in", "unembed.W_U"),
                               strict=True):  # fmt: skip
            layer.weight.copy_(params[name].T)
    tokens = _pairs()
    x = torch.cat([F.one_hot(tokens[:, 0], P), F.one_hot(tokens[:, 1], P)], 1).float()
    theirs = layers[2](torch.relu(layers[1](torch.relu(layers[0](x)))))
    ours = answer_logits(params, tokens, CFG)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    hooked = build_model(CFG, params)
    logits, cache = hooked.run_with_cache(tokens)
    torch.testing.assert_close(logits[:, -1], ours, rtol=1e-6, atol=1e-6)
    assert cache["blocks.0.mlp.hook_pre"].shape == (P * P, 20)
    # a members axis (the ensemble): each member reads its own first layer
    stacked = {k: torch.stack([v, 2 * v]) for k, v in params.items()}
    both = answer_logits(stacked, torch.stack([tokens, tokens]), CFG)
    torch.testing.assert_close(both[0], ours)
    torch.testing.assert_close(both[1], answer_logits({k: 2 * v for k, v in params.items()},
                                                      tokens, CFG))  # fmt: skip


def test_onehot_trains_and_is_for_pair_tasks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = TrainConfig(
        task=TaskConfig(name="add", p=P, train_fraction=0.5),
        model=CFG,
        optim=OptimConfig(lr=1e-2, weight_decay=0.0, eps=1e-25, warmup_steps=0, max_steps=5),
        schedule=ScheduleConfig(log_every=1, ckpt_log_until=2, ckpt_log_count=2, ckpt_every=5),
    )
    train(cfg, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
    with pytest.raises(ConfigError, match="mlp_input"):
        TrainConfig(
            task=TaskConfig(name="digits", p=None, train_fraction=None, train_size=20),
            model=CFG,
        )
