"""The counterfactual study's figure (Samothrakis et al. 2022;
:mod:`grokinterp.experiments.counterfactual`): the factual training loss and the held-out
units' PEHE over training, per arm."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def effects_figure(metrics: pd.DataFrame, arms: Sequence[str]) -> go.Figure:
    """Per arm (a column): the factual training loss (top, log scale, with the noise
    variance 1 as a dotted line) and the out-of-sample PEHE relative to the zero predictor's
    (bottom), one line per realization (``metrics``: the study's ``metrics.csv``)."""
    arms = [a for a in arms if a in set(metrics["arm"])]
    fig = make_subplots(rows=2, cols=len(arms), shared_xaxes=True, subplot_titles=arms,
                        vertical_spacing=0.08)  # fmt: skip
    seeds = sorted(metrics["data_seed"].unique())
    for col, arm in enumerate(arms, start=1):
        for i, seed in enumerate(seeds):
            g = metrics[(metrics["arm"] == arm) & (metrics["data_seed"] == seed)]
            g = g[g["step"] > 0]
            line = {"color": _COLORS[i % len(_COLORS)]}
            fig.add_trace(go.Scatter(x=g["step"], y=g["train_loss"], mode="lines", line=line,
                                     name=f"realization {seed}", legendgroup=str(seed),
                                     showlegend=col == 1), row=1, col=col)  # fmt: skip
            fig.add_trace(go.Scatter(x=g["step"], y=g["rel_pehe_out"], mode="lines", line=line,
                                     name=f"realization {seed}", legendgroup=str(seed),
                                     showlegend=False), row=2, col=col)  # fmt: skip
        fig.add_hline(y=1.0, line={"dash": "dot", "color": "gray"}, row=1, col=col)
        fig.update_yaxes(type="log", row=1, col=col)
        fig.update_xaxes(type="log", title_text="step", row=2, col=col)
        fig.update_xaxes(type="log", row=1, col=col)
    fig.update_yaxes(title_text="factual training MSE", row=1, col=1)
    fig.update_yaxes(title_text="PEHE out / zero predictor's", row=2, col=1)
    fig.update_layout(title="Factual training loss and out-of-sample PEHE over training",
                      width=380 * len(arms) + 150, height=650)  # fmt: skip
    return fig
