"""The critical-fraction experiment: each run beside the theory's prediction for its own
training set; RQI over a run's checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grokinterp.analysis.representation import ideal_accuracy, rqi_over_checkpoints
from grokinterp.errors import ConfigError
from grokinterp.experiments.effective_theory import Params, run
from grokinterp.runs import Run

SPEC = {
    "base": {"preset": "liu_toy"},
    "overrides": {
        "p": 6,
        "train_size": 8,
        "max_steps": 20,
        "log_every": 5,
        "ckpt_log_count": 0,
        "ckpt_every": 10,
    },
    "grid": {"train_size": [8, 16], "split_seed": [0, 1]},
}


def _spec_file(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.slow
def test_critical_fraction_end_to_end(tmp_path):
    params = Params(spec=_spec_file(tmp_path, SPEC), theory_splits=5)
    result = run(tmp_path / "cf", params, progress=False, static=False)
    summary = result.data
    assert set(result.tables) == {"runs", "fractions"} and "r_c = " in result.report
    runs = pd.read_csv(tmp_path / "cf" / "runs.csv")
    assert len(runs) == 4 and summary["runs"] == 4 and summary["p"] == 6
    assert {"r_c_theory", "r_c_measured", "r_c_linear"} <= set(summary)
    assert runs["final_acc"].between(0, 1).all() and {"linear", "at_ideal"} <= set(runs)
    fractions = pd.read_csv(tmp_path / "cf" / "fractions.csv")
    assert list(fractions["train_size"]) == [8, 16]
    assert json.loads((tmp_path / "cf" / "summary.json").read_text()) == summary
    # each run's prediction is the theory's for its own training set
    for _, r in runs.iterrows():
        ds = Run(tmp_path / "cf" / "sweep" / "runs" / r["name"]).dataset
        own = ideal_accuracy(6, ds.inputs[ds.train_mask, :2].numpy())
        assert r["ideal_test_acc"] == pytest.approx(own["test_acc"]) and r["dof"] == own["dof"]
    table = rqi_over_checkpoints(Run(tmp_path / "cf" / "sweep" / "runs" / runs["name"][0]))
    assert list(table["step"]) == [0, 10, 20] and table["rqi"].between(0, 1).all()
    assert (table["effective_loss"] >= 0).all()
    assert "test_acc" in table


def test_critical_fraction_needs_int_add(tmp_path):
    spec = {"base": {"preset": "quick"}, "grid": {"train_fraction": [0.3]}}
    with pytest.raises(ConfigError, match="int_add"):
        run(tmp_path / "x", Params(spec=_spec_file(tmp_path, spec)), progress=False, static=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "kwargs", [{"threshold": 2.0}, {"rqi_threshold": 0.0}, {"theory_splits": 0}]
)
def test_critical_fraction_refuses_bad_settings(kwargs):
    with pytest.raises(ConfigError, match=f"^{next(iter(kwargs))}"):
        Params(**kwargs)
