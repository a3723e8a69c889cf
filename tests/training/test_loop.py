import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import assert_resume_extends_exactly, assert_same_run, tiny_config

from grokinterp.config import ScheduleConfig, replace
from grokinterp.errors import RunDirError
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.training import checkpoint_steps, lr_at, train


def test_checkpoint_schedule_is_log_then_uniform():
    steps = checkpoint_steps(
        ScheduleConfig(ckpt_log_until=1000, ckpt_log_count=30, ckpt_every=500), 3000
    )
    assert steps[:4] == [0, 1, 2, 3]
    assert {1000, 1500, 2000, 2500, 3000} <= set(steps)
    early = [s for s in steps if s <= 100]
    late = [s for s in steps if 1000 < s]
    assert len(early) > 10 and len(late) == 4


def test_warmup_is_linear_then_constant():
    cfg = tiny_config()
    lrs = [lr_at(cfg, t) for t in range(12)]
    assert lrs[0] == pytest.approx(cfg.optim.lr / 10) and lrs[9] == lrs[11] == cfg.optim.lr


def test_run_directory_contents(tmp_path, tiny):
    d = train(tiny, tmp_path / "r", progress=False)
    assert (d / "config.json").exists() and (d / layout.STATE).exists()
    rows = layout.read_metrics(d)
    assert [r["step"] for r in rows][:3] == [0, 1, 2] or rows[0]["step"] == 0
    assert rows[-1]["step"] == tiny.optim.max_steps
    row = rows[-1]
    assert set(row) == {
        "step",
        "train_loss",
        "train_acc",
        "test_loss",
        "test_acc",
        "param_norm",
        "param_norms",
        "lr",
        "wall_time",
        "softmax_collapse",
        "train_loss32",
    }
    assert 0 <= row["softmax_collapse"] <= 1
    assert row["train_loss32"] == pytest.approx(row["train_loss"], rel=1e-4)  # no collapse here
    assert row["param_norm"] == pytest.approx(sum(v**2 for v in row["param_norms"].values()) ** 0.5)
    params, meta = load_tensors(layout.checkpoint_path(d, tiny.optim.max_steps))
    assert meta["step"] == str(tiny.optim.max_steps)
    assert row["param_norms"]["embed.W_E"] == pytest.approx(float(params["embed.W_E"].norm()))
    assert layout.checkpoint_steps_on_disk(d) == checkpoint_steps(tiny.schedule, 40)
    assert rows[0]["train_loss"] > rows[-1]["train_loss"]


def test_training_is_deterministic(tmp_path, tiny):
    train(tiny, tmp_path / "a", progress=False)
    train(tiny, tmp_path / "b", progress=False)
    assert_same_run(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("batch_size", [None, 7])
def test_extending_a_finished_run_equals_training_it_longer(tmp_path, batch_size):
    assert_resume_extends_exactly(tiny_config(max_steps=20, batch_size=batch_size), 40, tmp_path)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_numbers(tmp_path):
    cfg = replace(tiny_config(max_steps=600), {"schedule": {"ckpt_every": 20, "log_every": 5}})
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(cfg.to_json())
    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grokinterp.cli",
            "train",
            "--config",
            str(cfg_file),
            "--out",
            str(killed),
            "--no-progress",
        ],
        env=env,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        rows = layout.read_metrics(killed) if (killed / layout.METRICS).exists() else []
        if rows and rows[-1]["step"] >= 150:
            break
        assert proc.poll() is None, "the run finished before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    last = layout.read_metrics(killed)[-1]["step"]
    assert 150 <= last < 600, "the kill must land mid-run"

    from grokinterp.cli import main

    assert (
        main(
            ["train", "--config", str(cfg_file), "--out", str(killed), "--resume", "--no-progress"]
        )
        == 0
    )
    train(cfg, tmp_path / "straight", progress=False)
    assert_same_run(killed, tmp_path / "straight")


