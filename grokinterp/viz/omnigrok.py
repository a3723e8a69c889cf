"""Figures of the Omnigrok study (:mod:`grokinterp.experiments.omnigrok`): the LU figure and
the init-scale experiment. They draw the study's tables and compute nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CONDITION_COLORS = {"decay": "#d62728", "free": "#7f7f7f", "fixed": "#2ca02c"}
CONDITION_NAMES = {
    "decay": "weight decay, unconstrained",
    "free": "no weight decay, unconstrained",
    "fixed": "norm fixed at alpha = 1's",
}


def lu_figure(
    lu: pd.DataFrame,
    title: str = "Final train and test loss and accuracy against the fixed weight norm (digits)",
) -> Any:
    """Final train and test loss (top) and accuracy (bottom) against the fixed weight norm:
    one marker per run, a line through the means over seeds (Omnigrok's LU figure)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    mean = lu.groupby("fixed_norm").mean(numeric_only=True).sort_index()
    for split, color in (("train", "#1f77b4"), ("test", "#ff7f0e")):
        for row, what in ((1, "loss"), (2, "acc")):
            col = f"final_{split}_{what}"
            fig.add_trace(
                go.Scatter(
                    x=mean.index, y=mean[col], mode="lines", name=split, legendgroup=split,
                    showlegend=row == 1, line=dict(color=color, width=2),
                ),
                row=row, col=1,
            )  # fmt: skip
            fig.add_trace(
                go.Scatter(
                    x=lu["fixed_norm"], y=lu[col], mode="markers", legendgroup=split,
                    showlegend=False, marker=dict(color=color, size=6, opacity=0.6),
                ),
                row=row, col=1,
            )  # fmt: skip
    fig.update_xaxes(type="log")
    fig.update_yaxes(title_text="final loss", type="log", row=1, col=1)
    fig.update_yaxes(title_text="final accuracy", range=[0, 1.02], row=2, col=1)
    fig.update_xaxes(title_text="fixed total weight norm", row=2, col=1)
    fig.update_layout(
        title=title, template="plotly_white", height=620, width=760,
        legend=dict(orientation="h", y=-0.12),
    )  # fmt: skip
    return fig


def init_figure(
    init: pd.DataFrame,
    curves: pd.DataFrame,
    alpha: float | None = None,
    title: str = "Init scale, weight decay and the norm constraint (digits)",
) -> Any:
    """Top: train (dashed) and test (solid) accuracy against the step at one init scale
    (default: the largest), mean over seeds, per condition. Bottom: the first step with
    test accuracy at the study's threshold (the time to generalize) against the init scale,
    per condition (no point where no seed reaches it)."""
    alpha = float(init["alpha"].max()) if alpha is None else alpha
    fig = make_subplots(
        rows=2, cols=1, vertical_spacing=0.14,
        subplot_titles=(f"accuracy at alpha = {alpha:g}", "time to generalize"),
    )  # fmt: skip
    at = curves[(curves["alpha"] == alpha) & (curves["step"] > 0)]
    for cond, color in CONDITION_COLORS.items():
        mean = at[at["condition"] == cond].groupby("step").mean(numeric_only=True)
        if not len(mean):
            continue
        for split, dash in (("test", "solid"), ("train", "dot")):
            fig.add_trace(
                go.Scatter(
                    x=mean.index, y=mean[f"{split}_acc"], mode="lines",
                    name=f"{CONDITION_NAMES[cond]} ({split})", legendgroup=cond,
                    line=dict(color=color, dash=dash, width=2),
                ),
                row=1, col=1,
            )  # fmt: skip
        d = init[init["condition"] == cond].groupby("alpha")["test_step"].mean().dropna()
        fig.add_trace(
            go.Scatter(
                x=d.index, y=d.values, mode="lines+markers", legendgroup=cond,
                showlegend=False, line=dict(color=color, width=2),
            ),
            row=2, col=1,
        )  # fmt: skip
    fig.update_xaxes(type="log", title_text="step", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(type="log", title_text="init scale alpha", row=2, col=1)
    fig.update_yaxes(title_text="first step at the test threshold", type="log", row=2, col=1)
    fig.update_layout(
        title=title, template="plotly_white", height=720, width=800,
        legend=dict(orientation="h", y=-0.1),
    )  # fmt: skip
    return fig


__all__ = ["init_figure", "lu_figure"]
