"""Phase diagrams: a synthetic table colors the right cells; cells take the majority phase;
the command runs a tiny 2D sweep end to end and refuses specs it cannot draw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.cli import main
from grokinterp.errors import ConfigError
from grokinterp.experiments import phases as phases_module
from grokinterp.experiments.phases import (
    Params,
    axes_of,
    continue_unfitted,
    phase_cells,
    representation_timing,
    run,
)
from grokinterp.runs import layout
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.viz.phases import PHASE_COLORS, PHASES, phase_diagram


def _color_of(fig, value: float) -> str:
    """The color the phase panel's stepped colorscale gives a cell value."""
    trace = fig.data[0]
    lo, hi = trace.zmin, trace.zmax
    t = (value - lo) / (hi - lo)
    scale = trace.colorscale
    for (a, color), (b, _) in zip(scale[::2], scale[1::2], strict=True):
        if a <= t <= b:
            return color
    raise AssertionError(value)


def test_synthetic_table_colors_the_right_cells():
    # rows: weight decay; columns: lr; a known phase per cell
    truth = {
        (1e-4, 0.0): "memorization",
        (1e-3, 0.0): "grokking",
        (1e-4, 5.0): "comprehension",
        (1e-3, 5.0): "confusion",
        (1e-2, 0.0): "confusion",
        (1e-2, 5.0): "grokking",
    }
    cells = pd.DataFrame(
        [
            {"lr": lr, "weight_decay": wd, "phase": ph, "delay": 100.0 * i}
            for i, ((lr, wd), ph) in enumerate(truth.items())
        ]
    )
    fig = phase_diagram(cells.sample(frac=1, random_state=0), "lr", "weight_decay")
    heat = fig.data[0]
    assert list(heat.x) == ["0.0001", "0.001", "0.01"] and list(heat.y) == ["0", "5"]
    for (lr, wd), phase in truth.items():
        z = np.asarray(heat.z)[[0.0, 5.0].index(wd), [1e-4, 1e-3, 1e-2].index(lr)]
        assert PHASES[int(z)] == phase
        assert _color_of(fig, z) == PHASE_COLORS[phase]
        assert (
            np.asarray(heat.text)[[0.0, 5.0].index(wd), [1e-4, 1e-3, 1e-2].index(lr)] == (phase[:4])
        )
    delay = np.asarray(fig.data[1].z, dtype=float)
    assert delay[1, 2] == 500.0  # (1e-2, 5.0) is the sixth row: delay 500


def test_cells_take_the_majority_phase_and_median_delay():
    runs = pd.DataFrame(
        {
            "a": [1, 1, 1, 2, 2],
            "b": [0, 0, 0, 0, 0],
            "phase": ["grokking", "grokking", "memorization", "confusion", "comprehension"],
            "delay": [2000.0, 4000.0, np.nan, np.nan, 10.0],
        }
    )
    cells = phase_cells(runs, "a", "b").set_index("a")
    assert cells.loc[1, "phase"] == "grokking" and cells.loc[1, "delay"] == 3000.0
    assert cells.loc[1, "n_memorization"] == 1
    # a tie goes to the phase listed first (comprehension before confusion)
    assert cells.loc[2, "phase"] == "comprehension"


def test_axes_need_two_grid_fields():
    assert axes_of({"grid": {"lr": [1], "weight_decay": [0]}}, None, None) == (
        "lr",
        "weight_decay",
    )
    with pytest.raises(ConfigError, match="two fields"):
        axes_of({"grid": {"lr": [1]}}, None, None)
    with pytest.raises(ConfigError, match="^x: 'seed' is not a field"):
        axes_of({"grid": {"lr": [1], "weight_decay": [0]}}, "seed", "lr")


SPEC = {
    "base": {"preset": "liu_toy"},
    "overrides": {"max_steps": 30, "log_every": 5, "ckpt_log_count": 0, "ckpt_every": 30},
    "grid": {"lr": [1e-3, 1e-2], "weight_decay": [0.0, 5.0]},
}


