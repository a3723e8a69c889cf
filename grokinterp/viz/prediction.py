"""Figures of the grokking-prediction study (:mod:`grokinterp.experiments.prediction`): they
draw its tables and compute nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokinterp.viz.overlay import COLORS


def spectra_figure(spectra: pd.DataFrame, n: int) -> Any:
    """Mean amplitude spectra of the early training loss, grokking vs other runs
    (``spectra.csv``): a panel per batch regime and signal (the raw curve, the paper's; the
    curve minus its monotone fit, our alternative)."""
    regimes = [r for r in ("minibatch", "full_batch") if any(str(c).startswith(r) for c in spectra)]
    kinds = (("raw", "raw loss"), ("isotonic", "loss minus monotone fit"))
    titles = [f"{r.replace('_', ' ')}: {t}" for r in regimes for _, t in kinds]
    fig = make_subplots(rows=max(len(regimes), 1), cols=2, subplot_titles=titles,
                        horizontal_spacing=0.1, vertical_spacing=0.15)  # fmt: skip
    f = spectra["freq"]
    shown: set[str] = set()
    for row, regime in enumerate(regimes, start=1):
        for col, (kind, _) in enumerate(kinds, start=1):
            for i, (key, name) in enumerate((("grokked", "grokked"), ("not_grokked", "did not"))):
                c = f"{regime}_{key}_{kind}"
                if c not in spectra:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=f[1:], y=spectra[c][1:], mode="lines", name=name, legendgroup=name,
                        showlegend=name not in shown, line=dict(color=COLORS[i], width=1.8),
                    ),
                    row=row, col=col,
                )  # fmt: skip
                shown.add(name)
            fig.update_yaxes(type="log", title_text="mean amplitude" if col == 1 else None,
                             row=row, col=col)  # fmt: skip
    fig.update_xaxes(type="log", title_text="frequency (cycles per update)")
    fig.update_layout(
        title=f"Mean amplitude spectrum of the first {n} updates' training loss",
        template="plotly_white", height=380 * max(len(regimes), 1), width=950,
        legend=dict(orientation="h", y=-0.12),
    )  # fmt: skip
    return fig


def auc_figure(auc: pd.DataFrame, regime: str = "") -> Any:
    """ROC AUC against N per feature family: grouped cross-validation on the training sweeps
    (solid) and the held-out sweeps (dashed) (``auc.csv``)."""
    fig = go.Figure()
    for i, (family, rows) in enumerate(auc.groupby("family", sort=False)):
        color = COLORS[i % len(COLORS)]
        fig.add_trace(
            go.Scatter(x=rows["N"], y=rows["auc_cv"], mode="lines+markers",
                       name=f"{family} (cross-validated)", line=dict(color=color))
        )  # fmt: skip
        if "auc_heldout" in rows:
            fig.add_trace(go.Scatter(x=rows["N"], y=rows["auc_heldout"], mode="lines+markers",
                                     name=f"{family} (held-out sweeps)",
                                     line=dict(color=color, dash="dash")))  # fmt: skip
    fig.add_hline(y=0.5, line=dict(color="gray", dash="dot"))
    fig.update_layout(
        title="Predicting grokking within the budget from the first N updates"
        + (f" ({regime.replace('_', ' ')})" if regime else ""),
        xaxis_title="N (updates)", yaxis_title="ROC AUC", yaxis_range=[0.3, 1.02],
        template="plotly_white", height=450, width=800,
    )  # fmt: skip
    return fig


__all__ = ["auc_figure", "spectra_figure"]
