"""``grokinterp export``: an existing run's metrics and measures, into TensorBoard or W&B.

Every line of ``metrics.jsonl`` is logged at its step, then every row of the analysis table
(``analysis/measures.csv``, when ``grokinterp analyze`` has run) under ``measures/<column>``,
through the sinks of :mod:`grokinterp.runs.sinks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from grokinterp.config import TrainConfig
from grokinterp.errors import RunDirError
from grokinterp.runs import layout
from grokinterp.runs.sinks import check_kinds, open_sinks

MEASURES = "analysis/measures.csv"


def export_run(run_dir: str | Path, to: Sequence[str], wandb_project: str = "grokinterp") -> int:
    """Log the run's metrics and measures to each of ``to``; return the rows exported."""
    run_dir = Path(run_dir)
    check_kinds(to, "--to")
    if not (run_dir / layout.CONFIG).exists():
        raise RunDirError(f"{run_dir}: not a run directory (no {layout.CONFIG})")
    rows = layout.read_metrics(run_dir)
    measures = (
        pd.read_csv(run_dir / MEASURES).to_dict("records") if (run_dir / MEASURES).exists() else []
    )
    sinks = open_sinks(
        to, run_dir, TrainConfig.load(run_dir / layout.CONFIG).to_dict(), wandb_project
    )
    try:
        for sink in sinks:
            for row in rows:
                sink.log(row)
            for m in measures:
                sink.log({str(k): v for k, v in m.items()}, prefix="measures/")
    finally:
        for sink in sinks:
            sink.close()
    return len(rows) + len(measures)
