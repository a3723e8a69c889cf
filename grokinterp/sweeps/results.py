"""The results table of a sweep: ``SWEEP_DIR/results.csv``, one row per run.

The varied fields, the status (:mod:`grokinterp.sweeps.status`) and error, the grokking
landmarks (:func:`grokinterp.runs.metrics.landmarks`), final train / test accuracy and
loss, final parameter norm, steps, the Liu et al. phase
(:func:`grokinterp.analysis.phases.liu_phase`), the plateau class
(:func:`grokinterp.analysis.phases.plateau_class`: grokked / semi-grokked / undecided /
memorized / unfitted; both say ``undecided`` where the budget is too short to tell) and,
when the sweep was pruned, each run's ``p_grok`` (:mod:`grokinterp.sweeps.pruning`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.analysis.phases import liu_phase, plateau_class
from grokinterp.runs import layout
from grokinterp.runs.metrics import landmarks
from grokinterp.sweeps.pruning import PRUNING
from grokinterp.sweeps.spec import SweepRun
from grokinterp.sweeps.status import read_status

RESULTS = "results.csv"


def results(sweep_dir: Path, runs: Sequence[SweepRun]) -> pd.DataFrame:
    """One row per run: varied fields, status, landmarks, final metrics."""
    rows = []
    pruning = (
        json.loads((sweep_dir / PRUNING).read_text())["runs"]
        if (sweep_dir / PRUNING).exists()
        else None
    )
    for r in runs:
        d = sweep_dir / "runs" / r.name
        st = read_status(d)
        row: dict[str, Any] = {
            "name": r.name,
            **r.varied,
            "status": st["status"],
            "error": st["error"],
        }
        metrics = (
            pd.DataFrame(layout.read_metrics(d))
            if (d / layout.METRICS).exists()
            else pd.DataFrame()
        )
        if len(metrics):
            last = metrics.iloc[-1]
            lm = landmarks(metrics)
            row.update(liu_phase=liu_phase(metrics), plateau_class=plateau_class(metrics))
            row.update(
                train_99_step=lm.train_step,
                test_99_step=lm.test_step,
                grok_delay=lm.delay,
                steps=int(last["step"]),
                final_train_acc=last["train_acc"],
                final_test_acc=last["test_acc"],
                final_train_loss=last["train_loss"],
                final_test_loss=last["test_loss"],
                final_param_norm=last["param_norm"],
            )
        if pruning is not None:
            row["p_grok"] = pruning.get(r.name, {}).get("p_grok")
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["RESULTS", "results"]
