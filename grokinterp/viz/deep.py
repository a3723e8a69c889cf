"""Figures of the deep-grokking and grokking-ticket studies (Fan et al. 2024; Minegishi et
al. 2024): each function draws tables written by :mod:`grokinterp.experiments.deep_grokking`
and :mod:`grokinterp.experiments.tickets`."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots


def deep_grokking_figure(
    traces: pd.DataFrame, ranks: pd.DataFrame, seed: int = 0, data: str = "MNIST"
) -> Any:
    """A column per depth (one seed; ``depth`` as the tables give it): train and test
    accuracy against step above, the numerical rank of every hidden layer's features below
    (a line per layer, dark = first layer, light = last; on the split ``ranks`` holds, the
    test images if it holds several)."""
    depths = sorted(set(traces["depth"]))
    fig = make_subplots(
        rows=2,
        cols=len(depths),
        subplot_titles=[f"{d} layers" for d in depths] + [""] * len(depths),
        shared_xaxes=True,
        vertical_spacing=0.08,
        horizontal_spacing=0.05,
    )
    splits = sorted(set(ranks["split"])) if len(ranks) else ["test"]
    split = "test" if "test" in splits else splits[0]
    r_all = ranks[(ranks["split"] == split) & (ranks["seed"] == seed)]
    top = float(r_all["numerical_rank"].max()) if len(r_all) else 1.0
    for c, d in enumerate(depths, start=1):
        t = traces[(traces["depth"] == d) & (traces["seed"] == seed)]
        for col, color in (("train_acc", "#999999"), ("test_acc", "#d62728")):
            fig.add_trace(
                go.Scatter(
                    x=t["step"], y=t[col], mode="lines", name=col.replace("_", " "),
                    legendgroup=col, showlegend=c == 1, line=dict(color=color, width=1.5),
                ),
                row=1, col=c,
            )  # fmt: skip
        r = r_all[r_all["depth"] == d]
        layers = sorted(set(r["layer"]))
        colors = sample_colorscale("Viridis", [i / max(len(layers) - 1, 1) for i in layers])
        for layer in layers:
            x = r[r["layer"] == layer]
            fig.add_trace(
                go.Scatter(
                    x=x["step"], y=x["numerical_rank"], mode="lines+markers",
                    marker=dict(size=3), name=f"layer {layer}", showlegend=False,
                    hovertext=f"layer {layer}", line=dict(color=colors[layer], width=1.2),
                ),
                row=2, col=c,
            )  # fmt: skip
        fig.update_yaxes(range=[0, 1.02], showticklabels=c == 1, row=1, col=c)
        fig.update_yaxes(range=[0, top * 1.05], showticklabels=c == 1, row=2, col=c)
        fig.update_xaxes(title_text="step", row=2, col=c)
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    fig.update_yaxes(title_text=f"feature rank ({split})", row=2, col=1)
    fig.update_layout(
        title=f"Deep MLPs on {data} (seed {seed}): accuracy and per-layer feature rank "
        "(dark: first layer, light: last)",
        template="plotly_white",
        height=640,
        width=max(900, 330 * len(depths) + 150),
    )
    return fig


ARM_COLORS = {
    "dense": "#7f7f7f",
    "ticket": "#d62728",
    "random": "#1f77b4",
    "dense_norm": "#2ca02c",
}


def tickets_figure(traces: pd.DataFrame, seed: int = 0) -> Any:
    """A column per sparsity (one seed): test accuracy of each arm against step above (the
    dense run repeated in every column), its parameter norm below."""
    sparsities = sorted(s for s in set(traces["sparsity"]) if s == s and s > 0)
    fig = make_subplots(
        rows=2,
        cols=len(sparsities),
        subplot_titles=[f"sparsity {s:g}" for s in sparsities] + [""] * len(sparsities),
        shared_xaxes=True,
        vertical_spacing=0.08,
        horizontal_spacing=0.05,
    )
    t_seed = traces[traces["seed"] == seed]
    norms = t_seed["param_norm"].astype(float)
    top = float(norms.max()) * 1.05 if len(norms) else 1.0
    for c, s in enumerate(sparsities, start=1):
        for arm, color in ARM_COLORS.items():
            if arm == "dense":
                t = t_seed[t_seed["arm"] == "dense"]
            else:
                t = t_seed[(t_seed["arm"] == arm) & (t_seed["sparsity"] == s)]
            if not len(t):
                continue
            for row, col in ((1, "test_acc"), (2, "param_norm")):
                fig.add_trace(
                    go.Scatter(
                        x=t["step"], y=t[col], mode="lines", name=arm, legendgroup=arm,
                        showlegend=c == 1 and row == 1, line=dict(color=color, width=1.4),
                    ),
                    row=row, col=c,
                )  # fmt: skip
        fig.update_yaxes(range=[0, 1.02], showticklabels=c == 1, row=1, col=c)
        fig.update_yaxes(range=[0, top], showticklabels=c == 1, row=2, col=c)
        fig.update_xaxes(title_text="step", row=2, col=c)
    fig.update_yaxes(title_text="test accuracy", row=1, col=1)
    fig.update_yaxes(title_text="parameter norm", row=2, col=1)
    fig.update_layout(
        title=f"Grokking tickets (seed {seed}): ticket, random mask and norm-matched dense "
        "beside the dense run",
        template="plotly_white",
        height=620,
        width=max(900, 330 * len(sparsities) + 150),
    )
    return fig


MEASURES = (
    ("test_acc", "test accuracy"),
    ("param_norm", "parameter norm"),
    ("gini_embed", "Gini of embedding frequencies"),
    ("numerical_rank", "feature rank (all pairs)"),
)


def tickets_measures_figure(measures: pd.DataFrame, seed: int = 0) -> Any:
    """Progress measures of the dense run and of each arm at the middle sparsity (one seed),
    at every checkpoint: test accuracy, parameter norm, the Gini coefficient of the
    embedding's Fourier norms and the hidden layer's feature rank, a panel each."""
    m = measures[measures["seed"] == seed]
    sparsities = sorted(s for s in set(m["sparsity"]) if s > 0)
    mid = sparsities[len(sparsities) // 2] if sparsities else 0.0
    fig = make_subplots(rows=1, cols=len(MEASURES), subplot_titles=[t for _, t in MEASURES])
    for arm, color in ARM_COLORS.items():
        t = m[m["arm"] == arm] if arm == "dense" else m[(m["arm"] == arm) & (m["sparsity"] == mid)]
        if not len(t):
            continue
        for c, (col, _) in enumerate(MEASURES, start=1):
            fig.add_trace(
                go.Scatter(
                    x=t["step"], y=t[col], mode="lines+markers", marker=dict(size=3),
                    name=arm, legendgroup=arm, showlegend=c == 1,
                    line=dict(color=color, width=1.4),
                ),
                row=1, col=c,
            )  # fmt: skip
    for c in range(1, len(MEASURES) + 1):
        fig.update_xaxes(title_text="step", row=1, col=c)
    fig.update_layout(
        title=f"Progress measures, dense run and arms at sparsity {mid:g} (seed {seed})",
        template="plotly_white",
        height=380,
        width=1300,
    )
    return fig
