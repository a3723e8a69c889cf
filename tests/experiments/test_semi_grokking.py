import json

import pandas as pd
import pytest

from grokinterp.config import replace
from grokinterp.errors import ConfigError
from grokinterp.experiments.semi_grokking import Params, judge_semi, run
from grokinterp.presets import get_preset


def _runs(classes_at: dict[int, list[str]]) -> pd.DataFrame:
    rows = [
        {"D": d, "seed": s, "plateau_class": c}
        for d, cs in classes_at.items()
        for s, c in enumerate(cs)
    ]
    return pd.DataFrame(rows)


def test_judge_semi_needs_a_semi_grokked_run_near_dcrit():
    near = _runs({200: ["memorized", "semi-grokked"], 400: ["grokked", "grokked"]})
    assert judge_semi(near, 246).startswith("reproduced: 1 semi-grokked run(s)")
    far = _runs({100: ["semi-grokked"], 246: ["memorized", "rising"], 600: ["grokked"]})
    verdict = judge_semi(far, 246)
    assert verdict.startswith("not seen on this setup") and "(1 semi-grokked in all)" in verdict
    assert "not judged" in judge_semi(near, None)


def test_bad_input_refused_before_disk(tmp_path):
    out = tmp_path / "semi"
    for kwargs, name in (
        ({"sizes": (300, 200), "seeds": (0,)}, "sizes"),
        ({"sizes": (200,), "seeds": (0, 0)}, "seeds"),
        ({"sizes": (200,), "seeds": (0,), "d_crit": -1.0}, "d_crit"),
        ({"sizes": (200,), "seeds": (0,), "trace_every": 150}, "trace_every"),
        ({"sizes": (200,), "seeds": (0,), "threads": 0}, "threads"),
        ({"weight_decays": (1.0, 0.5)}, "weight_decays"),
        ({"weight_decays": (0.0, 1.0)}, "weight_decays"),
        ({"weight_decays": ()}, "weight_decays"),
        ({"preset": "nope"}, "preset"),
    ):
        with pytest.raises(ConfigError, match=f"^{name}"):
            Params(**kwargs)  # type: ignore[arg-type]
    # more training pairs than a + b mod 47 has: refused by the configs, before any training
    with pytest.raises(ConfigError):
        run(out, Params(sizes=(5000,), seeds=(0,)), progress=False)
    assert not out.exists()


@pytest.mark.slow
def test_semi_study_writes_tables_per_round_and_resumes(tmp_path, monkeypatch):
    """A tiny version of the study (a + b mod 17, small model): D = 40 memorizes, D = 200
    generalizes, at both weight decays; one sweep per size (its weight decays and seeds
    together), the larger first; re-running trains nothing and rewrites the same tables.
    (HTML figures only: a PNG export takes seconds.)"""
    from grokinterp.viz import report as viz_report

    monkeypatch.setattr(viz_report, "static_export_available", lambda: False)

    cfg = replace(
        get_preset("efficiency"),
        {
            "task": {"p": 17},
            "model": {"d_model": 32, "d_head": 8, "d_mlp": 64},
            "optim": {"lr": 1e-2},
        },
    )
    path = tmp_path / "base.json"
    path.write_text(json.dumps(cfg.to_dict()))
    out = tmp_path / "semi"
    params = Params(
        config=path, sizes=(40, 200), weight_decays=(1.0, 2.0), seeds=(0, 1), d_crit=100.0,
        max_steps=400, log_every=20, ckpt_every=200, threads=1,
    )  # fmt: skip
    result = run(out, params, progress=False)
    report = result.report
    assert report == (out / "report.txt").read_text() and "verdict: " in report
    # no size within a factor 1.5 of D_crit = 100
    assert result.verdicts["semi-grokking near D_crit"] == "did not hold"
    assert "semi-grokked runs: " in report
    assert set(result.tables) == {"runs", "test_acc"}
    for d in (40, 200):
        assert (out / "sweep" / f"D={d}" / "results.csv").exists()
    # the larger size trained first
    first = out / "sweep" / "D=200" / "runs" / "weight_decay=1.0,seed=0" / "config.json"
    assert first.stat().st_mtime_ns < (out / "sweep" / "D=40" / "spec.json").stat().st_mtime_ns
    runs = pd.read_csv(out / "runs.csv")
    pd.testing.assert_frame_equal(runs, result.data.runs)
    assert list(runs[["D", "weight_decay", "seed"]].itertuples(index=False, name=None)) == [
        (d, wd, s) for d in (40, 200) for wd in (1.0, 2.0) for s in (0, 1)
    ]
    assert (runs["status"] == "done").all() and (runs["steps"] == 400).all()
    assert runs["D_over_dcrit"].tolist() == [0.4] * 4 + [2.0] * 4
    # each run trained with its own weight decay
    cfg_2 = json.loads((out / "sweep" / "D=40" / "runs" / "weight_decay=2.0,seed=1" /
                        "config.json").read_text())  # fmt: skip
    assert cfg_2["optim"]["weight_decay"] == 2.0
    small, large = runs[runs["D"] == 40], runs[runs["D"] == 200]
    assert (small["plateau_class"] == "memorized").all()
    assert large["plateau_class"].isin(["grokked", "semi-grokked", "undecided"]).all()
    assert (large["max_test_acc"] > 0.5).all() and (small["max_test_acc"] < 0.2).all()
    assert (large["gen_share"] > 0.5).all() and (small["gen_share"] < 0.2).all()
    assert (runs["max_test_acc"] >= runs["final_test_acc"]).all()
    assert large["test_50_step"].notna().all() and small["test_50_step"].isna().all()
    traces = pd.read_csv(out / "test_acc.csv")
    # one row per 1000 steps by default, so here step 0 and the last
    assert sorted(set(traces["step"])) == [0, 400]
    assert len(traces) == 16
    assert (out / "figures" / "test_acc_by_d.html").exists()
    metrics = out / "sweep" / "D=200" / "runs" / "weight_decay=2.0,seed=1" / "metrics.jsonl"
    before = metrics.stat().st_mtime_ns
    run(out, params, progress=False)  # resumes: every run is finished, nothing trains
    assert metrics.stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(pd.read_csv(out / "runs.csv"), runs)
