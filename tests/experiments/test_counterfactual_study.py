"""The counterfactual study (Samothrakis et al. 2022): parameters, the per-run summary on
known curves, the arms' configurations, and a smoke run read by its card."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments import counterfactual as cf
from grokinterp.experiments.cards import read_card
from grokinterp.experiments.contract import params_from
from grokinterp.presets import get_preset
from grokinterp.sweeps.spec import expand


def test_bad_parameters_are_one_line_errors():
    bad_values = ({"arms": ("none", "none")}, {"arms": ("sgd",)}, {"realizations": ()},
                  {"realizations": (0, 0)}, {"n_units": 5},
                  {"log_every": 10, "steps": 5})  # fmt: skip
    for bad in bad_values:
        with pytest.raises(ConfigError):
            cf.Params(**bad)


def test_each_arm_trains_the_preset_with_its_regularizer():
    params = cf.Params(realizations=(0, 3))
    preset = get_preset("counterfactual")
    for arm, (optimizer, wd) in cf.ARMS.items():
        cfgs = [r.config for r in expand(cf.arm_spec(arm, params))]
        assert [c.task.data_seed for c in cfgs] == [0, 3]
        for c in cfgs:
            assert (c.optim.optimizer, c.optim.weight_decay) == (optimizer, wd)
            assert c.model == preset.model and c.optim.loss == "factual_mse"
            assert c.optim.max_steps == params.steps and c.task.n_samples == 747


def curve(train, pehe):
    steps = [0, 100, 200, 300, 400, 500]
    return pd.DataFrame({"step": steps, "train_loss": train, "pehe_out": pehe,
                         "pehe_in": pehe, "ate_error_out": 0.1})  # fmt: skip


def test_run_row_reads_the_fit_and_the_late_gain():
    # fits (train <= 1) at 200 with PEHE 4; bump to 5 at 300; best 2 at 500
    m = curve([50, 3, 0.9, 0.1, 0.01, 0.01], [9, 5, 4, 5, 3, 2])
    row = cf.run_row("l2", 0, m, zero_in=10.0, zero_out=8.0)
    assert row["fit_step"] == 200 and row["pehe_at_fit"] == 4
    assert row["min_pehe_after_fit"] == 2 and row["min_after_fit_step"] == 500
    assert row["late_gain"] == pytest.approx(0.5) and row["delay"] == 300
    assert row["peak_after_fit"] == 5 and row["best_step"] == 500
    assert row["second_descent"] == pytest.approx(0.6)
    assert row["delay_ratio"] == pytest.approx(2.5)
    assert row["best_rel_pehe_out"] == pytest.approx(0.25)
    # best before the fit: a negative delay and no late gain
    early = cf.run_row("none", 0, curve([50, 3, 0.9, 0.1, 0.01, 0], [9, 2, 4, 5, 6, 6]), 1, 1)
    assert early["delay"] == -100 and early["late_gain"] == 0.0
    assert early["second_descent"] == 0.0  # rising after the fit: no second descent
    # a first descent that continues past the fit is a late gain, not a second descent
    on = cf.run_row("l2", 0, curve([50, 3, 0.9, 0.1, 0.01, 0], [9, 5, 4, 3, 3.5, 3.6]), 1, 1)
    assert on["late_gain"] == pytest.approx(0.25) and on["second_descent"] == 0.0
    # never below the noise variance: nothing to read after a fit
    never = cf.run_row("adamw", 0, curve([50, 9, 5, 3, 2, 1.5], [9, 5, 4, 3, 2, 1]), 1, 1)
    assert math.isnan(never["fit_step"]) and math.isnan(never["late_gain"])


def test_zero_pehe_is_the_root_mean_square_effect():
    pot = np.array([[0.0, 1.0], [1.0, 4.0], [2.0, 2.0]])
    assert cf.zero_pehe(pot, np.array([True, True, False])) == pytest.approx(math.sqrt(5))


def test_smoke_run_is_read_by_the_card(tmp_path):
    params = params_from(cf.Params, dict(cf.STUDY.smoke), "counterfactual")
    result = cf.run(tmp_path, params, progress=False, static=False)
    runs = result.data
    assert list(runs["arm"]) == list(params.arms)
    for name in ("runs", "arms", "metrics"):
        assert name in result.tables
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert {"pehe_in", "pehe_out", "ate_error_in", "ate_error_out", "rel_pehe_out"} <= set(metrics)
    assert (metrics["pehe_out"] > 0).all()
    (card,) = cf.STUDY.cards
    reading = read_card(card, tmp_path)  # the smoke runs never fit: nothing to read
    assert list(reading.values) == [None, None, None]
    # on runs that fit, the card reads the l2 arm's medians
    fitted = runs.assign(second_descent=0.1, late_gain=0.2, delay_ratio=3.0)
    fitted.to_csv(tmp_path / "runs.csv", index=False)
    assert list(read_card(card, tmp_path).values) == [0.1, 0.2, 3.0]
