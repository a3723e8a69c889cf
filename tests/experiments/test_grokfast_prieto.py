"""The studies of issue 28 on their authors' setups: Grokfast (Lee et al. 2024) and StableMax
/ ⊥AdamW (Prieto et al. 2025), at smoke scale through the contract, and their cards' readers
on tiny tables."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from grokinterp.errors import ConfigError, RunDirError
from grokinterp.experiments import grokfast, prieto
from grokinterp.experiments.cards import describe, lee2024, prieto2025, read_card
from grokinterp.experiments.contract import params_from
from grokinterp.experiments.registry import load
from grokinterp.experiments.runner import run_study
from grokinterp.sweeps.spec import expand

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def test_grokfast_arms_are_the_authors_recipes_on_their_epoch():
    runs = {arm: expand(s)[0].config for arm, s in grokfast.specs(grokfast.Params()).items()}
    for cfg in runs.values():
        assert (cfg.task.name, cfg.task.p, cfg.task.train_fraction) == ("div", 97, 0.5)
        assert (cfg.optim.batch_size, cfg.optim.drop_last, cfg.optim.warmup_from_zero) == (
            512, False, True)  # fmt: skip
        assert cfg.optim.max_steps == 300_000 and cfg.optim.stop_acc == 0.95
        assert cfg.schedule.log_every == 10 and cfg.model.normalization == "grokfast"
    ema, ma = runs["grokfast_ema"].optim, runs["grokfast_ma"].optim
    assert (ema.optimizer, ema.weight_decay, ema.grokfast, ema.grokfast_alpha,
            ema.grokfast_lamb) == ("adam", 0.005, "ema", 0.98, 2.0)  # fmt: skip
    assert (ma.optimizer, ma.weight_decay, ma.grokfast, ma.grokfast_window,
            ma.grokfast_lamb) == ("adam", 0.01, "ma", 100, 5.0)  # fmt: skip
    assert runs["lr_matched"].optim.lr == pytest.approx(3e-3)
    assert (runs["adamw_wd1"].optim.optimizer, runs["adamw_wd1"].optim.weight_decay) == (
        "adamw", 1.0)  # fmt: skip
    assert (runs["baseline"].optim.optimizer, runs["baseline"].optim.weight_decay,
            runs["baseline"].optim.lr) == ("adam", 0.0, 1e-3)  # fmt: skip
    # the arms that may run the whole budget keep a state file every 1,000 updates (resumable
    # in pieces on CPU); the others keep the sparse schedule their committed runs used
    long_arms = [a for a, c in runs.items() if c.schedule.ckpt_every == 1000]
    assert long_arms == ["lr_matched", "baseline"]
    assert {runs[a].schedule.ckpt_every for a in ("grokfast_ema", "adamw_wd1")} == {75_000}
    specs = grokfast.specs(grokfast.Params(workers=3))
    assert {s["workers"] for s in specs.values()} == {3}
    with pytest.raises(ConfigError, match="arms"):
        grokfast.Params(arms=("nope",))
    with pytest.raises(ConfigError, match="workers"):
        grokfast.Params(workers=0)


def test_prieto_mlp_is_their_figure_1():
    runs = {arm: expand(s)[0].config for arm, s in prieto.specs(prieto.Params()).items()}
    for arm, cfg in runs.items():
        m = cfg.model
        assert (m.arch, m.n_layers, m.d_mlp, m.mlp_input, m.mlp_bias, m.mlp_init) == (
            "mlp", 2, 200, "onehot", False, "uniform")  # fmt: skip
        p = 113 if arm in prieto.MLP_SHORT else 47  # long_p: the one knob scaled for cost
        assert (cfg.task.name, cfg.task.p, cfg.task.train_fraction) == ("add", p, 0.4)
        assert m.d_vocab_out == p  # their output_size = modulo (utils.py:L186)
        assert cfg.optim.batch_size is None and cfg.optim.warmup_steps == 0
        assert cfg.optim.weight_decay == 0.0
        long = arm not in prieto.MLP_SHORT
        assert cfg.schedule.log_every == (500 if long else 10)
        assert cfg.schedule.ckpt_every == (5000 if long else 150)  # resumable long arms
    o = runs["orthoadamw"].optim
    assert (o.orthogonal_grad, o.lr, o.beta2, o.eps, o.loss, o.max_steps) == (
        True, 0.01, 0.999, 1e-8, "softmax32", 300)  # fmt: skip
    s = runs["stablemax"].optim
    assert (s.loss, s.lr, s.beta2, s.eps, s.max_steps) == ("stablemax", 0.01, 0.999, 1e-25,
                                                           80_000)  # fmt: skip
    assert (runs["softmax64"].optim.loss, runs["softmax64"].optim.beta2) == ("softmax", 0.99)
    assert runs["adamw_control"].optim.orthogonal_grad is False
    t = prieto.specs(prieto.Params(setting="transformer", arms=("orthoadamw", "wd1.5"),
                                   backend="local"))  # fmt: skip
    cfg = expand(t["wd1.5"])[0].config
    assert (cfg.model.sequence, cfg.optim.weight_decay, cfg.optim.max_steps) == ("a_b", 1.5, 5000)
    assert cfg.model.dropout == 0.1  # their encoder layer's, in training
    with pytest.raises(ConfigError, match="backend local"):
        prieto.Params(setting="transformer", arms=("baseline",))  # the ensemble: no dropout
    small = prieto.specs(prieto.Params(setting="transformer", arms=("baseline",), p=23,
                                       backend="local"))  # fmt: skip
    assert expand(small["baseline"])[0].config.model.d_vocab_out == 23
    with pytest.raises(ConfigError, match="arms"):
        prieto.Params(setting="transformer")  # the MLP's arms
    with pytest.raises(ConfigError, match="long_p"):
        prieto.Params(long_p=2)


@pytest.mark.parametrize("name", ["grokfast", "prieto"])
def test_smoke_run_writes_what_the_cards_read(tmp_path, name):
    study = load(name)
    result = run_study(name, tmp_path, params_from(study.params, study.smoke, name),
                       progress=False, static=False)  # fmt: skip
    assert {"runs", "arms", "metrics"} <= set(result.tables)
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert set(runs["arm"]) == set(study.smoke["arms"]) and (runs["status"] == "done").all()
    for card in study.cards:
        read_card(card, tmp_path)  # every quantity readable from the fresh files


def _runs(tmp_path: Path, rows: list[tuple[str, str, float | None, float]]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        [
            {
                "arm": a,
                "status": st,
                "steps_to_threshold": s,
                "max_test_acc": acc,
                "max_steps": 80_000,
            }
            for a, st, s, acc in rows
        ]  # fmt: skip
    ).to_csv(tmp_path / "runs.csv", index=False)
    return tmp_path


def test_lee_readers_take_medians_and_skip_unfinished_arms(tmp_path):
    folder = _runs(tmp_path, [
        ("grokfast_ema", "done", 900, 1), ("grokfast_ema", "done", 1000, 1),
        ("grokfast_ema", "done", 2000, 1), ("baseline", "done", None, 0.5),
        ("baseline", "done", 40000, 1), ("baseline", "done", 30000, 1),
        ("grokfast_ma", "running", 800, 1),
    ])  # fmt: skip
    values = dict(zip([q.name for q in lee2024.CARDS[0].quantities],
                      read_card(lee2024.CARDS[0], folder).values, strict=True))  # fmt: skip
    assert values["Grokfast-EMA steps to 95% test accuracy"] == 1000
    assert values["Grokfast-MA steps to 95% test accuracy"] is None  # not finished
    assert values["baseline steps to 95% test accuracy"] == 40000  # never = inf, median
    assert values["speed-up: baseline / Grokfast-EMA steps"] == 40


def test_prieto_readers(tmp_path):
    long_arms = [
        ("stablemax", "done", None, 0.3), ("softmax64", "done", None, 0.01),
        ("softmax64", "done", None, 0.02), ("softmax32", "running", None, 0.01),
    ]  # fmt: skip
    folder = _runs(tmp_path, [
        ("orthoadamw", "done", 110, 1.0), ("orthoadamw", "done", None, 0.9),
        ("orthoadamw", "done", 130, 1.0), ("adamw_control", "done", None, 0.2), *long_arms,
    ])  # fmt: skip
    ortho, stable = prieto2025.CARDS
    # the transformer's quantities read its own folder: not run here
    assert read_card(ortho, folder).values == (130, 0.2, None, None, None)
    tf = _runs(tmp_path / prieto2025.TRANSFORMER, [
        ("orthoadamw", "done", 480, 0.96), ("wd1.5", "done", 1230, 0.95),
        ("baseline", "done", None, 0.01)])  # fmt: skip
    (tf / "study.json").write_text(json.dumps({"study": "prieto", "params": {
        **prieto2025.TRANSFORMER_PARAMS, "seeds": [0]}}))  # fmt: skip
    assert read_card(ortho, folder).values == (130, 0.2, 480, 1230, 0.01)
    assert math.isinf(prieto2025._median_steps("adamw_control")(folder) or 0.0)
    # the StableMax card reads the long arms at their p = 113, not the main folder's
    assert read_card(stable, folder).values == (None,) * 3
    sub = _runs(tmp_path / prieto2025.P113, long_arms)
    (sub / "study.json").write_text(json.dumps({"study": "prieto", "params": {
        **prieto2025.P113_PARAMS, "seeds": [1, 2]}}))  # fmt: skip
    reading = read_card(stable, folder)
    # softmax32 not finished: not read
    assert reading.values == (0.3, 0.015, None)
    assert reading.agree == (False, True, None)
    short = pd.read_csv(sub / "runs.csv").assign(max_steps=500)
    short.to_csv(sub / "runs.csv", index=False)
    assert read_card(stable, folder).values == (None,) * 3  # shorter than their 80,000 steps


def test_prieto_stablemax_card_reads_only_a_run_at_their_modulus(tmp_path):
    """The p113 folder's record must show the long arms at p = 113 (a rerun at the scaled
    modulus cannot pass as theirs); reproduce show names the subfolder's file."""
    sub = _runs(tmp_path / prieto2025.P113, [("stablemax", "done", 52_000, 0.96)])
    stable = prieto2025.CARDS[1]
    (sub / "study.json").write_text(json.dumps({"study": "prieto", "params": {
        **prieto2025.P113_PARAMS, "long_p": 47}}))  # fmt: skip
    with pytest.raises(RunDirError, match="long_p 47, not 113"):
        read_card(stable, tmp_path)
    (sub / "study.json").write_text(json.dumps({"study": "prieto", "params": {
        **prieto2025.P113_PARAMS}}))  # fmt: skip
    assert read_card(stable, tmp_path).values[0] == 0.96
    assert "from p113/runs.csv" in describe(read_card(stable, tmp_path), "studies/prieto")


