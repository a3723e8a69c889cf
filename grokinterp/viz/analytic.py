"""Figures of the Gromov study (:mod:`grokinterp.experiments.gromov`): they draw its tables
and compute nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from grokinterp.viz.overlay import COLORS


def accuracy_vs_width(width: pd.DataFrame) -> Any:
    """Accuracy of the analytic network against its width, per phase kind (seed mean, with
    the min-max range as error bars)."""
    fig = go.Figure()
    for i, (phases, g) in enumerate(width.groupby("phases")):
        s = g.groupby("width")["acc"].agg(["mean", "min", "max"]).reset_index()
        fig.add_trace(
            go.Scatter(
                x=s["width"], y=s["mean"], mode="lines+markers", name=f"{phases} phases",
                line=dict(color=COLORS[i]),
                error_y=dict(type="data", array=s["max"] - s["mean"],
                             arrayminus=s["mean"] - s["min"]),
            )
        )  # fmt: skip
    fig.update_layout(
        title=f"Gromov's network, p = {int(width['p'].iloc[0])}: accuracy vs width",
        xaxis=dict(title="width N", type="log"),
        yaxis_title="accuracy over all pairs",
        template="plotly_white",
    )
    return fig


def similarity_over_training(training: pd.DataFrame) -> Any:
    """Similarity to Gromov's form and accuracies of a trained network per checkpoint."""
    t = training[training["step"] > 0]
    fig = go.Figure()
    lines = [
        ("gromov_similarity", "similarity to Gromov's form"),
        ("gromov_phase", "phase coherence"),
        ("train_acc", "train accuracy"),
        ("test_acc", "test accuracy"),
    ]
    for i, (col, name) in enumerate(lines):
        fig.add_trace(
            go.Scatter(x=t["step"], y=t[col], mode="lines+markers", name=name,
                       line=dict(color=COLORS[i]))
        )  # fmt: skip
    fig.update_layout(
        title="A trained quadratic MLP against Gromov's analytic form",
        xaxis=dict(title="step", type="log"),
        template="plotly_white",
    )
    return fig


def analytic_figures(width: pd.DataFrame, training: pd.DataFrame) -> dict[str, Any]:
    return {
        "accuracy_vs_width": accuracy_vs_width(width),
        "similarity_over_training": similarity_over_training(training),
    }
