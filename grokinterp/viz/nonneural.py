"""Figures of the non-neural grokking study (:mod:`grokinterp.experiments.nonneural`): they
draw its tables and compute nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokinterp.viz.overlay import COLORS


def _curves(metrics: pd.DataFrame, panels: list[tuple[str, str, bool]], title: str, by: str) -> Any:
    """One panel per ``(column, axis title, log y)``; per value of ``by``, the mean over seeds
    as a line (each seed's run kept apart would hide the timing in clutter: the summary has
    them). The step axis is logarithmic, as in Miller et al.'s figures."""
    panels = [p for p in panels if p[0] in metrics and metrics[p[0]].notna().any()]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.05)
    t = metrics[metrics["step"] > 0]
    groups = list(dict.fromkeys(t[by]))
    for row, (col, label, log_y) in enumerate(panels, start=1):
        for i, g in enumerate(groups):
            mean = t[t[by] == g].groupby("step")[col].mean()
            fig.add_trace(
                go.Scatter(
                    x=mean.index, y=mean.values, mode="lines", name=str(g), legendgroup=str(g),
                    showlegend=row == 1, line=dict(color=COLORS[i % len(COLORS)], width=1.8),
                ),
                row=row, col=1,
            )  # fmt: skip
        fig.update_yaxes(title_text=label, type="log" if log_y else "linear", row=row, col=1)
    fig.update_xaxes(type="log")
    fig.update_xaxes(title_text="step", row=len(panels), col=1)
    fig.update_layout(
        title=title, template="plotly_white", height=200 * len(panels) + 140,
        legend=dict(orientation="h", y=-0.08),
    )  # fmt: skip
    return fig


def gp_curves(metrics: pd.DataFrame) -> Any:
    """The GP on concealed parity: train and test accuracy, the KL term and the ARD
    length-scales (parity bits vs concealing bits), mean over seeds, per n_bits."""
    gp = metrics[metrics["model"] == "gp"]
    return _curves(
        gp.assign(setting=gp["n_bits"].map(lambda b: f"{int(b)} bits")),
        [
            ("test_acc", "test accuracy", False),
            ("train_acc", "train accuracy", False),
            ("complexity", "KL / n (complexity)", False),
            ("lengthscale_relevant", "length-scale, parity bits", True),
            ("lengthscale_concealed", "length-scale, other bits", True),
        ],
        "Variational GP classifier on concealed parity (3 parity bits among n_bits)",
        by="setting",
    )


def linear_curves(metrics: pd.DataFrame) -> Any:
    """The linear model: accuracy, the two objective terms and the weights, per seed."""
    lin = metrics[metrics["model"] == "linear"]
    return _curves(
        lin.assign(setting=lin["seed"].map(lambda s: f"seed {int(s)}")),
        [
            ("test_acc", "test accuracy (sign)", False),
            ("train_acc", "train accuracy (sign)", False),
            ("complexity", "|w|² / (σ_p² n)", True),
            ("data_fit", "squared error / (σ² n)", True),
            ("weight_other", "|w| on x², x³, sin 100x", False),
        ],
        "Linear model on y = 0.3x from (x, x², x³, sin 100x), 2 training points",
        by="setting",
    )


def concealment(summary: pd.DataFrame) -> Any:
    """Steps to 99% train and test accuracy against n_bits, one marker per seed."""
    gp = summary[summary["model"] == "gp"]
    fig = go.Figure()
    for i, (col, name) in enumerate(
        [("train_step", "train acc 99%"), ("test_step", "test acc 99%")]
    ):
        fig.add_trace(
            go.Scatter(
                x=gp["n_bits"], y=gp[col], mode="markers", name=name,
                marker=dict(color=COLORS[i], size=9),
            )
        )  # fmt: skip
        med = gp.groupby("n_bits")[col].median()
        fig.add_trace(
            go.Scatter(
                x=med.index, y=med.values, mode="lines", name=f"{name} (median)",
                line=dict(color=COLORS[i]),
            )
        )  # fmt: skip
    fig.update_layout(
        title="Concealment: steps to 99% accuracy vs bit-string length (GP)",
        xaxis_title="n_bits (3 parity bits + random bits)",
        yaxis_title="step",
        template="plotly_white",
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def nonneural_figures(metrics: pd.DataFrame, summary: pd.DataFrame) -> dict[str, Any]:
    figs: dict[str, Any] = {}
    if (metrics["model"] == "gp").any():
        figs["gp_curves"] = gp_curves(metrics)
        figs["concealment"] = concealment(summary)
    if (metrics["model"] == "linear").any():
        figs["linear_curves"] = linear_curves(metrics)
    return figs
