"""The empirical NTK (torch.func), kernel regression, kernel distance and alignment, on cases
with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grokinterp.analysis.kernels import (
    empirical_ntk,
    kernel_alignment,
    kernel_distance,
    kernel_regression,
    linearized_predictions,
    model_fn,
    ntk_accuracies,
    ntk_table,
    trace_kernel_accuracy,
)
from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, init_params
from grokinterp.models.analytic import gromov_params
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
    torch.testing.assert_close(
        empirical_ntk(fn, params, x, mode="trace"), gram, atol=1e-5, rtol=1e-5
    )
    cross = empirical_ntk(fn, params, x, x2, mode="trace")
    torch.testing.assert_close(cross, x.double() @ x2.double().T, atol=1e-5, rtol=1e-5)
    full = empirical_ntk(fn, params, x, mode="full")  # X Xᵀ ⊗ I over the outputs
    torch.testing.assert_close(
        full, torch.einsum("ij,cd->ijcd", gram, torch.eye(3, dtype=torch.float64)), atol=1e-5,
        rtol=1e-5,
    )  # fmt: skip
    # with a bias, every output also gets the constant kernel 1
    with_bias = {**params, "b": torch.zeros(3)}
    k = empirical_ntk(lambda p, inp: inp @ p["w"] + p["b"], with_bias, x, mode="trace")
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
    torch.testing.assert_close(
        empirical_ntk(fn, params, tokens, mode="trace"), expected, atol=1e-4, rtol=1e-4
    )
    full = torch.einsum("icp,jdp->ijcd", jac, jac)  # every class block
    torch.testing.assert_close(
        empirical_ntk(fn, params, tokens, mode="full"), full, atol=1e-4, rtol=1e-4
    )


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
    with pytest.raises(ConfigError, match="mode"):
        empirical_ntk(lambda p, inp: inp @ p["w"], {"w": torch.ones(2, 2)}, torch.ones(3, 2),
                      mode="diag")  # type: ignore[arg-type]  # fmt: skip


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
    accs = ntk_accuracies(run_dir, 0)
    assert set(accs) == {"linearized", "kernel"}
    assert all(0.0 <= v <= 1.0 for v in accs.values())
    assert 0.0 <= trace_kernel_accuracy(run_dir, 0) <= 1.0


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(2, 6), d=st.integers(1, 5), h=st.integers(1, 5), c=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)  # fmt: skip
def test_full_ntk_of_a_deep_linear_model_is_its_closed_form(
    n: int, d: int, h: int, c: int, seed: int
) -> None:
    # f(x) = x W1 W2: Θ(x, x')_{cd} = (x·x') (W2ᵀ W2)_{cd} + δ_{cd} (x W1)·(x' W1), whose
    # cross-class blocks the trace kernel drops
    g = _gen(seed)
    x, x2 = torch.randn(n, d, generator=g), torch.randn(n + 1, d, generator=g)
    params = {"w1": torch.randn(d, h, generator=g), "w2": torch.randn(h, c, generator=g)}

    def fn(p: Params, inp: torch.Tensor) -> torch.Tensor:
        return inp @ p["w1"] @ p["w2"]

    xd, x2d, w1, w2 = x.double(), x2.double(), params["w1"].double(), params["w2"].double()
    expected = torch.einsum("ij,cd->ijcd", xd @ x2d.T, w2.T @ w2) + torch.einsum(
        "ij,cd->ijcd", (xd @ w1) @ (x2d @ w1).T, torch.eye(c, dtype=torch.float64)
    )
    full = empirical_ntk(fn, params, x, x2, mode="full")
    torch.testing.assert_close(full, expected, atol=1e-4, rtol=1e-4)
    trace = empirical_ntk(fn, params, x, x2, mode="trace")
    torch.testing.assert_close(trace, torch.einsum("ijcc->ij", expected) / c, atol=1e-4, rtol=1e-4)


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(2, 6), h=st.integers(8, 16), c=st.integers(1, 3),
    ridge=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 10_000),
)  # fmt: skip
def test_linearized_predictions_are_the_closed_forms(
    n: int, h: int, c: int, ridge: float, seed: int
) -> None:
    g = _gen(seed)
    d = 3
    x, x_test = torch.randn(n, d, generator=g), torch.randn(4, d, generator=g)
    y = torch.randn(n, c, generator=g).double()
    # the kernel is built from float32 Jacobians, so its solve is accurate to about
    # eps32 * cond(X X^T); a 1e-6 tolerance holds for well-conditioned draws only (Hypothesis
    # found a square X with cond(X) = 2,500, off by 0.2%)
    assume(float(torch.linalg.cond(x.double())) < 30)
    # a model linear in its parameters: the linearization is the model itself, and gradient
    # flow on squared loss from W0 ends at W0 + X⁺ (Y − X W0) (minimum-norm change)
    w0 = {"w": torch.randn(d, c, generator=g)}
    pred = linearized_predictions(lambda p, inp: inp @ p["w"], w0, x, y, x_test)
    xd, wd = x.double(), w0["w"].double()
    w_star = wd + torch.linalg.pinv(xd) @ (y - xd @ wd)
    torch.testing.assert_close(pred.linearized, x_test.double() @ w_star, atol=1e-6, rtol=1e-6)
    # a nonlinear model with more parameters than targets: both predictors equal the
    # pseudo-inverse (ridge 0) or ridge formulas on the full NTK
    params = {"w1": torch.randn(d, h, generator=g), "w2": torch.randn(h, c, generator=g)}

    def fn(p: Params, inp: torch.Tensor) -> torch.Tensor:
        return torch.tanh(inp @ p["w1"]) @ p["w2"]

    k = empirical_ntk(fn, params, x, mode="full").permute(0, 2, 1, 3).reshape(n * c, n * c)
    eig = torch.linalg.eigvalsh(k)
    assume(ridge > 0 or eig[0] > 1e-5 * eig[-1])  # ridgeless: a well-conditioned kernel
    pred = linearized_predictions(fn, params, x, y, x_test, ridge=ridge)
    kx = empirical_ntk(fn, params, x_test, x, mode="full").permute(0, 2, 1, 3)
    kx = kx.reshape(4 * c, n * c)
    f0, f0_test = fn(params, x).double(), fn(params, x_test).double()
    kernel = kernel_regression(k, kx, y.reshape(-1, 1), ridge).reshape(4, c)
    lin = f0_test + kernel_regression(k, kx, (y - f0).reshape(-1, 1), ridge).reshape(4, c)
    torch.testing.assert_close(pred.kernel, kernel, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(pred.linearized, lin, atol=1e-5, rtol=1e-4)
    with pytest.raises(ConfigError, match="ridge"):
        linearized_predictions(fn, params, x, y, x_test, ridge=-1.0)
    with pytest.raises(ConfigError, match="y_train"):
        linearized_predictions(fn, params, x, y[:-1], x_test)


def _gromov_split(p: int, freqs: list[int] | None, width: int, frac: float) -> tuple:
    cfg, params = gromov_params(p, width, freqs=freqs)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    x = torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], 1)
    labels = (a.flatten() + b.flatten()) % p
    perm = torch.randperm(p * p, generator=_gen(1))
    tr, te = perm[: int(frac * p * p)], perm[int(frac * p * p) :]
    return model_fn(cfg, p), params, x, labels, tr, te


@pytest.mark.parametrize(("p", "frac"), [(7, 0.5), (11, 0.3), (13, 0.3)])
def test_full_ntk_predictors_are_exact_on_gromovs_network_with_all_frequencies(
    p: int, frac: float
) -> None:
    fn, params, x, labels, tr, te = _gromov_split(p, None, 8 * ((p - 1) // 2), frac)
    y = torch.nn.functional.one_hot(labels[tr], p).double()
    pred = linearized_predictions(fn, params, x[tr], y, x[te])
    assert (pred.kernel.argmax(-1) == labels[te]).all()
    assert (pred.linearized.argmax(-1) == labels[te]).all()


def test_trace_and_full_kernels_differ_where_the_ntk_has_cross_class_blocks() -> None:
    # Gromov's network with 2 of 6 frequencies (p = 13): exact, but its NTK is not k ⊗ I
    fn, params, x, labels, tr, te = _gromov_split(13, [1, 5], 16, 0.5)
    y = torch.nn.functional.one_hot(labels[tr], 13).double()
    full = linearized_predictions(fn, params, x[tr], y, x[te]).kernel
    k = empirical_ntk(fn, params, x, mode="trace")
    trace = kernel_regression(k[tr][:, tr], k[te][:, tr], y)
    acc_full = float((full.argmax(-1) == labels[te]).double().mean())
    acc_trace = float((trace.argmax(-1) == labels[te]).double().mean())
    assert acc_full > acc_trace + 0.3
    # where the NTK is k ⊗ I (a model linear in its last layer only), they agree
    w = {"w": torch.randn(8, 3, generator=_gen(0))}
    xs, xt = torch.randn(6, 8, generator=_gen(1)), torch.randn(5, 8, generator=_gen(2))
    ys = torch.randn(6, 3, generator=_gen(3)).double()
    lin = linearized_predictions(lambda p, inp: inp @ p["w"], w, xs, ys, xt).kernel
    kt = empirical_ntk(lambda p, inp: inp @ p["w"], w, torch.cat([xs, xt]), mode="trace")
    torch.testing.assert_close(lin, kernel_regression(kt[:6, :6], kt[6:, :6], ys), atol=1e-6,
                               rtol=1e-6)  # fmt: skip
