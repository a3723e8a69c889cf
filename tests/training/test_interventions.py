"""Grokfast, StableMax, ⊥Grad and the softmax-collapse measure, on cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_runs_close, assert_same_run, tiny_config

from grokinterp.config import replace
from grokinterp.errors import ConfigError
from grokinterp.models import (
    cross_entropy32,
    cross_entropy64,
    softmax_collapse,
    stablemax,
    stablemax_cross_entropy64,
)
from grokinterp.runs import layout
from grokinterp.training import train, train_ensemble
from grokinterp.training.interventions import GradFilter, orthogonalize_

ONE = torch.tensor(1.0)


def _grads(n: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 4, generator=g) for _ in range(n)]


def test_grokfast_ema_matches_its_recurrence():
    alpha, lamb = 0.9, 2.0
    f = GradFilter("ema", window=100, warmup=True)
    mu = None
    for g in _grads(5):
        # Lee et al.: the average starts at the first gradient, then mu = a mu + (1 - a) g
        mu = g.clone() if mu is None else alpha * mu + (1 - alpha) * g
        out = {"w": g.clone()}
        f(out, torch.tensor(alpha), torch.tensor(lamb))
        torch.testing.assert_close(out["w"], g + lamb * mu)


@pytest.mark.parametrize("warmup", [True, False])
def test_grokfast_ma_adds_the_window_mean(warmup):
    w, lamb = 3, 5.0
    f = GradFilter("ma", window=w, warmup=warmup)
    seen: list[torch.Tensor] = []
    for g in _grads(6, seed=1):
        seen.append(g)
        out = {"w": g.clone()}
        f(out, ONE, torch.tensor(lamb))
        window = seen[-w:]
        if warmup and len(seen) < w:
            expected = g  # untouched until the window is full
        else:
            expected = g + lamb * torch.stack(window).mean(0)
        torch.testing.assert_close(out["w"], expected)


def test_grokfast_with_zero_lambda_is_plain_adamw_exactly(tmp_path):
    base = tiny_config(max_steps=30)
    filtered = replace(base, {"optim": {"grokfast": "ema", "grokfast_lamb": 0.0}})
    train(base, tmp_path / "plain", progress=False)
    train(filtered, tmp_path / "ema0", progress=False)
    assert_same_run(tmp_path / "plain", tmp_path / "ema0")


def test_grokfast_changes_training(tmp_path):
    base = tiny_config(max_steps=30)
    a = train(base, tmp_path / "plain", progress=False)
    b = train(replace(base, {"optim": {"grokfast": "ema"}}), tmp_path / "ema", progress=False)
    la, lb = layout.read_metrics(a)[-1], layout.read_metrics(b)[-1]
    assert la["param_norm"] != lb["param_norm"]


def test_stablemax_closed_form_and_probabilities():
    x = torch.tensor([[2.0, -1.0, 0.0], [0.5, 3.0, -4.0]], dtype=torch.float64)
    s = stablemax(x)
    # s(x) = x + 1 for x >= 0, 1 / (1 - x) below
    torch.testing.assert_close(
        s, torch.tensor([[3.0, 0.5, 1.0], [1.5, 4.0, 0.2]], dtype=torch.float64)
    )
    p = s / s.sum(-1, keepdim=True)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, dtype=torch.float64))
    loss = stablemax_cross_entropy64(x, torch.tensor([0, 2]), reduction="none")
    expected = torch.tensor([-math.log(3 / 4.5), -math.log(0.2 / 5.7)], dtype=torch.float64)
    torch.testing.assert_close(loss, expected)
    assert stablemax_cross_entropy64(x, torch.tensor([0, 2])) == pytest.approx(expected.mean())


def test_stablemax_gradient_is_finite_at_one_in_float32():
    # the straightforward torch.where form gives NaN here (its unused branch divides by 0)
    x = torch.tensor([[1.0, -2.0, 0.0]], requires_grad=True)
    stablemax_cross_entropy64(x, torch.tensor([1])).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_orthogonal_gradient_is_orthogonal_to_the_weights_and_keeps_its_norm():
    gen = torch.Generator().manual_seed(3)
    w, g = torch.randn(5, 7, generator=gen), torch.randn(5, 7, generator=gen)
    g0 = g.clone()
    orthogonalize_(g, w)
    assert float((g * w).sum()) == pytest.approx(0.0, abs=1e-5)
    assert float(g.norm()) == pytest.approx(float(g0.norm()), rel=1e-6)
    # a gradient along the weights has nothing left but rounding: the rescaled rest is tiny
    # in direction, but the weights cannot grow along themselves
    members_w, members_g = torch.randn(2, 5, 7, generator=gen), torch.randn(2, 5, 7, generator=gen)
    orthogonalize_(members_g, members_w, batch_dims=1)
    dots = (members_g * members_w).flatten(1).sum(-1)
    assert torch.allclose(dots, torch.zeros(2), atol=1e-5)


def test_softmax_collapse_measure():
    small = torch.randn(50, 11)
    assert float(softmax_collapse(small).float().mean()) == 0.0
    big = small.clone()
    big[:, 0] += 30.0  # every other class's exp(-30) vanishes beside 1 in float32, not in float64
    assert float(softmax_collapse(big).float().mean()) == 1.0
    y = torch.zeros(50, dtype=torch.long)
    assert float(cross_entropy32(big, y)) == 0.0  # float32 rounds the loss away ...
    assert float(cross_entropy64(big, y)) > 0.0  # ... float64 does not


def test_metrics_log_the_collapse_and_the_float32_loss(tmp_path):
    cfg = replace(tiny_config(max_steps=20), {"optim": {"loss": "stablemax"}})
    rows = layout.read_metrics(train(cfg, tmp_path / "r", progress=False))
    assert all(0 <= r["softmax_collapse"] <= 1 for r in rows)
    # the logged train loss is the run's own loss (StableMax), not the float32 softmax one
    assert rows[-1]["train_loss"] != pytest.approx(rows[-1]["train_loss32"], rel=1e-3)


INTERVENTIONS = {
    "ema": {"grokfast": "ema", "grokfast_alpha": 0.9},
    "ma": {"grokfast": "ma", "grokfast_window": 4, "grokfast_lamb": 3.0},
    "stablemax": {"loss": "stablemax", "weight_decay": 0.0},
    "orthogonal": {"orthogonal_grad": True, "weight_decay": 0.0},
}


@pytest.mark.parametrize("name", sorted(INTERVENTIONS))
def test_resume_mid_run_equals_an_uninterrupted_run(tmp_path, name):
    short = replace(tiny_config(max_steps=14), {"optim": INTERVENTIONS[name]})
    long = replace(short, {"optim": {"max_steps": 30}})
    train(short, tmp_path / "resumed", progress=False)
    train(long, tmp_path / "resumed", resume=True, progress=False)
    train(long, tmp_path / "straight", progress=False)
    assert_same_run(tmp_path / "resumed", tmp_path / "straight")


@pytest.mark.parametrize("name", sorted(INTERVENTIONS))
def test_ensemble_with_each_intervention_equals_single_runs(tmp_path, name):
    base = replace(tiny_config(max_steps=20), {"optim": INTERVENTIONS[name]})
    other = replace(base, {"": {"seed": 1}, "optim": {"grokfast_alpha": 0.8, "grokfast_lamb": 1.0}})
    cfgs = [base, other]
    dirs = [tmp_path / "e0", tmp_path / "e1"]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        assert_runs_close(dirs[i], train(cfg, tmp_path / f"s{i}", progress=False), rtol=1e-4)
    # a member with a filter continues alone from the ensemble's state file, and the
    # ensemble continues one from its own
    longer = [replace(c, {"optim": {"max_steps": 30}}) for c in cfgs]
    train(longer[0], dirs[0], resume=True, progress=False)
    train_ensemble([longer[1]], [dirs[1]], progress=False)
    for i in range(2):
        straight = train(longer[i], tmp_path / f"straight{i}", progress=False)
        assert_runs_close(dirs[i], straight, rtol=1e-4)


def test_intervention_fields_are_validated():
    with pytest.raises(ConfigError, match="grokfast_alpha"):
        replace(tiny_config(), {"optim": {"grokfast_alpha": 1.0}})
    with pytest.raises(ConfigError, match="grokfast_window"):
        replace(tiny_config(), {"optim": {"grokfast_window": 0}})
    with pytest.raises(ConfigError, match="lr"):
        replace(tiny_config(), {"optim": {"lr": math.inf}})
