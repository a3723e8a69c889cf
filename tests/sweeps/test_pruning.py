"""The engine's pruning callback: runs trained to N, the pruner's verdicts recorded, and
nothing asked twice; no paper's predictor involved."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pytest

from grokinterp.errors import ConfigError
from grokinterp.runs import layout
from grokinterp.sweeps import PRUNING, Pruner, SweepRun, Verdict
from grokinterp.sweeps.engine import run_sweep

N = 10
TINY = {"p": 11, "train_fraction": 0.5, "d_model": 32, "d_head": 8, "d_mlp": 64, "lr": 3e-3,
        "log_every": 5, "ckpt_log_count": 0, "ckpt_every": 10, "max_steps": 30}  # fmt: skip
SPEC = {"base": {"preset": "quick"}, "overrides": TINY, "grid": {"weight_decay": [0.3, 1.0]},
        "backend": "ensemble"}  # fmt: skip


def _stop_weight_decay_1(asked: list[dict[str, int]]) -> Pruner:
    def decide(run_dirs: Mapping[str, Path]) -> dict[str, Verdict]:
        asked.append({name: layout.read_metrics(d)[-1]["step"] for name, d in run_dirs.items()})
        return {name: Verdict(0.1 if "=1.0" in name else 0.9, "=1.0" in name) for name in run_dirs}

    return Pruner(after=N, decide=decide, settings={"rule": "wd"}, record={"seen": "nowhere"})


def test_a_pruner_stops_the_runs_it_gives_up_on_and_is_asked_once(tmp_path):
    asked: list[dict[str, int]] = []
    table = run_sweep(SPEC, tmp_path / "sw", progress=False, prune=_stop_weight_decay_1(asked))
    assert asked == [{"weight_decay=0.3,seed=0": N, "weight_decay=1.0,seed=0": N}]
    assert list(table["status"]) == ["done", "pruned"] and list(table["steps"]) == [30, N]
    assert list(table["p_grok"]) == [0.9, 0.1]
    assert "p_grok = 0.100" in table["error"].iloc[1]
    report = json.loads((tmp_path / "sw" / PRUNING).read_text())
    assert list(report) == ["N", "rule", "runs", "pruned", "compute_saved", "seen"]
    assert report["pruned"] == 1 and report["compute_saved"] == pytest.approx((30 - N) / 60)
    # a rerun decides nothing again and trains nothing further
    again = run_sweep(SPEC, tmp_path / "sw", progress=False, prune=_stop_weight_decay_1(asked))
    assert len(asked) == 1
    pd.testing.assert_frame_equal(again, table)


def test_a_pruner_refuses_a_sweep_before_anything_is_written(tmp_path):
    def check(runs: Sequence[SweepRun]) -> None:
        raise ConfigError(f"cannot judge {len(runs)} runs")

    pruner = Pruner(after=N, decide=lambda dirs: {}, check=check)
    with pytest.raises(ConfigError, match="cannot judge 2 runs"):
        run_sweep(SPEC, tmp_path / "sw", progress=False, prune=pruner)
    assert not (tmp_path / "sw").exists()


@pytest.mark.parametrize(
    "damage",
    ['{"runs": [1, 2]}', '["runs"]', '{"runs": {"a": {"p_grok": "high", "pruned": true}}}',
     '{"runs": {"a": {"p_grok": 0.5, "pruned": "yes"}}}', "not json"],
)  # fmt: skip
def test_a_pruning_record_of_another_shape_is_one_line(tmp_path, damage):
    from grokinterp.errors import RunDirError

    asked: list[dict[str, int]] = []
    run_sweep(SPEC, tmp_path / "sw", progress=False, prune=_stop_weight_decay_1(asked))
    (tmp_path / "sw" / PRUNING).write_text(damage)
    with pytest.raises(RunDirError, match="not a pruning record"):
        run_sweep(SPEC, tmp_path / "sw", progress=False, prune=_stop_weight_decay_1(asked))


def test_a_measures_table_with_words_in_it_is_one_line(tmp_path):
    from grokinterp.analysis.table import MEASURES, measure_run
    from grokinterp.errors import RunDirError

    run = tmp_path / "sw" / "runs" / "weight_decay=0.3,seed=0"
    run_sweep({**SPEC, "grid": {"weight_decay": [0.3]}}, tmp_path / "sw", progress=False)
    measure_run(run, progress=False)
    table = pd.read_csv(run / "analysis" / MEASURES)
    table["gini_embed"] = table["gini_embed"].astype(object)
    table.loc[0, "gini_embed"] = "high"
    (run / "analysis" / MEASURES).write_text(table.to_csv(index=False))
    with pytest.raises(RunDirError, match="not numbers"):
        measure_run(run, progress=False)
