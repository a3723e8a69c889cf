"""The figure of the training-fraction study (:mod:`grokinterp.experiments.power`): steps to
generalize against the training fraction (Power et al. 2022, Fig. 1 centre). It draws the
study's tables and computes nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go


def steps_vs_fraction(runs: pd.DataFrame, curve: pd.DataFrame, title: str) -> Any:
    """Steps to the accuracy threshold against the training fraction: every run that got
    there as a dot, the median of those as a line, and every run that never got there as a
    cross at the step it stopped (its budget: a lower bound, not a value)."""
    fig = go.Figure()
    missed = runs[runs["steps_to_generalize"].isna()]
    if len(missed) and "steps" in missed:
        fig.add_trace(
            go.Scatter(
                x=missed["train_fraction"], y=missed["steps"], mode="markers",
                name="never reached it (drawn at its budget)",
                marker=dict(color="#7f7f7f", size=9, symbol="x"),
            )
        )  # fmt: skip
    hit = runs.dropna(subset=["steps_to_generalize"])
    fig.add_trace(
        go.Scatter(
            x=hit["train_fraction"], y=hit["steps_to_generalize"], mode="markers",
            name="one run", marker=dict(color="#1f77b4", size=7, opacity=0.55),
        )
    )  # fmt: skip
    med = curve.dropna(subset=["median_steps"])
    fig.add_trace(
        go.Scatter(
            x=med["train_fraction"], y=med["median_steps"], mode="lines+markers",
            name="median of the runs that generalized", line=dict(color="#d62728", width=2),
        )
    )  # fmt: skip
    fig.update_xaxes(title_text="training fraction (of all pairs)")
    fig.update_yaxes(title_text="steps to the accuracy threshold", type="log")
    fig.update_layout(title=title, template="plotly_white", height=480, width=720,
                      legend=dict(orientation="h", y=-0.2))  # fmt: skip
    return fig
