"""The interventions study: arms, milestones, tables and report."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import tiny_config

from grokinterp.analysis.milestones import first_step, milestones
from grokinterp.errors import ConfigError
from grokinterp.experiments.interventions import ARMS, Params, run, study_spec


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


def test_bad_params_name_the_parameter(tmp_path):
    with pytest.raises(ConfigError, match="^arms"):
        Params(arms=("magic",))
    with pytest.raises(ConfigError, match="^preset"):
        Params(preset="no_such_preset")
    with pytest.raises(ConfigError, match="^config: .*not both"):
        Params(preset="nanda", config=tmp_path / "c.json")
    with pytest.raises(ConfigError, match="^max_steps"):
        Params(max_steps=0)
    with pytest.raises(ConfigError, match="^device"):
        Params(device="toaster")
    assert Params(config=tmp_path / "c.json").base == {"config": str(tmp_path / "c.json")}
    assert Params().base == {"preset": "quick"}


def test_study_end_to_end(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(tiny_config(max_steps=30).to_json())
    params = Params(config=cfg, arms=("baseline", "grokfast_ema"), max_steps=30, patience=5)
    result = run(tmp_path / "out", params, progress=False, static=False)
    assert set(result.tables) == {"summary", "metrics", "measures"}
    study = result.data
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
