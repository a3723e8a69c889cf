"""Dropout in training (ModelConfig.dropout; grokinterp.models.dropout): the masks'
distribution and reproducibility, and the training loop's use of it (eval-mode metrics,
exact resume, the ensemble's refusal)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from helpers import assert_resume_extends_exactly, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import ModelConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.models import Dropout
from grokinterp.runs.run import Run
from grokinterp.sweeps import run_sweep
from grokinterp.training import train, train_ensemble
from grokinterp.training.loop import evaluate


@settings(deadline=None, max_examples=25)
@given(
    rate=st.floats(min_value=0.01, max_value=0.99),
    seed=st.integers(min_value=0, max_value=2**62 - 1),
    step=st.integers(min_value=0, max_value=10**7),
)
def test_masks_are_inverted_bernoulli_and_fixed_by_seed_and_step(rate, seed, step):
    n = 20_000
    x = torch.ones(n, dtype=torch.float64)
    y = Dropout(rate, seed, step)(x)
    dropped = int((y == 0).sum())
    # kept values are divided by 1 - rate; the zeros a Binomial(n, rate) (6 sigma)
    assert torch.all((y == 0) | torch.isclose(y, torch.tensor(1 / (1 - rate), dtype=y.dtype)))
    assert abs(dropped - n * rate) <= 6 * math.sqrt(n * rate * (1 - rate)) + 1
    # the masks of an update are a function of (seed, step): the same again, another step's
    # and another seed's differ
    assert torch.equal(Dropout(rate, seed, step)(x), y)
    if 0 < dropped < n:
        assert not torch.equal(Dropout(rate, seed, step + 1)(x), y)
        assert not torch.equal(Dropout(rate, seed ^ 1, step)(x), y)


def test_successive_sites_draw_fresh_masks():
    drop = Dropout(0.5, 0, 0)
    x = torch.ones(1000)
    assert not torch.equal(drop(x), drop(x))


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, math.nan])
def test_rate_outside_the_open_interval_is_refused(rate):
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        Dropout(rate, 0, 0)


@pytest.mark.parametrize("rate", [1.0, -0.1, math.nan])
def test_config_refuses_a_dropout_outside_zero_one(rate):
    with pytest.raises(ConfigError, match="model.dropout"):
        ModelConfig(dropout=rate)


def test_config_refuses_dropout_where_it_is_not_defined():
    with pytest.raises(ConfigError, match="model.dropout: is only available for arch=transformer"):
        ModelConfig(arch="mlp", mlp_input="one_hot", dropout=0.1)
    with pytest.raises(ConfigError, match="center_output"):
        ModelConfig(dropout=0.1, center_output=True)


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("batch_size", [None, 7])
def test_dropout_trains_but_the_metrics_are_the_undropped_networks(tmp_path, batch_size):
    """Step 0's metrics (before any update) are those of the same network without dropout,
    so the logged train loss is the eval-mode one; the updates then differ."""
    plain = tiny_config(max_steps=20, batch_size=batch_size)
    dropped = replace(plain, {"model": {"dropout": 0.3}})
    train(plain, tmp_path / "plain", progress=False)
    train(dropped, tmp_path / "dropped", progress=False)
    a, b = _metrics(tmp_path / "plain"), _metrics(tmp_path / "dropped")
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert a[0][key] == b[0][key], key
    assert a[-1]["train_loss"] != b[-1]["train_loss"]
    # a later logged train loss is the eval-mode loss of that step's weights
    run = Run(tmp_path / "dropped")
    ds = run.dataset
    loss, acc, _, _ = evaluate(run.params(run.steps[-1]), dropped, ds.train_inputs, ds.train_labels)
    assert b[-1]["step"] == run.steps[-1]
    assert (loss, acc) == (pytest.approx(b[-1]["train_loss"], rel=1e-9), b[-1]["train_acc"])


@pytest.mark.parametrize("batch_size", [None, 7])
def test_a_run_with_dropout_resumes_to_the_same_numbers(tmp_path, batch_size):
    short = tiny_config(max_steps=20, batch_size=batch_size)
    assert_resume_extends_exactly(replace(short, {"model": {"dropout": 0.2}}), 40, tmp_path)


def test_the_ensemble_refuses_dropout_before_training(tmp_path):
    cfg = replace(tiny_config(), {"model": {"dropout": 0.1}})
    with pytest.raises(ConfigError, match="model.dropout: .*backend local"):
        train_ensemble([cfg, dataclasses.replace(cfg, seed=1)], [tmp_path / "a", tmp_path / "b"])
    assert not (tmp_path / "a").exists()
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    spec = {"base": {"config": str(tmp_path / "cfg.json")}, "seeds": [0, 1]}
    with pytest.raises(ConfigError, match="model.dropout"):
        run_sweep(spec, tmp_path / "sweep", backend="ensemble", progress=False)
    assert not list((tmp_path / "sweep" / "runs").iterdir())
