"""Arms x seeds on one base config: what the Grokfast and Prieto studies share.

An *arm* is a named set of config overrides (an optimizer recipe, a loss, a filter). Each
arm is its own resumable sweep under ``out/sweep/<arm>/`` (its seeds one ensemble where the
backend is ``ensemble``), trained one arm after another, so that the tables can be written
after every arm and a study interrupted by its budget keeps what finished.

:func:`runs_table` reads every run: steps (and the run's wall time) to a test-accuracy
threshold, at the logged steps (``schedule.log_every``); :func:`arm_table` gives per arm the
median and range over seeds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.analysis.milestones import first_step
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status
from grokinterp.viz.overlay import training_curves
from grokinterp.viz.report import write_figure_set

METRIC_COLUMNS = (
    "step", "train_loss", "train_acc", "test_loss", "test_acc", "param_norm",
    "softmax_collapse", "train_loss32", "wall_time",
)  # fmt: skip


def arm_spec(
    base: Mapping[str, Any], overrides: Mapping[str, Any], arm: Mapping[str, Any],
    seeds: Sequence[int], backend: str,
) -> dict[str, Any]:  # fmt: skip
    """The sweep of one arm: the base preset, the study's overrides, the arm's, its seeds."""
    return {
        "base": dict(base),
        "overrides": {**overrides, **arm},
        "seeds": list(seeds),
        "backend": backend,
    }


def train_arm(spec: dict[str, Any], sweep_dir: Path, *, progress: bool, device: str) -> None:
    """Train (or resume) one arm's sweep."""
    run_sweep(spec, sweep_dir, progress=progress, device=device)


def runs_table(
    out: Path, specs: Mapping[str, dict[str, Any]], threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``runs``: one row per arm and seed; ``metrics``: every logged row, columns ``arm``
    and ``seed`` added) of the arms whose sweep directory exists."""
    rows, metrics = [], []
    for arm, spec in specs.items():
        sweep_dir = out / "sweep" / arm
        if not sweep_dir.is_dir():
            continue
        for r in expand(spec):
            d = sweep_dir / "runs" / r.name
            row: dict[str, Any] = {
                "arm": arm, "seed": r.config.seed, "status": read_status(d)["status"],
                "max_steps": r.config.optim.max_steps,
            }  # fmt: skip
            m = pd.DataFrame(layout.read_metrics(d)) if (d / layout.METRICS).exists() else None
            if m is not None and len(m):
                hit = first_step(m, "test_acc", threshold)
                wall = m.loc[m["step"] == hit, "wall_time"] if hit is not None else None
                row.update(
                    steps_to_threshold=hit,
                    wall_s_to_threshold=float(wall.iloc[0]) if wall is not None else None,
                    train_99_step=first_step(m, "train_acc", 0.99),
                    steps=int(m["step"].iloc[-1]),
                    wall_s=float(m["wall_time"].iloc[-1]),
                    final_train_acc=float(m["train_acc"].iloc[-1]),
                    final_test_acc=float(m["test_acc"].iloc[-1]),
                    max_test_acc=float(m["test_acc"].max()),
                    max_softmax_collapse=float(m.get("softmax_collapse", pd.Series([0.0])).max()),
                )
                keep = [c for c in METRIC_COLUMNS if c in m]
                metrics.append(m[keep].assign(arm=arm, seed=r.config.seed))
            rows.append(row)
    runs = pd.DataFrame(rows)
    for col in ("steps_to_threshold", "wall_s_to_threshold", "steps"):
        if col not in runs:
            runs[col] = math.nan
    all_metrics = pd.concat(metrics, ignore_index=True) if metrics else pd.DataFrame()
    return runs, all_metrics


def arm_table(runs: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Per arm: runs, finished runs, how many reached the threshold, and the median, min and
    max over seeds of the steps and wall seconds to it (over the runs that reached it)."""
    out = []
    for arm in order:
        g = runs[runs["arm"] == arm] if len(runs) else runs
        if not len(g):
            continue
        hit = g.dropna(subset=["steps_to_threshold"])
        steps, wall = hit["steps_to_threshold"], hit["wall_s_to_threshold"]
        out.append(
            {
                "arm": arm, "runs": len(g), "finished": int((g["status"] == "done").sum()),
                "reached": len(hit),
                "median_steps": float(steps.median()) if len(hit) else math.nan,
                "min_steps": float(steps.min()) if len(hit) else math.nan,
                "max_steps": float(steps.max()) if len(hit) else math.nan,
                "median_wall_s": float(wall.median()) if len(hit) else math.nan,
                "min_wall_s": float(wall.min()) if len(hit) else math.nan,
                "max_wall_s": float(wall.max()) if len(hit) else math.nan,
                "steps_trained_max": float(g["steps"].max()),
            }
        )  # fmt: skip
    return pd.DataFrame(out)


