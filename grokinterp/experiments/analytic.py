"""The Gromov study: how wide the analytic network must be, and whether training finds it.

Gromov 2023 (arXiv 2301.02679) gives closed-form weights for a two-layer quadratic MLP that
solves ``a + b mod p`` (:mod:`grokinterp.models.analytic`), exact "at large N" with random
phases, and reports that networks trained with gradient descent / AdamW end up with the same
feature maps. :func:`run_study` measures both:

* ``width.csv``: accuracy over all p² pairs of the analytic network against its width N,
  for the paper's random phases (several seeds) and for our balanced phases;
* ``training.csv``: a quadratic MLP (the kernel study's, :data:`grokinterp.experiments.kernels.
  QUADRATIC_MLP`) trained on ``a + b mod p_train``, and at every checkpoint its similarity to
  Gromov's form (:func:`grokinterp.analysis.gromov.gromov_similarity`) next to its accuracy.

Also ``report.txt`` and ``figures/``; the trained run goes to ``out_dir/sweep``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.analysis.gromov import gromov_similarity_table
from grokinterp.config import TaskConfig
from grokinterp.experiments.kernels import QUADRATIC_MLP
from grokinterp.experiments.sweep import expand, run_sweep
from grokinterp.models import answer_logits
from grokinterp.models.analytic import MIN_BALANCED, gromov_params
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.tasks import make_dataset
from grokinterp.viz.analytic import analytic_figures
from grokinterp.viz.report import write_figure_set


def width_table(p: int, widths: list[int], seeds: list[int]) -> pd.DataFrame:
    """Accuracy over every pair of the analytic network for each width, phase kind, seed."""
    ds = make_dataset(TaskConfig(name="add", p=p, train_fraction=0.5))
    n_freq = (p - 1) // 2
    rows = []
    for width in widths:
        for phases in ("random", "balanced"):
            if width < n_freq or (phases == "balanced" and width < MIN_BALANCED * n_freq):
                continue
            for seed in seeds if phases == "random" else seeds[:1]:
                cfg, params = gromov_params(p, width, phases=phases, seed=seed)
                logits = answer_logits(params, ds.inputs, cfg)
                acc = int((logits.argmax(-1) == ds.labels).sum()) / len(ds.labels)
                rows.append({"p": p, "width": width, "phases": phases, "seed": seed, "acc": acc})
    return pd.DataFrame(rows)


def run_study(
    out_dir: str | Path,
    *,
    p: int = 97,
    widths: list[int] | None = None,
    seeds: list[int] | None = None,
    p_train: int = 31,
    train_fraction: float = 0.5,
    max_steps: int = 3000,
    progress: bool = True,
    static: bool | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``width.csv``, ``training.csv``, ``report.txt``, ``figures/``; return both tables."""
    out = Path(out_dir)
    widths = widths or [48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048]
    seeds = seeds or [0, 1, 2, 3, 4]
    width = width_table(p, widths, seeds)
    spec: dict[str, Any] = {
        "base": {"preset": "quick"},
        "overrides": {
            **QUADRATIC_MLP,
            "task": "add",
            "p": p_train,
            "train_fraction": train_fraction,
            "max_steps": max_steps,
        },
        "seeds": [0],
    }
    (run_spec,) = expand(spec)
    run_sweep(spec, out / "sweep", progress=progress)
    training = gromov_similarity_table(Run(out / "sweep" / "runs" / run_spec.name))
    atomic_write_text(out / "width.csv", width.to_csv(index=False))
    atomic_write_text(out / "training.csv", training.to_csv(index=False))
    write_figure_set(
        analytic_figures(width, training), out / "figures", title="Gromov's network",
        static=static,
    )  # fmt: skip
    atomic_write_text(out / "report.txt", report(width, training, spec))
    return width, training


def _first(table: pd.DataFrame, column: str, level: float) -> int | None:
    hit = table[table[column] >= level]
    return None if hit.empty else int(hit["step"].iloc[0])


def report(width: pd.DataFrame, training: pd.DataFrame, spec: dict[str, Any]) -> str:
    """Both tables as text."""
    lines = ["Gromov's analytic network (grokinterp.experiments.analytic)", ""]
    lines.append("accuracy over all pairs vs width (random: mean [min, max] over seeds)")
    for (w, phases), g in width.groupby(["width", "phases"]):
        lines.append(
            f"  N={w:<5} {phases:<8} {g['acc'].mean():.4f} [{g['acc'].min():.4f}, "
            f"{g['acc'].max():.4f}]"
        )
    ov = spec["overrides"]
    lines += ["", f"trained quadratic MLP: p={ov['p']}, train fraction {ov['train_fraction']}"]
    last = training.iloc[-1]
    lines.append(
        f"  final step {int(last['step'])}: test acc {last['test_acc']:.3f}, similarity "
        f"{last['gromov_similarity']:.3f} (in {last['gromov_in']:.3f}, out "
        f"{last['gromov_out']:.3f}, phase {last['gromov_phase']:.3f}, frequency coverage "
        f"{last['gromov_freq_coverage']:.2f}); at init {training['gromov_similarity'].iloc[0]:.3f}"
    )
    for label, col, level in [
        ("test acc >= 0.99", "test_acc", 0.99),
        ("similarity >= 0.5", "gromov_similarity", 0.5),
        ("similarity >= 0.9", "gromov_similarity", 0.9),
        ("phase coherence >= 0.9", "gromov_phase", 0.9),
    ]:
        lines.append(f"  {label:<24} step {_first(training, col, level)}")
    return "\n".join(lines) + "\n"
