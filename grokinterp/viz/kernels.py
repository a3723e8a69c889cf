"""Figures of the kernel-regime study (:mod:`grokinterp.experiments.kernels`): they draw its
tables and compute nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from grokinterp.viz.overlay import COLORS, panels


def accuracy_vs_fraction(summary: pd.DataFrame) -> Any:
    """Final test accuracy of the trained network and of the NTK predictors (the network
    linearized at init, at memorization and at the end; the final full and trace kernels
    alone) against the training fraction."""
    fig = go.Figure()
    curves = [
        ("net_test_acc", "trained network"),
        ("linearized_init_test_acc", "linearized at init (full NTK)"),
        ("linearized_memorized_test_acc", "linearized at memorization"),
        ("linearized_final_test_acc", "linearized at the end"),
        ("kernel_final_test_acc", "final full NTK alone"),
        ("trace_final_test_acc", "final trace NTK alone (approximation)"),
    ]
    for i, (col, name) in enumerate(curves):
        fig.add_trace(
            go.Scatter(
                x=summary["train_fraction"], y=summary[col], mode="lines+markers", name=name,
                line=dict(color=COLORS[i % len(COLORS)]),
            )
        )  # fmt: skip
    fig.update_layout(
        title="Test accuracy vs training fraction",
        xaxis_title="training fraction",
        yaxis_title="test accuracy",
        template="plotly_white",
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def kernel_over_training(kernel: pd.DataFrame) -> Any:
    """Kernel distance from init, kernel-label alignment and test accuracy per checkpoint,
    one line per training fraction."""
    t = kernel.assign(run=[f"frac {f:g}" for f in kernel["train_fraction"]])
    t = t[t["step"] > 0]
    fig = panels(
        t,
        [
            ("linearized_test_acc", "test acc., linearized around t (full NTK)", False),
            ("kernel_distance", "kernel distance from init", False),
            ("kernel_alignment", "kernel-label alignment", False),
            ("test_acc", "test accuracy", False),
        ],
        "The NTK over training",
        by="run",
    )
    fig.update_xaxes(type="log")
    return fig


def kernel_figures(summary: pd.DataFrame, kernel: pd.DataFrame) -> dict[str, Any]:
    return {
        "accuracy_vs_fraction": accuracy_vs_fraction(summary),
        "kernel_over_training": kernel_over_training(kernel),
    }
