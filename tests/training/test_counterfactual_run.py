"""A run on the counterfactual task: the one training core trains the two-headed MLP with
the factual loss, logs the effect errors on every metrics line (checked against the saved
weights), resumes exactly, and the ensemble trainer refuses it in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokinterp.analysis.table import measure_run
from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.models import answer_logits
from grokinterp.presets import get_preset
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.tasks import make_dataset
from grokinterp.tasks.counterfactual import effect_errors
from grokinterp.training import train, train_ensemble
from grokinterp.training.effects import EFFECT_FIELDS


def tiny() -> TrainConfig:
    return replace(get_preset("counterfactual"), {
        "task": {"n_samples": 60}, "model": {"d_mlp": 8},
        "optim": {"max_steps": 40, "lr": 1e-2},
        "schedule": {"log_every": 10, "ckpt_every": 10, "ckpt_log_until": 10,
                     "ckpt_log_count": 1},
    })  # fmt: skip


def _same(a: dict, b: dict) -> bool:
    """Two metrics lines agree (NaN equals NaN; wall time ignored)."""
    keys = set(a) - {"wall_time"}
    if keys != set(b) - {"wall_time"}:
        return False
    for k in keys:
        x, y = a[k], b[k]
        if isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif x != y:
            return False
    return True


def test_a_run_logs_effect_errors_that_its_weights_give(tmp_path):
    cfg = tiny()
    run = train(cfg, tmp_path / "run", progress=False)
    rows = layout.read_metrics(run)
    assert {0, 10, 20, 30, 40} <= {r["step"] for r in rows}
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert all(math.isnan(r["train_acc"]) and math.isnan(r["test_acc"]) for r in rows)
    ds = make_dataset(cfg.task)
    assert ds.potential is not None
    tau = (ds.potential[:, 1] - ds.potential[:, 0]).double().numpy()
    train_rows = ds.train_mask.numpy()
    checked = 0
    for row in rows:
        path = layout.checkpoint_path(run, row["step"])
        if not path.exists():
            continue
        checked += 1
        params, _ = load_tensors(path)
        out = answer_logits(params, ds.inputs, cfg.model).double().numpy()
        tau_hat = out[:, 1] - out[:, 0]
        pehe_in, ate_in = effect_errors(tau_hat[train_rows], tau[train_rows])
        pehe_out, ate_out = effect_errors(tau_hat[~train_rows], tau[~train_rows])
        for k, v in zip(EFFECT_FIELDS, (pehe_in, ate_in, pehe_out, ate_out), strict=True):
            assert row[k] == pytest.approx(v, rel=1e-5, abs=1e-6), (row["step"], k)
        # the logged training loss is the factual squared error of the training units
        y = ds.labels[ds.train_mask].double().numpy()
        factual = np.where(y[:, 0] == 1, out[train_rows, 1], out[train_rows, 0])
        assert row["train_loss"] == pytest.approx(np.mean((factual - y[:, 1]) ** 2), rel=1e-5)
    assert checked >= 5


def test_a_resumed_run_equals_a_straight_one(tmp_path):
    cfg = tiny()
    straight = train(cfg, tmp_path / "straight", progress=False)
    half = train(replace(cfg, {"optim": {"max_steps": 20}}), tmp_path / "half", progress=False)
    train(cfg, half, resume=True, progress=False)
    a, b = layout.read_metrics(straight), layout.read_metrics(half)
    assert len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    wa, _ = load_tensors(layout.checkpoint_path(straight, 40))
    wb, _ = load_tensors(layout.checkpoint_path(half, 40))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_analyze_refuses_a_regression_run_in_one_line(tmp_path):
    run = train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="real-valued targets"):
        measure_run(run, progress=False)
    assert not (run / layout.ANALYSIS).exists()  # nothing written


def test_the_ensemble_trainer_refuses_the_factual_loss(tmp_path):
    with pytest.raises(ConfigError, match="one run at a time"):
        train_ensemble([tiny()], [tmp_path / "e0"], progress=False)


def test_a_centered_predictor_starts_at_the_zero_predictors_pehe(tmp_path):
    """With ``center_output`` the predictor is 0 at step 0 (Kumar et al.'s Eq. 7), so the
    logged PEHE there is the zero predictor's ``sqrt(mean tau^2)`` and the ATE error
    ``|mean tau|``, on each set of units."""
    cfg = replace(tiny(), {"model": {"center_output": True, "output_scale": 2.0}})
    run = train(cfg, tmp_path / "run", progress=False)
    first = layout.read_metrics(run)[0]
    ds = make_dataset(cfg.task)
    assert ds.potential is not None
    tau = (ds.potential[:, 1] - ds.potential[:, 0]).double().numpy()
    m = ds.train_mask.numpy()
    for rows, pehe, ate in ((m, "pehe_in", "ate_error_in"), (~m, "pehe_out", "ate_error_out")):
        assert first[pehe] == pytest.approx(np.sqrt(np.mean(tau[rows] ** 2)), rel=1e-9)
        assert first[ate] == pytest.approx(abs(tau[rows].mean()), rel=1e-9, abs=1e-12)
