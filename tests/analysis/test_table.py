"""`grokinterp analyze` end to end: a small run that groks tells the paper's story."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from helpers import _chromium_dom, _js_errors, legacy_state, needs_chromium

from grokinterp import analyze
from grokinterp.analysis import table as A
from grokinterp.analysis.efficiency import run_circuit_stats
from grokinterp.analysis.milestones import key_frequencies_settle
from grokinterp.cli import main
from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig
from grokinterp.runs.run import Run
from grokinterp.training import train

# groks in ~1.5k full-batch steps (train 99% at ~70, test 99% at ~500): about 20 s here
GROKS = TrainConfig(
    task=TaskConfig(name="add", p=23, train_fraction=0.6),
    model=ModelConfig(d_model=64, n_heads=4, d_head=16, d_mlp=256),
    optim=OptimConfig(lr=3e-3, weight_decay=2.0, max_steps=1500),
    schedule=ScheduleConfig(log_every=10, ckpt_log_until=100, ckpt_log_count=12, ckpt_every=25),
)


@pytest.fixture(scope="module")
def grokked(tmp_path_factory):
    run_dir = train(GROKS, tmp_path_factory.mktemp("grok") / "run", progress=False)
    result = analyze(run_dir, progress=False, figures=True, static=False)
    return run_dir, result


def _at(table: pd.DataFrame, step: int, col: str) -> float:
    return float(table.loc[table["step"] == step, col].iloc[0])


@pytest.mark.slow
def test_the_scientific_story(grokked):
    _, res = grokked
    t, s = res.table, res.summary
    ph = s["phases_at_checkpoints"]  # the story is read off the checkpoints' measures
    assert s["grokking_step"] is not None and s["key_freqs"]
    assert None not in ph.values()
    assert ph["memorization_end"] < ph["circuit_formation_end"] < ph["cleanup_end"]

    # restricted loss falls before test loss does
    def first_below(col, x):
        return int(t.loc[t[col] < x, "step"].iloc[0])

    assert first_below("restricted_loss", 1.0) < first_below("test_loss", 1.0)
    # excluded loss rises during circuit formation
    mem, cf, cu = ph["memorization_end"], ph["circuit_formation_end"], ph["cleanup_end"]
    assert _at(t, cf, "excluded_loss") > _at(t, mem, "excluded_loss")
    # weight norm falls during cleanup
    assert _at(t, cu, "sum_sq_weights") < _at(t, cf, "sum_sq_weights")
    # the embedding becomes sparse in frequency
    assert t["gini_embed"].iloc[-1] > t["gini_embed"].iloc[0] + 0.2
    # generalizing share of the logits grows, and the logits become cos(w_k(a + b - c))
    assert t["gen_share"].iloc[-1] > 0.5 > t["gen_share"].iloc[0]
    assert t["logit_cube_cos_sim"].iloc[-1] > 0.7 > t["logit_cube_cos_sim"].iloc[0]
    assert (t["logit_cube_cos_sim"] ** 2 + t["logit_cube_residual"] ** 2).sub(1).abs().max() < 1e-9
    # the norm moves from the memorizing to the generalizing circuit
    assert t["gen_logit_norm"].iloc[-1] > t["mem_logit_norm"].iloc[-1]
    peak_mem = int(t["mem_logit_norm"].idxmax())
    assert t["gen_logit_norm"].iloc[peak_mem] < t["mem_logit_norm"].iloc[peak_mem]


@pytest.mark.slow
def test_phases_and_landmarks_at_the_resolution_of_the_metrics(grokked):
    """Boundaries from metrics.jsonl (every 10 steps), not snapped to the checkpoint grid;
    the grokking step is the metrics' first 99% test accuracy, one number everywhere."""
    from grokinterp.analysis.phases import phase_boundaries
    from grokinterp.runs import Run

    run_dir, res = grokked
    s = res.summary
    run = Run(run_dir)
    m = run.metrics
    want = phase_boundaries(m[["step", "test_loss"]])
    assert s["phases"] == {k: want[k] for k in A.PHASES}
    assert "metrics.jsonl" in s["phase_resolution"] and s["landmark_resolution"] == "metrics.jsonl"
    assert s["grokking_step"] == s["test_99_step"] == run.landmarks().test_step
    assert s["train_99_step"] == run.landmarks().train_step
    assert s["phases_at_checkpoints"] == {
        k: v for k, v in phase_boundaries(res.table).items() if k in A.PHASES
    }
    # the checkpoint grid (every 25 steps here) rounds the boundaries up to its own steps
    steps = set(res.table["step"].astype(int))
    assert s["phases_at_checkpoints"]["cleanup_end"] in steps
    assert {v for v in s["phases"].values() if v is not None} <= set(m["step"].astype(int))
    assert s["phases"]["cleanup_end"] <= s["phases_at_checkpoints"]["cleanup_end"]


