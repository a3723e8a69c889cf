"""The label-noise study's figures (Doshi et al. 2024, arXiv 2310.13061;
:mod:`grokinterp.experiments.label_noise`): accuracies as neurons are pruned by IPR, and the
neurons' IPR over training."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_CURVES = (
    ("clean_train_acc", "uncorrupted training examples"),
    ("corrupted_acc", "corrupted examples, wrong label (memorization)"),
    ("corrupted_true_acc", "corrupted examples, true label"),
    ("test_acc", "test set"),
)
_ORDERS = (("lowest", "lowest IPR first"), ("highest", "highest IPR first"),
           ("random", "random order (control)"))  # fmt: skip


def pruning_figure(pruning: pd.DataFrame, arm: str) -> go.Figure:
    """Accuracy against the fraction of hidden neurons pruned, one panel per order, the
    median over seeds (``pruning``: the study's ``pruning.csv``, rows of ``arm``)."""
    rows = pruning[pruning["arm"] == arm]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t in _ORDERS])
    for col, (order, _) in enumerate(_ORDERS, start=1):
        g = rows[rows["order"] == order].groupby("fraction").median(numeric_only=True)
        for i, (m, label) in enumerate(_CURVES):
            fig.add_trace(go.Scatter(
                x=g.index, y=g[m], mode="lines", name=label, showlegend=col == 1,
                line={"color": ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"][i],
                      "dash": "dash" if m.startswith("corrupted") else "solid"},
            ), row=1, col=col)  # fmt: skip
        fig.update_xaxes(title_text="fraction of neurons pruned", row=1, col=col)
        fig.update_yaxes(range=[-0.02, 1.02], row=1, col=col)
    fig.update_layout(title=f"Pruning by IPR ({arm}; median over seeds)", width=1200, height=420)
    return fig


def ipr_figure(curves: pd.DataFrame) -> go.Figure:
    """Mean neuron IPR and the memorized share of corrupted labels against the step, one
    line per arm and seed (``curves``: the study's ``curves.csv``)."""
    titles = ("mean neuron IPR", "corrupted examples fit to their wrong label")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    for (arm, seed), g in curves.groupby(["arm", "seed"]):
        for col, m in enumerate(("mean_ipr", "corrupted_acc"), start=1):
            fig.add_trace(go.Scatter(x=g["step"], y=g[m], mode="lines", name=f"{arm} seed {seed}",
                                     showlegend=col == 1), row=1, col=col)  # fmt: skip
            fig.update_xaxes(title_text="step", row=1, col=col)
            fig.update_yaxes(range=[0, 1.02], row=1, col=col)
    fig.update_layout(title="IPR and memorization over training", width=1000, height=420)
    return fig
