"""Deep MLPs (Fan et al. 2024): the batched forward, and the ensemble equal to single runs."""

from __future__ import annotations

import torch
from helpers import assert_runs_close, tiny_config

from grokinterp.config import ModelConfig, TrainConfig
from grokinterp.models import answer_logits, init_params
from grokinterp.training import train, train_ensemble


def _deep(**model) -> TrainConfig:
    base = tiny_config(max_steps=25)
    d = base.to_dict()
    d["model"] = {"arch": "mlp", "n_layers": 6, "d_model": 16, "d_mlp": 20, **model}
    return TrainConfig.from_dict(d)


def test_members_axis_equals_each_member_alone():
    cfg = ModelConfig(arch="mlp", n_layers=5, d_model=8, d_mlp=12, mlp_combine="concat")
    members = [init_params(cfg, 12, 11, torch.Generator().manual_seed(s)) for s in range(3)]
    stacked = {k: torch.stack([m[k] for m in members]) for k in members[0]}
    tokens = torch.randint(0, 11, (3, 30, 3))
    batched = answer_logits(stacked, tokens, cfg)
    for i, m in enumerate(members):
        torch.testing.assert_close(batched[i], answer_logits(m, tokens[i], cfg))


def test_deep_mlp_ensemble_equals_separate_runs(tmp_path):
    cfgs = [
        _deep(),
        _deep(act_fn="gelu", init_scale=1.5),  # differ only in init scale from each other
        TrainConfig.from_dict({**_deep(act_fn="gelu").to_dict(), "seed": 3}),
    ]
    groups = [[cfgs[0]], cfgs[1:]]
    for g, members in enumerate(groups):
        dirs = [tmp_path / f"e{g}_{i}" for i in range(len(members))]
        train_ensemble(members, dirs, progress=False)
        for i, cfg in enumerate(members):
            alone = train(cfg, tmp_path / f"s{g}_{i}", progress=False)
            assert_runs_close(dirs[i], alone, rtol=1e-4)
