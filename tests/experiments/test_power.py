"""The training-fraction study (Power et al. 2022): their batch rule min(512, ceil(n / 2)), one
run per task, fraction and seed, and the card's readers per task."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.errors import ConfigError, RunDirError
from grokinterp.experiments import power
from grokinterp.experiments.cards import power2022
from grokinterp.experiments.runner import run_study
from grokinterp.runs import layout
from grokinterp.sweeps.spec import SPEC, expand
from grokinterp.tasks.dataset import make_dataset


@given(st.integers(1, 100_000))
def test_batch_is_at_most_512_and_gives_every_epoch_two_updates(n):
    b = power.power_batch_size(n)
    assert 1 <= b <= 512
    assert math.ceil(n / b) >= 2 or n == 1  # at least two updates an epoch (one row: one)
    assert b == 512 or 2 * b in (n, n + 1)  # below the cap, half the set rounded up


def test_batch_of_an_empty_set_is_one_line():
    with pytest.raises(ConfigError, match="at least 1 example"):
        power.power_batch_size(0)


@settings(max_examples=10, deadline=None)
@given(
    st.sampled_from([11, 23, 47]),
    st.lists(st.sampled_from([0.2, 0.3, 0.5, 0.8]), min_size=1, max_size=3, unique=True),
    st.sampled_from(["div", "add"]),
)
def test_each_run_gets_the_rule_applied_to_its_own_training_set(p, fractions, task):
    params = power.Params(tasks=(task,), p=p, fractions=tuple(fractions), seeds=(0,))
    runs = expand(power.spec(params))
    assert len(runs) == len(fractions)
    for r in runs:
        n = len(make_dataset(r.config.task).train_labels)
        assert r.config.optim.batch_size == min(512, math.ceil(n / 2))
        assert r.config.optim.drop_last is False  # the power preset's shorter last batch
    kept = expand(power.spec(power.Params(tasks=(task,), p=p, fractions=tuple(fractions),
                                          seeds=(0,), batch_rule="preset")))  # fmt: skip
    assert {r.config.optim.batch_size for r in kept} == {512}


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.sampled_from(["div", "add", "sub"]), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from([0.3, 0.5, 0.7]), min_size=1, max_size=3, unique=True),
    st.lists(st.integers(0, 5), min_size=1, max_size=2, unique=True),
)
def test_one_run_per_task_fraction_and_seed(tasks, fractions, seeds):
    params = power.Params(tasks=tuple(tasks), p=11, fractions=tuple(fractions), seeds=tuple(seeds))
    runs = expand(power.spec(params))
    got = sorted((r.config.task.name, r.config.task.train_fraction, r.config.seed) for r in runs)
    assert got == sorted((t, q, s) for t in tasks for q in fractions for s in seeds)
    assert len({r.name for r in runs}) == len(runs)  # each its own run directory
    assert {r.config.task.p for r in runs} == {11}
    assert {r.config.optim.stop_acc for r in runs} == {params.threshold}


def test_an_unknown_task_is_one_line():
    with pytest.raises(ConfigError, match="tasks"):
        power.Params(tasks=("nope",))


def test_workers_reach_the_sweep_and_are_checked():
    assert power.spec(power.Params(backend="local", workers=2))["workers"] == 2
    with pytest.raises(ConfigError, match="workers"):
        power.Params(workers=0)


def _write(folder: Path, rows: list[tuple[str, float, float]], budget: int = 1000) -> None:
    """runs.csv and curve.csv as the study writes them, from (task, fraction, steps to
    generalize or nan) rows."""
    runs = pd.DataFrame(rows, columns=["task", "train_fraction", "steps_to_generalize"])
    runs["steps"] = budget
    runs.to_csv(folder / "runs.csv", index=False)
    g = runs.groupby(["task", "train_fraction"])["steps_to_generalize"]
    curve = pd.DataFrame({"runs": g.size(), "generalized": g.count()}).reset_index()
    curve.to_csv(folder / "curve.csv", index=False)


@given(st.floats(1.0, 5.0), st.integers(100, 400))
@settings(max_examples=20, deadline=None)
def test_readers_take_each_task_on_its_own(tmp_path_factory, ratio, t_next):
    """The growth per 1% is (T(0.3) / T(0.4)) ** (1/10) - 1 for each task, whatever the other
    task's numbers; the x + y edge below x / y's is the difference of their edges."""
    folder = tmp_path_factory.mktemp("power")
    nan = math.nan
    div = [("div", 0.3, nan)] * 3 + [("div", 0.4, ratio * t_next)] * 3
    div += [("div", 0.5, float(t_next))] * 3
    add = [("add", 0.3, 50.0)] * 3 + [("add", 0.4, 10.0)] * 3 + [("add", 0.5, 10.0)] * 3
    _write(folder, div + add)
    growth = {q.name.split(":")[0]: q.read for q in power2022.CARDS[0].quantities[:2]}
    assert growth["div"](folder) == pytest.approx(ratio**0.1 - 1.0)
    assert growth["add"](folder) == pytest.approx(5.0**0.1 - 1.0)
    edge, less = (q.read for q in power2022.CARDS[0].quantities[2:])
    assert edge(folder) == pytest.approx(0.4)
    assert less(folder) == pytest.approx(0.1)  # a bound: add generalizes at the grid's 0.3


FULL = power2022.AUTHORS_BUDGET


def test_no_edge_for_either_task_is_unknown(tmp_path):
    _write(tmp_path, [("div", 0.3, 10.0), ("div", 0.4, 5.0), ("add", 0.3, 10.0)])
    edge, less = (q.read for q in power2022.CARDS[0].quantities[2:])
    assert edge(tmp_path) is None and less(tmp_path) is None
    _write(tmp_path, [("div", 0.3, math.nan), ("add", 0.3, math.nan)], budget=FULL)
    assert edge(tmp_path) == math.inf and less(tmp_path) is None
    rows = [("div", 0.3, math.nan), ("div", 0.4, math.nan), ("add", 0.3, 10.0)]
    _write(tmp_path, rows, budget=FULL)
    assert less(tmp_path) == math.inf  # x + y generalizes where x / y never did


@given(st.integers(1, FULL - 1), st.sampled_from([0.5, 0.6, 0.7]))
@settings(max_examples=20, deadline=None)
def test_a_budget_below_theirs_bounds_the_edge_and_never_refutes(tmp_path_factory, budget, q):
    """Runs given fewer updates than the authors' 10^5 bound the edge from above: an edge
    above the card's range, or none at all, is not read (None); an edge within it is."""
    folder = tmp_path_factory.mktemp("power")
    nan = math.nan
    edge, less = (qq.read for qq in power2022.CARDS[0].quantities[2:])
    _write(folder, [("div", 0.3, nan), ("div", q, 10.0), ("add", 0.3, 10.0)], budget=budget)
    assert edge(folder) is None  # above 0.45: unknown at this budget
    _write(folder, [("div", 0.3, nan), ("div", 0.4, 10.0), ("add", 0.3, 10.0)], budget=budget)
    assert edge(folder) == pytest.approx(0.4)  # within the range: the bound settles it
    _write(folder, [("div", 0.3, nan), ("div", q, nan), ("add", 0.3, 10.0)], budget=budget)
    assert edge(folder) is None and less(folder) is None  # nothing generalized: unknown
    _write(folder, [("div", 0.3, nan), ("div", q, 10.0), ("add", 0.3, 10.0)], budget=FULL)
    assert edge(folder) == pytest.approx(q)  # at their budget an edge above the range is read


