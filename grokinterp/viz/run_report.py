"""The report of ``grokinterp analyze``: the measures table, then its figures.

:func:`analyze` (``grokinterp.analyze``) computes the measures of every checkpoint
(:func:`grokinterp.analysis.table.measure_run`) and draws them into
``RUN_DIR/analysis/figures/`` (:func:`write_run_figures`). Each figure comes from one
function of :mod:`grokinterp.viz.figures`, drawn from the table and from the latest
checkpoint's :func:`grokinterp.analysis.snapshot.snapshot`; a figure whose measure does not
apply to the run's task is replaced by a note saying why. The page opens with a headline
panel (task, landmarks, phases, key frequencies: :mod:`grokinterp.viz.headline`), captions
each figure with what to look for, and ends with the definitions the headline links to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.analysis import fourier
from grokinterp.analysis.complexity import LLCSettings
from grokinterp.analysis.snapshot import cluster_sizes, snapshot, spread
from grokinterp.analysis.table import Analysis, measure_run
from grokinterp.runs.guard import check_no_links
from grokinterp.runs.layout import ANALYSIS, remove_stale_temporaries
from grokinterp.runs.lock import dir_lock
from grokinterp.runs.run import Run
from grokinterp.viz import figures as figs
from grokinterp.viz import headline as words
from grokinterp.viz.report import attempt, write_figure_set

FIGURES_DIR = "figures"
NOT_FOURIER = "skipped: the Fourier measures do not apply to this task"


def build_figures(run: Run, result: Analysis, device: str = "cpu") -> dict[str, Any]:
    """Every figure of the analysis (a plotly Figure, or a note where one does not apply)."""
    table, summary, key_freqs = result.table, result.summary, result.key_freqs
    curves = _curves(run, table)
    out: dict[str, Any] = {
        "loss_curves": attempt(lambda: figs.loss_curves(curves, summary)),
        "restricted_excluded": attempt(lambda: figs.restricted_excluded(table, summary)),
        "logit_shares": attempt(lambda: figs.logit_shares(table, summary)),
        "norm_vs_logit_strength": attempt(lambda: figs.norm_vs_logit_strength(table, summary)),
        "gini_and_norm": attempt(lambda: figs.gini_and_norm(table, summary)),
        "embed_freq_heatmap": attempt(lambda: figs.embed_freq_heatmap(table, summary)),
        "key_freq_evidence": (
            figs.key_freq_evidence(summary) if summary.get("key_freq_evidence") else NOT_FOURIER
        ),
    }
    norm_cols = [c for c in table.columns if c.startswith("embed_norm_k")]
    if norm_cols and key_freqs is not None:
        final = table.iloc[-1]
        norms = [float(final[f"embed_norm_k{k}"]) for k in range(1, len(norm_cols) + 1)]
        out["embed_freq_bars"] = figs.embed_freq_bars(
            norms, key_freqs, step=int(final["step"]), summary=summary
        )
    else:
        out["embed_freq_bars"] = NOT_FOURIER
    snap = snapshot(run, fourier_measures=key_freqs is not None, device=device)
    out["attention_patterns"] = (
        figs.attention_patterns(snap.attention, snap.labels)
        if snap.attention is not None
        else "skipped: the MLP model has no attention"
    )
    if (
        key_freqs is not None
        and snap.fractions is not None
        and snap.clusters is not None
        and snap.top_spectrum is not None
        and snap.top_neuron is not None
    ):
        out["neuron_clusters"] = figs.neuron_clusters(
            snap.fractions, snap.clusters.cluster, key_freqs
        )
        share = snap.fractions[snap.top_neuron]
        k = int(share.argmax()) + 1
        why = (
            f"chosen as the neuron with the largest activation variance over the (a, b) grid "
            f"at step {snap.step}; frequency {k} explains {float(share[k - 1]):.0%} of it"
            + (
                f" (grid and frequencies of {basis['name']}: a, b indexed by their "
                f"discrete logarithms, the pairs with a zero operand left out)"
                if isinstance(basis := result.summary.get("fourier_basis"), dict)
                and basis.get("group") == "multiplicative"
                else ""
            )
        )
        out["neuron_spectrum"] = figs.neuron_spectrum(
            snap.top_spectrum,
            fourier.basis_names(snap.top_spectrum.shape[0]),
            snap.top_neuron,
            why=why,
            key_freqs=key_freqs,
        )
    else:
        out["neuron_clusters"] = out["neuron_spectrum"] = NOT_FOURIER
    out.update(_scrubbed(run, result, device))
    if "llc" in table:  # the complexity columns (analyze --complexity)
        out["complexity"] = attempt(lambda: figs.complexity_curves(table, summary))
    return out


def _curves(run: Run, table: pd.DataFrame) -> pd.DataFrame:
    """The loss and accuracy curves to draw: ``metrics.jsonl`` (every logged step, the
    resolution the phase boundaries were read at) where it logs all four, else the table."""
    cols = ["step", "train_loss", "test_loss", "train_acc", "test_acc"]
    m = run.metrics
    if set(cols) <= set(m.columns):
        logged = m[cols].dropna()
        if len(logged) >= len(table):
            return logged.reset_index(drop=True)
    return table


SCRUB_CHECKPOINTS = 12  # checkpoints whose neurons are clustered for the slider


def _scrubbed(run: Run, result: Analysis, device: str) -> dict[str, Any]:
    """The figures with a step slider: the embedding spectrum at every checkpoint, the
    neuron clusters at up to :data:`SCRUB_CHECKPOINTS` of them."""
    key_freqs = result.key_freqs
    if key_freqs is None:
        return {"embed_freq_scrub": NOT_FOURIER, "neuron_cluster_scrub": NOT_FOURIER}
    basis = result.summary.get("fourier_basis")
    if isinstance(basis, dict) and basis.get("group") == "symmetric":
        return {
            "embed_freq_scrub": attempt(
                lambda: figs.embed_freq_scrub(result.table, result.summary)
            ),
            "neuron_cluster_scrub": "skipped: neuron clusters are per Fourier frequency, and "
            "S_n has representations instead",
        }
    steps = spread([int(s) for s in result.table["step"]], SCRUB_CHECKPOINTS)
    return {
        "embed_freq_scrub": attempt(lambda: figs.embed_freq_scrub(result.table, result.summary)),
        "neuron_cluster_scrub": figs.neuron_cluster_scrub(
            cluster_sizes(run, steps, device), key_freqs
        ),
    }


def write_run_figures(
    run: Run, result: Analysis, device: str = "cpu", static: bool | None = None
) -> Path:
    """Write every figure as HTML (and PNG when ``static``, default: when kaleido and a
    Chromium are installed) under ``analysis/figures/``; return ``index.html``."""
    built = build_figures(run, result, device=device)
    return write_figure_set(
        built,
        result.path / FIGURES_DIR,
        title=f"grokinterp analysis of {run.path}",
        static=static,
        headline=words.headline(result.summary, run.path.name),
        captions=words.CAPTIONS,
        footer=words.definitions(),
    )


def analyze(
    run_dir: str | Path | Run,
    *,
    steps: list[int] | None = None,
    key_freqs: list[int] | None = None,
    key_freq_rule: str = "causal",
    device: str = "cpu",
    progress: bool = True,
    figures: bool = True,
    static: bool | None = None,
    complexity: LLCSettings | None = None,
) -> Analysis:
    """Compute the progress measures of every checkpoint (or of ``steps``) of a run and
    draw them: what ``grokinterp analyze`` does.

    Args:
        run_dir: a run directory, or a :class:`~grokinterp.runs.run.Run` opened on one.
        steps: checkpoint steps to analyze (default: all on disk).
        key_freqs: the key frequencies to use; default: chosen at the latest checkpoint by
            ``key_freq_rule``.
        key_freq_rule: ``causal`` (default), ``embed``, ``logit`` or ``neuron_argmax``
            (:mod:`grokinterp.analysis.keyfreqs`).
        device: torch device for the computation.
        progress: show a progress bar (none when every checkpoint is already measured).
        figures: also write ``analysis/figures/`` (HTML and an ``index.html``).
        static: also export PNGs; default: when kaleido and a Chromium are installed.
        complexity: also the LLC and power-law alpha columns and their figure, the LLC
            sampled with these settings (:mod:`grokinterp.analysis.complexity`; the
            ``complexity`` extra).
    """
    run = run_dir if isinstance(run_dir, Run) else Run(run_dir)  # one line if not a run dir
    check_no_links(run.path, ANALYSIS)  # writes only inside the run directory
    with dir_lock(run.path / ANALYSIS, "run's analysis"):  # one analyze at a time
        remove_stale_temporaries(run.path / ANALYSIS, run.path / ANALYSIS / "figures")
        result = measure_run(
            run.path,
            steps=steps,
            key_freqs=key_freqs,
            key_freq_rule=key_freq_rule,
            device=device,
            progress=progress,
            complexity=complexity,
        )
        if figures:
            write_run_figures(run, result, device=device, static=static)
    return result
