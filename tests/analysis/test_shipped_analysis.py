"""The analyses shipped in checkpoints/*/analysis/ are what `grokinterp analyze` writes
today (issue 32, item 6): a stale one shows up as modified files in a user's `git status`
after their first analyze.

Each is checked against a recomputation with the current code: the analysis version, the
measures of the last checkpoint (row for row, every column; the quick run also its first
and a middle one, and its key-frequency choice, which takes the nanda run's p = 113 about
5 s), and the summary's phases, landmarks and final row. When this fails after
a change to the measures, regenerate with `grokinterp analyze checkpoints/<name>` and commit
both tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from grokinterp.analysis import keyfreqs
from grokinterp.analysis import table as A
from grokinterp.runs.run import Run

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.parent.parent for p in (ROOT / "checkpoints").glob("*/analysis/summary.json"))


def _hint(run: Run) -> str:
    rel = run.path.relative_to(ROOT)
    return f"{rel}/analysis is stale: run `grokinterp analyze {rel}` and commit both tables"


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-3, abs_tol=1e-7)  # type: ignore[arg-type]
    return a == b


def test_the_shipped_runs_have_analyses() -> None:
    assert {p.name for p in SHIPPED} >= {"quick", "nanda"}


# the runs whose key-frequency choice and three rows are recomputed (the others: one row)
FULL = {"quick"}


@pytest.mark.parametrize("run_dir", SHIPPED, ids=lambda p: p.name)
def test_shipped_analysis_is_current(run_dir: Path) -> None:
    run = Run(run_dir)
    out = run.path / "analysis"
    table = pd.read_csv(out / A.MEASURES)
    summary = json.loads((out / A.SUMMARY).read_text())
    hint = _hint(run)
    assert summary.get("analysis_version") == A.ANALYSIS_VERSION, hint
    assert table["step"].tolist() == run.steps, hint

    full = run.path.name in FULL
    ctx = A._Context(run, summary["key_freqs"], "cpu")
    if full:
        fresh = A._key_frequencies(ctx, None, keyfreqs.DEFAULT_RULE)
        assert set(fresh) <= set(summary), hint
        for key, value in fresh.items():
            if key != "key_freq_evidence":
                assert summary[key] == value, f"{key}: {hint}"

    picks = [run.steps[-1]]
    if full:
        picks = sorted({run.steps[0], run.steps[len(run.steps) // 2], run.steps[-1]})
    for step in picks:
        row = A.checkpoint_measures(ctx, step)
        shipped = table.loc[table["step"] == step].iloc[0].to_dict()
        assert set(row) == set(shipped), f"columns differ: {hint}"
        bad = {k: (shipped[k], v) for k, v in row.items() if not _close(shipped[k], v)}
        assert not bad, f"step {step}: {bad}; {hint}"

    rest = A._phases_and_final(run, table)
    for key, value in rest.items():
        if key == "final":
            assert set(value) == set(summary["final"]), hint
            assert all(_close(summary["final"][k], v) for k, v in value.items()), hint
        else:
            assert summary[key] == value, f"{key}: {hint}"
