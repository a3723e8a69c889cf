"""Kumar et al. 2024's output scale (arXiv 2310.06110, App. 8.1, Eq. 7) as an option of the
one training core: the predictor ``alpha (f(x; theta) - f(x; theta_0))`` with plain gradient
descent at ``lr = eta_0 / alpha^2``; at the defaults nothing changes; both trainers (alone, as
ensemble members) train it and resume exactly."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_runs_close, assert_same_run, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.cli import main
from grokinterp.config import ModelConfig, TaskConfig, TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.models import answer_forward, answer_forward_chunked, answer_logits, init_params
from grokinterp.models.loss import mse64
from grokinterp.runs import Run, layout
from grokinterp.tasks import make_dataset
from grokinterp.training import train, train_ensemble

MLP = {"arch": "mlp", "mlp_input": "onehot", "act_fn": "quadratic", "mlp_bias": False,
       "d_mlp": 16}  # fmt: skip


def _cfg(alpha: float, center: bool = True, **optim) -> TrainConfig:
    """A tiny quadratic MLP on one-hot pairs (Kumar et al.'s modular-arithmetic network at
    toy size), MSE, plain GD at eta_0 / alpha^2 without weight decay."""
    eta0 = optim.pop("eta0", 2.0)
    base = tiny_config(**optim)
    return replace(
        base,
        model={**MLP, "output_scale": alpha, "center_output": center},
        loss="mse",
        optimizer="sgd",
        weight_decay=0.0,
        warmup_steps=0,
        lr=eta0 / alpha**2,
    )


_DATA = make_dataset(TaskConfig(name="add", p=11, train_fraction=0.5))


def _net(seed: int = 0, **model) -> tuple[dict[str, torch.Tensor], ModelConfig, torch.Tensor]:
    cfg = ModelConfig(**{**MLP, **model})
    ds = _DATA
    params = init_params(cfg, ds.d_vocab, ds.n_classes, torch.Generator().manual_seed(seed))
    return params, cfg, ds.inputs


def test_at_the_defaults_the_logits_are_the_networks_bit_for_bit():
    params, cfg, x = _net()
    assert cfg.output_scale == 1.0 and not cfg.center_output
    assert torch.equal(answer_logits(params, x, cfg), answer_forward(params, x, cfg)[0])
    # a config written before the option existed loads with it off
    d = tiny_config().to_dict()
    for k in ("output_scale", "center_output"):
        d["model"].pop(k)
    assert TrainConfig.from_dict(d) == tiny_config()


@settings(max_examples=8, deadline=None)
@given(alpha=st.floats(0.01, 1000.0), seed=st.integers(0, 10**6))
def test_the_predictor_and_its_gradient_are_kumars_formula(alpha, seed):
    """f~ = alpha (f - f_0) and, for the MSE loss L(f~), dL/dtheta = alpha J^T dL/df~ with J
    the network's own Jacobian (the chain rule written out by hand)."""
    params, cfg, x = _net(seed, output_scale=alpha, center_output=True)
    base = {k: v.clone() for k, v in params.items()}
    moved = {k: v + 0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(seed + 1))
             for k, v in params.items()}  # fmt: skip
    f = answer_forward(moved, x, cfg)[0].double()
    f0 = answer_forward(base, x, cfg)[0].double()
    got = answer_logits(moved, x, cfg, base).double()
    assert torch.allclose(got, alpha * (f - f0), rtol=1e-5, atol=1e-5 * alpha)
    assert torch.equal(answer_logits(params, x, cfg, base), torch.zeros_like(got.float()))
    # the gradient, by autograd through the option and by hand
    y = torch.randint(0, 11, (len(x),), generator=torch.Generator().manual_seed(seed))
    leaf = {k: v.clone().requires_grad_(True) for k, v in moved.items()}
    mse64(answer_logits(leaf, x, cfg, base), y).backward()
    target = torch.nn.functional.one_hot(y, 11).double()
    dl_df = (2.0 / (len(x) * 11)) * (got - target)  # d mean_{i,c}(f~ - t)^2 / d f~
    raw = {k: v.clone().requires_grad_(True) for k, v in moved.items()}
    fr = answer_forward(raw, x, cfg)[0]
    (fr.double() * (alpha * dl_df)).sum().backward()  # alpha J^T dL/df~
    for k in leaf:
        gap = (leaf[k].grad - raw[k].grad).norm() / raw[k].grad.norm()
        assert float(gap) < 1e-5, k


