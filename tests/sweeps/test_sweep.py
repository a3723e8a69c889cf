"""Sweeps: grids, resume after a kill, failing runs, and the ensemble backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import assert_runs_close, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.cli import main
from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs import layout
from grokinterp.sweeps import backends, engine
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.tasks import make_dataset
from grokinterp.training import train, train_ensemble

TINY = {
    "p": 11,
    "train_fraction": 0.5,
    "d_model": 32,
    "d_head": 8,
    "d_mlp": 64,
    "lr": 3e-3,
    "log_every": 5,
    "ckpt_log_count": 3,
    "ckpt_log_until": 5,
    "ckpt_every": 10,
}


def spec(**kw):
    return {"base": {"preset": "quick"}, "overrides": {**TINY, "max_steps": 20}, **kw}


def test_grid_expansion_names_and_validation():
    runs = expand(spec(grid={"weight_decay": [0.3, 1.0], "optim.lr": [1e-3, 3e-3]}, seeds=[0, 1]))
    assert len(runs) == 8
    assert runs[0].name == "weight_decay=0.3,optim.lr=0.001,seed=0"
    assert {r.config.optim.weight_decay for r in runs} == {0.3, 1.0}
    assert {r.config.seed for r in runs} == {0, 1}
    assert all(r.config.task.p == 11 for r in runs)
    runs = expand(spec(runs=[{"train_size": 30}, {"random_labels": True}]))
    assert runs[0].config.task.train_size == 30 and runs[0].config.task.train_fraction is None
    with pytest.raises(ConfigError, match="unknown config field 'wd'"):
        expand(spec(grid={"wd": [1]}))
    with pytest.raises(ConfigError, match="train_fraction"):
        expand(spec(grid={"train_fraction": [1.5]}))
    with pytest.raises(ConfigError, match="unknown key"):
        expand({"grid": {}, "bogus": 1})


@pytest.mark.slow
def test_local_sweep_records_a_failing_run_and_goes_on(tmp_path):
    # 5 outputs cannot score 11 classes: the run fails at start, the others finish
    s = spec(runs=[{"weight_decay": 1.0}, {"d_vocab_out": 5}, {"weight_decay": 0.1}])
    table = run_sweep(s, tmp_path / "sw", workers=2, progress=False)
    assert list(table["status"]) == ["done", "failed", "done"]
    assert "cannot score" in table.loc[1, "error"]
    # 20 steps: shorter than the Liu et al. rule's 1000-step window, so it cannot decide
    assert table.loc[0, "liu_phase"] == "undecided"
    assert table.loc[0, "plateau_class"] in ("unfitted", "memorized", "undecided")
    assert table.loc[0, "steps"] == 20 and table.loc[2, "final_train_acc"] >= 0
    on_disk = pd.read_csv(tmp_path / "sw" / "results.csv")
    assert list(on_disk["status"]) == ["done", "failed", "done"]
    # each run equals the same config trained alone
    cfg = expand(s)[0].config
    train(cfg, tmp_path / "alone", progress=False)
    a = layout.read_metrics(tmp_path / "sw" / "runs" / table.loc[0, "name"])
    b = layout.read_metrics(tmp_path / "alone")
    assert [r["test_loss"] for r in a] == [r["test_loss"] for r in b]


@pytest.mark.slow
def test_cli_sweep_exit_status_and_spec_conflict(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(spec(runs=[{"d_vocab_out": 5}])))
    assert main(["sweep", str(path), "--out", str(tmp_path / "sw"), "--no-progress"]) == 1
    assert "1 failed" in capsys.readouterr().out
    path.write_text(json.dumps(spec(seeds=[3])))
    assert main(["sweep", str(path), "--out", str(tmp_path / "sw"), "--no-progress"]) == 2
    assert "different spec" in capsys.readouterr().err
    yaml_path = tmp_path / "s.yaml"
    yaml_path.write_text("base: {preset: quick}\ngrid: {weight_decay: [1.0]\n")
    assert main(["sweep", str(yaml_path), "--out", str(tmp_path / "y")]) == 2
    assert "not valid YAML" in capsys.readouterr().err


@pytest.mark.slow
def test_killed_sweep_resumes(tmp_path):
    s = spec(overrides={**TINY, "max_steps": 400, "ckpt_every": 20}, seeds=[0, 1, 2])
    path = tmp_path / "s.json"
    path.write_text(json.dumps(s))
    out = tmp_path / "sw"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grokinterp.cli",
            "sweep",
            str(path),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ],
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 120
    first = out / "runs" / expand(s)[0].name
    while time.time() < deadline:
        rows = layout.read_metrics(first) if (first / layout.METRICS).exists() else []
        if rows and rows[-1]["step"] >= 100:
            break
        assert proc.poll() is None
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker
    proc.wait()
    status = out / "status" / f"{first.name}.json"
    assert json.loads(status.read_text())["status"] == "running"
    table = run_sweep(s, out, workers=1, progress=False)
    assert list(table["status"]) == ["done"] * 3 and list(table["steps"]) == [400] * 3
    alone = train(expand(s)[0].config, tmp_path / "alone", progress=False)
    a = [(r["step"], r["test_loss"]) for r in layout.read_metrics(first)]
    assert a == [(r["step"], r["test_loss"]) for r in layout.read_metrics(alone)]


def test_ensemble_equals_separate_runs(tmp_path):
    base = tiny_config(max_steps=25)
    cfgs = [
        base,
        replace(base, {"": {"seed": 1}, "optim": {"weight_decay": 2.0, "lr": 1e-3}}),
        replace(
            base,
            {
                "task": {"split_seed": 3, "train_fraction": None, "train_size": 40},
                "model": {"init_scale": 2.0},
            },
        ),
        replace(base, {"task": {"random_labels": True}, "optim": {"beta2": 0.99}}),
    ]
    dirs = [tmp_path / f"e{i}" for i in range(len(cfgs))]
    train_ensemble(cfgs, dirs, progress=False)
    for d in dirs:  # accuracies are counts over the member's own rows: k / n, never above 1
        n_train = len(make_dataset(TrainConfig.load(d / "config.json").task).train_labels)
        for row in layout.read_metrics(d):
            k = round(row["train_acc"] * n_train)
            assert row["train_acc"] == k / n_train  # exactly; a sum of 1/n weights is not
    for i, cfg in enumerate(cfgs):
        alone = train(cfg, tmp_path / f"s{i}", progress=False)
        assert_runs_close(dirs[i], alone, rtol=1e-4)


def test_a_member_resumes_alone_and_the_ensemble_resumes(tmp_path):
    short = tiny_config(max_steps=20)
    long = replace(short, {"optim": {"max_steps": 40}})
    other = replace(short, {"": {"seed": 5}})
    train_ensemble([short, other], [tmp_path / "a", tmp_path / "b"], progress=False)
    # member a continues alone with the single-run trainer, from the ensemble's state file
    train(long, tmp_path / "a", resume=True, progress=False)
    train(long, tmp_path / "straight", progress=False)
    assert_runs_close(tmp_path / "a", tmp_path / "straight", rtol=1e-4)
    # member b is extended by the ensemble trainer itself
    other_long = replace(other, {"optim": {"max_steps": 40}})
    train_ensemble([other_long], [tmp_path / "b"], progress=False)
    train(other_long, tmp_path / "b_straight", progress=False)
    assert_runs_close(tmp_path / "b", tmp_path / "b_straight", rtol=1e-4)


@pytest.mark.slow
def test_ensemble_backend_in_a_sweep_and_stop_rule(tmp_path):
    # a config that groks within a few hundred steps; members stop at their own steps
    groks = {
        "p": 23,
        "train_fraction": 0.6,
        "d_model": 64,
        "d_head": 16,
        "d_mlp": 256,
        "lr": 3e-3,
        "log_every": 25,
        "ckpt_log_count": 3,
        "ckpt_log_until": 5,
        "ckpt_every": 100,
        "max_steps": 1500,
        "stop_acc": 0.9,
        "stop_patience": 5,
    }
    s = {
        "base": {"preset": "quick"},
        "overrides": groks,
        "grid": {"weight_decay": [1.0, 2.0]},
        "seeds": [0],
    }
    table = run_sweep(s, tmp_path / "sw", backend="ensemble", progress=False)
    assert list(table["status"]) == ["done"] * 2
    last_steps = []
    for name in table["name"]:
        rows = layout.read_metrics(tmp_path / "sw" / "runs" / name)
        first = next(r["step"] for r in rows if r["test_acc"] >= 0.9)
        assert 0 < first < 1500 and rows[-1]["step"] == first + 5
        last_steps.append(rows[-1]["step"])
    assert len(set(last_steps)) == 2  # the first to stop was frozen while the other went on


@pytest.mark.slow
def test_ray_backend_end_to_end(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install .[ray])")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        s = spec(runs=[{"weight_decay": 1.0}, {"d_vocab_out": 5}], seeds=[0, 1])
        table = run_sweep(s, tmp_path / "sw", backend="ray", progress=False)
    finally:
        ray.shutdown()
    assert list(table["status"]) == ["done", "done", "failed", "failed"]
    cfg = expand(s)[0].config
    alone = train(cfg, tmp_path / "alone", progress=False)
    a = layout.read_metrics(tmp_path / "sw" / "runs" / table.loc[0, "name"])
    assert [r["test_loss"] for r in a] == [r["test_loss"] for r in layout.read_metrics(alone)]


def test_ensemble_honours_init_from_and_stop_loss(tmp_path):
    first = train(tiny_config(max_steps=30), tmp_path / "first", progress=False)
    ckpt = str(layout.checkpoint_path(first, 30))
    # short runs: Adam amplifies float rounding differences over hundreds of steps
    base = tiny_config(max_steps=150)
    cfgs = [
        replace(
            base, {"": {"init_from": ckpt}, "task": {"train_fraction": None, "train_size": 30}}
        ),
        replace(base, {"optim": {"stop_loss": 1.0}}),
    ]
    dirs = [tmp_path / "e0", tmp_path / "e1"]
    train_ensemble(cfgs, dirs, progress=False)
    for cfg, d in zip(cfgs, dirs, strict=True):
        assert_runs_close(d, train(cfg, tmp_path / f"alone_{d.name}", progress=False), rtol=1e-4)
    rows = layout.read_metrics(dirs[1])
    assert rows[-1]["train_loss"] <= 1.0 and rows[-1]["step"] < 150


def test_split_by_size_is_the_cheapest_partition():
    import itertools

    from grokinterp.training import split_by_size

    def cost(batches, sizes, over):
        return sum(over + len(b) * max(sizes[i] for i in b) for b in batches)

    def partitions(items):
        if not items:
            yield []
            return
        head, rest = items[0], items[1:]
        for part in partitions(rest):
            yield [[head], *part]
            for k in range(len(part)):
                yield [*part[:k], [head, *part[k]], *part[k + 1 :]]

    rng = np.random.default_rng(0)
    for _ in range(20):
        sizes = [int(x) for x in rng.integers(10, 2000, size=6)]
        over = int(rng.integers(0, 1500))
        got = split_by_size(sizes, over)
        assert sorted(itertools.chain(*got)) == list(range(6))  # a partition
        best = min(cost(p, sizes, over) for p in partitions(list(range(6))))
        assert cost(got, sizes, over) == best
    assert split_by_size([264] * 16) == [list(range(16))]  # same size: one batch
    assert split_by_size([100, 5000], 500) == [[0], [1]]  # padding 100 to 5000 costs more


def test_sweep_of_mixed_sizes_trains_in_size_batches_with_the_same_numbers(tmp_path, monkeypatch):
    # sizes 20 and 25 train together, 700 apart (split_by_size); each equals a lone run
    import grokinterp.training.ensemble as ens

    batches = []
    real = ens.train_ensemble

    def record(cfgs, dirs, **kw):
        batches.append(sorted(c.task.train_size for c in cfgs))
        return real(cfgs, dirs, **kw)

    monkeypatch.setattr(ens, "train_ensemble", record)
    # (10 steps: on 700 examples Adam turns float rounding in near-zero gradients into
    # differences above the tolerance by step 20; a member mix-up would differ at step 1)
    s = {
        "base": {"preset": "quick"},
        "overrides": {**TINY, "p": 31, "max_steps": 10},
        "runs": [{"train_size": 20}, {"train_size": 700}, {"train_size": 25}],
        "seeds": [0],
    }
    table = run_sweep(s, tmp_path / "sw", backend="ensemble", progress=False)
    assert list(table["status"]) == ["done"] * 3
    assert sorted(batches) == [[20, 25], [700]]
    for r in expand(s):
        alone = train(r.config, tmp_path / f"alone_{r.name}", progress=False)
        assert_runs_close(tmp_path / "sw" / "runs" / r.name, alone, rtol=1e-4)


def test_the_command_line_offers_every_backend():
    from grokinterp import cli
    from grokinterp.sweeps.backends import BACKENDS

    assert list(BACKENDS) == cli.BACKENDS


@pytest.mark.parametrize("backend", ["local", "ensemble"])
def test_raising_max_steps_extends_the_sweep(tmp_path, backend):
    # run 0 trains to the end of its budget; run 1's stopping rule (train loss below 10,
    # true at its first log) ends it early: only run 0 continues when the budget is raised
    short = spec(runs=[{"weight_decay": 1.0}, {"weight_decay": 0.3, "stop_loss": 10.0}])
    short["overrides"]["max_steps"] = 10
    sw = tmp_path / "sw"
    run_sweep(short, sw, backend=backend, workers=1, progress=False)
    names = [r.name for r in expand(short)]
    first_budget = layout.read_metrics(sw / "runs" / names[0])
    stopped_before = layout.read_metrics(sw / "runs" / names[1])
    assert stopped_before[-1]["step"] < 10
    longer = json.loads(json.dumps(short))
    longer["overrides"]["max_steps"] = 20
    table = run_sweep(longer, sw, backend=backend, workers=1, progress=False)
    assert list(table["status"]) == ["done", "done"]
    extended = layout.read_metrics(sw / "runs" / names[0])
    assert extended[-1]["step"] == 20
    # continued, not retrained: its rows before the old budget are the very rows written
    # then (wall_time included, which a second training would not reproduce; the row at the
    # old budget is logged again on resume)
    assert len(first_budget) > 2
    assert extended[: len(first_budget) - 1] == first_budget[:-1]
    assert layout.read_metrics(sw / "runs" / names[1]) == stopped_before
    # the extended run equals the same config trained to 20 steps in one go
    train(expand(longer)[0].config, tmp_path / "alone", progress=False)
    alone = layout.read_metrics(tmp_path / "alone")
    assert [r["step"] for r in extended] == [r["step"] for r in alone]
    np.testing.assert_allclose(
        [r["test_loss"] for r in extended], [r["test_loss"] for r in alone], rtol=1e-5
    )
    # a smaller budget, or any other change, is refused
    with pytest.raises(RunDirError, match="extended, not shortened"):
        run_sweep(short, sw, backend=backend, progress=False)
    other = json.loads(json.dumps(longer))
    other["overrides"]["lr"] = 1e-3
    # the refusal names the first field that differs
    with pytest.raises(RunDirError, match=r"different spec \(run .*optim\.lr: stored"):
        run_sweep(other, sw, backend=backend, progress=False)


def test_an_interrupted_extension_still_continues(tmp_path, monkeypatch):
    # the ensemble rewrites every member's config.json (the new budget) before it trains
    # any, and trains members by starting step: a sweep killed in between must not leave
    # the runs to extend reading as finished at the old budget
    short = spec(runs=[{"weight_decay": 1.0}])
    short["overrides"]["max_steps"] = 10
    sw = tmp_path / "sw"
    run_sweep(short, sw, backend="ensemble", progress=False)
    longer = json.loads(json.dumps(short))
    longer["overrides"]["max_steps"] = 20
    (run,) = expand(longer)

    def killed(sweep_dir, todo, *args, **kwargs):
        for r in todo:  # what the ensemble's begin() does first, then the kill
            (sweep_dir / "runs" / r.name / layout.CONFIG).write_text(r.config.to_json())
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "train_runs", killed)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(longer, sw, backend="ensemble", progress=False)
    monkeypatch.undo()
    table = run_sweep(longer, sw, backend="ensemble", progress=False)
    assert list(table["status"]) == ["done"]
    assert layout.read_metrics(sw / "runs" / run.name)[-1]["step"] == 20


@given(budget=st.integers(1, 8), workers=st.integers(1, 4))
@settings(max_examples=20, deadline=None)
def test_local_workers_share_the_callers_threads(budget, workers):
    """Each local worker gets an equal share of the caller's torch threads (``--threads``),
    at least one: a spawned worker would otherwise start with one thread per core."""
    seen: list[int] = []

    def capture(jobs, n):
        seen.extend(j[3] for j in jobs)
        return iter(())

    runs = expand(spec(seeds=[0, 1]))
    before = torch.get_num_threads()
    torch.set_num_threads(budget)
    try:
        with mock.patch.object(backends, "_run_local", capture):
            backends.train_runs(Path("unused"), runs, 2, "local", workers, False, "cpu",
                                ("", "grokinterp"), None)  # fmt: skip
    finally:
        torch.set_num_threads(before)
    assert seen == [max(1, budget // workers)] * 2


def test_added_runs_extend_a_sweep_and_a_removed_one_is_refused(tmp_path):
    """More seeds: the runs already there are reused as they are, the added one trained as
    it would be alone; a spec without one of the stored runs is refused."""
    one = spec(seeds=[0])
    sw = tmp_path / "sw"
    run_sweep(one, sw, backend="local", workers=1, progress=False)
    (name0,) = [d.name for d in (sw / "runs").iterdir()]
    before = (sw / "runs" / name0 / "metrics.jsonl").read_text()
    two = spec(seeds=[0, 1])
    table = run_sweep(two, sw, backend="local", workers=1, progress=False)
    assert len(table) == 2 and (table["status"] == "done").all()
    assert (sw / "runs" / name0 / "metrics.jsonl").read_text() == before
    (added,) = [r for r in expand(two) if r.name != name0]
    train(added.config, tmp_path / "alone", progress=False)
    a = layout.read_metrics(sw / "runs" / added.name)
    b = layout.read_metrics(tmp_path / "alone")
    assert [r["test_loss"] for r in a] == [r["test_loss"] for r in b]
    with pytest.raises(RunDirError, match=r"different spec \(runs removed: "):
        run_sweep(spec(seeds=[1]), sw, backend="local", progress=False)
