"""Constrained-norm training (Omnigrok): the norm is held, resume is exact, alone = ensemble."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_resume_extends_exactly, assert_runs_close, tiny_config

from grokinterp.config import replace
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.training import train, train_ensemble
from grokinterp.training.constraints import FixedNorm, make_constraints, total_norm


def _norm_of(tensors: dict[str, torch.Tensor]) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in tensors.values()))


def test_fixed_norm_rescales_each_member_onto_its_target_and_leaves_others_alone():
    g = torch.Generator().manual_seed(0)
    params = {"a": torch.randn(3, 4, 5, generator=g), "b": torch.randn(3, 7, generator=g)}
    before = {k: v.clone() for k, v in params.items()}
    FixedNorm([2.0, None, 5.0]).apply_(params, torch.tensor([True, True, False]))
    norms = total_norm(params)
    assert norms[0] == pytest.approx(2.0, rel=1e-6)
    for k in params:  # member 1 asked for no constraint, member 2 is inactive: unchanged
        assert torch.equal(params[k][1:], before[k][1:])
    # a rescaling, not another direction
    ratio = params["a"][0] / before["a"][0]
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio))


def test_no_constraint_unless_asked_and_bad_targets_refused():
    assert make_constraints([tiny_config()]) == []
    with pytest.raises(ConfigError, match="fixed_norm"):
        replace(tiny_config(), {"optim": {"fixed_norm": 0.0}})
    with pytest.raises(ConfigError, match="fixed_norm"):
        replace(tiny_config(), {"optim": {"fixed_norm": float("inf")}})


def test_the_norm_is_held_to_float_precision_over_training(tmp_path):
    target = 7.5
    cfg = replace(tiny_config(max_steps=40), {"optim": {"fixed_norm": target, "lr": 1e-2}})
    run = train(cfg, tmp_path / "run", progress=False)
    rows = layout.read_metrics(run)
    assert len(rows) >= 8
    for r in rows:  # step 0 included: the initial weights are projected too
        assert r["param_norm"] == pytest.approx(target, rel=2e-6), r["step"]
    for step in layout.checkpoint_steps_on_disk(run):
        params, _ = load_tensors(layout.checkpoint_path(run, step))
        assert _norm_of(params) == pytest.approx(target, rel=2e-6)
    # and the constraint is what holds it: unconstrained, the same run's norm moves
    free = train(replace(cfg, {"optim": {"fixed_norm": None}}), tmp_path / "free", progress=False)
    free_norms = [r["param_norm"] for r in layout.read_metrics(free)]
    assert max(free_norms) - min(free_norms) > 0.1


def test_resume_is_bit_identical(tmp_path):
    short = replace(tiny_config(max_steps=14), {"optim": {"fixed_norm": 6.0}})
    assert_resume_extends_exactly(short, 30, tmp_path)


def test_the_fixed_norm_is_part_of_the_run_identity(tmp_path):
    cfg = replace(tiny_config(max_steps=10), {"optim": {"fixed_norm": 6.0}})
    train(cfg, tmp_path / "run", progress=False)
    other = replace(cfg, {"optim": {"fixed_norm": 5.0, "max_steps": 20}})
    with pytest.raises(RunDirError, match="fixed_norm"):
        train(other, tmp_path / "run", resume=True, progress=False)


def test_a_run_alone_equals_the_same_run_in_an_ensemble(tmp_path):
    base = replace(tiny_config(max_steps=20), {"optim": {"fixed_norm": 6.0}})
    cfgs = [
        base,
        replace(base, {"": {"seed": 1}, "optim": {"fixed_norm": 9.0, "weight_decay": 0.1}}),
        replace(base, {"": {"seed": 2}, "optim": {"fixed_norm": None}}),  # unconstrained
    ]
    dirs = [tmp_path / f"e{i}" for i in range(3)]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        assert_runs_close(dirs[i], train(cfg, tmp_path / f"s{i}", progress=False), rtol=1e-4)
    assert layout.read_metrics(dirs[1])[-1]["param_norm"] == pytest.approx(9.0, rel=2e-6)
    # a member continues alone from the ensemble's state file
    longer = replace(cfgs[0], {"optim": {"max_steps": 30}})
    train(longer, dirs[0], resume=True, progress=False)
    assert_runs_close(dirs[0], train(longer, tmp_path / "straight", progress=False), rtol=1e-4)
