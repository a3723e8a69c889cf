"""The figure of the sparse-parity study (Barak et al. 2022; the PAIR explorable): it draws
the tables written by :mod:`grokinterp.experiments.sparse_parity`."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots


def sparse_parity_figure(
    runs: pd.DataFrame, traces: pd.DataFrame, shares: pd.DataFrame, k: int, seed: int = 0
) -> Any:
    """Three panels: steps to fit (99% train) and to generalize (99% test) against n on
    log-log axes (a marker per run, the medians joined, and n^k through the first median
    of t_gen for reference); train (dashed) and test (solid) accuracy of seed ``seed`` for
    each n; the first layer's weight share on the relevant bits over steps (seed ``seed``;
    dotted: k / n, a layer blind to the relevant set)."""
    ns = sorted(set(runs["n_bits"]))
    scale = sample_colorscale("Viridis", [i / max(len(ns) - 1, 1) for i in range(len(ns))])
    colors = dict(zip(ns, scale, strict=True))
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "steps to 99% train (fit) and test (generalize)",
            f"accuracy (seed {seed}; dashed: train)",
            f"first-layer weight on the relevant bits (seed {seed})",
        ),
        horizontal_spacing=0.08,
    )
    arms = (("fit_step", "fit", "#7f7f7f"), ("generalize_step", "generalize", "#d62728"))
    for col, name, color in arms:
        fig.add_trace(
            go.Scatter(x=runs["n_bits"], y=runs[col], mode="markers", name=f"{name} (runs)",
                       marker=dict(color=color, size=6, opacity=0.6)),
            row=1, col=1,
        )  # fmt: skip
        med = runs.groupby("n_bits")[col].median().dropna()
        fig.add_trace(
            go.Scatter(x=med.index, y=med.values, mode="lines",
                       name=f"{name} (median of the runs that got there)",
                       line=dict(color=color, width=2)),
            row=1, col=1,
        )  # fmt: skip
        if col == "generalize_step" and len(med):
            n0, t0 = float(med.index[0]), float(med.iloc[0])
            ref = [t0 * (n / n0) ** k for n in ns]
            fig.add_trace(
                go.Scatter(x=ns, y=ref, mode="lines", name=f"n^{k} (reference)",
                           line=dict(color="#1f77b4", dash="dot", width=1.5)),
                row=1, col=1,
            )  # fmt: skip
    for n in ns:
        t = traces[(traces["n_bits"] == n) & (traces["seed"] == seed)]
        for acc, dash in (("train_acc", "dash"), ("test_acc", "solid")):
            fig.add_trace(
                go.Scatter(x=t["step"], y=t[acc], mode="lines", name=f"n = {n}",
                           legendgroup=f"n{n}", showlegend=acc == "test_acc",
                           line=dict(color=colors[n], dash=dash, width=1.4)),
                row=1, col=2,
            )  # fmt: skip
        s = shares[(shares["n_bits"] == n) & (shares["seed"] == seed)]
        fig.add_trace(
            go.Scatter(x=s["step"], y=s["share"], mode="lines+markers", marker=dict(size=3),
                       showlegend=False, legendgroup=f"n{n}", line=dict(color=colors[n])),
            row=1, col=3,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=[s["step"].min(), s["step"].max()], y=[k / n, k / n], mode="lines",
                       showlegend=False, line=dict(color=colors[n], dash="dot", width=1)),
            row=1, col=3,
        )  # fmt: skip
    steps = runs[["fit_step", "generalize_step"]].to_numpy(dtype=float).ravel()
    fig.update_xaxes(type="log", title_text="n (bits)", row=1, col=1)
    if any(math.isfinite(v) and v > 0 for v in steps):
        fig.update_yaxes(type="log", title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="step", row=1, col=2)
    fig.update_yaxes(range=[0.4, 1.02], row=1, col=2)
    fig.update_xaxes(title_text="step", row=1, col=3)
    fig.update_yaxes(range=[0, 1.02], row=1, col=3)
    fig.update_layout(
        title=f"Sparse parity, k = {k}: grokking delay against n",
        template="plotly_white",
        height=460,
        width=1400,
    )
    return fig