@pytest.mark.parametrize("card", [*lee2024.CARDS, *prieto2025.CARDS], ids=lambda c: c.name)
def test_committed_files_read(card):
    folder = STUDIES / card.study
    if not (folder / "runs.csv").is_file():
        pytest.skip(f"studies/{card.study} not committed yet")
    reading = read_card(card, folder)
    assert len(reading.values) == len(card.quantities)


def test_lee_speedup_bound_while_the_baseline_trains(tmp_path):
    """The censored reading: per seed the steps trained below 95% (runs.csv's unfinished
    baseline runs, the first pass's metrics), 0 for a seed without a record; their median
    over the study's seeds bounds the baseline's median, read only where it clears x10."""
    (tmp_path / "study.json").write_text('{"study": "grokfast", "params": {"seeds": [0, 1, 2]}}')
    first = pd.DataFrame({"seed": [0, 0, 1, 1], "step": [100, 30_000, 100, 20_000],
                          "max_test_acc_so_far": [0.01, 0.02, 0.01, 0.03]})  # fmt: skip
    first.to_csv(tmp_path / lee2024.FIRST_PASS, index=False)
    ema = [("grokfast_ema", "done", 1000, 1), ("grokfast_ema", "done", 900, 1)]

    def read(rows: list[tuple[str, str, float | None, float]], steps: dict[int, float]):
        _runs(tmp_path, rows)
        runs = pd.read_csv(tmp_path / "runs.csv").assign(seed=0, steps=1.0)
        base = runs["arm"] == "baseline"  # its rows: the seeds and steps of ``steps``, in order
        runs.loc[base, "seed"], runs.loc[base, "steps"] = list(steps), list(steps.values())
        runs.to_csv(tmp_path / "runs.csv", index=False)
        return read_card(lee2024.CARDS[0], tmp_path).values[-1]

    running = [("baseline", "running", None, 0.02)]
    # seed 2 has no record: median of (30000, 20000, 0) = 20000 over the EMA median 950
    assert read([*ema, *running], {2: 0.0}) == pytest.approx(20_000 / 950)
    # seed 2 trained 40,000 steps below 95% in this pass: median of (30000, 20000, 40000)
    assert read([*ema, *running], {2: 40_000}) == pytest.approx(30_000 / 950)
    # seed 0 resumed past its first pass: the larger record counts
    assert read([*ema, *running, *running], {0: 50_000, 2: 40_000}) == pytest.approx(40_000 / 950)
    slow = [("grokfast_ema", "done", 5000, 1)]  # 20000 / 5000 = 4: below the bar, no reading
    assert read([*slow, *running], {2: 0.0}) is None
    reached = [("baseline", "running", 35_000, 0.96)]  # a run that got there is no bound
    assert read([*ema, *reached], {2: 36_000}) is None
    done = [("baseline", "done", 40_000, 1)] * 3  # finished: the speed-up itself is read
    assert read([*ema, *done], {0: 40_000, 1: 40_000, 2: 40_000}) is None
    (tmp_path / "study.json").unlink()  # the seeds are unknown: no bound
    assert read([*ema, *running], {2: 40_000}) is None