@pytest.mark.slow
def test_the_causal_key_frequencies_and_their_evidence(grokked):
    run_dir, res = grokked
    s = res.summary
    assert s["key_freq_rule"] == "causal" and set(s["key_freqs_by_rule"]) == {
        "causal", "embed", "logit", "neuron_argmax"
    }  # fmt: skip
    assert s["key_freqs"] == s["key_freqs_by_rule"]["causal"]
    rows = s["key_freq_evidence"]
    assert [r["k"] for r in rows] == list(range(1, 12))
    factor = s["key_freq_check"]["exclusion_factor"]
    assert [r["k"] for r in rows if r["excluded_ratio"] >= factor] == s["key_freqs"]
    assert all(r["key"] == (r["k"] in s["key_freqs"]) for r in rows)
    assert s["key_freq_check"]["sufficient"]
    assert (res.path / "figures" / "key_freq_evidence.html").exists()
    # another rule by name: the table is recomputed only if the frequencies differ
    other = A.measure_run(run_dir, key_freq_rule="neuron_argmax", progress=False)
    assert other.summary["key_freq_rule"] == "neuron_argmax"
    assert other.key_freqs == s["key_freqs_by_rule"]["neuron_argmax"]
    A.measure_run(run_dir, progress=False)  # back to the default for the other tests


@pytest.mark.slow
def test_measures_match_the_training_metrics(grokked):
    run_dir, res = grokked
    from grokinterp.runs import Run

    m = Run(run_dir).metrics.set_index("step")
    for _, row in res.table.iterrows():
        assert row["test_acc"] == pytest.approx(m.loc[int(row["step"]), "test_acc"], abs=1e-9)
        assert row["train_loss"] == pytest.approx(
            m.loc[int(row["step"]), "train_loss"], rel=1e-4, abs=1e-9
        )


@pytest.mark.slow
def test_summary_and_table_on_disk(grokked):
    run_dir, res = grokked
    summary = json.loads((run_dir / "analysis" / "summary.json").read_text())
    assert summary["key_freqs"] == res.summary["key_freqs"]
    table = pd.read_csv(run_dir / "analysis" / "measures.csv")
    assert list(table["step"]) == sorted(table["step"]) and len(table) == len(res.table)
    for k in summary["key_freqs"]:
        assert f"excluded_loss_k{k}" in table
    assert {f"embed_norm_k{k}" for k in range(1, 12)} <= set(table.columns)


@pytest.mark.slow
def test_incremental_reruns_compute_only_new_checkpoints(grokked, monkeypatch, tmp_path):
    run_dir, res = grokked
    calls = []
    real = A.checkpoint_measures
    monkeypatch.setattr(A, "checkpoint_measures", lambda ctx, s: calls.append(s) or real(ctx, s))
    again = analyze(run_dir, progress=False, figures=False)
    assert calls == []
    pd.testing.assert_frame_equal(again.table, res.table)
    # drop two rows, as if those checkpoints were new: only they are computed
    table = pd.read_csv(run_dir / "analysis" / "measures.csv")
    dropped = list(table["step"].iloc[[3, 7]])
    table.drop(index=[3, 7]).to_csv(run_dir / "analysis" / "measures.csv", index=False)
    again = analyze(run_dir, progress=False, figures=False)
    assert sorted(calls) == sorted(dropped)
    pd.testing.assert_frame_equal(again.table, res.table, check_exact=False, rtol=1e-12)
    # other key frequencies invalidate every row
    calls.clear()
    analyze(run_dir, key_freqs=[1, 2], progress=False, figures=False, steps=[0, 25])
    assert sorted(calls) == [0, 25]
    # a table written by another version of the measures is recomputed too
    summary = json.loads((run_dir / "analysis" / "summary.json").read_text())
    summary["analysis_version"] = -1
    (run_dir / "analysis" / "summary.json").write_text(json.dumps(summary))
    calls.clear()
    analyze(run_dir, progress=False, figures=False, steps=[0, 25])
    assert sorted(calls) == [0, 25]
    analyze(run_dir, progress=False, figures=False)  # restore for the other tests


@pytest.mark.slow
def test_restricted_loss_tracks_test_loss_once_grokked(grokked):
    _, res = grokked
    last = res.table.iloc[-1]
    assert last["restricted_loss"] < 0.5 and last["test_acc"] == 1.0
    assert last["excluded_loss"] > 10 * last["train_loss"]


