"""The phase diagram of Liu et al. 2022 (arXiv 2205.10343, Figs. 6-7): a 2D grid of
hyper-parameters, each cell colored by its learning phase, beside the grokking delay. Draws
the table of :func:`grokinterp.experiments.phases.phase_cells`; computes nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# the paper's order and palette (their plotting notebook): green, yellow, dark blue, black
PHASES = ("comprehension", "grokking", "memorization", "confusion")
PHASE_COLORS = {
    "comprehension": "rgb(160,218,57)",
    "grokking": "rgb(253,231,37)",
    "memorization": "rgb(70,50,126)",
    "confusion": "rgb(30,30,30)",
}


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.integer, np.floating)) else str(v)


def phase_grid(
    cells: pd.DataFrame, x: str, y: str, column: str = "phase"
) -> tuple[list[Any], list[Any], np.ndarray]:
    """``(x values, y values, grid)``: the sorted values of ``x`` and ``y`` and a
    ``(len(y), len(x))`` grid of ``column`` (for ``phase``: the index into :data:`PHASES`, as
    floats; NaN where a cell is missing or has no phase)."""
    xs = sorted(cells[x].unique())
    ys = sorted(cells[y].unique())
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, row in cells.iterrows():
        value = row[column]
        if column == "phase":
            value = PHASES.index(value) if value in PHASES else np.nan
        grid[ys.index(row[y]), xs.index(row[x])] = value
    return xs, ys, grid


def phase_diagram(cells: pd.DataFrame, x: str, y: str, title: str = "Phase diagram") -> Any:
    """Two panels over the ``x`` by ``y`` grid: the phase of each cell (comprehension,
    grokking, memorization, confusion in the paper's colors) and the grokking delay (steps
    from 90% train to 90% test accuracy; blank where test never reached it)."""
    xs, ys, phase = phase_grid(cells, x, y)
    _, _, delay = phase_grid(cells, x, y, "delay")
    xl, yl = [_label(v) for v in xs], [_label(v) for v in ys]
    n = len(PHASES)
    # a stepped colorscale: index k fills [k / n, (k + 1) / n] with its phase's color
    scale = []
    for k, name in enumerate(PHASES):
        scale += [[k / n, PHASE_COLORS[name]], [(k + 1) / n, PHASE_COLORS[name]]]
    text = [[PHASES[int(v)][:4] if np.isfinite(v) else "" for v in row] for row in phase]
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("phase", "grokking delay (steps, 90% train to 90% test)"),
        horizontal_spacing=0.14,
    )
    fig.add_trace(
        go.Heatmap(
            z=phase, x=xl, y=yl, zmin=-0.5, zmax=n - 0.5, colorscale=scale, text=text,
            texttemplate="%{text}", showscale=False, xgap=1, ygap=1,
            hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>%{{text}}<extra></extra>",
        ),
        row=1, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Heatmap(
            z=delay, x=xl, y=yl, colorscale="Viridis", xgap=1, ygap=1,
            text=[[f"{v:.0f}" if np.isfinite(v) else "" for v in row] for row in delay],
            texttemplate="%{text}", colorbar=dict(title="steps", x=1.02),
        ),
        row=1, col=2,
    )  # fmt: skip
    for name in PHASES:  # a legend for the categorical panel
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=name,
                marker=dict(size=12, color=PHASE_COLORS[name], symbol="square"),
            )
        )  # fmt: skip
    for col in (1, 2):
        fig.update_xaxes(title_text=x, type="category", row=1, col=col)
        fig.update_yaxes(title_text=y, type="category", row=1, col=col)
    fig.update_layout(
        title=title, template="plotly_white", width=1100, height=520,
        legend=dict(orientation="h", y=-0.18),
    )  # fmt: skip
    return fig


def critical_fraction_figure(
    fractions: pd.DataFrame, runs: pd.DataFrame, summary: dict[str, Any]
) -> Any:
    """The effective theory against training (Liu et al. 2022, Fig. 3): against the training
    fraction, the theory's share of training sets that leave only the linear representation
    and its ideal test accuracy, beside the runs' final test accuracy (each run a dot, the
    mean a line), the share of runs that generalized, and their final RQI; the two critical
    fractions as vertical lines."""
    fig = go.Figure()
    x = fractions["fraction"]
    curves = [
        ("p_unique", "theory: share of sets with dof = 0", "rgb(70,50,126)", "dash"),
        ("ideal_test_acc", "theory: ideal test accuracy", "rgb(120,120,120)", "dash"),
        ("test_acc", "trained: mean final test accuracy", "rgb(31,119,180)", "solid"),
        ("generalized", "trained: share with test acc >= threshold", "rgb(44,160,44)", "solid"),
        ("rqi", "trained: mean final RQI", "rgb(214,39,40)", "dot"),
        ("linear", "trained: share with final RQI >= 0.95", "rgb(255,127,14)", "dot"),
    ]
    for col, name, color, dash in curves:
        fig.add_trace(
            go.Scatter(
                x=x, y=fractions[col], name=name, mode="lines+markers",
                line=dict(color=color, dash=dash, width=2),
            )
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=runs["fraction"], y=runs["final_test_acc"], mode="markers", name="trained: a run",
            marker=dict(color="rgba(31,119,180,0.35)", size=7),
        )
    )  # fmt: skip
    for key, label, color in (
        ("r_c_theory", "r_c theory", "rgb(70,50,126)"),
        ("r_c_measured", "r_c measured", "rgb(44,160,44)"),
        ("r_c_linear", "r_c linear", "rgb(255,127,14)"),
    ):
        if summary.get(key) is not None:
            fig.add_vline(
                x=summary[key], line=dict(color=color, dash="dot"),
                annotation_text=f"{label} {summary[key]:.2f}", annotation_position="top",
            )  # fmt: skip
    fig.update_layout(
        title=f"Critical training fraction, addition table 0..{summary['p'] - 1}",
        xaxis_title="training fraction", yaxis_title="accuracy / share / RQI",
        template="plotly_white", width=900, height=520, legend=dict(orientation="h", y=-0.2),
    )  # fmt: skip
    return fig


__all__ = [
    "PHASES",
    "PHASE_COLORS",
    "critical_fraction_figure",
    "phase_diagram",
    "phase_grid",
]
