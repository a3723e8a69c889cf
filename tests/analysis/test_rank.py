"""Feature rank (Fan et al. 2024) and effective rank (Roy & Vetterli 2007): known answers."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import tiny_config

from grokinterp.analysis.rank import (
    default_rtol,
    effective_rank,
    feature_rank_table,
    layer_features,
    numerical_rank,
)
from grokinterp.config import ModelConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import init_params
from grokinterp.runs.run import Run
from grokinterp.training import train


def _with_singular_values(sv: list[float], n: int, d: int, seed: int = 0) -> torch.Tensor:
    """An n x d matrix with exactly the singular values ``sv`` (random orthonormal frames)."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(n, len(sv), generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(d, len(sv), generator=g, dtype=torch.float64))
    return u @ torch.diag(torch.tensor(sv, dtype=torch.float64)) @ v.T


@pytest.mark.parametrize("k", [1, 3, 7, 20])
def test_features_of_a_constructed_rank(k):
    g = torch.Generator().manual_seed(k)
    h = torch.randn(200, k, generator=g) @ torch.randn(k, 64, generator=g)  # float32, rank k
    assert numerical_rank(h) == k
    assert numerical_rank(torch.relu(torch.randn(200, 64, generator=g))) == 64


def test_threshold_is_on_the_gram_matrix_and_stated():
    # singular values 1 and 1e-3 of H: those of H^T H are 1 and 1e-6
    h = _with_singular_values([1.0, 1e-3], n=10, d=2)
    assert default_rtol(2) == 2 * torch.finfo(torch.float32).eps
    assert default_rtol(3, "float64") == 3 * torch.finfo(torch.float64).eps
    assert numerical_rank(h) == 2  # 1e-6 > 2.4e-7
    assert numerical_rank(h, rtol=1e-5) == 1
    assert numerical_rank(h, rtol=0.0) == 2
    # matches torch.linalg.matrix_rank on the float32 Gram matrix where that is well resolved
    h = _with_singular_values([3.0, 2.0, 1.0, 0.5], n=50, d=16)
    gram = (h.T @ h).float()
    assert numerical_rank(h) == int(torch.linalg.matrix_rank(gram)) == 4
    assert numerical_rank(torch.zeros(5, 3)) == 0
    with pytest.raises(ValueError, match="rtol"):
        numerical_rank(h, rtol=-1.0)
    with pytest.raises(ValueError, match="2-D"):
        numerical_rank(torch.zeros(3))


def test_effective_rank_known_values():
    assert effective_rank(_with_singular_values([2.0] * 5, n=30, d=12)) == pytest.approx(5.0)
    p = torch.tensor([2 / 3, 1 / 3], dtype=torch.float64)
    want = math.exp(float(-(p * p.log()).sum()))
    assert effective_rank(_with_singular_values([2.0, 1.0], n=8, d=4)) == pytest.approx(want)
    assert effective_rank(_with_singular_values([1.0], n=8, d=4)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="undefined"):
        effective_rank(torch.zeros(4, 4))


def test_centering_removes_a_constant_feature_direction():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(100, 2, generator=g) @ torch.randn(2, 10, generator=g) + torch.randn(10)
    assert numerical_rank(h) == 3
    assert numerical_rank(h, center=True) == 2


def test_layer_features_are_the_hidden_activations():
    cfg = ModelConfig(arch="mlp", n_layers=3, d_model=8, d_mlp=12)
    params = init_params(cfg, 12, 11, torch.Generator().manual_seed(0))
    tokens = torch.randint(0, 11, (20, 3))
    feats = layer_features(params, tokens, cfg)
    assert list(feats) == [f"blocks.{i}.mlp.hook_{k}" for i in range(3) for k in ("pre", "post")]
    h = params["embed.W_E"][tokens[:, 0]] + params["embed.W_E"][tokens[:, 1]]
    for i in range(3):
        pre = h @ params[f"blocks.{i}.mlp.W_in"] + params[f"blocks.{i}.mlp.b_in"]
        h = torch.relu(pre)
        torch.testing.assert_close(feats[f"blocks.{i}.mlp.hook_pre"], pre)
        torch.testing.assert_close(feats[f"blocks.{i}.mlp.hook_post"], h)
    with pytest.raises(ConfigError, match="arch=mlp"):
        layer_features(params, tokens, ModelConfig())


def test_feature_rank_table_of_a_run(tmp_path):
    base = tiny_config(max_steps=20)
    cfg = TrainConfig.from_dict(
        {
            **base.to_dict(),
            "model": {"arch": "mlp", "n_layers": 3, "d_model": 16, "d_mlp": 24},
        }
    )
    run = Run(train(cfg, tmp_path / "r", progress=False))
    table = feature_rank_table(run, split="all")
    assert len(table) == 3 * len(run.steps)
    assert set(table.columns) >= {"step", "layer", "numerical_rank", "effective_rank", "test_acc"}
    last = table[table.step == run.steps[-1]]
    feats = layer_features(run.params(run.steps[-1]), run.dataset.inputs, cfg.model)
    for i in range(3):
        h = feats[f"blocks.{i}.mlp.hook_post"]
        assert int(last[last.layer == i].numerical_rank.iloc[0]) == numerical_rank(h)
    assert (table.numerical_rank <= 24).all()
    # Fan et al.'s measure: the centered pre-activations (the outputs of the linear maps)
    pre = feature_rank_table(run, steps=[run.steps[-1]], split="all", center=True, features="pre")
    for i in range(3):
        h = feats[f"blocks.{i}.mlp.hook_pre"]
        assert int(pre[pre.layer == i].numerical_rank.iloc[0]) == numerical_rank(h, center=True)
    # ... in float64, as their code trains and measures: torch's tolerance for float64
    p64 = {k: v.double() for k, v in run.params(run.steps[-1]).items()}
    f64 = layer_features(p64, run.dataset.inputs, cfg.model)
    pre64 = feature_rank_table(
        run, steps=[run.steps[-1]], split="all", center=True, features="pre", precision="float64"
    )
    for i in range(3):
        h = f64[f"blocks.{i}.mlp.hook_pre"]
        assert h.dtype == torch.float64
        want = numerical_rank(h, rtol=24 * torch.finfo(torch.float64).eps, center=True)
        assert int(pre64[pre64.layer == i].numerical_rank.iloc[0]) == want
    with pytest.raises(ConfigError, match="features"):
        feature_rank_table(run, features="mid")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="precision"):
        feature_rank_table(run, precision="float16")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="split"):
        feature_rank_table(run, split="val")  # type: ignore[arg-type]
