"""The label-noise study (Doshi et al. 2024): parameters, the per-run summary on known
curves, and a smoke run read by its card."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments import label_noise as ln
from grokinterp.experiments.cards import read_card
from grokinterp.experiments.contract import params_from
from grokinterp.presets import get_preset


def test_bad_parameters_are_one_line_errors():
    for bad in ({"label_noise": 0.0}, {"weight_decays": (1.0, 1.0)}, {"seeds": ()},
                {"train_fraction": 1.0}, {"memorized_below": 1.0}):  # fmt: skip
        with pytest.raises(ConfigError):
            ln.Params(**bad)


def test_the_study_trains_the_authors_preset():
    (spec,) = ln.specs(ln.Params(weight_decays=(0.0,))).values()
    from grokinterp.sweeps.spec import expand

    cfgs = [r.config for r in expand(spec)]
    preset = get_preset("doshi_mlp")
    assert [c.seed for c in cfgs] == [0, 1, 2]
    for c in cfgs:
        assert c.task == preset.task and c.model == preset.model
        assert (c.optim.lr, c.optim.weight_decay, c.optim.loss, c.optim.max_steps) == (
            0.01,
            0.0,
            "mse",
            1000,
        )


def test_run_row_reads_the_first_unmemorized_count():
    curves = pd.DataFrame({"step": [0, 10], "mean_ipr": [0.1, 0.5], "train_acc": [0, 1],
                           "clean_train_acc": [0, 1], "corrupted_acc": [0, 0.9],
                           "corrupted_true_acc": [0, 0.05], "test_acc": [0, 0.97]})  # fmt: skip
    rows = []
    for order, mem in (("lowest", [0.9, 0.3, 0.04, 0.0]), ("random", [0.9, 0.9, 0.8, 0.1]),
                       ("highest", [0.9, 0.95, 0.97, 0.99])):  # fmt: skip
        for k, m in enumerate(mem):
            rows.append({"order": order, "pruned": 5 * k, "fraction": k / 4, "train_acc": 1,
                         "clean_train_acc": 1 - k / 100, "corrupted_acc": m,
                         "corrupted_true_acc": 0.5, "test_acc": 0.9 - k / 10})  # fmt: skip
    row = ln.run_row("wd0", 0, curves, pd.DataFrame(rows), 0.05)
    assert row["final_test_acc"] == 0.97 and row["final_corrupted_acc"] == 0.9
    assert row["pruned_at_unmemorized"] == 10 and row["fraction_at_unmemorized"] == 0.5
    assert row["clean_train_acc_at_unmemorized"] == 0.98
    assert row["random_corrupted_acc_at_same_count"] == 0.8
    assert row["highest_test_acc_at_same_count"] == pytest.approx(0.7)
    never = ln.run_row("wd0", 0, curves, pd.DataFrame(rows).assign(corrupted_acc=0.5), 0.05)
    assert "fraction_at_unmemorized" not in never


def test_smoke_run_is_read_by_the_card(tmp_path):
    params = params_from(ln.Params, dict(ln.STUDY.smoke), "label-noise")
    result = ln.run(tmp_path, params, progress=False, static=False)
    runs = result.data
    assert list(runs["arm"]) == ["wd0"] and list(runs["seed"]) == [0]
    for name in ("curves", "neurons", "pruning", "runs"):
        assert name in result.tables
    pruning = pd.read_csv(tmp_path / "pruning.csv")
    assert set(pruning["order"]) == {"lowest", "highest", "random"}
    assert pruning.groupby("order")["pruned"].max().eq(params.width).all()
    neurons = pd.read_csv(tmp_path / "neurons.csv")
    assert len(neurons) == params.width and neurons["ipr"].between(1 / 6 - 1e-9, 1).all()
    (card,) = ln.STUDY.cards
    reading = read_card(card, tmp_path)
    assert reading.values[0] is not None and reading.values[1] is not None
    frac = reading.values[2]
    assert frac is not None and (math.isinf(frac) or 0 <= frac <= 1)
    assert "lowest-IPR pruning" in result.report
