"""The clock-and-pizza study's figure (Zhong et al. 2023, arXiv 2306.17844):
gradient symmetricity and distance irrelevance against the attention rate
(:mod:`grokinterp.experiments.clock_pizza`)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def clock_pizza_figure(cells: pd.DataFrame) -> go.Figure:
    """Both measures against the attention rate, one line per width: the median over seeds,
    bars from the least to the greatest (``cells``: the study's ``cells.csv``)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("gradient symmetricity",
                                                        "distance irrelevance"))  # fmt: skip
    for col, m in enumerate(("gradient_symmetricity", "distance_irrelevance"), start=1):
        for w, g in cells.groupby("width"):
            fig.add_trace(go.Scatter(
                x=g["rate"], y=g[m], mode="lines+markers", name=f"d_model {w}",
                showlegend=col == 1, error_y={"type": "data", "symmetric": False,
                "array": g[m + "_max"] - g[m], "arrayminus": g[m] - g[m + "_min"]},
            ), row=1, col=col)  # fmt: skip
        fig.update_xaxes(title_text="attention rate", row=1, col=col)
        fig.update_yaxes(range=[0, 1.05], row=1, col=col)
    fig.update_layout(title="Clock (low symmetricity, high irrelevance) or pizza, by attention "
                      "rate", width=900, height=420)  # fmt: skip
    return fig
