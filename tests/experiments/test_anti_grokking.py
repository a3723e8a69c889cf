"""The anti-grokking study (Prakash & Martin 2025): Correlation Traps on matrices with a
known answer, the collapse and signal steps of a run, the card's readers, a tiny study."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.analysis import complexity
from grokinterp.errors import ConfigError
from grokinterp.experiments import anti_grokking
from grokinterp.experiments.anti_grokking import (
    COLLAPSE_DROP,
    Params,
    anti_spec,
    run,
    run_row,
)
from grokinterp.experiments.cards import prakash2025
from grokinterp.sweeps.spec import expand

needs_weightwatcher = pytest.mark.skipif(
    not complexity.has("weightwatcher"), reason="the complexity extra (weightwatcher)"
)


@needs_weightwatcher
def test_correlation_traps_known_matrices() -> None:
    """Shuffling the entries of a Gaussian matrix leaves a Marchenko-Pastur spectrum: no
    trap. One atypically large entry survives any shuffle: its eigenvalue (~c^2) stays far
    above the shuffled bulk: exactly one trap. A correlated rank-one structure spread over
    all entries is a spike of W (far above the shuffled bulk) that shuffling destroys: no
    trap, and a large distance between the spectra of W and shuffled W."""
    g = torch.Generator().manual_seed(0)
    gauss = torch.randn(300, 150, generator=g)
    big = gauss.clone()
    big[3, 7] = 60.0
    u, v = torch.randn(300, 1, generator=g), torch.randn(1, 150, generator=g)
    spread = gauss + 0.4 * u @ v
    state = np.random.get_state()
    r = complexity.correlation_traps({"gauss": gauss, "big": big, "spread": spread})
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # numpy's state restored
    assert r["gauss"]["num_traps"] == 0
    assert r["big"]["num_traps"] == 1
    assert r["big"]["max_rand_eval"] > 2 * r["big"]["rand_bulk_max"]
    assert r["spread"]["num_traps"] == 0
    assert r["spread"]["lambda_max"] > 5 * r["spread"]["rand_bulk_max"]
    assert r["spread"]["rand_distance"] > 10 * r["gauss"]["rand_distance"]
    assert set(r["gauss"]) == set(complexity.TRAP_COLUMNS)
    # the shuffle is seeded: the same matrices give the same record
    small = gauss[:160, :80].clone()
    small[3, 7] = 60.0
    one = complexity.correlation_traps({"small": small})
    assert complexity.correlation_traps({"small": small}) == one
    # under 100 eigenvalues weightwatcher pools 5 shuffles: the one entry counts 5 times
    assert one["small"]["num_traps"] == 5


def _metrics(curve: list[float], every: int = 100, train: float = 1.0) -> pd.DataFrame:
    steps = [i * every for i in range(len(curve))]
    return pd.DataFrame({"step": steps, "train_acc": train, "test_acc": curve})


def _htsr(steps: list[int], alphas: list[float], traps: list[float]) -> pd.DataFrame:
    ww = [-1.0 if math.isnan(a) else a for a in alphas]  # weightwatcher's -1: no fit
    return pd.DataFrame(
        {"step": steps, "layer": 0, "alpha": alphas, "alpha_ww": ww, "num_traps": traps,
         "seed": 0}
    )  # fmt: skip


def test_run_row_reads_a_known_collapse() -> None:
    m = _metrics([0.1, 0.3, 0.9, 0.92, 0.9, 0.7, 0.5, 0.2, 0.15])
    m.loc[0, "train_acc"] = 0.5  # train 99% from step 100 on
    h = _htsr([0, 400, 600, 800], [4.0, 3.0, 1.9, 1.5], [0, 0, 0, 2])
    row = run_row(m, h, seed=0)
    assert row["train_99_step"] == 100
    assert row["peak_test_acc"] == 0.92 and row["peak_test_step"] == 300
    assert row["collapse_step"] == 600  # 0.5 <= 0.92 - 0.3; 0.7 is not
    assert math.isclose(row["test_drop"], 0.92 - 0.15)
    assert row["alpha_below_2_step"] == 600 and row["first_trap_step"] == 800
    assert row["final_alpha_0"] == 1.5 and row["final_traps_0"] == 2


def test_run_row_without_fit_or_collapse() -> None:
    h = _htsr([0, 100], [3.0, 3.0], [0, 0])
    never_fit = run_row(_metrics([0.1, 0.2, 0.3], train=0.5), h, seed=1)
    assert math.isnan(never_fit["train_99_step"]) and math.isnan(never_fit["collapse_step"])
    assert math.isnan(never_fit["alpha_below_2_step"])
    stable = run_row(_metrics([0.1, 0.9, 0.85, 0.8]), h, seed=1)
    assert math.isnan(stable["collapse_step"]) and math.isclose(stable["test_drop"], 0.1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40))
def test_collapse_iff_a_later_drop_of_the_bar(curve: list[float]) -> None:
    """A collapse is read exactly where the test accuracy falls COLLAPSE_DROP below its
    peak at or after the peak, and never before the peak."""
    row = run_row(_metrics(curve), _htsr([0], [3.0], [0]), seed=0)
    peak = max(curve)
    i = curve.index(peak)
    dropped = [t for t, a in enumerate(curve) if t >= i and a <= peak - COLLAPSE_DROP]
    if dropped:
        assert row["collapse_step"] == 100 * dropped[0] >= row["peak_test_step"]
    else:
        assert math.isnan(row["collapse_step"])
    assert math.isclose(row["test_drop"], peak - curve[-1])


def _runs_csv(tmp_path, **cols):  # type: ignore[no-untyped-def]
    pd.DataFrame(cols).to_csv(tmp_path / "runs.csv", index=False)
    return tmp_path


def test_card_reads_the_collapse_only_within_the_budget(tmp_path) -> None:  # type: ignore[no-untyped-def]
    q = {x.name.split(":")[0]: x for x in prakash2025.CARDS[0].quantities}
    drop = q["anti-grokking"].read
    lead_alpha = prakash2025.CARDS[0].quantities[3].read
    # no collapse at 100,000 steps: the budget ended before the claim could be tested
    f = _runs_csv(tmp_path, steps=[100000], collapse_step=[math.nan], test_drop=[0.02],
                  alpha_below_2_step=[math.nan], first_trap_step=[math.nan])  # fmt: skip
    assert drop(f) is None and lead_alpha(f) is None
    # at the authors' budget, no collapse is a disagreement, read
    f = _runs_csv(tmp_path, steps=[10**7], collapse_step=[math.nan], test_drop=[0.02],
                  alpha_below_2_step=[math.nan], first_trap_step=[math.nan])  # fmt: skip
    assert drop(f) == 0.02
    # a collapse at 5,000 after alpha < 2 at 4,000: heralded by 1,000 steps
    f = _runs_csv(tmp_path, steps=[10000], collapse_step=[5000.0], test_drop=[0.7],
                  alpha_below_2_step=[4000.0], first_trap_step=[math.nan])  # fmt: skip
    assert drop(f) == 0.7 and lead_alpha(f) == 1000.0
    assert prakash2025.CARDS[0].quantities[4].read(f) == -math.inf  # no trap ever


def test_the_card_repeats_the_study_s_constants() -> None:
    # a card module imports no study: what it repeats must agree
    assert prakash2025.COLLAPSE == COLLAPSE_DROP
    assert prakash2025.THEIR_BUDGET == anti_grokking.THEIR_BUDGET


def test_spec_is_their_notebook_with_one_knob() -> None:
    """The authors' notebook: depth 3 (two hidden ReLU layers) of width 200, nn.Linear's
    init x 4, MSE, AdamW lr 5e-4 without weight decay, batch 200, 1,000 images; the step
    budget is the one knob."""
    cfg = expand(anti_spec(Params(steps=5000)))[0].config
    assert cfg.model.n_layers == 2 and cfg.model.d_mlp == 200
    assert cfg.model.mlp_init == "uniform" and cfg.model.init_scale == 4.0
    assert cfg.task.name == "mnist" and cfg.task.train_size == 1000
    o = cfg.optim
    assert (o.loss, o.lr, o.weight_decay, o.batch_size, o.max_steps) == (
        "mse", 5e-4, 0.0, 200, 5000
    )  # fmt: skip
    assert Params().steps == 250000
    with pytest.raises(ConfigError, match="^depth"):
        Params(depth=1)
    with pytest.raises(ConfigError, match="^steps"):
        Params(steps=100, checkpoints=40)


@pytest.mark.slow
@needs_weightwatcher
def test_tiny_study_writes_its_tables(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    params = Params(task="digits", train_size=200, width=16, steps=200, checkpoints=2)
    result = run(tmp_path, params, progress=False, static=False)
    runs, htsr = result.data
    assert set(result.tables) == {"runs", "htsr", "traces"}
    assert list(runs["seed"]) == [0] and int(runs["steps"].iloc[0]) == 200
    # three weight matrices (64 -> 16 -> 16 -> 10) at every checkpoint, with accuracies
    assert sorted(set(htsr["layer"])) == [0, 1, 2]
    assert (htsr.groupby("step").size() == 3).all()
    assert htsr["test_acc"].notna().all()
    assert {200, 0} <= set(htsr["step"])
    assert "seed 0: 200 steps" in result.report

    # a rerun measures nothing again: the HTSR state is reused, the tables are unchanged
    def refuse(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("a measured checkpoint was measured again")

    monkeypatch.setattr(anti_grokking, "correlation_traps", refuse)
    again = run(tmp_path, params, progress=False, static=False)
    pd.testing.assert_frame_equal(again.data[1], htsr)
    # a state from before a column existed is measured anew, not read
    monkeypatch.undo()
    state = tmp_path / "sweep" / anti_grokking.STATE
    pd.read_csv(state).drop(columns=["alpha_ww"]).to_csv(state, index=False)
    fresh = run(tmp_path, params, progress=False, static=False).data[1]
    pd.testing.assert_frame_equal(fresh, htsr)