def _spec_file(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.slow
def test_phase_diagram_end_to_end(tmp_path):
    params = Params(spec=_spec_file(tmp_path, SPEC), window=10)
    result = run(tmp_path / "pd", params, progress=False, static=False)
    cells = result.data
    assert len(cells) == 4 and set(cells["phase"]) <= set(PHASES)
    assert set(result.tables) == {"runs", "phases", "rqi"} and "4 cells" in result.report
    runs = pd.read_csv(tmp_path / "pd" / "runs.csv")
    assert len(runs) == 4 and {"phase", "train_step", "test_step", "delay"} <= set(runs)
    assert runs["final_rqi"].between(0, 1).all() and cells["final_rqi"].between(0, 1).all()
    assert {"rqi_step", "rqi_at_train"} <= set(runs)
    assert (tmp_path / "pd" / "figures" / "phase_diagram.html").exists()
    # a second call resumes: nothing to train, same table
    again = run(tmp_path / "pd", params, progress=False, static=False).data
    pd.testing.assert_frame_equal(cells, again)


def test_runs_the_stopping_rule_ended_before_fitting_go_on_to_max_steps(tmp_path):
    # test accuracy 30% is reached long before train accuracy 99%: the rule ends the run,
    # and the phase needs the step where train accuracy gets there, so it is continued
    spec = {
        "base": {"preset": "liu_toy"},
        "overrides": {"max_steps": 200, "log_every": 10, "ckpt_log_count": 0,
                      "ckpt_every": 50, "stop_acc": 0.3, "stop_patience": 0},
        "grid": {"lr": [1e-3], "weight_decay": [0.0]},
    }  # fmt: skip
    runs = expand(spec)
    sweep = tmp_path / "sweep"
    run_sweep(spec, sweep, backend="ensemble", progress=False)
    metrics = layout.read_metrics(sweep / "runs" / runs[0].name)
    assert metrics[-1]["step"] < 200 and max(m["train_acc"] for m in metrics) < 0.99
    # a threshold train accuracy has reached: nothing to continue
    assert continue_unfitted(runs, sweep, threshold=0.05, progress=False) == []
    assert continue_unfitted(runs, sweep, threshold=0.99, progress=False) == [runs[0].name]
    assert layout.read_metrics(sweep / "runs" / runs[0].name)[-1]["step"] == 200
    assert continue_unfitted(runs, sweep, threshold=0.99, progress=False) == []  # done


def test_params_name_the_bad_parameter():
    with pytest.raises(ConfigError, match="^threshold must be in"):
        Params(threshold=0.0)
    with pytest.raises(ConfigError, match="^window must be at least 0"):
        Params(window=-1)
    with pytest.raises(ConfigError, match="^x and y: both are 'lr'"):
        Params(x="lr", y="lr")


def test_a_one_field_grid_is_refused_before_disk(tmp_path):
    spec = tmp_path / "one.yaml"
    spec.write_text("base: {preset: liu_toy}\ngrid:\n  lr: [0.001]\n")
    with pytest.raises(ConfigError, match="two fields") as e:
        run(tmp_path / "o", Params(spec=spec), progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "o").exists()


def test_cli_refuses_a_one_field_grid(tmp_path, capsys):
    spec = tmp_path / "one.yaml"
    spec.write_text("base: {preset: liu_toy}\ngrid:\n  lr: [0.001]\n")
    assert main(["phases", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two fields" in err
    assert not (tmp_path / "o").exists()


@settings(max_examples=60, deadline=None)
@given(
    rqis=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12),
    train_step=st.integers(0, 1200),
    phase=st.sampled_from(PHASES),
    threshold=st.floats(0.05, 1.0),
)
def test_representation_timing_reads_the_checkpoint_curve(rqis, train_step, phase, threshold):
    # a synthetic RQI curve at checkpoints 0, 100, 200, ...: rqi_step is the first checkpoint
    # at or above the threshold, rqi_at_train the last one at or before train_step; only the
    # generalizing phases are timed, and only grokking runs keep their series
    steps = [100 * i for i in range(len(rqis))]
    curve = pd.DataFrame({"step": steps, "rqi": rqis, "train_acc": 0.5, "test_acc": 0.5})
    runs = pd.DataFrame([{"name": "r", "phase": phase, "train_step": float(train_step)}])
    original = phases_module.rqi_over_checkpoints
    phases_module.rqi_over_checkpoints = lambda run: curve  # type: ignore[assignment]
    original_run = phases_module.Run
    phases_module.Run = lambda d: d  # type: ignore[assignment,misc]
    try:
        out, late = representation_timing(runs, [Path("unused")], threshold)
    finally:
        phases_module.rqi_over_checkpoints = original
        phases_module.Run = original_run
    row = out.iloc[0]
    if phase not in ("comprehension", "grokking"):
        assert np.isnan(row["rqi_step"]) and np.isnan(row["rqi_at_train"]) and late.empty
        return
    above = [s for s, v in zip(steps, rqis, strict=True) if v >= threshold]
    assert (np.isnan(row["rqi_step"]) and not above) or row["rqi_step"] == above[0]
    before = [v for s, v in zip(steps, rqis, strict=True) if s <= train_step]
    assert row["rqi_at_train"] == before[-1]
    assert len(late) == (len(steps) if phase == "grokking" else 0)
    if phase == "grokking":
        assert list(late["name"].unique()) == ["r"] and list(late["rqi"]) == rqis
