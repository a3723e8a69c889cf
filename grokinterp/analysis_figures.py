"""The figures of ``grokinterp analyze``, written to ``RUN_DIR/analysis/figures/``.

Each figure comes from one function of :mod:`grokinterp.figures`; this module gathers
their inputs (the measures table, and the final checkpoint's neurons and attention) and
writes them with :func:`grokinterp.report.write_report`. A figure whose measure does not
apply to the run's task is replaced by a note saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from grokinterp import figures as figs
from grokinterp import fourier
from grokinterp.models import answer_forward_chunked
from grokinterp.report import write_figure_set
from grokinterp.run import Run

if TYPE_CHECKING:
    from grokinterp.analysis import Analysis

FIGURES_DIR = "figures"


def _attempt(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ValueError as e:
        return f"skipped: {e}"


def build_figures(run: Run, result: Analysis, key_freqs: list[int] | None,
                  device: str = "cpu") -> dict[str, Any]:
    """Every figure of the analysis (a plotly Figure, or a note where one does not apply)."""
    table, summary = result.table, result.summary
    out: dict[str, Any] = {
        "loss_curves": _attempt(lambda: figs.loss_curves(table, summary)),
        "restricted_excluded": _attempt(lambda: figs.restricted_excluded(table, summary)),
        "logit_shares": _attempt(lambda: figs.logit_shares(table, summary)),
        "norm_vs_logit_strength": _attempt(lambda: figs.norm_vs_logit_strength(table,
                                                                              summary)),
        "gini_and_norm": _attempt(lambda: figs.gini_and_norm(table, summary)),
        "embed_freq_heatmap": _attempt(lambda: figs.embed_freq_heatmap(table, summary)),
    }
    last = run.steps[-1]
    norm_cols = [c for c in table.columns if c.startswith("embed_norm_k")]
    if norm_cols and key_freqs is not None:
        final = table.iloc[-1]
        norms = [float(final[f"embed_norm_k{k}"]) for k in range(1, len(norm_cols) + 1)]
        out["embed_freq_bars"] = figs.embed_freq_bars(norms, key_freqs, step=int(final["step"]))
    else:
        out["embed_freq_bars"] = "skipped: the Fourier measures do not apply to this task"
    model: Any = run.model(last, device=device)
    ds = run.dataset
    if run.config.model.arch == "transformer":
        sample = ds.inputs[: min(len(ds.inputs), 2048)].to(device)
        with torch.no_grad():
            _, cache = model.run_with_cache(sample, names_filter="blocks.0.attn.hook_pattern")
        out["attention_patterns"] = figs.attention_patterns(
            cache["blocks.0.attn.hook_pattern"].cpu())
    else:
        out["attention_patterns"] = "skipped: the MLP model has no attention"
    if key_freqs is not None:
        p = ds.size
        params = {k: v.to(device) for k, v in run.params(last).items()}
        _, hidden = answer_forward_chunked(params, ds.inputs, run.config.model)
        acts = hidden.reshape(p, p, -1).cpu()
        fractions = fourier.neuron_freq_fractions(acts)
        out["neuron_clusters"] = figs.neuron_clusters(fractions, key_freqs)
        centered = acts - acts.mean(dim=(0, 1), keepdim=True)
        neuron = int(centered.pow(2).sum(dim=(0, 1)).argmax())  # the most active neuron
        spectrum = fourier.fourier_2d(centered[:, :, neuron]).pow(2)
        out["neuron_spectrum"] = figs.neuron_spectrum(spectrum, fourier.basis_names(p), neuron)
    else:
        note = "skipped: the Fourier measures do not apply to this task"
        out["neuron_clusters"] = out["neuron_spectrum"] = note
    return out


def write_figures(run: Run, result: Analysis, key_freqs: list[int] | None,
                  device: str = "cpu", static: bool | None = None) -> Path:
    """Write every figure as HTML (and PNG when ``static``, default: when kaleido and a
    Chromium are installed) under ``analysis/figures/``; return ``index.html``."""
    built = build_figures(run, result, key_freqs, device=device)
    return write_figure_set(built, result.path / FIGURES_DIR,
                            title=f"grokinterp analysis of {run.path}", static=static)
