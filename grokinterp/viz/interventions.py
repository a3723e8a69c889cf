"""Figures of the interventions study: runs trained differently, side by side on one step
axis. Each draws the study's tables (one line per arm); none computes a measure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def panels(table: pd.DataFrame, columns: Sequence[tuple[str, str, bool]], title: str) -> Any:
    """One panel per ``(column, axis title, log y)``, one line per ``arm`` of ``table``
    (columns ``arm``, ``step`` and those named), sharing the step axis."""
    fig = make_subplots(rows=len(columns), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    arms = list(dict.fromkeys(table["arm"]))
    for row, (column, label, log_y) in enumerate(columns, start=1):
        for i, arm in enumerate(arms):
            t = table[(table["arm"] == arm) & table[column].notna()]
            fig.add_trace(
                go.Scatter(
                    x=t["step"], y=t[column], mode="lines", name=arm, legendgroup=arm,
                    showlegend=row == 1, line=dict(color=COLORS[i % len(COLORS)], width=1.5),
                ),
                row=row, col=1,
            )  # fmt: skip
        fig.update_yaxes(title_text=label, type="log" if log_y else "linear", row=row, col=1)
    fig.update_xaxes(title_text="step", row=len(columns), col=1)
    fig.update_layout(title=title, template="plotly_white", height=230 * len(columns) + 120)
    return fig


def training_curves(metrics: pd.DataFrame) -> Any:
    """Test accuracy, training loss, parameter norm and softmax collapse of every arm."""
    return panels(
        metrics,
        [
            ("test_acc", "test accuracy", False),
            ("train_loss", "train loss (the run's own)", True),
            ("param_norm", "parameter norm", False),
            ("softmax_collapse", "softmax collapse", False),
        ],
        "Training under each intervention",
    )


def progress_measures(measures: pd.DataFrame) -> Any:
    """Restricted and excluded loss, generalizing share and embedding Gini of every arm."""
    return panels(
        measures,
        [
            ("restricted_loss", "restricted loss", True),
            ("excluded_loss", "excluded loss", True),
            ("gen_share", "generalizing share", False),
            ("gini_embed", "Gini of W_E", False),
        ],
        "Progress measures under each intervention (Nanda et al. 2023)",
    )
