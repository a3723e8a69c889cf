"""The lazy-rich study's figures (Kumar et al. 2024, arXiv 2310.06110;
:mod:`grokinterp.experiments.lazy_rich`): training curves and kernel measures per output
scale alpha, and the grokking delay against alpha. None computes a measure."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from grokinterp.viz.overlay import panels


def _first_seed(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of each alpha's smallest seed, named ``alpha=A`` (column ``arm``)."""
    seed = table.groupby("alpha")["seed"].transform("min")
    t = table[table["seed"] == seed]
    return t.assign(arm="alpha=" + t["alpha"].map("{:g}".format))


def lazy_rich_figures(
    metrics: pd.DataFrame, kernels: pd.DataFrame, alphas: pd.DataFrame
) -> dict[str, Any]:
    """``curves`` (accuracies and losses), ``kernels`` (kernel distance, alignment and norm),
    one line per alpha (its first seed), and ``delay`` (median delay against alpha)."""
    curves = panels(
        _first_seed(metrics),
        [
            ("train_acc", "train accuracy", False),
            ("test_acc", "test accuracy", False),
            ("train_loss", "train loss (MSE)", True),
            ("test_loss", "test loss (MSE)", True),
        ],
        "Training under each output scale alpha (first seed)",
    )
    kern = panels(
        _first_seed(kernels.dropna(subset=["kernel_distance"])),
        [
            ("kernel_distance", "kernel distance from step 0", False),
            ("kernel_alignment", "kernel-label alignment", False),
            ("kernel_norm", "trace NTK norm (network's own)", True),
        ],
        "The NTK under each output scale alpha (first seed)",
    )
    for fig in (curves, kern):
        fig.update_xaxes(type="log")
    finite = alphas[alphas["delay"] < float("inf")]
    never = alphas[alphas["delay"] == float("inf")]
    delay = go.Figure()
    delay.add_trace(go.Scatter(x=finite["alpha"], y=finite["delay"], mode="lines+markers",
                               name="median delay (steps)"))  # fmt: skip
    if len(never):
        top = float(finite["delay"].max()) if len(finite) else 1.0
        delay.add_trace(go.Scatter(x=never["alpha"], y=[top * 1.5] * len(never), mode="markers",
                                   marker={"symbol": "triangle-up", "size": 12},
                                   name="never generalized within the budget"))  # fmt: skip
    delay.update_layout(title="Grokking delay (test >= 90% step minus train >= 99% step)",
                        xaxis_title="output scale alpha", yaxis_title="steps",
                        template="plotly_white", width=700, height=420)  # fmt: skip
    return {"curves": curves, "kernels": kern, "delay": delay}