@pytest.mark.slow
@needs_chromium
def test_figures_render_without_script_errors(grokked, tmp_path):
    run_dir, _ = grokked
    index = run_dir / "analysis" / "figures" / "index.html"
    dom = _chromium_dom(index.as_uri(), tmp_path)
    assert _js_errors(dom) == ""
    rendered = dom.count('class="main-svg"')
    names = [p.stem for p in index.parent.glob("*.html") if p.name != "index.html"]
    assert len(names) == 13 and rendered >= len(names)
    # the two checkpoint-by-checkpoint figures draw their step sliders
    assert {"embed_freq_scrub", "neuron_cluster_scrub"} <= set(names)
    assert dom.count('class="slider-container"') >= 2


@pytest.mark.slow
def test_non_cyclic_task_gets_a_clear_note(tmp_path, capsys):
    cfg = TrainConfig(
        task=TaskConfig(name="x2_y2", p=13, train_fraction=0.5),
        model=ModelConfig(d_model=32, d_head=8, d_mlp=64),
        optim=OptimConfig(max_steps=20),
        schedule=ScheduleConfig(ckpt_log_count=3, ckpt_log_until=5, ckpt_every=10),
    )
    run_dir = train(cfg, tmp_path / "x2_y2", progress=False)
    assert main(["analyze", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "no cyclic structure" in out
    assert sum("no cyclic structure" in line for line in out.splitlines()) == 1
    table = pd.read_csv(run_dir / "analysis" / "measures.csv")
    assert "restricted_loss" not in table and "test_loss" in table and "sum_sq_weights" in table
    index = (run_dir / "analysis" / "figures" / "index.html").read_text()
    assert "skipped:" in index


@pytest.mark.slow
def test_bad_inputs(tmp_path, capsys, grokked):
    run_dir, _ = grokked
    assert main(["analyze", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["analyze", str(run_dir), "--steps", "3,4", "--no-figures"]) == 2
    assert "no checkpoint at step" in capsys.readouterr().err
    assert main(["analyze", str(run_dir), "--key-freqs", "40", "--no-figures"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_analyze_a_legacy_checkpoint_file(tmp_path, capsys):

    path = tmp_path / "model.pth"
    torch.save(
        {"model": legacy_state(0), "train_losses": [3.0, 2.0], "test_losses": [3.0, 2.5]}, path
    )
    assert main(["analyze", str(path), "--no-progress", "--no-figures", "--key-freqs", "1,3"]) == 0
    out = capsys.readouterr().out
    assert "imported" in out and (tmp_path / "model-run" / "analysis" / "measures.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize("task", ["mul", "div"])
def test_multiplicative_tasks_are_measured_in_z_p_star(tmp_path, capsys, task):
    """mul and div are analyzed in the characters of Z_p* (issue 30): summary.json names the
    basis, the Fourier columns are there, and the report's headline shows the basis."""
    cfg = TrainConfig(
        task=TaskConfig(name=task, p=13, train_fraction=0.5),
        model=ModelConfig(d_model=32, d_head=8, d_mlp=64),
        optim=OptimConfig(max_steps=20),
        schedule=ScheduleConfig(ckpt_log_count=3, ckpt_log_until=5, ckpt_every=10),
    )
    run_dir = train(cfg, tmp_path / task, progress=False)
    assert main(["analyze", str(run_dir), "--no-progress", "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "of Z_13* (multiplicative, x = 2^i mod 13)" in out and "no cyclic" not in out
    summary = json.loads((run_dir / "analysis" / "summary.json").read_text())
    basis = summary["fourier_basis"]
    assert basis["group"] == "multiplicative" and basis["order"] == 12 and basis["generator"] == 2
    assert basis["structure"] == ("sum" if task == "mul" else "difference")
    assert all(1 <= k <= 6 for k in summary["key_freqs"])
    assert len(summary["key_freq_evidence"]) == 6
    table = pd.read_csv(run_dir / "analysis" / "measures.csv")
    cols = {"restricted_loss", "excluded_loss", "gini_embed", "logit_cube_cos_sim"}
    assert cols <= set(table) and "embed_norm_k6" in table and "embed_norm_k7" not in table
    assert table[sorted(cols)].notna().all().all()
    analyze(run_dir, progress=False, figures=True, static=False)
    index = (run_dir / "analysis" / "figures" / "index.html").read_text()
    assert "Z_13* (multiplicative" in index and "neuron_spectrum" in index
    # the efficiency study's generalizing share reads the same grid
    stats = run_circuit_stats(run_dir)
    assert 0 <= stats["gen_share"] <= 1
    # the last checkpoint's embed-rule frequencies, read in the same basis, match themselves
    settle = key_frequencies_settle(Run(run_dir), summary["key_freqs_by_rule"]["embed"])
    assert settle in Run(run_dir).steps
