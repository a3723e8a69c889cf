"""The deep-grokking study (Fan et al. 2024): stage counting, the spec, a tiny study."""

from __future__ import annotations

import pandas as pd
import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments.deep_grokking import Params, count_stages, deep_spec, run
from grokinterp.sweeps.spec import expand


def _curve(points: list[tuple[int, float]], every: int = 25) -> tuple[list[int], list[float]]:
    """Piecewise-linear accuracy through ``points`` on a grid of ``every`` steps."""
    s = pd.Series({t: a for t, a in points}, dtype=float)
    steps = list(range(0, points[-1][0] + 1, every))
    acc = s.reindex(sorted(set(steps) | set(s.index))).interpolate().loc[steps]
    return steps, acc.tolist()


def test_count_stages_known_curves():
    flat = _curve([(0, 0.1), (5000, 0.1)])
    assert count_stages(*flat) == 0
    one = _curve([(0, 0.1), (2000, 0.1), (2300, 0.9), (5000, 0.9)])
    assert count_stages(*one) == 1
    two = _curve([(0, 0.1), (1000, 0.1), (1200, 0.6), (3000, 0.6), (3200, 0.95), (5000, 0.95)])
    assert count_stages(*two) == 2
    # from step 2000 on, only the second surge counts
    assert count_stages(*two, start=2000) == 1
    # the recovery from a dip (a loss spike) is no surge
    dip = _curve([(0, 0.8), (2000, 0.8), (2050, 0.3), (2100, 0.8), (5000, 0.8)])
    assert count_stages(*dip) == 0
    # a slow drift of 0.04 per 250 steps is no surge
    drift = _curve([(0, 0.5), (1000, 0.66)])
    assert count_stages(*drift) == 0


def test_spec_is_a_sweep_of_depths_and_checks_input():
    spec = deep_spec(Params(depths=(2, 5), seeds=(0, 3), steps=400, width=16))
    runs = expand(spec)
    assert sorted((r.config.model.n_layers, r.config.seed) for r in runs) == [
        (2, 0), (2, 3), (5, 0), (5, 3)
    ]  # fmt: skip
    cfg = runs[0].config
    assert cfg.task.name == "digits" and cfg.model.mlp_input == "features"
    assert cfg.optim.loss == "mse" and cfg.model.init_scale == 2.0
    with pytest.raises(ConfigError, match="depths"):
        Params(depths=(0,))
    with pytest.raises(ConfigError, match="steps"):
        Params(steps=10)


def test_bad_params_name_the_parameter():
    with pytest.raises(ConfigError, match="^width"):
        Params(width=0)
    with pytest.raises(ConfigError, match="^weight_decay"):
        Params(weight_decay=-1.0)


def test_tiny_study_writes_its_tables(tmp_path):
    result = run(
        tmp_path, Params(depths=(1, 2), seeds=(0,), steps=100, width=8), progress=False,
        static=False,
    )  # fmt: skip
    runs, ranks = result.data
    assert set(result.tables) == {"runs", "ranks", "traces"}
    assert sorted(runs["depth"]) == [1, 2]
    assert set(ranks["split"]) == {"train", "test"}
    assert (ranks["numerical_rank"] <= 8).all()
    per_run = ranks[(ranks["depth"] == 2) & (ranks["split"] == "train")]
    assert sorted(set(per_run["layer"])) == [0, 1]
    for name in ("runs.csv", "ranks.csv", "traces.csv", "report.txt", "figures/index.html"):
        assert (tmp_path / name).is_file(), name
    assert "depth  2 seed 0" in (tmp_path / "report.txt").read_text()
