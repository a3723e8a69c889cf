"""The non-neural study (Miller et al. 2024): its parameters, and a tiny run end to end."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments.nonneural import Params, run

HAS_GPYTORCH = importlib.util.find_spec("gpytorch") is not None


def test_params_name_the_bad_parameter() -> None:
    with pytest.raises(ConfigError, match="n_bits"):
        Params(n_bits=(2,))
    with pytest.raises(ConfigError, match="gp_steps"):
        Params(gp_steps=0)
    with pytest.raises(ConfigError, match="gp_seeds, linear_seeds"):
        Params(gp_seeds=(), linear_seeds=())


@pytest.mark.slow
def test_linear_runs_alone_need_no_gpytorch(tmp_path: Path) -> None:
    result = run(tmp_path, Params(gp_seeds=(), linear_seeds=(0,)), progress=False, static=False)
    assert set(result.tables) == {"summary", "metrics"}
    assert result.data["run"].tolist() == ["linear_seed=0"]
    assert "linear" in result.report


@pytest.mark.slow
@pytest.mark.skipif(not HAS_GPYTORCH, reason="the gp extra (gpytorch) is not installed")
def test_tiny_study(tmp_path: Path) -> None:
    params = Params(n_bits=(10,), gp_seeds=(0,), linear_seeds=(0,), gp_steps=4)
    result = run(tmp_path, params, progress=False, static=False)
    assert result.data["run"].tolist() == ["gp_bits=10,seed=0", "linear_seed=0"]
    assert (tmp_path / "figures" / "index.html").is_file()
    assert "median delay" in result.report
