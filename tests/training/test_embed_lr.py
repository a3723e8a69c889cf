"""The embedding's own learning rate and weight decay (Liu et al. 2022's two optimizers)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import assert_runs_close

from grokinterp.config import OptimConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.presets import get_preset
from grokinterp.runs import Run
from grokinterp.training import train, train_ensemble


def _toy(**optim):
    base = replace(
        get_preset("liu_toy"),
        {"schedule": {"ckpt_log_count": 0, "ckpt_every": 10, "log_every": 5}},
    )
    return replace(base, {"optim": {"max_steps": 20, **optim}})


@pytest.mark.slow
def test_embedding_moves_at_its_own_rate(tmp_path):
    slow = _toy(lr=1e-2, embed_lr=1e-4, weight_decay=1.0, embed_weight_decay=0.0)
    fast = _toy(lr=1e-2, embed_lr=None, embed_weight_decay=None, weight_decay=1.0)
    moved = {}
    for name, cfg in (("slow", slow), ("fast", fast)):
        run = Run(train(cfg, tmp_path / name, progress=False))
        moved[name] = float((run.params(20)["embed.W_E"] - run.params(0)["embed.W_E"]).abs().max())
    # Adam moves a weight by about lr a step: 20 steps at 1e-4 against 20 at 1e-2
    assert moved["slow"] < 3e-3 < 0.05 < moved["fast"]


@pytest.mark.slow
def test_ensemble_matches_single_runs_with_embedding_settings(tmp_path):
    cfgs = [
        _toy(lr=1e-3, weight_decay=2.0),
        _toy(lr=1e-2, weight_decay=0.0, embed_lr=3e-3, embed_weight_decay=1.0),
    ]
    train_ensemble(cfgs, [tmp_path / "e0", tmp_path / "e1"], progress=False)
    for i, cfg in enumerate(cfgs):
        train(cfg, tmp_path / f"s{i}", progress=False)
        assert_runs_close(tmp_path / f"e{i}", tmp_path / f"s{i}", rtol=1e-5)


def test_embed_settings_are_validated():
    with pytest.raises(ConfigError, match="embed_lr"):
        OptimConfig(embed_lr=0.0)
    with pytest.raises(ConfigError, match="embed_weight_decay"):
        OptimConfig(embed_weight_decay=-1.0)
    assert dataclasses.replace(OptimConfig(), embed_lr=None).embed_lr is None


@pytest.mark.slow
def test_resume_with_embedding_settings_is_exact(tmp_path):
    cfg = _toy(lr=1e-2, weight_decay=2.0, embed_lr=3e-3, embed_weight_decay=0.5)
    train(cfg, tmp_path / "whole", progress=False)
    train(replace(cfg, {"optim": {"max_steps": 10}}), tmp_path / "split", progress=False)
    train(cfg, tmp_path / "split", resume=True, progress=False)
    a, b = Run(tmp_path / "whole").params(20), Run(tmp_path / "split").params(20)
    assert all(torch.equal(a[k], b[k]) for k in a)
