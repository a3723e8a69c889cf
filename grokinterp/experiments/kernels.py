"""The kernel regime, measured: NTK regression against the trained network as the training
fraction varies, and when the kernel moves relative to the phase boundaries.

Mohamadi et al. 2024 (arXiv 2407.12332) prove that in the kernel regime a
permutation-equivariant learner needs a constant fraction of the p² pairs of modular
addition to reach small test error, while a two-layer network with quadratic activation
that leaves the kernel regime generalizes from far fewer. The study (:func:`run`) trains that
network (our MLP arch: concatenated embeddings, one hidden layer, ``z²``) at several
training fractions of one nested split (a sweep), and reports per fraction:

* the trained network's final test accuracy and grokking step;
* the test accuracy of kernel regression (:func:`grokinterp.analysis.kernels.kernel_regression`,
  minimum-norm, one-hot targets) with the empirical NTK at initialization (the kernel
  regime's predictor) and at the last checkpoint (the kernel the network ended with);
* per checkpoint, the kernel distance from initialization and the kernel-label alignment on
  a fixed sample of pairs (:func:`grokinterp.analysis.kernels.ntk_table`), with the phase
  boundaries of the run (:func:`grokinterp.analysis.phases.phase_boundaries` on its logged
  test loss).

Writes ``summary.csv`` (one row per fraction), ``kernel_over_training.csv``,
``metrics.csv``, ``report.txt`` and ``figures/`` into ``out_dir``; the runs go to
``out_dir/sweep`` (resumable, as every sweep).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from grokinterp.analysis.kernels import ntk_regression_accuracy, ntk_table, run_ntk
from grokinterp.analysis.phases import phase_boundaries
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import mohamadi2024
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_open_unit,
    check_positive,
    collect,
    param,
)
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.viz.kernels import kernel_figures
from grokinterp.viz.report import write_figure_set

# the two-layer quadratic network of Gromov 2023 / Mohamadi et al. 2024, in our MLP arch
QUADRATIC_MLP: dict[str, Any] = {
    "arch": "mlp",
    "mlp_combine": "concat",
    "act_fn": "quadratic",
    "n_layers": 1,
    "d_model": 32,
    "d_mlp": 256,
    "lr": 3e-3,
    "weight_decay": 1.0,
    "log_every": 50,
    "ckpt_log_until": 250,
    "ckpt_log_count": 8,
    "ckpt_every": 250,
}
STUDY_SCHEDULE = {"ckpt_every": 500, "log_every": 50}  # fewer checkpoints: an NTK each


def study_spec(p: int, fractions: Sequence[float], max_steps: int, seed: int = 0) -> dict[str, Any]:
    """The sweep: one quadratic MLP per training fraction, on one nested split."""
    check_open_unit("fractions", fractions)
    return {
        "base": {"preset": "quick"},
        "overrides": {
            **QUADRATIC_MLP,
            **STUDY_SCHEDULE,
            "task": "add",
            "p": p,
            "max_steps": max_steps,
        },
        "grid": {"train_fraction": sorted(fractions)},
        "seeds": [seed],
    }


@dataclass(frozen=True)
class Params:
    """The kernel study's parameters (module doc)."""

    p: int = param(31, "the modulus of a + b mod p")
    fractions: tuple[float, ...] = param(
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        "training fractions, each in (0, 1) (run in ascending order)",
        unit="fraction of all pairs",
    )
    max_steps: int = param(3000, "training steps of every run", unit="steps")
    n_points: int = param(128, "pairs in the per-checkpoint NTK", unit="pairs")

    def __post_init__(self) -> None:
        check_positive("p", self.p, minimum=2)
        check_open_unit("fractions", self.fractions)
        if len(set(self.fractions)) != len(self.fractions):
            raise ConfigError(f"fractions: give distinct values, got {list(self.fractions)}")
        check_positive("max_steps", self.max_steps)
        check_positive("n_points", self.n_points, minimum=2)


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train, compute the NTKs, write the tables, report and figures (module doc); ``data``
    is the summary table. Re-running resumes the sweep."""
    out = Path(out_dir)
    spec = study_spec(params.p, params.fractions, params.max_steps)
    runs = expand(spec)
    run_sweep(spec, out / "sweep", progress=progress)
    rows, kernel_rows, metrics = [], [], []
    init: tuple[dict[str, torch.Tensor], torch.Tensor] | None = None
    for r in runs:
        run = Run(out / "sweep" / "runs" / r.name)
        # every run starts from the same seeded weights: compute their kernel once
        p0 = run.params(0)
        if init is None or any(not torch.equal(p0[n], init[0][n]) for n in p0):
            init = (p0, run_ntk(run, 0))
        frac = r.config.task.train_fraction
        m = run.metrics
        last = run.steps[-1]
        bounds = phase_boundaries(m)
        table = ntk_table(run, n_points=params.n_points).assign(train_fraction=frac)
        moved = table[table["kernel_distance"] >= 0.5 * table["kernel_distance"].max()]
        rows.append(
            {
                "train_fraction": frac,
                "n_train": int(run.dataset.train_mask.sum()),
                "net_test_acc": float(m["test_acc"].iloc[-1]),
                "net_train_acc": float(m["train_acc"].iloc[-1]),
                "ntk_init_test_acc": ntk_regression_accuracy(run, 0, kernel=init[1]),
                "ntk_final_test_acc": ntk_regression_accuracy(run, last),
                "final_kernel_distance": float(table["kernel_distance"].iloc[-1]),
                "kernel_half_moved_step": int(moved["step"].iloc[0]),
                **bounds,
            }
        )
        kernel_rows.append(table)
        metrics.append(
            m[["step", "train_acc", "test_acc", "train_loss", "test_loss"]].assign(
                train_fraction=frac
            )
        )
    summary = pd.DataFrame(rows)
    kernel = pd.concat(kernel_rows)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(out / "kernel_over_training.csv", kernel.to_csv(index=False))
    atomic_write_text(out / "metrics.csv", pd.concat(metrics).to_csv(index=False))
    write_figure_set(
        kernel_figures(summary, kernel), out / "figures", title="The kernel regime", static=static
    )
    atomic_write_text(out / "report.txt", report(summary, spec))
    return collect(out, data=summary)


def report(summary: pd.DataFrame, spec: dict[str, Any]) -> str:
    """The summary as text, one line per training fraction."""
    lines = [
        "NTK regression vs the trained quadratic MLP (grokinterp.experiments.kernels)",
        f"overrides {spec['overrides']}",
        "frac  n_train  net_test  ntk@init  ntk@final  kernel_dist  half_moved  grok_step "
        "circuit_end  cleanup_end",
    ]

    def fmt(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and v != v) else str(int(v))

    for r in summary.to_dict("records"):
        lines.append(
            f"{r['train_fraction']:<5} {r['n_train']:>7}  {r['net_test_acc']:>8.3f}  "
            f"{r['ntk_init_test_acc']:>8.3f}  {r['ntk_final_test_acc']:>9.3f}  "
            f"{r['final_kernel_distance']:>11.3f}  {fmt(r['kernel_half_moved_step']):>10}  "
            f"{fmt(r['grokking_step']):>9} {fmt(r['circuit_formation_end']):>12} "
            f"{fmt(r['cleanup_end']):>12}"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="kernels",
    title="NTK regression vs the trained quadratic MLP across training fractions",
    paper="Mohamadi et al. 2024, arXiv 2407.12332",
    params=Params,
    run=run,
    committed="studies/kernels",
    smoke={"p": 7, "fractions": [0.5, 0.8], "max_steps": 20, "n_points": 20},
    cards=mohamadi2024.CARDS,
    runtime="about 7.7 min",
)
