"""Figures of the circuit-efficiency experiments (Varma et al. 2023): norm against D,
ungrokking, the runs near D_crit and the steps to generalize. Each returns a plotly Figure
drawn from the experiments' tables; none computes a measure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokinterp.analysis.efficiency import Crossing, generalizing_norms, near_dcrit, raw_crossing

# one colour per plateau class (grokinterp.analysis.phases.plateau_class)
PLATEAU_COLORS = {
    "grokked": "#2ca02c",
    "semi-grokked": "#ff7f0e",
    "undecided": "#9467bd",
    "rising": "#9467bd",  # the name of "undecided" in tables written before it
    "memorized": "#d62728",
    "unfitted": "#7f7f7f",
}


def _vline(fig: Any, x: float, name: str, span: tuple[float, float], dash: str, color: str) -> None:
    """A vertical line as a legend entry. (plotly's add_vline takes log10 coordinates on a
    log axis, so a line at D would be drawn at 10^D.)"""
    fig.add_trace(
        go.Scatter(
            x=[x, x],
            y=list(span),
            mode="lines",
            name=name,
            line=dict(dash=dash, color=color, width=1.5),
        )
    )


def norm_vs_d_figure(table: pd.DataFrame, crossing: Crossing) -> Any:
    """Parameter norm against D for both kinds of networks, the generalizing circuit's norm
    (dotted), D_crit (dashed) and the crossing of the measured curves (dotted)."""
    fig = go.Figure()
    for kind, name, color in (
        ("mem", "memorization only (random labels)", "#d62728"),
        ("gen", "true labels", "#2ca02c"),
    ):
        t = table[(table["kind"] == kind) & table["reached_target"].astype(bool)]
        fig.add_trace(
            go.Scatter(
                x=t["D"],
                y=t["final_param_norm"],
                mode="markers",
                name=f"{name}, each seed",
                marker=dict(color=color, size=6, opacity=0.5),
            )
        )
        mean = t.groupby("D")["final_param_norm"].mean()
        fig.add_trace(
            go.Scatter(
                x=mean.index,
                y=mean.values,
                mode="lines",
                name=name,
                line=dict(color=color, width=2),
            )
        )
    level = generalizing_norms(table)
    if len(level):
        fig.add_hline(
            y=float(level.mean()),
            line_dash="dot",
            line_color="#2ca02c",
            annotation_text=f"generalizing circuit ≈ {level.mean():.1f}",
        )
    span = (float(table["final_param_norm"].min()), float(table["final_param_norm"].max()))
    if crossing.d_crit is not None:
        _vline(fig, crossing.d_crit, f"D_crit ≈ {crossing.d_crit:.0f}", span, "dash", "#000000")
    raw = raw_crossing(table)
    if raw.d_crit is not None:
        _vline(fig, raw.d_crit, f"measured curves cross ≈ {raw.d_crit:.0f}", span, "dot", "#7f7f7f")
    fig.update_xaxes(type="log", title_text="training-set size D")
    fig.update_yaxes(title_text="parameter norm at convergence")
    fig.update_layout(
        title="Circuit efficiency: parameter norm against dataset size",
        template="plotly_white",
        height=450,
    )
    return fig


def ungrok_figure(table: pd.DataFrame, steps: int, crossing: Crossing | None = None) -> Any:
    """Final test accuracy of the ungrokking runs against D', one line per weight decay
    (D_crit from the norm curves marked when given)."""
    fig = go.Figure()
    for wd, t in table.groupby("weight_decay"):
        t = t.sort_values("D_prime")
        fig.add_trace(
            go.Scatter(
                x=t["D_prime"],
                y=t["final_test_acc"],
                mode="lines+markers",
                name=f"weight decay {wd}",
            )
        )
    if crossing is not None and crossing.d_crit is not None:
        _vline(
            fig,
            crossing.d_crit,
            f"D_crit ≈ {crossing.d_crit:.0f} (norm curves)",
            (0, 1),
            "dash",
            "#000000",
        )
    fig.update_xaxes(type="log", title_text="training-set size D' of the continued run")
    fig.update_yaxes(title_text=f"test accuracy after {steps} steps", range=[0, 1.02])
    fig.update_layout(title="Ungrokking", template="plotly_white", height=450)
    return fig


def semi_grokking_figure(
    traces: pd.DataFrame, curves: pd.DataFrame, crossing: Crossing, sizes: Sequence[int]
) -> Any:
    """Test accuracy (top) and parameter norm (bottom) against step for the true-label runs
    at the grid sizes around D_crit and the crossing of the measured curves
    (:func:`near_dcrit`), coloured by their plateau class (Varma et al. 2023:
    semi-grokking is a delayed rise to a middling test accuracy near D_crit).

    Long by design: the plotly declarations of two linked panels."""
    colors = PLATEAU_COLORS
    near = near_dcrit(sizes, crossing, raw_crossing(curves))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    gen = curves[(curves["kind"] == "gen") & curves["D"].isin(near)]
    shown: set[str] = set()
    for d, seed, cls in gen[["D", "seed", "plateau_class"]].itertuples(index=False):
        t = traces[(traces["kind"] == "gen") & (traces["D"] == d) & (traces["seed"] == seed)]
        color = colors.get(str(cls), "#1f77b4")
        first = str(cls) not in shown
        shown.add(str(cls))
        label = f"D={d}, seed {seed} ({cls})"
        fig.add_trace(
            go.Scatter(
                x=t["step"],
                y=t["test_acc"],
                mode="lines",
                name=str(cls),
                legendgroup=str(cls),
                showlegend=first,
                hovertext=label,
                line=dict(color=color, width=1.5),
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=t["step"],
                y=t["param_norm"],
                mode="lines",
                name=str(cls),
                legendgroup=str(cls),
                showlegend=False,
                hovertext=label,
                line=dict(color=color, width=1.5),
            ),
            row=2,
            col=1,
        )
    where = (
        f"D in {near} (D_crit ≈ {crossing.d_crit:.0f})"
        if crossing.d_crit
        else f"D in {near} (no D_crit in the grid)"
    )
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="parameter norm", row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig.update_layout(
        title=f"Semi-grokking: true-label runs at {where}", template="plotly_white", height=600
    )
    return fig


def steps_to_generalize_figure(curves: pd.DataFrame, max_steps: int) -> Any:
    """Steps until test accuracy first reaches 99% against D for the true-label runs (Power
    et al. 2022: the fewer the training points, the longer generalization takes, steeply so
    near the smallest fraction that still generalizes). Runs that never got there within
    ``max_steps`` are drawn as open markers at ``max_steps``."""
    gen = curves[curves["kind"] == "gen"]
    hit, miss = gen[gen["test_99_step"].notna()], gen[gen["test_99_step"].isna()]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=hit["D"],
            y=hit["test_99_step"],
            mode="markers",
            name="test accuracy reached 99%",
            marker=dict(color="#2ca02c", size=8),
        )
    )
    mean = hit.groupby("D")["test_99_step"].median()
    fig.add_trace(
        go.Scatter(
            x=mean.index, y=mean.values, mode="lines", name="median", line=dict(color="#2ca02c")
        )
    )
    fig.add_trace(
        go.Scatter(
            x=miss["D"],
            y=[max_steps] * len(miss),
            mode="markers",
            name=f"not within {max_steps} steps",
            marker=dict(color="#d62728", size=8, symbol="circle-open"),
        )
    )
    fig.update_xaxes(type="log", title_text="training-set size D")
    fig.update_yaxes(type="log", title_text="steps until test accuracy >= 99%")
    fig.update_layout(
        title="Steps to generalize against training-set size (true labels)",
        template="plotly_white",
        height=450,
    )
    return fig


def semi_test_acc_figure(traces: pd.DataFrame, runs: pd.DataFrame, d_crit: float | None) -> Any:
    """Test accuracy (a row per weight decay) and parameter norm (the bottom row, every
    weight decay) against step, a column per training-set size D (titled with D / D_crit
    when ``d_crit`` is given), a line per run coloured by its plateau class: the long runs of
    :mod:`grokinterp.experiments.semi_grokking` (Varma et al. 2023: semi-grokking is a
    delayed rise to a middling plateau near D_crit). Tables without a ``weight_decay``
    column are drawn as one weight decay."""
    if "weight_decay" not in runs:
        runs = runs.assign(weight_decay=math.nan)
        traces = traces.assign(weight_decay=math.nan)
    sizes = sorted(set(runs["D"]))
    decays = sorted(set(runs["weight_decay"]), key=lambda w: (math.isnan(w), w))
    n_rows = len(decays) + 1
    titles = [f"D = {d}" + (f" ({d / d_crit:.2f} D_crit)" if d_crit else "") for d in sizes]
    fig = make_subplots(
        rows=n_rows,
        cols=len(sizes),
        subplot_titles=titles + [""] * (len(sizes) * (n_rows - 1)),
        shared_xaxes=True,
        vertical_spacing=0.06,
        horizontal_spacing=0.03,
    )
    norms = traces["param_norm"].astype(float)
    pad = 0.05 * float(norms.max() - norms.min()) if len(norms) else 1.0
    norm_range = [float(norms.min()) - pad, float(norms.max()) + pad] if len(norms) else None
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    shown: set[str] = set()

    def same(col: pd.Series, value: float) -> pd.Series:
        return col.isna() if math.isnan(value) else col == value

    for c, d in enumerate(sizes, start=1):
        for r, wd in enumerate(decays, start=1):
            members = runs.loc[
                (runs["D"] == d) & same(runs["weight_decay"], wd), ["seed", "plateau_class"]
            ]
            wd_text = "" if math.isnan(wd) else f", weight decay {wd:g}"
            for seed, cls in members.itertuples(index=False):
                t = traces[
                    (traces["D"] == d) & same(traces["weight_decay"], wd) & (traces["seed"] == seed)
                ]
                name = str(cls) if isinstance(cls, str) else "not started"
                color = PLATEAU_COLORS.get(name, "#1f77b4")
                for row, col, dash in (
                    (r, "test_acc", "solid"),
                    (n_rows, "param_norm", dashes[(r - 1) % len(dashes)]),
                ):
                    fig.add_trace(
                        go.Scatter(
                            x=t["step"],
                            y=t[col],
                            mode="lines",
                            name=name,
                            legendgroup=name,
                            showlegend=name not in shown,
                            hovertext=f"D={d}{wd_text}, seed {seed} ({name})",
                            line=dict(color=color, width=1.2, dash=dash),
                        ),
                        row=row,
                        col=c,
                    )
                    shown.add(name)
            # the same ranges in every column (plotly's shared axes drew the norms empty)
            fig.update_yaxes(range=[0, 1.02], showticklabels=c == 1, row=r, col=c)
            if c == 1:
                label = "test accuracy" + ("" if math.isnan(wd) else f"<br>(wd {wd:g})")
                fig.update_yaxes(title_text=label, row=r, col=1)
        fig.update_yaxes(range=norm_range, showticklabels=c == 1, row=n_rows, col=c)
        fig.update_xaxes(title_text="step", row=n_rows, col=c)
    styles = " / ".join(dashes[i % len(dashes)] for i in range(len(decays)))
    wds = " / ".join(f"{w:g}" for w in decays)
    norm_label = "parameter norm" + ("" if len(decays) < 2 else f"<br>({styles}: wd {wds})")
    fig.update_yaxes(title_text=norm_label, row=n_rows, col=1)
    fig.update_layout(
        title="True-label runs by training-set size D and weight decay (colour: plateau class)",
        template="plotly_white",
        height=220 * n_rows + 180,
        width=max(900, 280 * len(sizes) + 200),
    )
    return fig
