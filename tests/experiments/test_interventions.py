"""The interventions study: arms, milestones, tables and report."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import tiny_config

from grokinterp.analysis.milestones import first_step, milestones
from grokinterp.errors import ConfigError
from grokinterp.experiments.interventions import ARMS, run_study, study_spec


def test_first_step_and_milestones_on_a_known_table():
    metrics = pd.DataFrame(
        {
            "step": [0, 10, 20, 30],
            "train_acc": [0.1, 0.995, 1.0, 1.0],
            "test_acc": [0.0, 0.2, 0.99, 1.0],
            "softmax_collapse": [0.0, 0.1, 0.6, 0.9],
        }
    )
    measures = pd.DataFrame(
        {"step": [0, 20, 30], "restricted_loss": [4.0, 0.9, 0.1], "gen_share": [0.1, 0.6, 0.97]}
    )
    m = milestones(metrics, measures)
    assert (m["train_99_step"], m["test_99_step"]) == (10, 20)
    assert m["restricted_below_1_step"] == 20
    assert (m["gen_share_50_step"], m["gen_share_95_step"]) == (20, 30)
    assert m["collapse_50_step"] == 20 and m["max_softmax_collapse"] == 0.9
    assert first_step(measures, "gen_share", 0.99) is None
    assert first_step(measures, "no_such_column", 1.0) is None


def test_spec_has_one_run_per_arm_and_rejects_unknown_arms():
    spec = study_spec({"preset": "quick"}, ["baseline", "stablemax_wd0"], 500, 50)
    assert spec["runs"] == [ARMS["baseline"], ARMS["stablemax_wd0"]]
    assert spec["overrides"] == {"max_steps": 500, "stop_acc": 0.99, "stop_patience": 50}
    with pytest.raises(ConfigError, match="arms"):
        study_spec({"preset": "quick"}, ["magic"], 500, 50)


def test_study_end_to_end(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(tiny_config(max_steps=30).to_json())
    study = run_study(
        {"config": str(cfg)},
        tmp_path / "out",
        arms=["baseline", "grokfast_ema"],
        max_steps=30,
        patience=5,
        progress=False,
        static=False,
    )
    assert list(study.summary["arm"]) == ["baseline", "grokfast_ema"]
    assert set(study.metrics["arm"]) == {"baseline", "grokfast_ema"}
    for name in (
        "summary.csv",
        "metrics.csv",
        "measures.csv",
        "report.txt",
        "figures/index.html",
        "figures/training_curves.html",
    ):
        assert (tmp_path / "out" / name).exists(), name
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "grokfast_ema" in report and "restricted loss < 1" in report
    # the two arms differ only in the filter, so their runs differ
    a, b = (
        study.metrics[study.metrics["arm"] == x]["param_norm"].iloc[-1]
        for x in ("baseline", "grokfast_ema")
    )
    assert a != b