def test_the_learning_rate_eta0_over_alpha2_keeps_the_first_step_independent_of_alpha():
    """Kumar et al. App. 8.1: with lr eta_0 / alpha^2 the first change of the predictor does
    not depend on alpha to first order in eta_0 (-eta_0 J J^T dL/df~); what is left is second
    order in the step of the weights, eta_0 / alpha, and so falls as 1 / alpha (float64)."""
    params, _, x = _net(3)
    params = {k: v.double() for k, v in params.items()}
    y = torch.arange(len(x)) % 11
    changes = []
    for alpha in (1.0, 10.0, 100.0, 1000.0):
        cfg = ModelConfig(**{**MLP, "output_scale": alpha, "center_output": True})
        leaf = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        mse64(answer_logits(leaf, x, cfg, params), y).backward()
        lr = 1e-2 / alpha**2
        stepped = {k: (v - lr * v.grad).detach() for k, v in leaf.items()}
        changes.append(answer_logits(stepped, x, cfg, params))
    gaps = [float((c - changes[-1]).norm() / changes[-1].norm()) for c in changes[:-1]]
    assert gaps[0] < 1e-3
    for big, small in zip(gaps, gaps[1:], strict=False):  # x10 alpha: /10 the rest
        assert 8 < big / small < 12


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("output_scale", 0.0, "output_scale: must be positive and finite"),
        ("output_scale", -2.0, "output_scale: must be positive and finite"),
        ("output_scale", float("inf"), "output_scale: must be positive and finite"),
        ("output_scale", float("nan"), "output_scale: must be positive and finite"),
    ],
)
def test_bad_output_scale_is_one_clear_line(field, value, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**{**MLP, field: value})


def test_the_command_line_refuses_a_bad_scale_with_exit_2(tmp_path, capsys):
    out = tmp_path / "r"
    try:
        status = main(["train", "--out", str(out), "--arch", "mlp", "--p", "7",
                       "--output-scale", "-1"])  # fmt: skip
    except SystemExit as e:
        status = int(e.code or 0)
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output_scale: must be positive and finite" in err[0]
    assert not out.exists()


def test_the_analysis_forward_refuses_a_scaled_run():
    params, cfg, x = _net(output_scale=4.0, center_output=True)
    with pytest.raises(ConfigError, match="predictor is alpha"):
        answer_forward_chunked(params, x, cfg)
    with pytest.raises(ConfigError, match="needs the initial weights"):
        answer_logits(params, x, cfg)


def test_a_centered_run_starts_at_zero_and_trains(tmp_path):
    d = train(_cfg(10.0, max_steps=30), tmp_path / "r", progress=False)
    rows = layout.read_metrics(d)
    assert rows[0]["train_loss"] == pytest.approx(1 / 11)  # f~ = 0: mean (0 - onehot)^2
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


@pytest.mark.parametrize("batch_size", [None, 7])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, batch_size):
    short = _cfg(10.0, max_steps=20, batch_size=batch_size)
    long = replace(short, max_steps=40)
    train(short, tmp_path / "resumed", progress=False)
    train(long, tmp_path / "resumed", resume=True, progress=False)
    train(long, tmp_path / "straight", progress=False)
    assert_same_run(tmp_path / "resumed", tmp_path / "straight")


def test_ensemble_members_equal_their_lone_runs(tmp_path):
    cfgs = [_cfg(10.0, max_steps=20), replace(_cfg(10.0, max_steps=20), seed=3, lr=0.05)]
    dirs = [tmp_path / "m0", tmp_path / "m1"]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        alone = train(cfg, tmp_path / f"alone{i}", progress=False)
        assert_runs_close(dirs[i], alone, rtol=1e-4)


def test_an_ensemble_resumed_mid_run_equals_a_straight_one(tmp_path):
    short = [replace(_cfg(4.0, max_steps=20), seed=s) for s in (0, 1)]
    long = [replace(c, max_steps=40) for c in short]
    dirs = [tmp_path / f"m{s}" for s in (0, 1)]
    train_ensemble(short, dirs, progress=False)
    train_ensemble(long, dirs, progress=False)  # the ensemble always resumes
    for i, cfg in enumerate(long):
        alone = train(cfg, tmp_path / f"alone{i}", progress=False)
        assert_runs_close(dirs[i], alone, rtol=1e-4)


def test_plain_gd_is_p_minus_lr_g(tmp_path):
    """optim.optimizer = sgd on a neural arch: one update is exactly p - lr g."""
    cfg = replace(_cfg(1.0, center=False, max_steps=1), lr=0.3)
    run = Run(train(cfg, tmp_path / "r", progress=False))
    p0, p1 = run.params(0), run.params(1)
    ds = run.dataset
    leaf = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
    mse64(answer_logits(leaf, ds.train_inputs, cfg.model), ds.train_labels).backward()
    for k in p0:
        assert torch.allclose(p1[k], p0[k] - 0.3 * leaf[k].grad, atol=1e-7), k