def test_resume_refuses_a_different_config(tmp_path, tiny):
    d = train(tiny, tmp_path / "r", progress=False)
    before = (d / "config.json").read_text()
    other = replace(tiny, {"optim": {"lr": 0.1}})
    with pytest.raises(RunDirError, match="optim.lr: stored 0.003, given 0.1"):
        train(other, d, resume=True, progress=False)
    with pytest.raises(RunDirError, match="different config"):
        train(other, d, progress=False)
    assert (d / "config.json").read_text() == before


def test_force_starts_over(tmp_path, tiny):
    d = train(tiny, tmp_path / "r", progress=False)
    (d / "stray.txt").write_text("x")
    train(replace(tiny, {"optim": {"max_steps": 10}}), d, force=True, progress=False)
    assert not (d / "stray.txt").exists()
    assert layout.read_metrics(d)[-1]["step"] == 10


def test_refuses_a_non_empty_folder_that_is_not_a_run(tmp_path, tiny):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(RunDirError, match="not empty"):
        train(tiny, tmp_path, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_stop_after_test_accuracy_threshold(tmp_path, tiny):
    cfg = replace(tiny, {"optim": {"max_steps": 2000, "stop_acc": 0.02, "stop_patience": 7}})
    d = train(cfg, tmp_path / "r", progress=False)
    rows = layout.read_metrics(d)
    first = next(r["step"] for r in rows if r["test_acc"] >= 0.02)
    assert rows[-1]["step"] == first + 7
    assert layout.checkpoint_steps_on_disk(d)[-1] == first + 7


def test_partial_metrics_line_is_ignored(tmp_path, tiny):
    d = train(tiny, tmp_path / "r", progress=False)
    n = len(layout.read_metrics(d))
    with open(d / layout.METRICS, "a") as f:
        f.write('{"step": 41, "train_lo')
    assert len(layout.read_metrics(d)) == n
    lines = (d / layout.METRICS).read_text().splitlines()
    (d / layout.METRICS).write_text("\n".join(lines[:2] + ["garbage"] + lines[2:]) + "\n")
    with pytest.raises(RunDirError, match="line 3"):
        layout.read_metrics(d)
    json.loads(lines[0])


def test_resume_refuses_a_run_without_state_instead_of_restarting(tmp_path, tiny):
    d = train(tiny, tmp_path / "r", progress=False)
    import shutil

    shutil.rmtree(d / "state")
    before = (d / layout.METRICS).read_text()
    with pytest.raises(RunDirError, match="no state/latest.safetensors to resume from"):
        train(tiny, d, resume=True, progress=False)
    assert (d / layout.METRICS).read_text() == before


def test_stop_at_a_training_loss_target(tmp_path, tiny):
    cfg = replace(tiny, {"optim": {"max_steps": 2000, "stop_loss": 1.0, "stop_patience": 0}})
    d = train(cfg, tmp_path / "r", progress=False)
    rows = layout.read_metrics(d)
    assert rows[-1]["train_loss"] <= 1.0 < rows[-2]["train_loss"]
    assert rows[-1]["step"] < 2000


def test_init_from_a_checkpoint_on_a_nested_subset(tmp_path, tiny):
    """Ungrokking's first step: continue a run's weights on a smaller nested training set."""
    first = train(tiny, tmp_path / "first", progress=False)
    ckpt = layout.checkpoint_path(first, 40)
    smaller = replace(
        tiny, {"task": {"train_fraction": None, "train_size": 20}, "": {"init_from": str(ckpt)}}
    )
    d = train(smaller, tmp_path / "second", progress=False)
    start, _ = load_tensors(layout.checkpoint_path(d, 0))
    end, _ = load_tensors(ckpt)
    assert all(torch.equal(start[k], end[k]) for k in end)
    rows = layout.read_metrics(d)
    assert rows[0]["train_loss"] != layout.read_metrics(first)[0]["train_loss"]
    from grokinterp.runs import Run

    assert Run(d).config.init_from == str(ckpt)
    wrong = replace(smaller, {"model": {"d_mlp": 32}})
    with pytest.raises(RunDirError, match="another shape"):
        train(wrong, tmp_path / "third", progress=False)
