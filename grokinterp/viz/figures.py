"""Plotly figures of a grokking run's progress measures.

Every function takes plain data (the measures table and summary dict that
``grokinterp analyze`` computes, or numpy arrays) and returns a
:class:`plotly.graph_objects.Figure`, so the figures can be shown in Jupyter, written
to HTML by :mod:`grokinterp.viz.report`, or tested without a run directory.

The measures table has one row per checkpoint with a ``step`` column; a figure that needs a
column the table lacks (a measure that does not apply to the task) raises
:class:`ValueError` naming it. The summary dict's ``phases`` entry
(``memorization_end``, ``circuit_formation_end``, ``cleanup_end``; steps or None) is drawn as
shaded bands: memorization from the first step to ``memorization_end``, circuit formation
from there to ``circuit_formation_end``, cleanup from there to ``cleanup_end``. A band whose
end (or start) is None is not drawn.

Step axes are linear unless ``log_x=True`` (the default only for :func:`loss_curves`). A
log step axis cannot show step 0, so it shows the checkpoints with step >= 1 at their true
step (step 0 is left out, not shifted), and the memorization band starts at the first
step shown.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "PHASES",
    "attention_patterns",
    "embed_freq_bars",
    "embed_freq_heatmap",
    "gini_and_norm",
    "logit_shares",
    "loss_curves",
    "neuron_clusters",
    "neuron_spectrum",
    "restricted_excluded",
]

TEMPLATE = "plotly_white"
TRAIN_COLOR = "#1f77b4"
TEST_COLOR = "#ff7f0e"
KEY_COLOR = "#d62728"
OTHER_COLOR = "#7f7f7f"
CLUSTER_COLOR = "#1f77b4"

#: (label, summary["phases"] key of the band's end, fill colour) in order.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("memorization", "memorization_end", "rgba(214, 39, 40, 0.13)"),
    ("circuit formation", "circuit_formation_end", "rgba(255, 187, 0, 0.18)"),
    ("cleanup", "cleanup_end", "rgba(44, 160, 44, 0.15)"),
)

_EMBED_NORM = re.compile(r"^embed_norm_k(\d+)$")


# --------------------------------------------------------------------------- helpers


def _require(table: pd.DataFrame, columns: Sequence[str], figure: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing[:5])
        if len(missing) > 5:
            names += f" and {len(missing) - 5} more"
        plural = "columns" if len(missing) > 1 else "column"
        raise ValueError(f"{figure}: the measures table has no {plural} {names}")


def _series(
    table: pd.DataFrame,
    required: Sequence[str],
    figure: str,
    log_x: bool,
    optional: Sequence[str] = (),
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Steps and the named columns as float arrays, sorted by step.

    Raises ValueError for a missing required column (or ``step``); optional columns are
    returned only when present. With ``log_x`` the rows with step < 1 are dropped.
    """
    _require(table, ["step", *required], figure)
    t = table.sort_values("step", kind="stable")
    steps = t["step"].to_numpy(dtype=np.int64)
    keep = steps >= 1 if log_x else np.ones(len(steps), dtype=bool)
    cols = [*required, *(c for c in optional if c in t.columns)]
    values = {c: t[c].to_numpy(dtype=np.float64)[keep] for c in cols}
    return steps[keep], values


def _step_axes(fig: go.Figure, log_x: bool, rows: int = 1, col: int | None = None) -> None:
    """Step x axes (log or linear) on every subplot (of column ``col`` when given), titled
    on the bottom one."""
    title = "step (log scale; step 0 not shown)" if log_x else "step"
    fig.update_xaxes(type="log" if log_x else "linear", col=col)
    if rows > 1 or col is not None:
        fig.update_xaxes(title_text=title, row=rows, col=col or 1)
    else:
        fig.update_xaxes(title_text=title)


def _xref(fig: go.Figure, row: int, col: int) -> str:
    """The x axis reference (``"x"``, ``"x2"``, ...) of a subplot."""
    name = str(fig.get_subplot(row, col).xaxis.plotly_name)  # "xaxis", "xaxis2", ...
    return "x" + name[len("xaxis") :]


def _shade_phases(
    fig: go.Figure,
    summary: Mapping[str, Any],
    steps: np.ndarray,
    log_x: bool,
    xref: str = "x",
    window: tuple[float, float] | None = None,
    width_px: float = 500.0,
    legend: bool = True,
) -> None:
    """One shaded band per phase whose start and end are known, named in the legend.

    The bands use the x axis ``xref`` (default the first) and span the full figure height
    (``yref="paper"``), so on figures with vertically stacked subplots that share the x axis
    they cover all of them. The memorization band starts at step 0 (linear axis) or at the
    first step shown (log axis). ``window`` clips the bands to a step range (a zoomed panel).
    Each band carries its name inside it: across the top when the band is wide enough for
    the text (judged for a plot area ``width_px`` wide), upright along its edge when it is
    only wide enough for one line of text, else only in the legend.
    """
    phases = summary.get("phases") or {}
    if len(steps) == 0:
        return
    lo = float(steps[0]) if log_x else 0.0
    hi = float(steps[-1])
    if window is not None:
        lo, hi = max(lo, window[0]), min(hi, window[1])
    scale = np.log10 if log_x else (lambda v: v)
    span = float(scale(hi) - scale(lo)) if hi > lo else 1.0
    start: float | None = float(steps[0]) if log_x else 0.0
    for label, key, color in PHASES:
        end = phases.get(key)
        if start is not None and end is not None and end > start:
            x0, x1 = max(start, lo), min(float(end), hi)
            if x1 > x0 or window is None:  # unclipped, a band past the data is still drawn
                px = max(0.0, (scale(x1) - scale(x0)) / span * width_px) if x1 > x0 else 0.0
                across = px >= 7 * len(label) + 8
                upright = not across and px >= 16
                fig.add_shape(
                    type="rect",
                    xref=xref,
                    yref="paper",
                    x0=x0 if window is not None else start,
                    x1=x1 if window is not None else end,
                    y0=0,
                    y1=1,
                    fillcolor=color,
                    line_width=0,
                    layer="below",
                    name=label,
                    showlegend=legend,
                    legendgroup="phases",
                    label=dict(
                        text=label if across else "",
                        textposition="top center",
                        font=dict(size=11, color="#555555"),
                    ),
                )
                if upright:  # an annotation: x in log10 units on a log axis
                    mid = (scale(x0) + scale(x1)) / 2
                    fig.add_annotation(
                        x=float(mid),
                        xref=xref,
                        y=0.99,
                        yref="paper",
                        text=label,
                        textangle=-90,
                        showarrow=False,
                        xanchor="center",
                        yanchor="top",
                        font=dict(size=11, color="#555555"),
                        name=f"phase label: {label}",
                    )
        start = end


