"""The per-update training loss of a run's first updates (early_loss.safetensors)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import tiny_config

from grokinterp.config import replace
from grokinterp.errors import RunDirError
from grokinterp.runs import layout
from grokinterp.training import train, train_ensemble


def _early(n: int, max_steps: int = 40, batch_size: int | None = None, **optim):
    cfg = tiny_config(max_steps=max_steps, batch_size=batch_size, **optim)
    return replace(cfg, {"schedule": {"early_loss_steps": n}})


@pytest.mark.parametrize("n", [23, 60])  # a step that is no checkpoint; more than max_steps
def test_file_holds_the_loss_of_every_update(tmp_path, n):
    cfg = _early(n)
    train(cfg, tmp_path / "r", progress=False)
    loss = layout.read_early_loss(tmp_path / "r")
    assert loss.dtype == torch.float64 and len(loss) == min(n, 40)
    metrics = {r["step"]: r["train_loss"] for r in layout.read_metrics(tmp_path / "r")}
    for step, value in metrics.items():  # full batch: the logged loss is the loss descended
        if step < len(loss):
            assert float(loss[step]) == pytest.approx(value, rel=1e-12)
    assert torch.isfinite(loss).all()


def test_minibatch_losses_are_kept(tmp_path):
    train(_early(30, batch_size=8), tmp_path / "r", progress=False)
    loss = layout.read_early_loss(tmp_path / "r")
    assert len(loss) == 30 and torch.isfinite(loss).all()
    assert loss.std() > 0


def test_resume_gives_the_same_file(tmp_path):
    cfg = _early(33, max_steps=40)
    train(cfg, tmp_path / "whole", progress=False)
    train(dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, max_steps=20)),
          tmp_path / "parts", progress=False)  # fmt: skip
    assert len(layout.read_early_loss(tmp_path / "parts")) == 20
    train(cfg, tmp_path / "parts", resume=True, progress=False)
    assert torch.equal(
        layout.read_early_loss(tmp_path / "whole"), layout.read_early_loss(tmp_path / "parts")
    )


def test_alone_and_in_an_ensemble_the_same_file(tmp_path):
    cfg = _early(27)
    other = replace(cfg, {"optim": {"lr": 1e-2}, "": {"seed": 3}})
    train(cfg, tmp_path / "alone", progress=False)
    train_ensemble([other, cfg], [tmp_path / "m0", tmp_path / "m1"], progress=False)
    alone = layout.read_early_loss(tmp_path / "alone")
    member = layout.read_early_loss(tmp_path / "m1")
    assert len(member) == 27
    torch.testing.assert_close(member, alone, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(layout.read_early_loss(tmp_path / "m0"), alone)


def test_zero_keeps_none(tmp_path):
    train(_early(0), tmp_path / "r", progress=False)
    with pytest.raises(RunDirError, match="no per-update training losses"):
        layout.read_early_loss(tmp_path / "r")
