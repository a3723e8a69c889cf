"""Metrics to TensorBoard and W&B, from training, the ensemble and `grokinterp export`."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import tiny_config

from grokinterp.config import replace
from grokinterp.runs import layout
from grokinterp.runs.sinks import scalars
from grokinterp.training import train, train_ensemble

ROOT = Path(__file__).resolve().parents[2]


# the logging extra; without it these tests are skipped before they train (training with
# log_to=["tensorboard"] refuses a missing TensorBoard in one line)
needs_tensorboard = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None,
    reason="the logging extra (TensorBoard) is not installed: pip install -e .[logging]",
)


def _tensorboard(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_scalars_flatten_a_metrics_line():
    row = {
        "step": 5,
        "train_loss": 0.5,
        "test_acc": 1,
        "param_norms": {"embed.W_E": 2.0},
        "note": "x",
        "bad": float("nan"),
        "flag": True,
    }
    assert scalars(row) == {"train_loss": 0.5, "test_acc": 1.0, "param_norm/embed.W_E": 2.0}
    assert scalars({"step": 1, "gen_share": 0.9}, "measures/") == {"measures/gen_share": 0.9}


@needs_tensorboard
def test_training_logs_every_metrics_line_to_tensorboard(tmp_path):
    run = train(tiny_config(max_steps=20), tmp_path / "r", progress=False, log_to=["tensorboard"])
    logged = _tensorboard(run)
    rows = layout.read_metrics(run)
    assert [s for s, _ in logged["train_loss"]] == [r["step"] for r in rows]
    assert [v for _, v in logged["train_loss"]] == pytest.approx(
        [r["train_loss"] for r in rows], rel=1e-6
    )
    assert "param_norm/embed.W_E" in logged and "softmax_collapse" in logged


@needs_tensorboard
def test_each_ensemble_member_logs_as_a_run_of_its_own(tmp_path):
    cfgs = [tiny_config(max_steps=20), replace(tiny_config(max_steps=20), {"": {"seed": 1}})]
    dirs = train_ensemble(
        cfgs, [tmp_path / "a", tmp_path / "b"], progress=False, log_to=["tensorboard"]
    )
    for d in dirs:
        rows = layout.read_metrics(d)
        assert [v for _, v in _tensorboard(d)["param_norm"]] == pytest.approx(
            [r["param_norm"] for r in rows], rel=1e-6
        )


def test_wandb_gets_the_config_and_every_line(tmp_path, monkeypatch):
    calls: dict[str, list] = {"init": [], "log": [], "finish": []}

    class FakeRun:
        def log(self, data, step):
            calls["log"].append((step, data))

        def finish(self):
            calls["finish"].append(True)

    def init(**kwargs):
        calls["init"].append(kwargs)
        return FakeRun()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    monkeypatch.setenv("WANDB_API_KEY", "not-a-real-key")  # W&B's own check would pass
    cfg = tiny_config(max_steps=20)
    run = train(cfg, tmp_path / "r", progress=False, log_to=["wandb"], wandb_project="proj")
    (kwargs,) = calls["init"]
    assert (kwargs["project"], kwargs["name"]) == ("proj", "r")
    assert kwargs["config"] == cfg.to_dict()
    rows = layout.read_metrics(run)
    assert [s for s, _ in calls["log"]] == [r["step"] for r in rows]
    assert calls["log"][-1][1]["train_loss"] == rows[-1]["train_loss"]
    assert calls["finish"] == [True]


def test_wandb_offline_run_is_written(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = train(tiny_config(max_steps=10), tmp_path / "r", progress=False, log_to=["wandb"])
    (offline,) = (run / "wandb").glob("offline-run-*/run-*.wandb")
    assert offline.stat().st_size > 0


@needs_tensorboard
def test_export_writes_metrics_and_measures(tmp_path):
    run = tmp_path / "quick"
    shutil.copytree(ROOT / "checkpoints" / "quick", run)
    done = subprocess.run(
        [sys.executable, "-m", "grokinterp", "export", str(run), "--to", "tensorboard"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    logged = _tensorboard(run)
    n_checkpoints = len(layout.checkpoint_steps_on_disk(run))
    assert len(logged["measures/restricted_loss"]) == n_checkpoints
    assert len(logged["test_acc"]) == len(layout.read_metrics(run))
    bad = subprocess.run(
        [sys.executable, "-m", "grokinterp", "export", str(run), "--to", "mlflow"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", [None, "nonsense"])
def test_wandb_without_credentials_or_with_a_bad_mode_is_refused_before_writing(
    tmp_path, monkeypatch, mode
):
    """Issue 33: W&B used to prompt for a key or raise after config.json was written."""
    from grokinterp.errors import ConfigError

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace())
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    if mode is None:
        monkeypatch.delenv("WANDB_MODE", raising=False)
    else:
        monkeypatch.setenv("WANDB_MODE", mode)
    with pytest.raises(ConfigError, match="wandb"):
        train(tiny_config(max_steps=5), tmp_path / "r", progress=False, log_to=["wandb"])
    assert not (tmp_path / "r").exists()
