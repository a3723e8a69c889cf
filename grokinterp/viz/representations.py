"""The figure of the S_n representations study
(:mod:`grokinterp.experiments.sn_representations`)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def representations_figure(reps: pd.DataFrame) -> go.Figure:
    """Per irreducible representation (x) and seed (one trace each): top, the character
    similarity of the logits (Chughtai et al.'s, their key threshold 0.005 dashed); middle,
    the training loss with the representation removed over the full training loss (log
    scale, the causal rule's factor 10 dashed); bottom, the fraction of the embedding
    ``W_E`` and of the unembedding in the representation."""
    titles = (
        "character similarity of the logits",
        "excluded training loss / full (causal rule)",
        "fraction of embedding (solid) / unembedding (open)",
    )
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=titles)  # fmt: skip
    nontrivial = reps[reps["k"] > 0]
    for seed, g in nontrivial.groupby("seed"):
        fig.add_trace(go.Bar(x=g["name"], y=g["character_similarity"], name=f"seed {seed}"),
                      row=1, col=1)  # fmt: skip
        fig.add_trace(go.Bar(x=g["name"], y=g["excluded_ratio"], name=f"seed {seed}",
                             showlegend=False), row=2, col=1)  # fmt: skip
    for seed, g in reps.groupby("seed"):
        if "embed_fraction" in g:
            fig.add_trace(go.Scatter(x=g["name"], y=g["embed_fraction"], mode="markers",
                                     name=f"seed {seed} embed", marker={"size": 10}),
                          row=3, col=1)  # fmt: skip
        open_marker = {"size": 10, "symbol": "circle-open"}
        fig.add_trace(go.Scatter(x=g["name"], y=g["unembed_fraction"], mode="markers",
                                 name=f"seed {seed} unembed", marker=open_marker),
                      row=3, col=1)  # fmt: skip
    fig.add_hline(y=0.005, line_dash="dash", row=1, col=1)
    fig.add_hline(y=10, line_dash="dash", row=2, col=1)
    fig.update_yaxes(type="log", row=2, col=1)
    fig.update_xaxes(title_text="irreducible representation (partition of n)", row=3, col=1)
    fig.update_layout(height=760, width=820, barmode="group",
                      title="Which representations of S_n the trained network uses")  # fmt: skip
    return fig
