"""Several runs overlaid on one step axis: the figures of ``grokinterp compare`` and of the
interventions study. Each draws a long table with one row per (run, step) and a column that
names the run; none computes a measure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def panels(
    table: pd.DataFrame, columns: Sequence[tuple[str, str, bool]], title: str, by: str = "arm"
) -> Any:
    """One panel per ``(column, axis title, log y)``, one line per value of ``by`` (the run's
    name; columns ``step`` and those named), sharing the step axis. A column the table
    lacks is left out."""
    columns = [c for c in columns if c[0] in table]
    if not columns:
        raise ValueError("none of the panel's columns is in the table")
    fig = make_subplots(rows=len(columns), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    arms = list(dict.fromkeys(table[by]))
    for row, (column, label, log_y) in enumerate(columns, start=1):
        for i, arm in enumerate(arms):
            t = table[(table[by] == arm) & table[column].notna()]
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


def training_curves(
    metrics: pd.DataFrame, by: str = "arm", title: str = "Training under each intervention"
) -> Any:
    """Test accuracy, training loss, parameter norm and softmax collapse of every run."""
    return panels(
        metrics,
        [
            ("test_acc", "test accuracy", False),
            ("train_loss", "train loss (the run's own)", True),
            ("param_norm", "parameter norm", False),
            ("softmax_collapse", "softmax collapse", False),
        ],
        title,
        by,
    )


def progress_measures(
    measures: pd.DataFrame,
    by: str = "arm",
    title: str = "Progress measures under each intervention (Nanda et al. 2023)",
) -> Any:
    """Restricted and excluded loss, generalizing share and embedding Gini of every run."""
    return panels(
        measures,
        [
            ("restricted_loss", "restricted loss", True),
            ("excluded_loss", "excluded loss", True),
            ("gen_share", "generalizing share", False),
            ("gini_embed", "Gini of W_E", False),
        ],
        title,
        by,
    )


def measure_selector(table: pd.DataFrame, by: str, title: str) -> Any:
    """Every numeric column of ``table`` against ``step``, one line per value of ``by``, with a
    menu that picks the column (plotly's own buttons: works offline and in the report)."""
    columns = [
        c
        for c in table.columns
        if c not in ("step", by) and pd.api.types.is_numeric_dtype(table[c])
    ]
    if not columns:
        raise ValueError("the table has no numeric column to draw")
    runs = list(dict.fromkeys(table[by]))
    fig = go.Figure()
    for j, column in enumerate(columns):
        for i, run in enumerate(runs):
            t = table[(table[by] == run) & table[column].notna()]
            fig.add_trace(go.Scatter(
                x=t["step"], y=t[column], mode="lines", name=str(run), visible=j == 0,
                legendgroup=str(run), line=dict(color=COLORS[i % len(COLORS)], width=1.5),
            ))  # fmt: skip
    n = len(runs)
    buttons = [
        dict(label=column, method="update",
             args=[{"visible": [k // n == j for k in range(n * len(columns))]},
                   {"yaxis": {"title": {"text": column}}}])
        for j, column in enumerate(columns)
    ]  # fmt: skip
    fig.update_layout(
        title=title, template="plotly_white", height=520,
        updatemenus=[dict(buttons=buttons, direction="down", x=1.0, xanchor="right", y=1.15)],
        yaxis_title=columns[0], xaxis_title="step",
        legend=dict(orientation="h", yanchor="top", y=-0.15),  # run labels can be long
    )  # fmt: skip
    return fig
