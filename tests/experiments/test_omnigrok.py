"""The Omnigrok study: its sweeps, its LU summary, and a small end-to-end run."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from grokinterp.config import replace
from grokinterp.errors import ConfigError
from grokinterp.experiments.omnigrok import (
    ADD_PRESET,
    Params,
    init_spec,
    late_spec,
    lu_spec,
    lu_summary,
    run,
    unit_norm,
)
from grokinterp.presets import get_preset
from grokinterp.runs import layout
from grokinterp.sweeps.spec import expand
from grokinterp.training import train


def test_unit_norm_is_the_initial_norm_at_alpha_one(tmp_path):
    cfg = get_preset("omnigrok_digits")
    one = replace(cfg, {"model": {"init_scale": 1.0}, "optim": {"max_steps": 1}})
    run = train(one, tmp_path / "run", progress=False)
    assert layout.read_metrics(run)[0]["param_norm"] == pytest.approx(unit_norm(), rel=1e-6)


def test_the_sweeps_hold_each_norm_and_set_each_condition():
    n1 = unit_norm()
    lu = expand(lu_spec([0.5, 2.0], [0, 1], 100))
    assert len(lu) == 4
    for r in lu:
        a = r.config.model.init_scale
        assert r.config.optim.fixed_norm == pytest.approx(a * n1, abs=1e-3)
        assert r.config.optim.weight_decay == 0.0 and r.config.optim.max_steps == 100
        assert r.config.task.name == "digits" and r.config.optim.loss == "mse"
    add = expand(lu_spec([0.5], [0], 100, preset=ADD_PRESET))
    n1_add = unit_norm(preset=ADD_PRESET)
    assert add[0].config.task.name == "add" and add[0].config.model.arch == "transformer"
    assert add[0].config.optim.fixed_norm == pytest.approx(0.5 * n1_add, abs=1e-3)
    assert n1_add != pytest.approx(n1)
    runs = expand(init_spec([1.0, 8.0], [0], 200))
    got = {(r.config.model.init_scale, r.config.optim.weight_decay, r.config.optim.fixed_norm)
           for r in runs}  # fmt: skip
    fixed = round(n1, 4)
    assert got == {
        (a, wd, fn) for a in (1.0, 8.0) for wd, fn in ((1.0, None), (0.0, None), (0.0, fixed))
    }


def test_the_late_part_continues_each_memorized_run_in_each_condition(tmp_path):
    spec = late_spec(tmp_path, [4.0, 8.0], [0, 1], 5000, 300)
    runs = expand(spec)
    assert len(runs) == 2 * 2 * 3
    for r in runs:
        src = r.config.init_from
        assert src is not None and src.endswith("step_5000.safetensors")
        assert f"init_scale={r.config.model.init_scale}" in src and "weight_decay=0.0" in src
        assert "fixed_norm" not in src  # the free runs
        assert r.config.optim.max_steps == 300
    assert {(r.config.optim.weight_decay, r.config.optim.fixed_norm) for r in runs} == {
        (1.0, None),
        (0.0, None),
        (0.0, round(unit_norm(), 4)),
    }


def _lu(test_losses: list[float], train_losses: list[float]) -> pd.DataFrame:
    norms = [5.0 * 2**i for i in range(len(test_losses))]
    return pd.DataFrame(
        {
            "fixed_norm": norms * 2,
            "final_test_loss": test_losses * 2,
            "final_train_loss": train_losses * 2,
            "final_test_acc": [0.5] * 2 * len(norms),
        }
    )


def test_lu_summary_finds_the_bottom_of_the_u():
    s = lu_summary(_lu([0.3, 0.05, 0.02, 0.4, 3.0], [0.2, 0.01, 0.0, 0.0, 0.0]))
    assert s["best_norm"] == 20.0 and s["best_test_loss"] == 0.02
    assert s["u_shaped"] and s["train_loss_small_norm"] == 0.2
    # a test loss that only falls with the norm is no U
    assert not lu_summary(_lu([0.3, 0.2, 0.1, 0.05, 0.01], [0.0] * 5))["u_shaped"]


def test_bad_study_input_is_refused():
    with pytest.raises(ConfigError, match="parts"):
        Params(parts=("lu", "other"))
    with pytest.raises(ConfigError, match="seeds"):
        Params(seeds=())
    with pytest.raises(ConfigError, match="lu_alphas"):
        Params(lu_alphas=(0.0,))
    with pytest.raises(ConfigError, match="^late_steps"):
        Params(late_steps=0)
    with pytest.raises(ConfigError, match="^threads"):
        Params(threads=0)


@pytest.mark.slow
def test_a_small_study_writes_its_tables_and_finds_the_constraint_at_work(tmp_path):
    params = Params(parts=("lu", "init"), seeds=(0,), lu_alphas=(1.0, 16.0),
                    init_alphas=(8.0,), lu_steps=150, init_steps=150)  # fmt: skip
    result = run(tmp_path, params, progress=False, static=False)
    text = result.data
    assert set(result.tables) == {"lu", "init", "curves"} and result.report == text
    lu = pd.read_csv(tmp_path / "lu.csv")
    init = pd.read_csv(tmp_path / "init.csv")
    assert len(lu) == 2 and len(init) == 3 and (tmp_path / "curves.csv").exists()
    assert "LU" in text and (tmp_path / "figures" / "index.html").exists()
    by = init.set_index("condition")
    # at alpha = 8 the norm-constrained run generalizes within 150 steps; the free one not
    assert by.loc["fixed", "final_test_acc"] > 0.8 > by.loc["free", "final_test_acc"]
    assert math.isnan(by.loc["free", "test_step"])
    # the norm is held at N_1 in the fixed run
    assert by.loc["fixed", "final_param_norm"] == pytest.approx(unit_norm(), rel=1e-5)
