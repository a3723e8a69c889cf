"""The recursive feature machine (Mallinar et al. 2025): kernel interpolation, its Jacobians
against autograd, the AGOP in closed form, and a tiny run that groks in a run directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import TaskConfig, TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.models.rfm import (
    agop,
    gaussian_kernel,
    jacobians,
    matrix_power_psd,
    onehot_pairs,
    solve_kernel_ridge,
)
from grokinterp.runs import Run
from grokinterp.tasks import make_dataset
from grokinterp.training.nonneural import train_nonneural
from grokinterp.training.rfm import rfm_inputs


def _problem(seed: int, n: int = 9, d: int = 6, c: int = 3, m: int = 5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    centers = torch.randn(m, d, generator=gen, dtype=torch.float64)
    alpha = torch.randn(m, c, generator=gen, dtype=torch.float64)
    a = torch.randn(d, d, generator=gen, dtype=torch.float64)
    return x, centers, alpha, a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def test_identity_kernel_ridge_interpolates_the_training_set() -> None:
    ds = make_dataset(TaskConfig(name="add", p=7, train_fraction=0.5))
    x = rfm_inputs(ds)[ds.train_mask]
    y = torch.eye(7, dtype=torch.float64)[ds.train_labels]
    m = torch.eye(14, dtype=torch.float64)
    k = gaussian_kernel(x, x, m, 2.5)
    alpha = solve_kernel_ridge(k, y, 0.0)
    assert torch.allclose(k @ alpha, y, atol=1e-10)
    assert ((k @ solve_kernel_ridge(k, y, 1.0) - y) ** 2).mean() > 1e-4  # a ridge does not


def test_the_kernel_is_the_mahalanobis_gaussian() -> None:
    x, z, _, m = _problem(0)
    d = x[2] - z[3]
    assert gaussian_kernel(x, z, m, 1.7)[2, 3] == pytest.approx(
        float(torch.exp(-(d @ m @ d) / (2 * 1.7**2))), rel=1e-12
    )


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), bandwidth=st.floats(0.5, 4.0), onehot=st.booleans())
def test_jacobians_equal_autograd(seed: int, bandwidth: float, onehot: bool) -> None:
    x, centers, alpha, m = _problem(seed)
    if onehot:  # the RFM's inputs: sparse rows, which jacobians sums over column by column
        gen = torch.Generator().manual_seed(seed)
        a, b = torch.randint(0, 3, (5,), generator=gen), torch.randint(0, 3, (5,), generator=gen)
        centers = onehot_pairs(a, b, 3)

    def f(v: torch.Tensor) -> torch.Tensor:
        return (gaussian_kernel(v[None], centers, m, bandwidth) @ alpha)[0]

    want = torch.stack([torch.func.jacrev(f)(v) for v in x])
    assert torch.allclose(jacobians(x, centers, alpha, m, bandwidth), want, atol=1e-12)


def test_agop_of_one_center_in_closed_form() -> None:
    # f(x) = a k(x, c): J(x) = a k(x, c) M (c - x)^T / L^2, so the uncentered AGOP is
    # (a^2 / (n L^4)) sum_j k_j^2 M (c - x_j)(c - x_j)^T M
    x, centers, alpha, m = _problem(1, c=1, m=1)
    L = 1.3
    k = gaussian_kernel(x, centers, m, L)[:, 0]
    u = (centers - x) @ m  # rows (M (c - x_j))^T
    want = alpha[0, 0] ** 2 * (u.T * k**2) @ u / (len(x) * L**4)
    assert torch.allclose(agop(x, centers, alpha, m, L, centering=False), want, atol=1e-14)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_the_update_is_the_square_root_of_the_centered_agop(seed: int) -> None:
    x, centers, alpha, m = _problem(seed)
    j = jacobians(x, centers, alpha, m, 2.0)
    j = j - j.mean(0)
    g = sum(ji.T @ ji for ji in j) / len(x)
    root = agop(x, centers, alpha, m, 2.0, centering=True, power=0.5)
    assert torch.allclose(root @ root, g, atol=1e-10)
    assert torch.allclose(agop(x, centers, alpha, m, 2.0, centering=True), g, atol=1e-12)
    assert torch.allclose(root, root.T)
    assert torch.allclose(matrix_power_psd(g, 1.0), g, atol=1e-12)


def test_a_singular_kernel_is_a_config_error() -> None:
    x = torch.eye(3, dtype=torch.float64)[[0, 0, 1]]  # two identical training inputs
    k = gaussian_kernel(x, x, torch.eye(3, dtype=torch.float64), 1.0)
    with pytest.raises(ConfigError, match="rfm_ridge"):
        solve_kernel_ridge(k, torch.eye(3, dtype=torch.float64), 0.0)


def _cfg(steps: int) -> TrainConfig:
    return replace(
        TrainConfig(),
        {
            "task": {"p": 13, "train_fraction": 0.7},
            "model": {"arch": "rfm"},
            "optim": {"max_steps": steps},
            "schedule": {"log_every": 1, "ckpt_every": 1, "ckpt_log_count": 0},
        },
    )


def test_a_tiny_rfm_groks_at_zero_training_loss(tmp_path: Path) -> None:
    run = Run(train_nonneural(_cfg(14), tmp_path / "run"))
    m = run.metrics
    assert (m["train_loss"] < 1e-20).all() and (m["train_acc"] == 1).all()
    assert m["test_acc"].iloc[0] <= 1 / 13  # M = I: at most chance
    assert m["test_acc"].iloc[-1] >= 0.5  # the features learned, the test set follows
    assert m["agop_trace"].iloc[0] == 26 and m["m_offdiag_share"].iloc[0] == 0
    # the checkpoint's model scores the test pairs as the run logged them
    ds = run.dataset
    model = run.model(14)
    pred = model(rfm_inputs(ds)[~ds.train_mask]).argmax(1)
    acc = float((pred == ds.test_labels).double().mean())
    assert acc == pytest.approx(float(m["test_acc"].iloc[-1]))
    assert set(run.params(3)) == {"M", "alpha"}


def test_rfm_takes_pair_tasks_only() -> None:
    with pytest.raises(ConfigError, match="arch 'rfm'"):
        replace(_cfg(2), {"task": {"name": "digits", "p": None}})
    with pytest.raises(ConfigError, match="rfm_bandwidth"):
        replace(_cfg(2), {"model": {"rfm_bandwidth": 0.0}})
    with pytest.raises(ConfigError, match="rfm_ridge"):
        replace(_cfg(2), {"model": {"rfm_ridge": -1.0}})