def _finish(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0.02, xanchor="left"),
        template=TEMPLATE,
        height=height,
        margin=dict(l=70, r=30, t=60, b=60),
    )
    return fig


def _line(x: np.ndarray, y: np.ndarray, name: str, color: str, dash: str = "solid") -> go.Scatter:
    return go.Scatter(x=x, y=y, name=name, mode="lines", line=dict(color=color, dash=dash, width=2))


def _as_array(a: Any) -> np.ndarray:
    """A numpy float array from an array-like or a (CPU or GPU) torch tensor."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().float().numpy()
    return np.asarray(a, dtype=np.float64)


def components(summary: Mapping[str, Any] | None) -> tuple[str, str, dict[int, str]]:
    """How the figures name the components of the summary's group basis
    (``summary["fourier_basis"]``, :class:`grokinterp.analysis.groups.GroupBasis`): the
    axis title, the noun for titles, and each component's label by index. Z_p and Z_p*
    have frequencies k (labelled k); S_n has irreducible representations (labelled by
    their partitions, e.g. ``(4,1)``)."""
    basis = (summary or {}).get("fourier_basis")
    if isinstance(basis, dict) and basis.get("group") == "symmetric":
        reps = {int(k): str(v) for k, v in (basis.get("representations") or {}).items()}
        return "representation", "irreducible representation", reps
    return "frequency k", "Fourier frequency", {}


def _plural(names: Mapping[int, str]) -> str:
    return "representations" if names else "frequencies"


def _freq_labels(
    n: int, key_freqs: Sequence[int], names: Mapping[int, str] | None = None
) -> list[str]:
    keys = set(key_freqs)
    names = names or {}
    return [
        f"<b>{names.get(k, k)}*</b>" if k in keys else str(names.get(k, k)) for k in range(1, n + 1)
    ]


# --------------------------------------------------------------------------- time series


def grokking_window(summary: Mapping[str, Any], steps: np.ndarray) -> tuple[float, float] | None:
    """The steps where grokking happens, padded by 15% of its length on each side (within
    the run): from the end of memorization to the end of cleanup (or to the grokking step
    when cleanup has no end); None when the summary lacks either end or the window starts
    after the last step."""
    phases = summary.get("phases") or {}
    start = phases.get("memorization_end")
    end = phases.get("cleanup_end") or summary.get("grokking_step")
    if start is None or end is None or end <= start or len(steps) < 2 or start >= steps[-1]:
        return None
    pad = 0.15 * (float(end) - float(start))
    return max(float(steps[0]), float(start) - pad), min(float(steps[-1]), float(end) + pad)


def loss_curves(
    table: pd.DataFrame, summary: Mapping[str, Any], log_x: bool = True, zoom: bool = True
) -> go.Figure:
    """Train and test loss (log y), with accuracy below, phases shaded.

    Needs ``train_loss`` and ``test_loss``; the accuracy panel shows ``train_acc`` and
    ``test_acc`` when the table has them. With the default log step axis, step 0 is left
    out. With ``zoom`` (default), a log step axis and a grokking window in the summary
    (:func:`grokking_window`: end of memorization to end of cleanup, padded), a second
    column shows that window on a linear step axis, where the log axis squeezes it (the
    ``nanda`` run's steps 1360-7260 take a quarter of a log axis to 25k).
    """
    steps, v = _series(
        table, ["train_loss", "test_loss"], "loss_curves", log_x, ["train_acc", "test_acc"]
    )
    has_acc = "train_acc" in v or "test_acc" in v
    rows = 2 if has_acc else 1
    # a linear view of the window beside the log one (a linear whole run needs none)
    window = grokking_window(summary, steps) if zoom and log_x else None
    cols = 2 if window is not None else 1
    whole = "whole run" + (" (log step axis)" if log_x else "")
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        vertical_spacing=0.06,
        horizontal_spacing=0.08,
        row_heights=[0.65, 0.35] if has_acc else None,
        column_widths=[0.55, 0.45] if cols == 2 else None,
        subplot_titles=(
            [whole, f"grokking window: steps {window[0]:.0f}-{window[1]:.0f} (linear axis)"]
            + [""] * (2 * rows - 2)
            if window is not None
            else None
        ),
    )
    panels: list[tuple[int, np.ndarray, dict[str, np.ndarray]]] = [(1, steps, v)]
    if window is not None:
        # the window's rows (from all steps, step 0 included), one more on each side
        s_all, v_all = _series(
            table, ["train_loss", "test_loss"], "loss_curves", False, ["train_acc", "test_acc"]
        )
        idx = np.flatnonzero((s_all >= window[0]) & (s_all <= window[1]))
        if len(idx):
            sel = np.arange(max(idx[0] - 1, 0), min(idx[-1] + 2, len(s_all)))
            panels.append((2, s_all[sel], {k: a[sel] for k, a in v_all.items()}))
    for col, x, vals in panels:
        first = col == 1
        for name, c, color in (
            ("train loss", "train_loss", TRAIN_COLOR),
            ("test loss", "test_loss", TEST_COLOR),
        ):
            fig.add_trace(
                _line(x, vals[c], name, color).update(legendgroup=c, showlegend=first),
                row=1,
                col=col,
            )
        for c, name, color in (
            ("train_acc", "train accuracy", TRAIN_COLOR),
            ("test_acc", "test accuracy", TEST_COLOR),
        ):
            if c in vals:
                fig.add_trace(
                    _line(x, vals[c], name, color, dash="dot").update(
                        legendgroup=c, showlegend=first
                    ),
                    row=2,
                    col=col,
                )
    fig.update_yaxes(type="log", row=1)
    fig.update_yaxes(title_text="loss (log scale)", row=1, col=1)
    if has_acc:
        fig.update_yaxes(range=[-0.02, 1.02], row=2)
        fig.update_yaxes(title_text="accuracy", row=2, col=1)
    _step_axes(fig, log_x, rows, col=1)
    _shade_phases(fig, summary, steps, log_x, width_px=500 if cols == 1 else 420)
    if window is not None:
        fig.update_xaxes(type="linear", range=list(window), col=2)
        fig.update_xaxes(title_text="step", row=rows, col=2)
        _shade_phases(
            fig, summary, steps, False, _xref(fig, 1, 2), window, width_px=340, legend=False
        )
    return _finish(fig, "Loss and accuracy", 600 if has_acc else 450)


def restricted_excluded(
    table: pd.DataFrame, summary: Mapping[str, Any], log_x: bool = False
) -> go.Figure:
    """Test, restricted and excluded loss (and train loss when present), log y, phases.

    Restricted loss keeps only the key-frequency components of the logits (evaluated on the
    test set); excluded loss removes them (on the training set). Needs ``test_loss``,
    ``restricted_loss`` and ``excluded_loss``.
    """
    steps, v = _series(
        table,
        ["test_loss", "restricted_loss", "excluded_loss"],
        "restricted_excluded",
        log_x,
        ["train_loss"],
    )
    fig = go.Figure()
    if "train_loss" in v:
        fig.add_trace(_line(steps, v["train_loss"], "train loss", TRAIN_COLOR))
    fig.add_trace(_line(steps, v["test_loss"], "test loss", TEST_COLOR))
    fig.add_trace(_line(steps, v["restricted_loss"], "restricted loss (test)", "#2ca02c"))
    fig.add_trace(_line(steps, v["excluded_loss"], "excluded loss (train)", "#9467bd", dash="dash"))
    fig.update_yaxes(type="log", title_text="loss (log scale)")
    _step_axes(fig, log_x)
    _shade_phases(fig, summary, steps, log_x)
    return _finish(fig, "Restricted and excluded loss", 480)


def gini_and_norm(
    table: pd.DataFrame, summary: Mapping[str, Any], log_x: bool = False
) -> go.Figure:
    """Gini of the embedding and logit frequency norms (top), sum of squared weights (below).

    Needs ``gini_embed``, ``gini_logit`` and ``sum_sq_weights``.
    """
    steps, v = _series(
        table, ["gini_embed", "gini_logit", "sum_sq_weights"], "gini_and_norm", log_x
    )
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        _line(steps, v["gini_embed"], "Gini of embedding freq norms", "#17becf"), row=1, col=1
    )
    fig.add_trace(
        _line(steps, v["gini_logit"], "Gini of logit freq norms", "#e377c2"), row=1, col=1
    )
    fig.add_trace(
        _line(steps, v["sum_sq_weights"], "sum of squared weights", "#8c564b"), row=2, col=1
    )
    fig.update_yaxes(title_text="Gini coefficient", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="sum of squared weights", row=2, col=1)
    _step_axes(fig, log_x, rows=2)
    _shade_phases(fig, summary, steps, log_x)
    return _finish(fig, "Sparsity in the Fourier basis and total weight norm", 600)


def complexity_curves(
    table: pd.DataFrame, summary: Mapping[str, Any], log_x: bool = False
) -> go.Figure:
    """The local learning coefficient (``llc``, with ``llc_std`` over the SGLD chains as a
    band) on top, weightwatcher's power-law alphas (``alpha.<param>`` and ``alpha_mean``)
    below, with alpha = 2 (HTSR's heavy-tailed boundary) dashed: the ``--complexity``
    columns (:mod:`grokinterp.analysis.complexity`)."""
    alpha_cols = [c for c in table.columns if str(c).startswith("alpha.")]
    steps, v = _series(
        table, ["llc", "alpha_mean"], "complexity_curves", log_x, ["llc_std", *alpha_cols]
    )
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    if "llc_std" in v and np.isfinite(v["llc_std"]).any():
        lo, hi = v["llc"] - v["llc_std"], v["llc"] + v["llc_std"]
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([steps, steps[::-1]]),
                y=np.concatenate([hi, lo[::-1]]),
                fill="toself",
                fillcolor="rgba(44,160,44,0.2)",
                line=dict(width=0),
                name="LLC ± std over chains",
                hoverinfo="skip",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(_line(steps, v["llc"], "local learning coefficient", "#2ca02c"), row=1, col=1)
    palette = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    for i, c in enumerate(alpha_cols):
        color = palette[i % len(palette)]
        fig.add_trace(_line(steps, v[c], f"alpha {c[len('alpha.') :]}", color), row=2, col=1)
    fig.add_trace(_line(steps, v["alpha_mean"], "alpha (mean)", "#000000", "dot"), row=2, col=1)
    fig.add_hline(y=2.0, line=dict(color="#d62728", dash="dash", width=1), row=2, col=1)
    fig.update_yaxes(title_text="LLC (lambda hat)", row=1, col=1)
    fig.update_yaxes(title_text="power-law alpha", row=2, col=1)
    _step_axes(fig, log_x, rows=2)
    _shade_phases(fig, summary, steps, log_x)
    return _finish(fig, "Complexity: local learning coefficient and heavy-tailed alphas", 650)


def logit_shares(table: pd.DataFrame, summary: Mapping[str, Any], log_x: bool = False) -> go.Figure:
    """The generalizing and memorizing shares of the logits (``gen_share``, ``mem_share``)."""
    steps, v = _series(table, ["gen_share", "mem_share"], "logit_shares", log_x)
    fig = go.Figure()
    fig.add_trace(_line(steps, v["gen_share"], "generalizing share", "#2ca02c"))
    fig.add_trace(_line(steps, v["mem_share"], "memorizing share", "#d62728"))
    fig.update_yaxes(title_text="share of logits")
    _step_axes(fig, log_x)
    _shade_phases(fig, summary, steps, log_x)
    return _finish(fig, "Generalizing and memorizing shares of the logits", 450)


def _labelled_steps(steps: np.ndarray, summary: Mapping[str, Any]) -> dict[int, str]:
    """Row index -> label for the points of a trajectory worth naming: the first and last
    checkpoint, and the checkpoint nearest each phase boundary and the grokking step."""
    if len(steps) == 0:
        return {}
    out = {0: f"step {steps[0]}", len(steps) - 1: f"step {steps[-1]}"}
    marks = [(phases_key, (summary.get("phases") or {}).get(phases_key)) for _, phases_key, _ in
             PHASES] + [("grokking_step", summary.get("grokking_step"))]  # fmt: skip
    for _, at in marks:
        if at is not None:
            i = int(np.argmin(np.abs(steps.astype(float) - float(at))))
            out.setdefault(i, f"step {steps[i]}")
    return out


def norm_vs_logit_strength(table: pd.DataFrame, summary: Mapping[str, Any]) -> go.Figure:
    """Parameter norm against each circuit's logit strength, one point per checkpoint.

    x: ``gen_logit_norm`` and ``mem_logit_norm`` (the norms of the logits inside and
    outside the key-frequency subspace); y: the parameter norm ``sqrt(sum_sq_weights)``.
    Following the checkpoints in order shows the norm moving from the memorizing to the
    generalizing circuit (Varma et al. 2023): the memorizing strength rises with the norm,
    then the generalizing strength takes over while weight decay shrinks the norm. Each
    marker is an arrow pointing the way training went (from the previous checkpoint); the
    first and last checkpoints, and those nearest the phase boundaries and the grokking step
    of ``summary``, are labelled with their step.
    """
    steps, v = _series(
        table,
        ["gen_logit_norm", "mem_logit_norm", "sum_sq_weights"],
        "norm_vs_logit_strength",
        log_x=False,
    )
    norm = np.sqrt(v["sum_sq_weights"])
    labelled = _labelled_steps(steps, summary)
    text = [labelled.get(i, "") for i in range(len(steps))]
    fig = go.Figure()
    for col, name, color, position in (
        ("mem_logit_norm", "memorizing circuit", "#d62728", "top left"),
        ("gen_logit_norm", "generalizing circuit", "#2ca02c", "bottom right"),
    ):
        fig.add_trace(
            go.Scatter(
                x=v[col],
                y=norm,
                name=name,
                mode="lines+markers+text",
                line=dict(color=color, width=1.5),
                marker=dict(
                    size=[14 if i == 0 else 10 for i in range(len(steps))],
                    color=color,
                    symbol=["circle" if i == 0 else "arrow" for i in range(len(steps))],
                    angleref="previous",
                ),
                text=text,
                textposition=position,
                textfont=dict(size=10, color=color),
                customdata=steps,
                hovertemplate="step %{customdata}<br>logit norm %{x:.3g}"
                "<br>parameter norm %{y:.3g}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="logit strength (norm of the circuit's part of the logits)")
    fig.update_yaxes(title_text="parameter norm")
    title = (
        "Parameter norm against each circuit's logit strength"
        "<br><sup>a point per checkpoint; the circle is the first, arrows point the way "
        "training went</sup>"
    )
    fig = _finish(fig, title, 500)
    fig.update_layout(margin=dict(t=80))
    return fig


def embed_freq_heatmap(
    table: pd.DataFrame, summary: Mapping[str, Any], log_x: bool = False
) -> go.Figure:
    """Norm of the token embedding at each Fourier frequency (rows) over steps (columns).

    Uses ``embed_norm_k1`` .. ``embed_norm_k{n}`` with ``n = (p - 1) // 2`` from
    ``summary["p"]`` (or, without ``p``, every ``embed_norm_k*`` column from 1 up). Key
    frequencies (``summary["key_freqs"]``) are bold and starred on the y axis. The z matrix
    has shape ``(n_freqs, n_steps)``.
    """
    if "p" in summary and summary["p"] is not None:
        n = (int(summary["p"]) - 1) // 2
    else:
        found = {int(m.group(1)) for c in table.columns if (m := _EMBED_NORM.match(str(c)))}
        n = max(found) if found else 1
    cols = [f"embed_norm_k{k}" for k in range(1, n + 1)]
    steps, v = _series(table, cols, "embed_freq_heatmap", log_x)
    z = np.stack([v[c] for c in cols]) if cols else np.zeros((0, len(steps)))
    freqs = np.arange(1, n + 1)
    key_freqs = [int(k) for k in summary.get("key_freqs") or []]
    fig = go.Figure(
        go.Heatmap(
            x=steps,
            y=freqs,
            z=z,
            colorscale="Viridis",
            colorbar=dict(title=dict(text="norm", side="right")),
            hovertemplate="step %{x}<br>component %{y}<br>norm %{z:.3g}<extra></extra>",
            name="embedding norm",
        )
    )
    ticks = freqs if n <= 60 else np.array(sorted({*range(5, n + 1, 5), *key_freqs}))
    axis, noun, names = components(summary)
    labels = _freq_labels(n, key_freqs, names)
    fig.update_yaxes(
        title_text=f"{axis} (key: bold*)",
        tickmode="array",
        tickvals=ticks,
        ticktext=[labels[k - 1] for k in ticks],
    )
    _step_axes(fig, log_x)
    keys = ", ".join(names.get(k, str(k)) for k in key_freqs) or "none"
    height = int(np.clip(12 * n + 160, 350, 900))
    return _finish(fig, f"Embedding norm per {noun} (key: {keys})", height)


# --------------------------------------------------------------------------- one checkpoint


def embed_freq_bars(
    norms: Sequence[float] | np.ndarray,
    key_freqs: Sequence[int],
    step: int | None = None,
    summary: Mapping[str, Any] | None = None,
) -> go.Figure:
    """Embedding norm per frequency k = 1..n at one step, key frequencies in red (per
    irreducible representation, labelled by its partition, where ``summary`` holds an
    S_n basis: :func:`components`).

    Two bar traces, ``"key frequencies"`` and ``"other frequencies"``, with different
    colours.
    """
    axis, noun, names = components(summary)
    y = _as_array(norms).ravel()
    freqs = np.arange(1, len(y) + 1)
    is_key = np.isin(freqs, np.asarray(list(key_freqs), dtype=np.int64))
    fig = go.Figure()
    for mask, name, color in (
        (is_key, f"key {_plural(names)}", KEY_COLOR),
        (~is_key, f"other {_plural(names)}", OTHER_COLOR),
    ):
        fig.add_trace(
            go.Bar(
                x=freqs[mask],
                y=y[mask],
                name=name,
                marker_color=color,
                width=0.8,
                hovertemplate="component %{x}<br>norm %{y:.3g}<extra></extra>",
            )
        )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text=axis, range=[0.4, len(y) + 0.6])
    if names:
        fig.update_xaxes(
            tickmode="array", tickvals=freqs, ticktext=[names.get(int(k), str(k)) for k in freqs]
        )
    fig.update_yaxes(title_text="embedding norm")
    at = "final step" if step is None else f"step {step}"
    return _finish(fig, f"Embedding norm per {noun} at {at}", 420)


def key_freq_evidence(summary: Mapping[str, Any]) -> go.Figure:
    """Why the key frequencies are key: per frequency, at the checkpoint where they were
    chosen (``summary["key_freq_evidence"]``, :mod:`grokinterp.analysis.keyfreqs`).

    Top: the training loss with that frequency's directions removed from the logits, over
    the intact training loss (log axis; the causal rule's factor dashed). Bottom: the
    spectra, each as a fraction of its largest entry: W_E (``embed``) and W_out W_U
    (``logit``). Key frequencies in red (top) and marked ``*`` on the axis.
    """
    rows = summary.get("key_freq_evidence")
    if not rows:
        raise ValueError("the summary has no key_freq_evidence (the Fourier measures do not apply)")
    ev = pd.DataFrame(rows).sort_values("k")
    k = ev["k"].to_numpy()
    key = ev["key"].to_numpy(dtype=bool)
    keys = {int(x) for x in k[key]}
    round_ks = {int(x) for x in k if x % 5 == 0 or x == 1}
    ticks = sorted(keys | {x for x in round_ks if all(abs(x - j) > 2 for j in keys)})
    axis, noun, names = components(summary)
    if names:  # few components: every one is labelled
        ticks = sorted(int(x) for x in k)
    labels = [f"<b>{names.get(t, t)}*</b>" if t in keys else str(names.get(t, t)) for t in ticks]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for mask, name, color in ((key, "key", KEY_COLOR), (~key, "not key", OTHER_COLOR)):
        fig.add_trace(
            go.Bar(
                x=k[mask],
                y=ev["excluded_ratio"].to_numpy()[mask],
                name=f"{name}: loss without k / loss",
                marker_color=color,
                width=0.8,
                customdata=ev[
                    ["excluded_loss", "restricted_loss_with", "restricted_loss_without"]
                ].to_numpy()[mask],
                hovertemplate="component %{x}<br>excluded / full: %{y:.3g}<br>excluded loss "
                "%{customdata[0]:.3g}<br>restricted loss with k %{customdata[1]:.3g}, "
                "without %{customdata[2]:.3g}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    factor = (summary.get("key_freq_check") or {}).get("exclusion_factor")
    if factor:
        fig.add_hline(y=factor, line_dash="dash", line_color="#555555", row=1, col=1)
    spectra = (
        ("embed_norm", "W_E spectrum", "#1f77b4", -0.4),
        ("logit_norm", "W_out W_U spectrum", "#2ca02c", 0.0),
    )
    for col, name, color, offset in spectra:
        if col in ev:
            y = ev[col].to_numpy(dtype=float)
            fig.add_trace(
                go.Bar(
                    x=k,
                    y=y / max(float(y.max()), 1e-300),
                    name=name,
                    marker_color=color,
                    width=0.4,
                    offset=offset,
                ),
                row=2,
                col=1,
            )
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(type="log", title_text="loss without k / loss", row=1, col=1)
    fig.update_yaxes(title_text="norm / max", row=2, col=1)
    for row in (1, 2):
        fig.update_xaxes(tickvals=ticks, ticktext=labels, tickangle=0, row=row, col=1)
    fig.update_xaxes(title_text=f"{axis} (key: *)", row=2, col=1)
    at = summary.get("key_freq_evidence_step")
    rule = summary.get("key_freq_rule", "?")
    where = f" at step {at}" if at is not None else ""
    what = "Key representations" if names else "Key frequencies"
    return _finish(fig, f"{what}{where} (rule: {rule}): removal and spectra", 620)


def neuron_clusters(
    fractions: Any, cluster: Any, key_freqs: Sequence[int], threshold: float = 0.85
) -> go.Figure:
    """MLP neurons grouped by the frequency that explains their activation.

    ``fractions[i, k - 1]`` is the fraction of neuron i's activation variance explained by
    frequency k (shape ``(d_mlp, n_freqs)``); ``cluster[i]`` is neuron i's frequency cluster,
    or a value < 1 when it has none, as :func:`grokinterp.analysis.fourier.neuron_clusters`
    assigns them (``threshold`` is the one used there, for the title). Left: the number of
    neurons per cluster (key frequencies in red, "unclustered" in grey). Right: the
    fractions with neurons sorted by cluster, then by largest fraction.

    Long by design: the plotly declarations of two panels.
    """
    f = _as_array(fractions)
    if f.ndim != 2 or f.shape[1] == 0:
        raise ValueError(f"neuron_clusters: fractions must be (d_mlp, n_freqs), got {f.shape}")
    c = _as_array(cluster).astype(int).reshape(-1)
    if c.shape[0] != f.shape[0]:
        raise ValueError(f"neuron_clusters: {c.shape[0]} cluster labels for {f.shape[0]} neurons")
    n_freqs = f.shape[1]
    top = np.nan_to_num(f, nan=0.0).max(axis=1)
    cluster = np.where(c >= 1, c, 0)  # 0 = unclustered
    keys = {int(k) for k in key_freqs}

    freqs_used = sorted(int(k) for k in np.unique(cluster) if k > 0)
    counts = [int((cluster == k).sum()) for k in freqs_used]
    x = [str(k) for k in freqs_used] + ["unclustered"]
    y = counts + [int((cluster == 0).sum())]
    colors = [KEY_COLOR if k in keys else CLUSTER_COLOR for k in freqs_used] + [OTHER_COLOR]

    # unclustered last; within a cluster, the most explained neurons first
    order = np.lexsort((-top, np.where(cluster == 0, n_freqs + 1, cluster)))
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.4, 0.6],
        horizontal_spacing=0.12,
        subplot_titles=(
            f"neurons per cluster (threshold {threshold:g})",
            "fraction of variance explained",
        ),
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=y,
            marker_color=colors,
            name="neurons",
            showlegend=False,
            hovertemplate="cluster %{x}<br>%{y} neurons<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=f[order],
            x=np.arange(1, n_freqs + 1),
            y=[str(i) for i in order],
            zmin=0,
            zmax=1,
            colorscale="Blues",
            colorbar=dict(title=dict(text="fraction", side="right")),
            name="fractions",
            hovertemplate="neuron %{y}<br>frequency %{x}<br>fraction %{z:.2f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="cluster frequency", type="category", row=1, col=1)
    fig.update_yaxes(title_text="number of neurons", row=1, col=1)
    fig.update_xaxes(title_text="frequency k", row=1, col=2)
    fig.update_yaxes(
        title_text="neuron (sorted by cluster)",
        type="category",
        autorange="reversed",
        showticklabels=len(order) <= 64,
        row=1,
        col=2,
    )
    n_clustered = int((cluster > 0).sum())
    return _finish(
        fig,
        f"MLP neuron clusters: {n_clustered} of {len(order)} neurons clustered",
        500,
    )


def attention_patterns(pattern: Any, labels: Sequence[str] = ("a", "b", "=")) -> go.Figure:
    """One heatmap per head of the attention pattern, query (rows) x key (columns).

    ``pattern`` is ``(heads, q, k)``, or ``(batch, heads, q, k)`` which is averaged over the
    batch. ``labels`` name the key positions; with fewer query rows than keys (for instance
    only the ``=`` query), the queries are the last ``q`` positions.
    """
    a = _as_array(pattern)
    averaged = a.ndim == 4
    if averaged:
        a = a.mean(axis=0)
    if a.ndim != 3:
        raise ValueError(
            f"attention_patterns: pattern must be (heads, q, k) or (batch, heads, q, k), "
            f"got shape {a.shape}"
        )
    heads, nq, nk = a.shape
    if nk != len(labels) or nq > nk:
        raise ValueError(
            f"attention_patterns: pattern has {nq} queries x {nk} keys but {len(labels)} labels"
        )
    keys = list(labels)
    queries = keys[nk - nq :]
    cols = min(heads, 4)
    rows = -(-heads // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"head {h}" for h in range(heads)],
        horizontal_spacing=0.06,
        vertical_spacing=0.12 if rows > 1 else 0.0,
    )
    for h in range(heads):
        r, c = divmod(h, cols)
        fig.add_trace(
            go.Heatmap(
                z=a[h],
                x=keys,
                y=queries,
                coloraxis="coloraxis",
                texttemplate="%{z:.2f}",
                name=f"head {h}",
                hovertemplate="query %{y}<br>key %{x}<br>attention %{z:.3f}<extra></extra>",
            ),
            row=r + 1,
            col=c + 1,
        )
    fig.update_xaxes(title_text="key position", type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    for r in range(rows):
        fig.update_yaxes(title_text="query position", row=r + 1, col=1)
    fig.update_layout(
        coloraxis=dict(
            colorscale="Blues", cmin=0, cmax=1, colorbar=dict(title=dict(text="attention"))
        )
    )
    title = "Attention patterns" + (" (averaged over the batch)" if averaged else "")
    return _finish(fig, title, 130 + 270 * rows)


def spectrum_components(
    spectrum2d: np.ndarray, basis_names: Sequence[str], share: float = 0.01, most: int = 10
) -> list[int]:
    """The basis components worth showing in a neuron's 2D spectrum: ``const``, and both
    ``cos k`` and ``sin k`` of every frequency k whose power (its rows and columns, in a and
    in b) is at least ``share`` of the strongest frequency's, the ``most`` strongest at
    most; indices into ``basis_names``, in basis order."""
    s = np.nan_to_num(spectrum2d, nan=0.0)
    marginal = s.sum(axis=0) + s.sum(axis=1)  # power touching component i, as a or as b
    by_freq: dict[int, float] = {}
    for i, name in enumerate(basis_names):
        parts = str(name).split()
        if len(parts) == 2 and parts[1].isdigit():
            by_freq[int(parts[1])] = by_freq.get(int(parts[1]), 0.0) + float(marginal[i])
    if not by_freq:
        return list(range(len(basis_names)))
    top = max(by_freq.values())
    ranked = sorted(by_freq, key=lambda k: -by_freq[k])[:most]
    keep = {k for k in ranked if top > 0 and by_freq[k] >= share * top}
    return [
        i
        for i, name in enumerate(basis_names)
        if str(name) == "const" or (len(p := str(name).split()) == 2 and int(p[1]) in keep)
    ]


def neuron_spectrum(
    spectrum2d: Any,
    basis_names: Sequence[str],
    neuron: int,
    why: str | None = None,
    decades: int = 4,
    zoom: bool = True,
    key_freqs: Sequence[int] = (),
) -> go.Figure:
    """Heatmap of one neuron's 2D Fourier power over the (a, b) input grid, log colour scale.

    ``spectrum2d[i, j]`` is the power at basis function i of a and j of b, so its shape must
    be ``(p, p)`` with ``len(basis_names) == p`` (names like ``"const", "cos 1", "sin 1"``).
    The colour is log10 of the power, over ``decades`` decades below the largest entry
    (smaller entries are drawn at the floor; the hover shows the exact power). With ``zoom``
    (default) only the components that carry the power are drawn
    (:func:`spectrum_components`: ``const`` and the frequencies with at least 1% of the
    strongest one's power), every one labelled, and the title says how much of the power
    they hold. ``why`` says why this neuron was chosen (under the title); the components of
    ``key_freqs`` are starred on the axes.
    """
    s = _as_array(spectrum2d)
    p = len(basis_names)
    if s.shape != (p, p):
        raise ValueError(
            f"neuron_spectrum: spectrum2d has shape {s.shape}, expected ({p}, {p}) to match "
            f"{p} basis names"
        )
    names = list(basis_names)
    idx = spectrum_components(s, names) if zoom else list(range(p))
    sub = s[np.ix_(idx, idx)]
    shown = [names[i] for i in idx]
    total = float(np.nansum(s))
    held = float(np.nansum(sub)) / total if total > 0 else 1.0
    peak = float(np.nanmax(s)) if s.size else 0.0
    floor = peak * 10.0**-decades if peak > 0 else 1e-300
    z = np.log10(np.maximum(np.nan_to_num(sub, nan=0.0), floor))
    lo, hi = int(np.floor(np.log10(floor))), int(np.ceil(np.log10(max(peak, floor))))
    ticks = list(range(lo, hi + 1))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=shown,
            y=shown,
            customdata=sub,
            zmin=float(np.log10(floor)),
            zmax=float(np.log10(max(peak, floor))),
            colorscale="Viridis",
            colorbar=dict(
                title=dict(text="power (log scale)", side="right"),
                tickvals=ticks,
                ticktext=[f"1e{t}" for t in ticks],
            ),
            name=f"neuron {neuron}",
            hovertemplate="a: %{y}<br>b: %{x}<br>power %{customdata:.3g}<extra></extra>",
        )
    )
    keys = {int(k) for k in key_freqs}
    ticktext = [
        f"<b>{n}*</b>" if len(w := n.split()) == 2 and w[1].isdigit() and int(w[1]) in keys else n
        for n in shown
    ]
    axis = dict(type="category", tickmode="array", tickvals=shown, ticktext=ticktext)
    fig.update_xaxes(title_text="Fourier component of b", tickangle=-45, **axis)
    fig.update_yaxes(title_text="Fourier component of a", autorange="reversed", **axis)
    n = len(shown)
    size = int(np.clip(28 * n + 260, 420, 900))
    note = f"the {n} of {p} components that carry the power ({held:.1%} of it); " if n < p else ""
    note += f"log colour scale, {decades} decades" + ("; key frequencies starred" if keys else "")
    note += f". {why[0].upper()}{why[1:]}" if why else ""
    width_chars = max(60, int((size + 60) / 5.5))  # what fits in the width, in <sup> text
    lines = [f"Neuron {neuron}: 2D Fourier power of its activation over (a, b)"]
    lines += [f"<sup>{part}</sup>" for part in textwrap.wrap(note, width_chars)]
    fig = _finish(fig, "<br>".join(lines), size + 40 * (len(lines) - 1))
    fig.update_layout(width=size + 120, margin=dict(t=75 + 22 * (len(lines) - 1)))
    return fig


def scrub(
    x: Sequence[Any],
    frames: Mapping[int, Sequence[float]],
    key: Sequence[bool],
    title: str,
    axis_titles: tuple[str, str],
    key_name: str = "key frequencies",
) -> go.Figure:
    """Bars over ``x`` at one checkpoint, and a step slider underneath that switches to the
    bars of any other checkpoint (``frames``: step -> one value per bar). The slider
    restyles the two bar traces (highlighted and other bars) in place: it works offline,
    in the report and in Jupyter, with no animation frames."""
    if not frames:
        raise ValueError(f"{title}: no checkpoint to show")
    xs = np.asarray(list(x), dtype=object)
    mask = np.asarray(list(key), dtype=bool)
    steps = sorted(frames)

    def split(values: Sequence[float]) -> tuple[list[float], list[float]]:
        v = np.asarray(values, dtype=float)
        return v[mask].tolist(), v[~mask].tolist()

    first_key, first_other = split(frames[steps[-1]])
    fig = go.Figure([
        go.Bar(x=[str(v) for v in xs[mask]], y=first_key, name=key_name,
               marker_color=KEY_COLOR),
        go.Bar(x=[str(v) for v in xs[~mask]], y=first_other, name="other",
               marker_color=OTHER_COLOR),
    ])  # fmt: skip
    top = max(float(np.max(v)) for v in frames.values() if len(v)) * 1.05 or 1.0
    slider_steps = [
        dict(method="restyle", label=str(s), args=[{"y": list(split(frames[s]))}, [0, 1]])
        for s in steps
    ]
    fig.update_layout(
        sliders=[dict(active=len(steps) - 1, steps=slider_steps, pad=dict(t=50),
                      currentvalue=dict(prefix="step "))],
        barmode="overlay",
    )  # fmt: skip
    order = [str(v) for v in xs]  # the bars in their own order, whichever trace holds them
    fig.update_xaxes(
        title_text=axis_titles[0], type="category", categoryorder="array", categoryarray=order
    )
    fig.update_yaxes(title_text=axis_titles[1], range=[0, top])
    return _finish(fig, title, 480)


def embed_freq_scrub(table: pd.DataFrame, summary: Mapping[str, Any]) -> go.Figure:
    """The embedding's norm per frequency (``embed_norm_k<k>`` of the measures table) at
    every checkpoint, with a step slider; key frequencies in red."""
    cols = sorted(
        (c for c in table.columns if c.startswith("embed_norm_k")),
        key=lambda c: int(c[len("embed_norm_k") :]),
    )
    if not cols:
        raise ValueError("the table has no embed_norm_k columns (no Fourier measures)")
    keys = set(summary.get("key_freqs") or [])
    freqs = [int(c[len("embed_norm_k") :]) for c in cols]
    axis, noun, names = components(summary)
    frames = {int(r["step"]): [float(r[c]) for c in cols] for _, r in table.iterrows()}
    return scrub(
        [names.get(k, k) for k in freqs],
        frames,
        [k in keys for k in freqs],
        f"Embedding norm per {noun}, checkpoint by checkpoint",
        (axis, "embedding norm"),
        key_name=f"key {_plural(names)}",
    )


def neuron_cluster_scrub(sizes: pd.DataFrame, key_freqs: Sequence[int]) -> go.Figure:
    """Neurons per frequency cluster at each checkpoint (``sizes``: columns ``step``,
    ``cluster`` (frequency, or -1 for none), ``neurons`` and ``n_freqs``; from
    :func:`grokinterp.analysis.snapshot.cluster_sizes`), with a step slider."""
    n_freqs = int(sizes["n_freqs"].max())
    labels = [str(k) for k in range(1, n_freqs + 1)] + ["none"]
    frames: dict[int, list[float]] = {}
    for step in sorted(set(sizes["step"].astype(int))):
        t = sizes[sizes["step"] == step]
        counts = dict(zip(t["cluster"].astype(int), t["neurons"].astype(int), strict=True))
        frames[step] = [float(counts.get(k, 0)) for k in [*range(1, n_freqs + 1), -1]]
    keys = set(int(k) for k in key_freqs)
    return scrub(
        labels,
        frames,
        [lab in {str(k) for k in keys} for lab in labels],
        "MLP neurons per frequency cluster, checkpoint by checkpoint",
        ("cluster frequency", "neurons"),
    )
