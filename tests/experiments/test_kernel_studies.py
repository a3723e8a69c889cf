"""The kernel and Gromov studies end to end on tiny settings: tables, report, figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments import gromov, kernels


def test_params_name_the_bad_parameter() -> None:
    with pytest.raises(ConfigError, match="fractions"):
        kernels.Params(fractions=(0.5, 1.0))
    with pytest.raises(ConfigError, match="fractions"):
        kernels.Params(fractions=(0.5, 0.5))
    with pytest.raises(ConfigError, match="n_points"):
        kernels.Params(n_points=0)
    with pytest.raises(ConfigError, match="widths"):
        gromov.Params(widths=(64, 48))
    with pytest.raises(ConfigError, match="widths"):
        gromov.Params(p=97, widths=(10, 20))  # all below (p-1)/2 = 48
    with pytest.raises(ConfigError, match="train_fraction"):
        gromov.Params(train_fraction=1.0)


@pytest.mark.slow
def test_kernel_study(tmp_path: Path) -> None:
    params = kernels.Params(p=7, fractions=(0.8, 0.5), max_steps=20, n_points=20, kernel_steps=3)
    result = kernels.run(tmp_path / "k", params, progress=False, static=False)
    summary = result.data
    assert set(result.tables) == {"summary", "kernel_over_training", "metrics"}
    assert summary["train_fraction"].tolist() == [0.5, 0.8]
    for col in (
        "net_test_acc",
        "linearized_init_test_acc",
        "kernel_init_test_acc",
        "trace_init_test_acc",
        "linearized_final_test_acc",
        "kernel_final_test_acc",
    ):
        assert summary[col].between(0, 1).all()  # fmt: skip
    kernel = pd.read_csv(tmp_path / "k" / "kernel_over_training.csv")
    assert (kernel.groupby("train_fraction")["kernel_distance"].first().abs() < 1e-9).all()
    # the full-NTK predictors at the first and last checkpoints of every run
    per_run = kernel.dropna(subset=["linearized_test_acc"]).groupby("train_fraction")["step"]
    assert (per_run.min() == 0).all() and (per_run.max() == 20).all()
    assert (tmp_path / "k" / "figures" / "index.html").exists()
    assert "lin@init" in (tmp_path / "k" / "report.txt").read_text()


def test_kernel_checkpoints_keep_the_ends_and_the_required() -> None:
    steps = [0, 1, 2, 5, 10, 50, 100, 500, 1000, 3000]
    chosen = kernels.kernel_checkpoints(steps, [50], 4)
    assert chosen[0] == 0 and chosen[-1] == 3000 and 50 in chosen
    assert set(chosen) <= set(steps) and len(chosen) <= 5
    with pytest.raises(ConfigError, match="kernel_steps"):
        kernels.Params(kernel_steps=1)


@pytest.mark.slow
def test_gromov_study(tmp_path: Path) -> None:
    params = gromov.Params(p=11, widths=(5, 10, 40, 200), seeds=(0, 1), p_train=7, max_steps=20)
    result = gromov.run(tmp_path / "g", params, progress=False, static=False)
    width, training = result.data
    assert set(result.tables) == {"width", "training"}
    assert set(width["phases"]) == {"random", "balanced"}
    assert (width[width["phases"] == "balanced"]["acc"] == 1.0).all()
    assert width[width["phases"] == "balanced"]["width"].min() == 40  # 8 per frequency
    assert training["step"].iloc[0] == 0 and training["gromov_similarity"].between(0, 1).all()
    assert "similarity" in (tmp_path / "g" / "report.txt").read_text()
