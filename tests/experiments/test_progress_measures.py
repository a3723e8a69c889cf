"""The progress-measures study: its summary of the shipped reference run, and a tiny run
trained, analyzed and summarized end to end."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments.progress_measures import Params, run, summarize

ROOT = Path(__file__).resolve().parents[2]
NANDA = ROOT / "checkpoints" / "nanda"
TINY = {"preset": "quick", "p": 7, "max_steps": 40, "ckpt_log_count": 3, "ckpt_every": 20}


def test_params_name_the_bad_parameter(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="preset"):
        Params(preset="nope")
    with pytest.raises(ConfigError, match="key_freq_rule"):
        Params(key_freq_rule="fft")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ckpt_every"):
        Params(ckpt_every=0)
    with pytest.raises(ConfigError, match="run_dir"):
        Params(run_dir=tmp_path)


def test_summary_of_the_shipped_run() -> None:
    row = summarize(NANDA).iloc[0]
    assert (row["grokking_step"], row["train_99_step"]) == (6490, 140)
    phases = [row[k] for k in ("memorization_end", "circuit_formation_end", "cleanup_end")]
    assert phases == [1360, 5560, 7260]
    assert row["key_freqs"] == "1 8 21" and row["n_key_freqs"] == 3
    assert row["frac_clustered"] == pytest.approx(0.8047, abs=1e-4)
    # README, "What the reference run shows": restricted loss ~2000 steps before test loss
    assert (row["restricted_loss_below_1_step"], row["test_loss_below_1_step"]) == (4000, 6000)


@pytest.mark.slow
def test_tiny_study_trains_analyzes_and_reads_an_existing_run(tmp_path: Path) -> None:
    result = run(tmp_path / "s", Params(**TINY), progress=False, static=False)  # type: ignore[arg-type]
    # the study's own tables; the trained run's analysis stays the run's (out/run/analysis)
    assert "summary" in result.tables
    assert not any(name.startswith("run/") for name in result.tables)
    assert (tmp_path / "s" / "run" / "analysis" / "measures.csv").is_file()
    row = result.data.iloc[0]
    assert row["steps"] == 40 and row["checkpoints"] >= 3 and row["p"] == 7
    assert set(result.verdicts.values()) <= {"held", "did not hold", "undecided"}
    assert "Nanda et al. 2023" in result.report
    assert (tmp_path / "s" / "run" / "analysis" / "figures" / "index.html").is_file()
    # an existing, analyzed run: read, not retrained or rewritten, no figures added
    other = tmp_path / "copy"
    shutil.copytree(tmp_path / "s" / "run", other)
    shutil.rmtree(other / "analysis" / "figures")
    before = {p: p.read_bytes() for p in other.rglob("*") if p.is_file()}
    again = run(tmp_path / "t", Params(run_dir=other), progress=False, static=False)
    assert {p: p.read_bytes() for p in other.rglob("*") if p.is_file()} == before
    for col in ("grokking_step", "train_99_step", "n_key_freqs", "frac_clustered"):
        a, b = row[col], again.data.iloc[0][col]
        assert (math.isnan(a) and math.isnan(b)) or a == b
