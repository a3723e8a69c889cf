"""Gromov's network as a run directory: Run, analyze and the command line open it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from grokinterp.cli import main
from grokinterp.errors import RunDirError
from grokinterp.models.analytic import gromov_params
from grokinterp.runs import Run
from grokinterp.training.analytic import write_analytic_run


def test_run_round_trip(tmp_path: Path) -> None:
    run = Run(write_analytic_run(tmp_path / "g", 29, 120, train_fraction=0.4, seed=2))
    assert run.steps == [0]
    assert run.config.model.act_fn == "quadratic" and run.config.model.d_mlp == 120
    _, params = gromov_params(29, 120, seed=2)
    for name, value in run.params(0).items():
        assert torch.equal(value, params[name]), name
    row = run.metrics.iloc[0]
    assert row["train_acc"] == 1.0 and row["test_acc"] == 1.0
    n_train = int(run.dataset.train_mask.sum())
    assert n_train == int(0.4 * 29 * 29)
    logits, cache = run.model(0).run_with_cache(run.dataset.inputs)
    assert bool((logits[:, -1].argmax(-1) == run.dataset.labels).all())
    assert tuple(cache["blocks.0.mlp.hook_post"].shape) == (29 * 29, 120)


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "g"
    write_analytic_run(out, 11, 40)
    with pytest.raises(RunDirError, match="already holds a run"):
        write_analytic_run(out, 11, 40, seed=1)
    write_analytic_run(out, 11, 40, seed=1, force=True)
    assert json.loads((out / "config.json").read_text())["seed"] == 1


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g"
    assert main(["analytic", "--p", "13", "--width", "60", "--out", str(out)]) == 0
    assert "test acc 1.0000" in capsys.readouterr().out
    assert main(["analytic", "--p", "13", "--width", "20", "--out", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "8 neurons per frequency" in err
    assert not (tmp_path / "h").exists()


@pytest.mark.slow
def test_analyze_opens_it(tmp_path: Path) -> None:
    out = write_analytic_run(tmp_path / "g", 23, 100)
    assert main(["analyze", str(out), "--no-figures", "--key-freqs", "1,2,3"]) == 0
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    assert summary["grokking_step"] == 0
