import math

import numpy as np
import pytest

from grokinterp.analysis.efficiency import estimate_dcrit


def test_known_crossing_in_log_d():
    sizes = np.geomspace(100, 10_000, 9)
    # memorization norm grows like sqrt(D); generalization norm is flat at sqrt(2000)
    mem = [np.sqrt(sizes) * s for s in (0.9, 1.0, 1.1)]
    gen = [np.full_like(sizes, np.sqrt(2000.0))] * 3
    est = estimate_dcrit(sizes, mem, gen)
    # log-linear interpolation of sqrt(D) between grid points: within a few percent of 2000
    assert est.d_crit == pytest.approx(2000, rel=0.03)
    assert est.per_seed[0] > est.per_seed[1] > est.per_seed[2]  # weaker memorizer, later
    assert est.per_seed[0] == pytest.approx(2000 / 0.81, rel=0.03)
    assert est.spread == (est.per_seed[2], est.per_seed[0])


def test_exact_when_the_difference_is_linear_in_log_d():
    sizes = [10, 100, 1000]
    mem = [[math.log(10), math.log(100), math.log(1000)]]
    gen = [[math.log(316.2277660168379)] * 3]
    assert estimate_dcrit(sizes, mem, gen).d_crit == pytest.approx(316.2277660168379)


def test_noise_where_the_curves_overlap_is_ignored():
    # measured shape (quick preset): below D_crit the true-label runs memorize too, so the
    # curves overlap with noise; the crossing that matters is the last one (450 -> 1000)
    sizes = [40, 90, 200, 450, 1000]
    mem = [[15.17, 17.50, 21.84, 28.43, 35.04]]
    gen = [[15.22, 17.37, 22.16, 29.41, 24.03]]
    est = estimate_dcrit(sizes, mem, gen)
    assert 450 < est.d_crit < 1000


def test_no_crossing_and_bad_input():
    est = estimate_dcrit([1, 2, 3], [[1, 1, 1]], [[2, 2, 2]])
    assert est.d_crit is None and est.per_seed == [None] and est.spread is None
    with pytest.raises(ValueError, match="increasing"):
        estimate_dcrit([3, 2], [[1, 1]], [[1, 1]])
    with pytest.raises(ValueError, match=r"\(seeds, 3\)"):
        estimate_dcrit([1, 2, 3], [[1, 1]], [[1, 1]])


TINY = {
    "p": 11,
    "d_model": 32,
    "d_head": 8,
    "d_mlp": 64,
    "lr": 3e-3,
    "log_every": 5,
    "ckpt_log_count": 2,
    "ckpt_log_until": 5,
    "ckpt_every": 1000,
}


def test_norm_curves_end_to_end(tmp_path):
    from grokinterp.experiments.efficiency import norm_curves

    table, crossing = norm_curves(
        {"preset": "quick", "overrides": TINY},
        [20, 40],
        [0, 1],
        target_loss=0.5,
        out_dir=tmp_path,
        max_steps=400,
        read_at="first",
        progress=False,
    )
    assert len(table) == 8 and set(table["kind"]) == {"mem", "gen"}
    assert table["reached_target"].all()
    assert (table["final_train_loss"] <= 0.5).all()
    for name in ("curves.csv", "norm_vs_d.html", "report.txt"):
        assert (tmp_path / name).exists()
    assert "D_crit" in (tmp_path / "report.txt").read_text()
    # the memorization-only runs really are trained on permuted labels
    from grokinterp.runs import Run

    run = Run(next((tmp_path / "mem" / "runs").iterdir()))
    assert run.config.task.random_labels and run.config.optim.stop_loss == 0.5
    # read at convergence: every run trains the full budget, no stopping rule
    table, _ = norm_curves(
        {"preset": "quick", "overrides": TINY},
        [20, 40],
        [0],
        target_loss=0.5,
        out_dir=tmp_path / "conv",
        max_steps=60,
        progress=False,
    )
    assert (table["steps"] == 60).all()
    with pytest.raises(ValueError, match="read_at"):
        norm_curves({"preset": "quick"}, [20, 40], [0], 0.5, tmp_path / "x", read_at="late")


def test_ungrokking_end_to_end(tmp_path, capsys):
    from grokinterp.cli import main
    from grokinterp.config import TrainConfig
    from grokinterp.runs import layout
    from grokinterp.training import train

    cfg = TrainConfig.from_dict(
        {
            "task": {"p": 11, "train_fraction": 0.6},
            "model": {"d_model": 32, "d_head": 8, "d_mlp": 64},
            "optim": {"lr": 3e-3, "max_steps": 30},
            "schedule": {
                "ckpt_log_count": 2,
                "ckpt_log_until": 5,
                "ckpt_every": 1000,
                "log_every": 5,
            },
        }
    )
    grokked = train(cfg, tmp_path / "grokked", progress=False)
    ckpt = layout.checkpoint_path(grokked, 30)
    assert (
        main(
            [
                "efficiency",
                "ungrok",
                str(ckpt),
                "--sizes",
                "10,40",
                "--weight-decays",
                "0.5,1",
                "--steps",
                "20",
                "--out",
                str(tmp_path / "ug"),
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "weight decay 0.5" in out and "Varma et al. predict" in out
    import pandas as pd

    table = pd.read_csv(tmp_path / "ug" / "ungrokking.csv")
    assert sorted(zip(table["D_prime"], table["weight_decay"], strict=True)) == [
        (10, 0.5),
        (10, 1.0),
        (40, 0.5),
        (40, 1.0),
    ]
    assert (table["status"] == "done").all()
    assert (
        main(
            [
                "efficiency",
                "ungrok",
                str(tmp_path / "nope.safetensors"),
                "--sizes",
                "5",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )


@pytest.mark.parametrize("experiment", ["curves", "study"])
def test_even_p_is_refused_before_any_training(tmp_path, capsys, experiment):
    """gen_share needs the real Fourier basis over Z_p (odd p): one line, exit 2, nothing
    trained (it used to train every run and then crash in the circuit statistics)."""
    from helpers import tiny_config

    from grokinterp.cli import main

    cfg = tiny_config()
    config = tmp_path / "p10.json"
    config.write_text(
        cfg.to_json()
        .replace('"p": 11', '"p": 10')
        .replace('"train_fraction": 0.5', '"train_fraction": 0.6')
    )
    out = tmp_path / "out"
    argv = [
        "efficiency",
        experiment,
        "--config",
        str(config),
        "--sizes",
        "20,40",
        "--seeds",
        "0",
        "--max-steps",
        "20",
    ]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "odd p" in err and "p=10" in err
    assert not out.exists()  # refused before the first run trained
