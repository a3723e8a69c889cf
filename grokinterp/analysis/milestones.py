"""When a run's measures move: the first step each crosses a stated threshold.

Used to compare runs trained differently (e.g. the training interventions) on one scale:
the step where train and test accuracy reach 99% (Power et al. 2022), where the restricted
loss falls below 1 nat and the generalizing share of the logits passes 50% and 95%
(Nanda et al. 2023; Varma et al. 2023's 95%), where the embedding's key frequencies settle
to their final set, and where softmax collapse covers half the training set (Prieto et al.
2025 mark the same 50%).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from grokinterp.analysis import fourier
from grokinterp.analysis.table import run_basis
from grokinterp.runs.run import Run

RESTRICTED_LOSS_BELOW = 1.0  # nats
GEN_SHARE_LEVELS = (0.5, 0.95)
ACCURACY = 0.99
COLLAPSE = 0.5


def first_step(table: pd.DataFrame, column: str, level: float, below: bool = False) -> int | None:
    """The first ``step`` of ``table`` where ``column`` is >= ``level`` (<= with ``below``);
    None if never, or if the column is missing."""
    if column not in table:
        return None
    values = table[column]
    hit = table.loc[values <= level if below else values >= level, "step"]
    return int(hit.iloc[0]) if len(hit) else None


def key_frequencies_settle(run: Run, final: list[int]) -> int | None:
    """The first checkpoint from which the embedding's key frequencies
    (:func:`grokinterp.analysis.fourier.key_frequencies`, in the task's group: Z_p, or Z_p*
    for ``mul`` / ``div``, as ``analyze`` reads them) stay equal to ``final``; None for a
    task with no such group (:func:`grokinterp.analysis.table.run_basis`)."""
    basis = run_basis(run)
    if basis is None:
        return None
    settled: int | None = None
    for step in run.steps:
        same = sorted(int(k) for k in fourier.key_frequencies(run.params(step), basis)) == final
        settled = (settled if settled is not None else step) if same else None
    return settled


def milestones(metrics: pd.DataFrame, measures: pd.DataFrame) -> dict[str, Any]:
    """The first steps of a run's measures crossing the module's thresholds.

    ``metrics`` is the run's logged metrics (every logged step), ``measures`` its analysis
    table (every checkpoint; the Fourier columns may be missing).
    """
    out: dict[str, Any] = {
        "train_99_step": first_step(metrics, "train_acc", ACCURACY),
        "test_99_step": first_step(metrics, "test_acc", ACCURACY),
        "restricted_below_1_step": first_step(
            measures, "restricted_loss", RESTRICTED_LOSS_BELOW, below=True
        ),
        "collapse_50_step": first_step(metrics, "softmax_collapse", COLLAPSE),
        "max_softmax_collapse": (
            float(metrics["softmax_collapse"].max()) if "softmax_collapse" in metrics else math.nan
        ),
    }
    for level in GEN_SHARE_LEVELS:
        out[f"gen_share_{round(level * 100)}_step"] = first_step(measures, "gen_share", level)
    return out
