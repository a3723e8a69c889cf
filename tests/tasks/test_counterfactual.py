"""The counterfactual task: a seeded IHDP-like generator whose effects are known exactly,
the PEHE / ATE error on closed-form cases, and the two-headed factual loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import ModelConfig, OptimConfig, TaskConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import factual_mse64
from grokinterp.presets import get_preset
from grokinterp.tasks import make_dataset
from grokinterp.tasks.counterfactual import (
    BETA_VALUES,
    CATT,
    N_BINARY,
    N_CONTINUOUS,
    effect_errors,
    generate,
)

units = st.integers(min_value=2, max_value=400)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@settings(max_examples=30, deadline=None)
@given(n=units, seed=seeds)
def test_the_generator_is_a_function_of_its_seed(n, seed):
    a, b = generate(n, seed), generate(n, seed)
    for f in ("x", "t", "y", "mu0", "mu1", "beta", "propensity"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.omega == b.omega
    other = generate(n, seed + 1)
    assert not np.array_equal(a.x, other.x)


@settings(max_examples=30, deadline=None)
@given(n=units, seed=seeds)
def test_tau_is_hills_surface_b(n, seed):
    d = generate(n, seed)
    x_c, x_b = d.x[:, :N_CONTINUOUS], d.x[:, N_CONTINUOUS:]
    assert d.x.shape == (n, N_CONTINUOUS + N_BINARY) and set(np.unique(x_b)) <= {0.0, 1.0}
    assert set(d.beta) <= set(BETA_VALUES)
    assert set(np.unique(d.t)) <= {0, 1} and d.t.any()
    # tau(x) = x beta - omega - exp((x + 0.5) beta), written out term by term
    lin = sum(d.x[:, j] * d.beta[j] for j in range(d.x.shape[1]))
    exp_term = np.exp(sum((d.x[:, j] + 0.5) * d.beta[j] for j in range(d.x.shape[1])))
    np.testing.assert_allclose(d.tau, lin - d.omega - exp_term, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(d.mu0, exp_term, rtol=1e-12)
    # omega makes the treated units' mean effect Hill's CATT of 4
    assert d.tau[d.t == 1].mean() == pytest.approx(CATT, abs=1e-9)
    # the propensity is logistic in the continuous covariates only
    assert np.all((d.propensity > 0) & (d.propensity < 1))
    assert x_c.shape[1] == N_CONTINUOUS


def test_the_outcome_is_the_assigned_arms_plus_unit_noise():
    d = generate(20_000, 3)
    noise = d.y - np.where(d.t == 1, d.mu1, d.mu0)
    assert abs(noise.mean()) < 0.03 and noise.std() == pytest.approx(1.0, abs=0.03)


def test_assignment_is_confounded():
    """Treated units sit elsewhere in covariate space (the propensity is not constant) and
    about 19% of units are treated, as in IHDP."""
    d = generate(20_000, 0)
    assert d.t.mean() == pytest.approx(0.19, abs=0.04)
    gap = d.x[d.t == 1, :N_CONTINUOUS].mean(0) - d.x[d.t == 0, :N_CONTINUOUS].mean(0)
    assert np.abs(gap).max() > 0.1


@settings(max_examples=40, deadline=None)
@given(n=units, seed=seeds, c=st.floats(min_value=-50, max_value=50))
def test_pehe_closed_forms(n, seed, c):
    tau = generate(n, seed).tau
    assert effect_errors(tau, tau) == (0.0, 0.0)
    pehe, ate = effect_errors(np.zeros(n), tau)
    assert pehe == pytest.approx(math.sqrt(np.mean(tau**2)), rel=1e-12)
    assert ate == pytest.approx(abs(tau.mean()), rel=1e-12, abs=1e-12)
    # a constant c: PEHE^2 = var(tau) + (mean tau - c)^2, ATE error |c - mean tau|
    pehe_c, ate_c = effect_errors(np.full(n, c), tau)
    assert pehe_c**2 == pytest.approx(tau.var() + (tau.mean() - c) ** 2, rel=1e-9, abs=1e-9)
    assert ate_c == pytest.approx(abs(c - tau.mean()), rel=1e-9, abs=1e-9)


def test_effect_errors_refuse_mismatched_vectors():
    with pytest.raises(ValueError):
        effect_errors(np.zeros(3), np.zeros(4))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 50), seed=seeds)
def test_the_factual_loss_trains_only_the_assigned_head(n, seed):
    gen = torch.Generator().manual_seed(seed % 2**31)
    out = torch.randn(n, 2, generator=gen)
    t = torch.randint(0, 2, (n,), generator=gen)
    y = torch.randn(n, generator=gen)
    labels = torch.stack([t.float(), y], 1)
    want = [(float(out[i, int(t[i])]) - float(y[i])) ** 2 for i in range(n)]
    per = factual_mse64(out, labels, reduction="none")
    np.testing.assert_allclose(per.numpy(), want, rtol=1e-6, atol=1e-6)
    assert float(factual_mse64(out, labels)) == pytest.approx(np.mean(want), rel=1e-6, abs=1e-6)
    # the other arm's output gets no gradient
    out.requires_grad_(True)
    factual_mse64(out, labels).backward()
    assert out.grad is not None
    other = out.grad[torch.arange(n), 1 - t]
    assert torch.all(other == 0)


def test_the_data_set_holds_factual_labels_and_potential_outcomes():
    cfg = get_preset("counterfactual").task
    ds, d = make_dataset(cfg), generate(cfg.n_samples or 0, cfg.data_seed)
    assert ds.d_vocab == 25 and ds.n_classes == 2 and int(ds.train_mask.sum()) == 672
    np.testing.assert_allclose(ds.labels[:, 0].numpy(), d.t)
    np.testing.assert_allclose(ds.labels[:, 1].numpy(), d.y, rtol=1e-6)
    assert ds.potential is not None
    np.testing.assert_allclose(ds.potential.numpy(), np.stack([d.mu0, d.mu1], 1))


def test_the_task_pairs_only_with_its_loss_and_the_mlp():
    task = TaskConfig(name="counterfactual", p=None, n_samples=100, train_fraction=0.9)
    mlp = ModelConfig(arch="mlp", mlp_input="features")
    with pytest.raises(ConfigError, match="factual_mse"):
        TrainConfig(task=task, model=mlp)
    with pytest.raises(ConfigError, match="counterfactual task's loss"):
        TrainConfig(optim=OptimConfig(loss="factual_mse"))
    with pytest.raises(ConfigError, match="random_labels"):
        make_dataset(TaskConfig(name="counterfactual", p=None, n_samples=100,
                                train_fraction=0.9, random_labels=True))  # fmt: skip
