"""The empirical NTK (torch.func), kernel regression, kernel distance and alignment, on cases
with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from grokinterp.analysis.kernels import (
    empirical_ntk,
    kernel_alignment,
    kernel_distance,
    kernel_regression,
    model_fn,
    ntk_regression_accuracy,
    ntk_table,
)
from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, init_params
from grokinterp.training import train


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_ntk_of_a_linear_model_is_x_xt() -> None:
    x = torch.randn(9, 5, generator=_gen(0))
    x2 = torch.randn(4, 5, generator=_gen(1))
    params = {"w": torch.randn(5, 3, generator=_gen(2))}

    def fn(p: Params, inp: torch.Tensor) -> torch.Tensor:
        return inp @ p["w"]

    gram = x.double() @ x.double().T
    torch.testing.assert_close(empirical_ntk(fn, params, x), gram, atol=1e-5, rtol=1e-5)
    cross = empirical_ntk(fn, params, x, x2)
    torch.testing.assert_close(cross, x.double() @ x2.double().T, atol=1e-5, rtol=1e-5)
    full = empirical_ntk(fn, params, x, mode="full")  # X Xᵀ ⊗ I over the outputs
    torch.testing.assert_close(
        full, torch.einsum("ij,cd->ijcd", gram, torch.eye(3, dtype=torch.float64)), atol=1e-5,
        rtol=1e-5,
    )  # fmt: skip
    # with a bias, every output also gets the constant kernel 1
    with_bias = {**params, "b": torch.zeros(3)}
    k = empirical_ntk(lambda p, inp: inp @ p["w"] + p["b"], with_bias, x)
    torch.testing.assert_close(k, gram + 1, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(arch="mlp", d_model=8, d_mlp=12, act_fn="quadratic", mlp_combine="concat"),
        ModelConfig(d_model=8, d_mlp=12, n_heads=2, d_head=4),  # the transformer's fast forward
    ],
    ids=["mlp", "transformer"],
)
def test_ntk_matches_per_example_autograd(cfg: ModelConfig) -> None:
    params = init_params(cfg, 8, 7, _gen(0))
    tokens = torch.tensor([[0, 1, 7], [3, 5, 7], [6, 6, 7], [2, 0, 7]])
    fn = model_fn(cfg, 7)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    rows = []
    for t in tokens:
        out = fn(leaves, t[None])[0]
        per_class = []
        for c in range(7):
            grads = torch.autograd.grad(out[c], list(leaves.values()), retain_graph=True)
            per_class.append(torch.cat([g.flatten() for g in grads]))
        rows.append(torch.stack(per_class))
    jac = torch.stack(rows).double()  # (4, 7, P)
    expected = torch.einsum("icp,jcp->ij", jac, jac) / 7
    torch.testing.assert_close(empirical_ntk(fn, params, tokens), expected, atol=1e-4, rtol=1e-4)


def test_kernel_regression_returns_the_closed_forms() -> None:
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(6, 10)), rng.normal(size=(5, 10))  # n < d: interpolation
    y = rng.normal(size=(6, 2))
    k, k_cross = torch.tensor(x @ x.T), torch.tensor(x_test @ x.T)
    # ridge 0: the minimum-norm least-squares solution of the linear model
    w_min_norm = np.linalg.lstsq(x, y, rcond=None)[0]
    pred = kernel_regression(k, k_cross, torch.tensor(y))
    np.testing.assert_allclose(pred.numpy(), x_test @ w_min_norm, atol=1e-9)
    # ridge > 0: the primal ridge solution (XᵀX + λI)⁻¹ Xᵀ y
    w_ridge = np.linalg.solve(x.T @ x + 0.7 * np.eye(10), x.T @ y)
    pred = kernel_regression(k, k_cross, torch.tensor(y), ridge=0.7)
    np.testing.assert_allclose(pred.numpy(), x_test @ w_ridge, atol=1e-9)
    # an interpolating kernel regression reproduces its training targets
    np.testing.assert_allclose(kernel_regression(k, k, torch.tensor(y)).numpy(), y, atol=1e-9)
    with pytest.raises(ConfigError, match="ridge"):
        kernel_regression(k, k_cross, torch.tensor(y), ridge=-1.0)


def test_kernel_distance_and_alignment() -> None:
    a = torch.randn(6, 6, generator=_gen(0))
    k = a @ a.T
    assert kernel_distance(k, 3 * k) == pytest.approx(0.0, abs=1e-12)
    e1, e2 = torch.zeros(2, 2), torch.zeros(2, 2)
    e1[0, 0], e2[1, 1] = 1.0, 1.0
    assert kernel_distance(e1, e2) == pytest.approx(1.0)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    y = torch.nn.functional.one_hot(labels, 3).double()
    assert kernel_alignment(y @ y.T, labels, 3) == pytest.approx(1.0)
    assert kernel_alignment(2 * (y @ y.T) + 5.0, labels, 3) == pytest.approx(1.0)


def test_non_neural_arch_is_refused() -> None:
    with pytest.raises(ConfigError, match="arch mlp or transformer"):
        model_fn(ModelConfig(arch="linear"), 7)


def test_ntk_over_a_run(tmp_path: Path) -> None:
    cfg = TrainConfig(
        task=TaskConfig(name="add", p=7, train_fraction=0.6),
        model=ModelConfig(
            arch="mlp", d_model=8, d_mlp=16, act_fn="quadratic", mlp_combine="concat"
        ),
        optim=OptimConfig(lr=1e-2, max_steps=30),
        schedule=ScheduleConfig(log_every=10, ckpt_log_until=10, ckpt_log_count=2, ckpt_every=10),
    )
    run_dir = train(cfg, tmp_path / "r", progress=False)
    table = ntk_table(run_dir, n_points=30)
    assert table["kernel_distance"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert table["kernel_distance"].iloc[-1] > 1e-4
    assert table["step"].tolist() == sorted(table["step"])
    assert 0.0 <= ntk_regression_accuracy(run_dir, 0) <= 1.0
