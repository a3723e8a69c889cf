"""The kernel and Gromov studies end to end on tiny settings: tables, report, figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from grokinterp.experiments import analytic, kernels


@pytest.mark.slow
def test_kernel_study(tmp_path: Path) -> None:
    summary = kernels.run_study(
        tmp_path / "k", p=7, fractions=[0.5, 0.8], max_steps=20, n_points=20, progress=False,
        static=False,
    )  # fmt: skip
    assert summary["train_fraction"].tolist() == [0.5, 0.8]
    for col in ("net_test_acc", "ntk_init_test_acc", "ntk_final_test_acc"):
        assert summary[col].between(0, 1).all()
    kernel = pd.read_csv(tmp_path / "k" / "kernel_over_training.csv")
    assert (kernel.groupby("train_fraction")["kernel_distance"].first().abs() < 1e-9).all()
    assert (tmp_path / "k" / "figures" / "index.html").exists()
    assert "ntk@init" in (tmp_path / "k" / "report.txt").read_text()


@pytest.mark.slow
def test_gromov_study(tmp_path: Path) -> None:
    width, training = analytic.run_study(
        tmp_path / "g", p=11, widths=[5, 10, 40, 200], seeds=[0, 1], p_train=7, max_steps=20,
        progress=False, static=False,
    )  # fmt: skip
    assert set(width["phases"]) == {"random", "balanced"}
    assert (width[width["phases"] == "balanced"]["acc"] == 1.0).all()
    assert width[width["phases"] == "balanced"]["width"].min() == 40  # 8 per frequency
    assert training["step"].iloc[0] == 0 and training["gromov_similarity"].between(0, 1).all()
    assert "similarity" in (tmp_path / "g" / "report.txt").read_text()
