"""An ensemble sheds the members its stopping rules have ended: the others go on as a smaller
batch from the state they saved, and every member's run directory is the one it leaves when
trained alone. A run resumed without its stopping rule goes on to max_steps."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_runs_close, tiny_config

from grokinterp.config import replace
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.training import ensemble, train, train_ensemble


def _members():
    # the same model at three learning rates: the training loss reaches 2.2 at different
    # steps (lr 3e-3: step 20), or not within the budget, so the rule ends the members at
    # different checkpoints
    base = tiny_config(max_steps=30, stop_loss=2.2, stop_patience=0)
    return [replace(base, {"optim": {"lr": lr}}) for lr in (1e-2, 3e-3, 3e-4)]


@pytest.fixture
def sizes(monkeypatch) -> list[int]:
    """The member count of every batch the ensemble trains, in order."""
    seen: list[int] = []
    run = ensemble._Ensemble.run

    def spy(self, *args, **kwargs):
        seen.append(self.m)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(ensemble._Ensemble, "run", spy)
    return seen


def test_stopped_members_leave_the_batch_and_the_rest_equal_their_lone_runs(tmp_path, sizes):
    cfgs = _members()
    dirs = [tmp_path / f"e{i}" for i in range(len(cfgs))]
    train_ensemble(cfgs, dirs, progress=False)
    steps = [layout.read_metrics(d)[-1]["step"] for d in dirs]
    assert len(set(steps)) > 1 and min(steps) < 30  # the rule ended members at other steps
    assert sizes[0] == 3 and len(sizes) > 1 and sizes[1] < 3, sizes  # the batch shrank
    for i, cfg in enumerate(cfgs):
        assert_runs_close(dirs[i], train(cfg, tmp_path / f"s{i}", progress=False), rtol=1e-4)


def test_no_shedding_without_a_stopping_rule(tmp_path, sizes):
    cfgs = [replace(c, {"optim": {"stop_loss": None}}) for c in _members()]
    train_ensemble(cfgs, [tmp_path / f"e{i}" for i in range(3)], progress=False)
    assert sizes == [3]


def test_a_run_resumed_without_its_stopping_rule_goes_on_to_max_steps(tmp_path):
    ruled = tiny_config(max_steps=40, stop_loss=2.2, stop_patience=0)  # ends it at step 20
    free = replace(ruled, {"optim": {"stop_loss": None}})
    stopped = train(ruled, tmp_path / "a", progress=False)
    assert layout.read_metrics(stopped)[-1]["step"] < 40  # the rule ended it
    train(free, stopped, resume=True, progress=False)
    straight = train(free, tmp_path / "b", progress=False)
    assert layout.read_metrics(stopped)[-1]["step"] == 40
    assert_runs_close(stopped, straight, rtol=1e-6)
    a = load_tensors(layout.checkpoint_path(stopped, 40))[0]
    b = load_tensors(layout.checkpoint_path(straight, 40))[0]
    assert all(torch.equal(a[k], b[k]) for k in b)  # exact resume
