"""Figures of the RFM study (:mod:`grokinterp.experiments.rfm`): its curves table and the
feature matrices of one run; they draw and compute nothing else."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokinterp.runs.run import Run
from grokinterp.viz.overlay import COLORS

_PANELS = [
    ("test_acc", "test accuracy", False),
    ("train_loss", "train MSE", True),
    ("test_loss", "test MSE", False),
    ("circulant_share", "circulant share of M_ab", False),
    ("circulant_deviation", "circulant deviation of M_ba", False),
    ("agop_alignment", "alignment with the last M", False),
]


def rfm_curves(curves: pd.DataFrame) -> Any:
    """Per task (colour) and seed (one line each): test accuracy, training and test loss, the
    circulant share of M's operand block, the paper's circulant deviation and AGOP alignment,
    over the RFM iterations."""
    panels = [p for p in _PANELS if p[0] in curves]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    tasks = list(dict.fromkeys(curves["task"]))
    for row, (col, label, log_y) in enumerate(panels, start=1):
        for i, task in enumerate(tasks):
            for j, (_seed, g) in enumerate(curves[curves["task"] == task].groupby("seed")):
                y = g[col].clip(lower=1e-35) if log_y else g[col]
                fig.add_trace(
                    go.Scatter(
                        x=g["step"], y=y, mode="lines", name=task, legendgroup=task,
                        showlegend=row == 1 and j == 0,
                        line=dict(color=COLORS[i % len(COLORS)], width=1.6),
                    ),
                    row=row, col=1,
                )  # fmt: skip
        fig.update_yaxes(title_text=label, type="log" if log_y else "linear", row=row, col=1)
    fig.update_xaxes(title_text="RFM iteration", row=len(panels), col=1)
    fig.update_layout(
        title="RFM: test accuracy jumps while the training loss stays at round-off",
        template="plotly_white", height=180 * len(panels) + 140,
        legend=dict(orientation="h", y=-0.08),
    )  # fmt: skip
    return fig


def feature_matrices(run: Run, p: int, count: int = 4) -> Any:
    """M (diagonal set to 0, so the off-diagonal structure shows) at ``count`` iterations of
    ``run``, evenly spaced from the first to the last checkpoint after step 0."""
    steps = [s for s in run.steps if s > 0]
    picks = sorted({steps[round(k * (len(steps) - 1) / max(count - 1, 1))] for k in range(count)})
    fig = make_subplots(rows=1, cols=len(picks), subplot_titles=[f"iteration {s}" for s in picks])
    for k, s in enumerate(picks, start=1):
        m = run.params(s)["M"].double().clone()
        m.fill_diagonal_(0)
        fig.add_trace(go.Heatmap(z=m.numpy(), colorscale="RdBu", zmid=0, showscale=False), 1, k)
        fig.update_yaxes(autorange="reversed", row=1, col=k)
    fig.update_layout(
        title=f"M without its diagonal ({run.config.task.name} mod {p}; blocks a|b by a|b)",
        template="plotly_white", height=330, width=260 * len(picks) + 80,
    )  # fmt: skip
    return fig


def rfm_figures(curves: pd.DataFrame, run: Run, p: int) -> dict[str, Any]:
    """The study's figures by file name."""
    return {"curves": rfm_curves(curves), "feature_matrices": feature_matrices(run, p)}
