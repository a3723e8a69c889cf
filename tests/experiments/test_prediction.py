"""The grokking predictor: evaluation on a labeled table, the JSON round trip, `predict`,
and `sweep --prune-after`."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

from grokinterp.analysis.early import FAMILIES
from grokinterp.cli import main
from grokinterp.config import replace
from grokinterp.errors import ConfigError
from grokinterp.experiments import predictor as predictor_mod
from grokinterp.experiments.prediction import (
    ORDER,
    Params,
    evaluate,
    fit,
    pruning,
    recall_threshold,
)
from grokinterp.experiments.predictor import (
    DOMAIN,
    Predictor,
    domain_of,
    load_models,
    outside_domain,
    save_models,
)
from grokinterp.runs import Run, layout
from grokinterp.sweeps.engine import run_sweep
from grokinterp.training import train

N = 20


def _table(rng: np.random.Generator, parts: list[str], cells: int = 12) -> pd.DataFrame:
    """Two seeds per cell; grokking runs have a larger low-band amplitude (the rest noise)."""
    rows = []
    for part in parts:
        for c in range(cells):
            groks = c % 2 == 0
            for seed in (0, 1):
                row = {f: rng.normal() for fam in FAMILIES.values() for f in fam}
                row["spec_low_amp"] = 10 ** (rng.normal(-1 if groks else -3, 0.3))
                row.update(part=part, cell=f"{part}/{c}", name=f"{part}/{c}/{seed}", N=N,
                           grokked=groks, grok_step=500.0 if groks else np.nan)  # fmt: skip
                rows.append(row)
    return pd.DataFrame(rows)


def test_evaluation_finds_the_informative_family():
    table = _table(np.random.default_rng(0), ["a", "b", "held"])
    ev = evaluate(table, ["a", "b"], ["held"], regime="minibatch")
    assert set(ev.auc["regime"]) == {"minibatch"}
    auc = ev.auc.set_index("family")
    assert auc.loc["spectral", "auc_cv"] > 0.95 and auc.loc["spectral", "auc_heldout"] > 0.95
    assert auc.loc["baseline", "auc_cv"] < 0.8  # noise only
    assert ev.models[N].family in ("spectral", "all")
    conf = ev.confusion
    cv = conf[(conf["family"] == "spectral") & (conf["set"] == "cv")].iloc[0]
    assert cv["tp"] + cv["fn"] == 24 and cv["tn"] + cv["fp"] == 24
    assert cv["fn"] <= 1  # the threshold keeps 95% of the grokking runs out of fold


def test_recall_threshold_and_pruning_arithmetic():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3, 0.05, 0.6])
    assert recall_threshold(y, p, 1.0) == 0.2
    assert recall_threshold(y, p, 0.75) == 0.7
    out = pruning(y.astype(bool), p, 0.5, n=150)
    assert out["pruned"] == 4 and out["grokking_lost"] == 1
    assert out["compute_saved"] == pytest.approx(4 * (1500 - 150) / (8 * 1500))


def test_predictor_file_round_trips(tmp_path):
    table = _table(np.random.default_rng(1), ["a"])
    model = dataclasses.replace(fit(table, "all", N), threshold=0.37, heldout={"auc": 0.9})
    save_models({N: model}, tmp_path / "m.json")
    again = load_models(tmp_path / "m.json")[N]
    assert again == model
    x = table[model.features].to_numpy(np.float64)
    np.testing.assert_allclose(again.probability(x), model.probability(x))
    assert "pickle" not in (tmp_path / "m.json").read_text()


def test_shipped_predictor_loads():
    models = load_models()
    assert models and all(m.n == n and m.budget > n for n, m in models.items())


def _constant_model(path, intercept: float, domain: dict | None = None) -> None:
    """A predictor at N that says the same for every run (a train_loss_rel term with 0
    weight), with the training ``domain`` given (default: none recorded)."""
    save_models(
        {N: Predictor(n=N, budget=60, grok_threshold=0.95, family="baseline",
                      features=["train_loss_rel"], log_features=["train_loss_rel"],
                      impute=[0.0], mean=[0.0], scale=[1.0], coef=[0.0], intercept=intercept,
                      threshold=0.5,
                      heldout={"compute_saved": 0.5, "grokking_lost": 0, "grokking_runs": 3},
                      domain=domain or {})},
        path,
    )  # fmt: skip


TINY = {"p": 11, "train_fraction": 0.5, "d_model": 32, "d_head": 8, "d_mlp": 64, "lr": 3e-3,
        "log_every": 5, "ckpt_log_count": 0, "ckpt_every": 10, "max_steps": 60,
        "early_loss_steps": N}  # fmt: skip


def _spec():
    return {"base": {"preset": "quick"}, "overrides": TINY, "grid": {"weight_decay": [0.3, 1.0]},
            "backend": "ensemble"}  # fmt: skip


@pytest.mark.slow
def test_prune_after_stops_runs_and_records_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(predictor_mod, "MODEL_FILE", tmp_path / "never.json")
    _constant_model(tmp_path / "never.json", intercept=-10.0)
    spec_path = tmp_path / "s.json"
    spec_path.write_text(json.dumps(_spec()))
    out = tmp_path / "pruned"
    assert main(["sweep", str(spec_path), "--out", str(out), "--prune-after", str(N),
                 "--no-progress"]) == 0  # fmt: skip
    said = capsys.readouterr().out
    assert "2 of 2 runs stopped, 67% of the sweep's training steps saved" in said
    table = pd.read_csv(out / "results.csv")
    assert list(table["status"]) == ["pruned", "pruned"]
    assert (table["steps"] == N).all() and (table["p_grok"] < 1e-4).all()
    # a rerun does not train them further
    assert main(["sweep", str(spec_path), "--out", str(out), "--prune-after", str(N),
                 "--no-progress"]) == 0  # fmt: skip
    assert (pd.read_csv(out / "results.csv")["steps"] == N).all()

    # kept runs go on to their budget, to the same numbers as an unpruned sweep
    _constant_model(tmp_path / "never.json", intercept=10.0)
    kept = run_sweep(_spec(), tmp_path / "kept", progress=False, prune=predictor_mod.pruner(N))
    plain = run_sweep(_spec(), tmp_path / "plain", progress=False)
    assert list(kept["status"]) == ["done", "done"] and (kept["p_grok"] > 0.99).all()
    pd.testing.assert_series_equal(kept["final_test_loss"], plain["final_test_loss"], rtol=1e-6)


def test_prune_after_refuses_runs_without_enough_losses(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(predictor_mod, "MODEL_FILE", tmp_path / "m.json")
    _constant_model(tmp_path / "m.json", intercept=0.0)
    spec = _spec()
    spec["overrides"] = {**TINY, "early_loss_steps": 5}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    out = tmp_path / "sw"
    assert main(["sweep", str(tmp_path / "s.json"), "--out", str(out), "--prune-after",
                 str(N)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "early_loss_steps" in err
    assert not out.exists()
    assert main(["sweep", str(tmp_path / "s.json"), "--out", str(out), "--prune-after", "7"]) == 2
    assert "trained at N in [20]" in capsys.readouterr().err


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict") / "run"
    cfg = replace(tiny_config(max_steps=30), {"schedule": {"early_loss_steps": N}})
    train(cfg, d, progress=False)
    return d


def test_predict_prints_probability_drivers_and_model(short_run, tmp_path, capsys):
    _constant_model(tmp_path / "m.json", intercept=1.0)
    assert main(["predict", str(short_run), "--model", str(tmp_path / "m.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "P(test accuracy >= 0.95 within 60 steps) = 0.731 at N = 20" in lines[0]
    assert lines[1].startswith("drivers (log-odds terms): train_loss_rel = ")
    assert lines[2].startswith("model: logistic regression on the baseline features")


def test_predict_warns_outside_the_training_domain_only(short_run, tmp_path, capsys):
    cfg = Run(short_run).config
    inside = domain_of([cfg])
    _constant_model(tmp_path / "in.json", intercept=1.0, domain=inside)
    assert main(["predict", str(short_run), "--model", str(tmp_path / "in.json")]) == 0
    said = capsys.readouterr().out
    assert "warning" not in said and "outside" not in said
    # another width and another task family than the run's
    wider = domain_of([replace(cfg, {"model": {"d_model": 2 * cfg.model.d_model}})])
    other = {**wider, "task": ["sub" if cfg.task.name != "sub" else "add"]}
    _constant_model(tmp_path / "out.json", intercept=1.0, domain=other)
    assert main(["predict", str(short_run), "--model", str(tmp_path / "out.json")]) == 0
    warn = capsys.readouterr().out.splitlines()[-1]
    assert warn.startswith("warning: this run is outside the setups the predictor was trained")
    assert f"d_model {cfg.model.d_model} (trained on {2 * cfg.model.d_model})" in warn
    assert f"task {cfg.task.name}" in warn
    # another budget
    longer = {**inside, "budget": [cfg.optim.max_steps * 10]}
    assert outside_domain(dataclasses.replace(load_models(tmp_path / "in.json")[N],
                                              domain=longer), cfg) == [
        f"budget {cfg.optim.max_steps} (trained on {cfg.optim.max_steps * 10})"
    ]  # fmt: skip


def test_shipped_predictor_states_its_domain():
    for m in load_models().values():
        assert set(m.domain) == set(DOMAIN) and all(m.domain[k] for k in DOMAIN)
        assert "studies/prediction" in m.trained_on


def test_predict_bad_input_exits_2_with_one_line(short_run, tmp_path, capsys):
    _constant_model(tmp_path / "m.json", intercept=1.0)
    model = ["--model", str(tmp_path / "m.json")]
    bare = tmp_path / "bare"
    train(replace(tiny_config(max_steps=30), {"schedule": {"early_loss_steps": 0}}), bare,
          progress=False)  # fmt: skip
    short = tmp_path / "short"
    train(replace(tiny_config(max_steps=10), {"schedule": {"early_loss_steps": N}}), short,
          progress=False)  # fmt: skip
    cases = [
        (["predict", str(bare), *model], "no per-update training losses"),
        (["predict", str(short), *model], "no step the predictor was trained at"),
        (["predict", str(short), "--steps", str(N), *model], "fewer than N = 20"),
        (["predict", str(short_run), "--steps", "25", *model], "trained at N in [20]"),
        (["predict", str(tmp_path / "nope"), *model], "no such run directory"),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and fragment in err, err
    assert not (bare / layout.EARLY_LOSS).exists()


def test_a_sweep_written_before_a_config_field_existed_resumes(tmp_path):
    # the study's sweeps outlived config fields added while they trained
    spec = {**_spec(), "overrides": {**TINY, "max_steps": 10}}
    run_sweep(spec, tmp_path / "sw", progress=False)
    stored = json.loads((tmp_path / "sw" / "spec.json").read_text())
    for cfg in stored["runs"].values():
        del cfg["optim"]["orthogonal_grad"]  # at its default: as a grokinterp before it wrote
    (tmp_path / "sw" / "spec.json").write_text(json.dumps(stored))
    again = run_sweep(spec, tmp_path / "sw", progress=False)
    assert list(again["status"]) == ["done", "done"]


def test_bad_params_name_the_parameter():
    with pytest.raises(ConfigError, match="^parts"):
        Params(parts=("add_p19", "no_such_sweep"))
    with pytest.raises(ConfigError, match="^parts"):
        Params(parts=("add_p19", "add_p19"))
    assert Params().parts == () and set(ORDER) >= set(Params(parts=("sub_p23",)).parts)