def test_a_study_folder_grows_by_seeds_and_arms_and_reuses_its_runs(tmp_path):
    """More seeds or arms (param(..., grows=True)), every earlier one kept, resume the folder:
    the runs already there are reused as they are (their metrics rows, wall times included,
    unchanged) and the added ones trained; dropping one is refused and the record kept."""
    small = params_from(prieto.Params, load("prieto").smoke, "prieto")
    first = dataclasses.replace(small, arms=("orthoadamw",), seeds=(0,))
    run_study("prieto", tmp_path, first, progress=False, static=False)
    seed0 = tmp_path / "sweep" / "orthoadamw" / "runs" / "seed=0"
    before = (seed0 / "metrics.jsonl").read_text()
    grown = dataclasses.replace(small, arms=("stablemax", "orthoadamw"), seeds=(1, 0))
    run_study("prieto", tmp_path, grown, progress=False, static=False)
    assert (seed0 / "metrics.jsonl").read_text() == before  # reused, not retrained
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert sorted(zip(runs["arm"], runs["seed"], strict=True)) == [
        ("orthoadamw", 0), ("orthoadamw", 1), ("stablemax", 0), ("stablemax", 1)]  # fmt: skip
    assert (runs["status"] == "done").all()
    record = (tmp_path / "study.json").read_text()
    assert json.loads(record)["params"]["seeds"] == [1, 0]
    with pytest.raises(RunDirError, match=r"seeds: stored \[1, 0\], given \[1\].*more arms, seeds"):
        run_study("prieto", tmp_path, dataclasses.replace(grown, seeds=(1,)), progress=False)
    assert (tmp_path / "study.json").read_text() == record