def describe_arms(table: pd.DataFrame, threshold: float) -> list[str]:
    """One line per arm: how many reached the threshold, the median (range) of steps and
    wall seconds, or the steps trained without reaching it."""
    lines = []
    for _, r in table.iterrows():
        head = f"{r['arm']}: {int(r['reached'])}/{int(r['runs'])} reached {threshold:.0%}"
        if r["reached"]:
            head += (
                f"; steps median {r['median_steps']:.0f} (range {r['min_steps']:.0f}-"
                f"{r['max_steps']:.0f}); wall median {r['median_wall_s']:.0f} s (range "
                f"{r['min_wall_s']:.0f}-{r['max_wall_s']:.0f})"
            )
        head += f"; {int(r['finished'])} finished, trained up to {r['steps_trained_max']:.0f}"
        lines.append(head)
    return lines


def run_arms(
    out: Path,
    all_specs: dict[str, dict[str, Any]],
    *,
    threshold: float,
    device: str,
    progress: bool,
    static: bool | None,
    report: Callable[[pd.DataFrame, float], str],
    curves_title: str,
    set_title: str,
) -> pd.DataFrame:
    """Train the arms one after another (each a resumable sweep under ``out/sweep/ARM``),
    rewriting the tables after each (:func:`write_arm_tables`) and drawing the figures at
    the end; returns the arms table. ``report(arms, minutes)`` is the study's report text."""
    t0 = time.perf_counter()

    def write(static: bool | None) -> pd.DataFrame:
        minutes = (time.perf_counter() - t0) / 60
        return write_arm_tables(
            out, all_specs, threshold, report, minutes, static, curves_title, set_title
        )

    for arm, spec in all_specs.items():
        train_arm(spec, out / "sweep" / arm, progress=progress, device=device)
        write(static=False)
    return write(static=static)


def write_arm_tables(
    out: Path,
    all_specs: dict[str, dict[str, Any]],
    threshold: float,
    report: Callable[[pd.DataFrame, float], str],
    minutes: float,
    static: bool | None,
    curves_title: str,
    set_title: str,
) -> pd.DataFrame:
    """``runs.csv``, ``arms.csv``, ``metrics.csv`` and ``report.txt`` of the arms trained so
    far, and (unless ``static`` is False) the training-curve figures; returns the arms
    table."""
    runs, metrics = runs_table(out, all_specs, threshold)
    arms = arm_table(runs, list(all_specs))
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    atomic_write_text(out / "arms.csv", arms.to_csv(index=False))
    atomic_write_text(out / "metrics.csv", metrics.to_csv(index=False))
    atomic_write_text(out / "report.txt", report(arms, minutes))
    if len(metrics) and static is not False:
        curves = metrics.assign(arm=metrics["arm"] + " s" + metrics["seed"].astype(str))
        figure = training_curves(curves, title=curves_title)
        write_figure_set({"training_curves": figure}, out / "figures", title=set_title,
                         static=static)  # fmt: skip
    return arms
