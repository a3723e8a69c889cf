"""grokinterp compare: runs and sweeps overlaid, filtered by config fields."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from helpers import _chromium_dom, _js_errors, needs_chromium, tiny_config

from grokinterp.config import replace
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.sweeps.compare import compare, select
from grokinterp.sweeps.engine import run_sweep
from grokinterp.training import train


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    cfg = root / "tiny.json"
    cfg.write_text(tiny_config(max_steps=30).to_json())
    spec = {"base": {"config": str(cfg)}, "grid": {"weight_decay": [0.5, 2.0]}, "seeds": [0, 1]}
    run_sweep(spec, root / "sweep", backend="ensemble", progress=False)
    return root / "sweep"


def test_select_labels_runs_by_the_fields_that_differ(sweep_dir):
    runs = sorted((sweep_dir / "runs").iterdir())
    table = select(runs, [])
    assert set(table.columns) == {"run", "path", "weight_decay", "seed"}
    assert "weight_decay=0.5,seed=0" in set(table["run"])
    only = select(runs, ["weight-decay=2", "seed=1"])  # flag spelling, numbers by value
    assert len(only) == 1 and only["path"].iloc[0].endswith("weight_decay=2.0,seed=1")
    with pytest.raises(ConfigError, match="no run matches"):
        select(runs, ["weight_decay=7"])
    with pytest.raises(ConfigError, match="no config field"):
        select(runs, ["wieght_decay=1"])
    with pytest.raises(ConfigError, match="FIELD=VALUE"):
        select(runs, ["seed"])


def test_compare_a_sweep_and_a_run_from_python(sweep_dir, tmp_path):
    extra = train(
        replace(tiny_config(max_steps=30), {"optim": {"grokfast": "ema"}}),
        tmp_path / "ema",
        progress=False,
    )
    result = compare(
        [sweep_dir, extra], tmp_path / "out", where=["seed=0"], progress=False, static=False
    )
    # the sweep's two seed-0 runs and the Grokfast run, labelled by what differs among them
    assert len(result.runs) == 3 and set(result.measures["run"]) == set(result.runs["run"])
    assert {"weight_decay", "grokfast"} <= set(result.runs.columns)
    table = pd.read_csv(tmp_path / "out" / "measures.csv")
    assert {"run", "step", "test_loss", "restricted_loss", "gen_share"} <= set(table.columns)
    assert (tmp_path / "out" / "figures" / "every_measure.html").exists()
    with pytest.raises(RunDirError, match="neither a run directory"):
        compare([tmp_path], tmp_path / "bad", progress=False)


@pytest.mark.slow
@needs_chromium
def test_compare_command_writes_a_report_that_renders(sweep_dir, tmp_path):
    out = tmp_path / "cmp"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grokinterp",
            "compare",
            str(sweep_dir),
            "--out",
            str(out),
            "--where",
            "weight_decay=0.5",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "2 runs compared" in done.stdout
    errors = _js_errors(_chromium_dom((out / "figures" / "index.html").as_uri(), tmp_path))
    assert errors == ""
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "grokinterp",
            "compare",
            str(sweep_dir),
            "--out",
            str(out),
            "--where",
            "nonsense=1",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
