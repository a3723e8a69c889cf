"""The non-neural trainer: GP and linear run directories round-trip through Run; bad
configs exit 2 with one line and touch nothing."""

from __future__ import annotations

import json

import pytest
import torch

from grokinterp.cli import main
from grokinterp.config import (
    ModelConfig,
    OptimConfig,
    ScheduleConfig,
    TaskConfig,
    TrainConfig,
    replace,
)
from grokinterp.errors import ConfigError
from grokinterp.presets import NONNEURAL_PRESETS
from grokinterp.runs import Run, layout
from grokinterp.training import checkpoint_steps
from grokinterp.training.nonneural import train_nonneural


def small_gp_config() -> TrainConfig:
    return TrainConfig(
        task=TaskConfig(
            name="concealed_parity",
            p=None,
            n_bits=6,
            parity_bits=2,
            n_samples=80,
            train_fraction=None,
            train_size=60,
        ),  # fmt: skip
        model=ModelConfig(arch="gp"),
        optim=OptimConfig(
            lr=5e-2, weight_decay=0.0, beta2=0.999, warmup_steps=0, max_steps=30
        ),  # fmt: skip
        schedule=ScheduleConfig(log_every=3, ckpt_log_until=10, ckpt_log_count=3, ckpt_every=15),
    )


def test_gp_run_round_trips_through_run(tmp_path):
    gpytorch = pytest.importorskip("gpytorch", reason="the gp extra (GPyTorch) is not installed")
    cfg = small_gp_config()
    run = Run(train_nonneural(cfg, tmp_path / "gp"))
    assert run.config == cfg
    assert run.steps == checkpoint_steps(cfg.schedule, 30)
    m = run.metrics
    assert m["step"].tolist()[0] == 0 and m["step"].tolist()[-1] == 30
    for col in (
        "train_acc",
        "test_acc",
        "train_loss",
        "test_loss",
        "complexity",
        "data_fit",
        "objective",
        "lengthscale_relevant",
        "lengthscale_concealed",
        "outputscale",
    ):
        assert col in m and m[col].notna().all(), col  # fmt: skip
    # at step 0 q(u) = p(u): the KL term is 0; the predictive is 1/2 everywhere
    assert abs(m["complexity"].iloc[0]) < 1e-3 and abs(m["test_loss"].iloc[0] - 0.6931) < 1e-3
    lm = run.landmarks()
    assert lm.train_step is not None  # 60 strings of 6 bits: the GP fits them
    # every checkpoint's model reproduces the logged accuracy and loss of its step
    s = run.samples
    for step in (0, run.steps[-1]):
        model = run.model(step)
        with torch.no_grad(), gpytorch.settings.max_cholesky_size(10_000):
            prob = gpytorch.likelihoods.BernoulliLikelihood()(model(s.x)).probs.double()
        row = m[m["step"] == step].iloc[0]
        acc = float(((prob[~s.train_mask] >= 0.5).double() == s.y_test).double().mean())
        assert acc == pytest.approx(row["test_acc"], abs=1e-9)
        ls = model.covar_module.base_kernel.lengthscale.reshape(-1).double()
        assert float(ls[:2].mean()) == pytest.approx(row["lengthscale_relevant"], rel=1e-5)
    # a second run into the same directory is refused
    with pytest.raises(Exception, match="already holds a run"):
        train_nonneural(cfg, tmp_path / "gp")


def test_gp_without_gpytorch_is_one_line(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def no_gpytorch(name, *args, **kw):  # type: ignore[no-untyped-def]
        if name == "gpytorch" or name.startswith("gpytorch."):
            raise ImportError(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_gpytorch)
    with pytest.raises(ConfigError, match=r"grokinterp\[gp\]"):
        train_nonneural(small_gp_config(), tmp_path / "gp")
    assert not (tmp_path / "gp").exists()


def test_presets_are_valid_and_paired():
    assert NONNEURAL_PRESETS["miller_gp"].task.n_bits == 40
    assert NONNEURAL_PRESETS["miller_linear"].optim.optimizer == "sgd"
    # choosing a sample task from a pair config clears p
    cfg = replace(NONNEURAL_PRESETS["miller_linear"], {"task": {"name": "linear_features"}})
    assert cfg.task.p is None


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["nonneural", "--n-bits", "2"], "task.parity_bits"),
        (["nonneural", "--parity-bits", "0"], "task.parity_bits"),
        (["nonneural", "--weight-decay", "1"], "optim.weight_decay"),
        (["nonneural", "--noise-var", "-1"], "model.noise_var"),
        (["nonneural", "--prior-var", "0"], "model.prior_var"),
        (["nonneural", "--task", "add", "--p", "7", "--train-fraction", "0.5"], "task.name"),
        (["nonneural", "--task", "linear_features"], "model.arch"),
        (["nonneural", "--preset", "miller_linear", "--arch", "gp"], "model.arch"),
        (["nonneural", "--arch", "mlp"], "model.arch"),
        (["nonneural", "--batch-size", "10"], "optim.batch_size"),
        (["nonneural", "--grokfast", "ema"], "optim.grokfast"),
        (["nonneural", "--n-samples", "1"], "task.n_samples"),
        (["nonneural", "--linear-init", "big"], "--linear-init"),
        (["nonneural", "--optimizer", "lbfgs"], "--optimizer"),
        (
            [
                "train",
                "--task",
                "concealed_parity",
                "--n-bits",
                "5",
                "--parity-bits",
                "2",
                "--n-samples",
                "50",
            ],
            "model.arch",
        ),  # fmt: skip
        (
            [
                "train",
                "--task",
                "linear_features",
                "--n-samples",
                "50",
                "--arch",
                "linear",
                "--weight-decay",
                "0",
                "--optimizer",
                "muon",
            ],
            "optim.optimizer",
        ),  # fmt: skip
        (["nonneural-study", "--n-bits", "2"], "n_bits"),
    ],
)
def test_bad_nonneural_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, argv, fragment):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    if argv[0] != "train":
        argv = [*argv, "--out", str(out)]
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert err.startswith("grokinterp: error: ") and "\n" not in err, err
    assert fragment in err, err
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_the_command_trains_the_linear_model(tmp_path, capsys):
    out = tmp_path / "lin"
    argv = ["nonneural", "--preset", "miller_linear", "--max-steps", "400", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    assert "run written to" in capsys.readouterr().out
    stored = json.loads((out / layout.CONFIG).read_text())
    assert stored["model"]["arch"] == "linear" and stored["optim"]["max_steps"] == 400
    m = Run(out).metrics
    assert {"weight_relevant", "weight_other", "complexity"} <= set(m.columns)
    assert m["weight_other"].iloc[-1] < m["weight_other"].iloc[0]  # the prior shrinks them