# one run of 20 steps that never stops early (threshold 1.0): the budget tests' study
SMALL = power.Params(tasks=("add",), p=7, fractions=(0.6,), seeds=(0,), max_steps=20,
                     patience=5, threshold=1.0)  # fmt: skip


@pytest.mark.slow
def test_a_larger_budget_extends_the_study_folder_and_a_smaller_is_refused(tmp_path):
    out = tmp_path / "power"
    run_study("power", out, SMALL, progress=False)
    (run,) = (out / "sweep" / "runs").iterdir()
    assert layout.read_metrics(run)[-1]["step"] == 20
    bigger = dataclasses.replace(SMALL, max_steps=40)
    run_study("power", out, bigger, progress=False)
    assert layout.read_metrics(run)[-1]["step"] == 40
    with pytest.raises(RunDirError, match="max_steps: stored 40, given 20"):
        run_study("power", out, SMALL, progress=False)


@pytest.mark.slow
def test_a_larger_budget_the_sweep_refuses_leaves_the_record_as_it_was(tmp_path):
    out = tmp_path / "power"
    run_study("power", out, SMALL, progress=False)
    record = (out / "study.json").read_text()
    spec = out / "sweep" / SPEC  # a run's stored config no longer matches the study's
    stored = json.loads(spec.read_text())
    (name,) = stored["runs"]
    stored["runs"][name]["optim"]["lr"] *= 2
    spec.write_text(json.dumps(stored))
    with pytest.raises(RunDirError, match="optim.lr"):
        run_study("power", out, dataclasses.replace(SMALL, max_steps=40), progress=False)
    assert (out / "study.json").read_text() == record  # the same command still names its runs
