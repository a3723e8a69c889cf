"""benchmarks/perf_table.py: README's performance table from recorded benchmark figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import perf_table  # noqa: E402  (a script folder, not a package)


def spread(*xs):
    return {"median": sorted(xs)[len(xs) // 2], "min": min(xs), "max": max(xs), "values": list(xs)}


def recorded(figures, name):
    return {"benchmark": name, "date": "2026-11-25", "torch": "2.13.0", "threads": 2,
            "cores": 2, "machine": "x86_64", "figures": figures}  # fmt: skip


RESULTS = {
    "train": recorded(
        {
            "nanda": {
                "p": 113,
                "batch": 3830,
                "ms_per_step": spread(27.0, 26.5, 28.0),
                "speedup_vs_bridge": spread(4.0, 3.9, 4.1),
                "vs_flop_floor": spread(1.24, 1.2, 1.3),
            },
            "small": {
                "p": 31,
                "batch": 288,
                "ms_per_step": spread(2.5, 2.4, 2.6),
                "speedup_vs_bridge": spread(3.6, 3.5, 3.7),
                "vs_flop_floor": spread(1.81, 1.8, 1.9),
            },
        },  # fmt: skip
        "train",
    ),
    "sweep": recorded(
        {
            "runs": 16,
            "steps": 300,
            "sequential": {"seconds": spread(5.1, 5.0, 5.2), "vs_sequential": spread(1, 1, 1)},
            "ensemble": {"seconds": spread(0.8, 0.7, 0.9), "vs_sequential": spread(6.5, 5.9, 7.0)},
        },
        "sweep",
    ),  # fmt: skip
    "sweep_minibatch": recorded(
        {
            "runs": 16,
            "steps": 300,
            "batch_size": 64,
            "sequential": {"seconds": spread(5.1, 5.0, 5.2), "vs_sequential": spread(1, 1, 1)},
            "ensemble": {"seconds": spread(0.8, 0.7, 0.8), "vs_sequential": spread(6.5, 6.2, 7.0)},
        },
        "sweep_minibatch",
    ),  # fmt: skip
    "analyze": recorded(
        {
            "checkpoints": 100,
            "seconds": 12.5,
            "reference_seconds": 35.0,
            "speedup_vs_reference": 2.8,
            "scaling": [
                {"checkpoints": 100, "ms_per_checkpoint": 132, "peak_rss_mib": 629},
                {"checkpoints": 1000, "ms_per_checkpoint": 125, "peak_rss_mib": 729},
            ],
        },
        "analyze",
    ),  # fmt: skip
}


def test_verdicts_follow_the_goals():
    rows = {r[0].split(" ")[0]: r for r in perf_table.rows(RESULTS)}
    assert rows["`nanda`"][4] == "met"  # median 1.24 <= 1.25
    assert rows["`small`"][4] == "**missed**"  # 1.81 > 1.5
    sweeps = [r for r in perf_table.rows(RESULTS) if r[0].startswith("16")]
    assert [r[0].split("(")[1].split(")")[0] for r in sweeps] == ["full batch", "minibatches of 64"]
    assert sweeps[0][4] == "**missed**"  # the ensemble's worst repeat, 5.9, is below 6
    assert sweeps[1][4] == "met"  # its worst, 6.2, is not
    assert rows["every"][4] == "met" and rows["`analyze`"][4] == "met"
    assert "1.24x (1.20-1.30)" in rows["`nanda`"][1]


def test_readme_block_is_replaced_and_the_rest_kept(tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    for name, payload in RESULTS.items():
        (results / f"{name}.json").write_text(json.dumps(payload))
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{perf_table.BEGIN}\nold table\n{perf_table.END}\nafter\n")
    monkeypatch.setattr(perf_table, "RESULTS", results)
    monkeypatch.setattr(perf_table, "README", readme)
    monkeypatch.setattr(sys, "argv", ["perf_table.py"])
    perf_table.main()
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith(f"{perf_table.END}\nafter\n")
    assert "old table" not in text and "| what |" in text
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit) as e:
        perf_table.main()
    assert e.value.code == 2 and readme.read_text() == "no markers\n"
