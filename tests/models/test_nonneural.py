"""The non-neural models: the linear model's gradient descent reaches its closed form."""

from __future__ import annotations

import torch

from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig
from grokinterp.models.nonneural import (
    linear_initial_params,
    linear_map_solution,
    linear_objective_terms,
)
from grokinterp.runs import Run
from grokinterp.tasks import make_samples
from grokinterp.training.nonneural import train_nonneural


def linear_config(**model: object) -> TrainConfig:
    return TrainConfig(
        task=TaskConfig(
            name="linear_features",
            p=None,
            n_samples=30,
            train_fraction=None,
            train_size=6,
            data_seed=3,
        ),  # fmt: skip
        # a stronger prior than Miller et al.'s 0.5: the slowest direction converges in
        # hundreds of steps instead of tens of thousands
        model=ModelConfig(arch="linear", prior_var=0.05, **model),  # type: ignore[arg-type]
        optim=OptimConfig(
            lr=3e-3, weight_decay=0.0, warmup_steps=0, max_steps=3000, optimizer="sgd"
        ),  # fmt: skip
        schedule=ScheduleConfig(
            log_every=500, ckpt_log_until=10, ckpt_log_count=2, ckpt_every=1500
        ),  # fmt: skip
    )


def test_closed_form_is_the_stationary_point_of_the_objective():
    cfg = linear_config()
    s = make_samples(cfg.task)
    w = linear_map_solution(s.x_train, s.y_train, cfg.model).requires_grad_(True)
    fit, complexity = linear_objective_terms(w, s.x_train.double(), s.y_train.double(), cfg.model)
    (grad,) = torch.autograd.grad(fit + complexity, w)
    assert float(grad.abs().max()) < 1e-8
    # and the ridge formula by hand, for one 2 x 2 case: sigma^2 = 1, sigma_p^2 = 1
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([1.0, 3.0])
    w2 = linear_map_solution(x, y, ModelConfig(arch="linear", noise_var=1.0, prior_var=1.0))
    # (X^T X + I) w = X^T y: [[3, 1], [1, 2]] w = [4, 3] -> w = (1, 1)
    assert torch.allclose(w2, torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-12)


def test_gradient_descent_converges_to_the_ridge_solution(tmp_path):
    for init in ("high_complexity", "zeros", "xavier"):
        cfg = linear_config(linear_init=init)
        run = Run(train_nonneural(cfg, tmp_path / init))
        s = run.samples
        want = linear_map_solution(s.x_train, s.y_train, cfg.model)
        got = run.params(3000)["W"].double()
        assert torch.allclose(got, want, atol=2e-4), (init, got, want)
        # the model of the checkpoint predicts with those weights
        model = run.model(3000)
        assert torch.allclose(model(s.x), s.x @ got.float(), atol=1e-6)
        # the logged objective terms are those of the final weights
        last = run.metrics.iloc[-1]
        fit, complexity = linear_objective_terms(got, s.x_train.double(), s.y_train.double(),
                                                 cfg.model)  # fmt: skip
        assert abs(last["complexity"] - float(complexity)) < 1e-5 * max(1.0, float(complexity))
        assert abs(last["data_fit"] - float(fit)) < 1e-4 * max(1.0, float(fit))


def test_high_complexity_start_is_miller_et_al_s():
    w = linear_initial_params(ModelConfig(arch="linear"), 4, [0], torch.Generator())["W"]
    assert torch.equal(w, torch.tensor([0.0005, 0.9, 0.9, 0.9]))
    w = linear_initial_params(ModelConfig(arch="linear", init_scale=2.0), 3, [1], torch.Generator())
    assert torch.allclose(w["W"], torch.tensor([1.8, 0.001, 1.8]))
