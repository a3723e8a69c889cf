"""Compare runs: the progress measures of several runs overlaid, in one table and one report.

:func:`compare` takes run directories and sweep directories (a sweep stands for all its
runs), keeps the runs whose config matches every ``FIELD=VALUE`` filter (any config field,
by its name or flag: ``weight_decay=1``, ``seed=0``, ``grokfast=ema``), analyzes each
(incrementally, as ``grokinterp analyze`` does, into the run's own ``analysis/``) and
labels each by the config fields in which the chosen runs differ.

Writes into ``out_dir``: ``runs.csv`` (one row per run: label, path, the differing fields),
``measures.csv`` (every run's analysis table, column ``run``), ``metrics.csv`` (every run's
logged metrics) and ``figures/`` (training curves, progress measures, and every measure of
the table behind one menu; ``index.html`` shows them all, offline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.analysis.table import measure_run
from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.spec import SPEC
from grokinterp.viz.overlay import measure_selector, progress_measures, training_curves
from grokinterp.viz.report import attempt, write_figure_set


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` found: ``runs`` (one row per run), and the ``measures`` and
    ``metrics`` of all of them (column ``run``, the label)."""

    runs: pd.DataFrame
    measures: pd.DataFrame
    metrics: pd.DataFrame


def run_dirs(sources: Sequence[str | Path]) -> list[Path]:
    """The run directories that ``sources`` stand for: a run directory itself, or every run
    of a sweep directory (in name order)."""
    out: list[Path] = []
    for src in map(Path, sources):
        if (src / layout.CONFIG).exists():
            out.append(src)
        elif (src / SPEC).exists() and (src / "runs").is_dir():
            out += sorted(d for d in (src / "runs").iterdir() if (d / layout.CONFIG).exists())
        else:
            raise RunDirError(
                f"{src}: neither a run directory (no {layout.CONFIG}) nor a sweep "
                f"directory (no {SPEC}); give one of those"
            )
    if not out:
        raise RunDirError(f"no runs in {[str(s) for s in sources]}")
    return out


def config_fields(cfg: TrainConfig) -> dict[str, Any]:
    """Every config field by its name (names are unique across sections)."""
    flat: dict[str, Any] = {}
    for key, value in cfg.to_dict().items():
        flat.update(value if isinstance(value, dict) else {key: value})
    return flat


def _matches(value: Any, wanted: str) -> bool:
    """Whether a config value equals a filter's text (numbers by value, booleans and null by
    their usual spellings)."""
    text = wanted.lower()
    if value is None:
        return text in ("none", "null")
    if isinstance(value, bool):
        return text in (("true", "1", "yes") if value else ("false", "0", "no"))
    if isinstance(value, (int, float)):
        try:
            return float(value) == float(wanted)
        except ValueError:
            return False
    return str(value) == wanted


def parse_where(where: Sequence[str], known: set[str]) -> dict[str, str]:
    """``["weight-decay=1", ...]`` as ``{"weight_decay": "1", ...}``; raises ConfigError on a
    malformed filter or an unknown field."""
    out = {}
    for item in where:
        field, sep, value = item.partition("=")
        name = field.strip().replace("-", "_")
        if not sep or not name:
            raise ConfigError(f"--where {item!r}: expected FIELD=VALUE, e.g. weight_decay=1")
        if name not in known:
            raise ConfigError(
                f"--where {item!r}: no config field {name!r}; fields are {sorted(known)}"
            )
        out[name] = value.strip()
    return out


def select(dirs: Sequence[Path], where: Sequence[str]) -> pd.DataFrame:
    """One row per run whose config matches every filter: its path and config fields, and
    ``run``, a label from the fields that differ among the chosen runs."""
    rows = [{"path": str(d), **config_fields(TrainConfig.load(d / layout.CONFIG))} for d in dirs]
    filters = parse_where(where, set(rows[0]) - {"path"})
    chosen = [r for r in rows if all(_matches(r[f], v) for f, v in filters.items())]
    if not chosen:
        raise ConfigError(f"no run matches --where {' '.join(where)} among {len(rows)} runs")
    table = pd.DataFrame(chosen)
    fields = [c for c in table.columns if c != "path"]
    differ = [c for c in fields if table[c].astype(str).nunique() > 1]
    labels = [",".join(f"{c}={r[c]}" for c in differ) or Path(r["path"]).name for r in chosen]
    if len(set(labels)) < len(labels):  # same config twice: tell them apart by folder
        labels = [f"{lab} ({Path(r['path']).name})" for lab, r in zip(labels, chosen, strict=True)]
    return table[["path", *differ]].assign(run=labels)[["run", "path", *differ]]


def compare(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    *,
    where: Sequence[str] = (),
    device: str = "cpu",
    progress: bool = True,
    static: bool | None = None,
) -> Comparison:
    """Overlay the progress measures of the runs ``sources`` stand for (module docstring).

    Args:
        sources: run directories and sweep directories.
        out_dir: where the tables and figures go.
        where: ``FIELD=VALUE`` filters on the runs' configs, all of which must hold.
        device: torch device of the analysis.
        progress: show a progress bar while analyzing.
        static: write PNGs too (default: when kaleido and a Chromium are installed).
    """
    runs = select(run_dirs(sources), where)
    measures, metrics = [], []
    for label, path in zip(runs["run"], runs["path"], strict=True):
        measures.append(measure_run(path, device=device, progress=progress).table.assign(run=label))
        metrics.append(Run(path).metrics.assign(run=label))
    result = Comparison(
        runs, pd.concat(measures, ignore_index=True), pd.concat(metrics, ignore_index=True)
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "runs.csv", result.runs.to_csv(index=False))
    atomic_write_text(out / "measures.csv", result.measures.to_csv(index=False))
    flat = result.metrics[[c for c in result.metrics.columns if not c.startswith("norm.")]]
    atomic_write_text(out / "metrics.csv", flat.to_csv(index=False))
    figures = {
        "training_curves": training_curves(result.metrics, by="run", title="Training"),
        "progress_measures": attempt(
            lambda: progress_measures(
                result.measures, by="run", title="Progress measures (Nanda et al. 2023)"
            )
        ),
        "every_measure": measure_selector(
            result.measures, by="run", title="Any measure of measures.csv (pick it in the menu)"
        ),
    }
    write_figure_set(
        figures, out / "figures", title=f"grokinterp compare: {len(runs)} runs", static=static
    )
    return result
