"""The lazy-rich study (Kumar et al. 2024): parameters, the authors' configuration in every
arm, the per-run row and the card's quantities on tables with known answers, and a smoke
run read by its card."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.errors import ConfigError
from grokinterp.experiments import lazy_rich as lr
from grokinterp.experiments.cards import kumar2024, read_card
from grokinterp.experiments.contract import params_from
from grokinterp.sweeps.spec import expand


def test_bad_parameters_are_one_line_errors():
    for bad in ({"alphas": (2.0, 1.0)}, {"alphas": ()}, {"alphas": (0.0, 1.0)},
                {"eta0": 0.0}, {"eta0": math.inf}, {"seeds": ()}, {"train_fraction": 1.0},
                {"test_level": 0.0}, {"ntk_points": 1}):  # fmt: skip
        with pytest.raises(ConfigError):
            lr.Params(**bad)


def test_every_arm_is_the_authors_network_at_eta0_over_alpha_squared():
    params = lr.Params()
    specs = lr.specs(params)
    assert list(specs) == ["alpha1", "alpha2", "alpha3", "alpha4", "alpha6", "alpha10"]
    for alpha, spec in zip(params.alphas, specs.values(), strict=True):
        cfgs = [r.config for r in expand(spec)]
        assert [c.seed for c in cfgs] == [0, 1, 2]
        for c in cfgs:
            t, m, o = c.task, c.model, c.optim
            assert (t.name, t.p, t.train_fraction) == ("add", 23, 0.9)
            assert (m.arch, m.mlp_input, m.act_fn, m.n_layers, m.d_mlp) == (
                "mlp", "onehot", "quadratic", 1, 100,
            )  # fmt: skip
            assert m.output_scale == alpha and m.center_output and not m.mlp_bias
            assert (o.optimizer, o.loss, o.weight_decay, o.warmup_steps, o.batch_size) == (
                "sgd", "mse", 0.0, 0, None,
            )  # fmt: skip
            assert o.lr == pytest.approx(100.0 / alpha**2)


def _metrics(fit: int, gen: int | None, n: int = 100) -> pd.DataFrame:
    steps = list(range(0, n + 1, 10))
    return pd.DataFrame({
        "step": steps,
        "train_acc": [1.0 if s >= fit else 0.5 for s in steps],
        "test_acc": [1.0 if gen is not None and s >= gen else 0.1 for s in steps],
        "param_norm": [10.0 + s / 10 for s in steps],
    })  # fmt: skip


def test_run_row_reads_the_crossings_and_the_kernel_at_them():
    kernels = pd.DataFrame({"step": [0, 25, 50, 100], "kernel_distance": [0.0, 0.1, 0.4, 0.5],
                            "kernel_alignment": [0.2, 0.2, 0.6, 0.7]})  # fmt: skip
    row = lr.run_row(3.0, 1, _metrics(20, 50), kernels, lr.Params())
    assert (row["fit_step"], row["generalize_step"], row["delay"]) == (20, 50, 30.0)
    # the first checkpoint at or after each step
    assert row["kernel_distance_fit"] == 0.1 and row["kernel_distance_generalize"] == 0.4
    assert row["kernel_alignment_fit"] == 0.2 and row["kernel_alignment_generalize"] == 0.6
    assert (row["param_norm_start"], row["param_norm_end"]) == (10.0, 20.0)
    never = lr.run_row(3.0, 1, _metrics(20, None), kernels, lr.Params())
    assert never["delay"] == math.inf and math.isnan(never["kernel_distance_generalize"])
    unfit = lr.run_row(3.0, 1, _metrics(1000, None), kernels, lr.Params())
    assert math.isnan(unfit["delay"])


@settings(max_examples=30, deadline=None)
@given(delays=st.lists(st.floats(0, 1e4), min_size=3, max_size=8, unique=True))
def test_the_delay_correlation_is_one_exactly_when_delays_rise_with_alpha(delays):
    alphas = pd.DataFrame({"alpha": range(1, len(delays) + 1), "delay": delays})
    rho = kumar2024.delay_rank_correlation(alphas)
    assert rho is not None and -1 - 1e-12 <= rho <= 1 + 1e-12
    assert (rho == pytest.approx(1.0)) == (delays == sorted(delays))
    assert kumar2024.delay_rank_correlation(alphas.assign(delay=sorted(delays))) == pytest.approx(1)
    # a run that never generalized ranks last: still monotone
    assert kumar2024.delay_rank_correlation(
        alphas.assign(delay=[*sorted(delays)[:-1], math.inf])
    ) == pytest.approx(1.0)


def test_the_card_quantities_on_known_runs():
    runs = pd.DataFrame({
        "alpha": [1.0, 1.0, 3.0, 3.0], "seed": [0, 1, 0, 1],
        "fit_step": [100, 100, 200, 200], "generalize_step": [120, 110, 800, None],
        "param_norm_start": [10.0, 10.0, 10.0, 10.0], "param_norm_end": [20.0, 15.0, 12.0, 11.0],
        "kernel_distance_fit": [0.2, 0.2, 0.05, 0.05],
        "kernel_distance_generalize": [0.2, 0.2, 0.25, None],
        "kernel_alignment_fit": [0.3, 0.3, 0.2, 0.2],
        "kernel_alignment_generalize": [0.3, 0.3, 0.5, None],
    })  # fmt: skip
    assert kumar2024.smallest_alpha_ratio(runs) == pytest.approx(1.15)
    assert kumar2024.kernel_moved_at_fit(runs) == pytest.approx(0.2)  # the one grokked run
    assert kumar2024.alignment_gain(runs) == pytest.approx(0.3)
    assert kumar2024.norm_growth(runs) == pytest.approx(1.1)
    assert kumar2024.kernel_moved_at_fit(runs[runs["alpha"] == 1.0]) is None  # none grokked


def test_smoke_run_is_read_by_the_card(tmp_path):
    params = params_from(lr.Params, dict(lr.STUDY.smoke), "lazy-rich")
    result = lr.run(tmp_path, params, progress=False, static=False)
    runs, alphas = result.data
    assert sorted(runs["alpha"]) == [1.0, 4.0] and list(alphas["alpha"]) == [1.0, 4.0]
    for name in ("runs", "alphas", "metrics", "kernels"):
        assert name in result.tables
    kernels = pd.read_csv(tmp_path / "kernels.csv")
    first = kernels.groupby(["alpha", "seed"]).first()
    assert (first["kernel_distance"].abs() < 1e-9).all()  # step 0 against itself
    assert kernels["kernel_alignment"].between(-1, 1).all()
    (card,) = lr.STUDY.cards
    reading = read_card(card, tmp_path)
    assert reading.values[4] is not None  # the norm ratio is always read
    assert "Spearman rho(alpha, delay)" in result.report


def test_a_diverged_run_is_counted_and_left_out_of_the_medians():
    runs = pd.DataFrame({
        "alpha": [1.0, 1.0, 1.0], "seed": [0, 1, 2], "status": ["done", "diverged", "done"],
        "fit_step": [40, None, 60], "generalize_step": [100, None, None],
        "delay": [60.0, None, math.inf],
    })  # fmt: skip
    for c in lr.ALPHA_COLUMNS:
        if c not in runs:
            runs[c] = 0.5
    (row,) = lr.alpha_table(runs).to_dict("records")
    assert (row["runs"], row["diverged"], row["generalized"]) == (3, 1, 1)
    assert row["fit_step"] == 50.0 and row["delay"] == math.inf  # median of 60 and inf
