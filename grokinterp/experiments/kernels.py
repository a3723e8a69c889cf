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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from grokinterp.analysis.kernels import ntk_regression_accuracy, ntk_table, run_ntk
from grokinterp.analysis.phases import phase_boundaries
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import Card, Quantity, Setting
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


KERNEL_WORKS = 0.9  # "small population error": the kernel predictor's test accuracy
NET_GENERALIZES = 0.99  # the trained network's final test accuracy


def _kernel_fraction(folder: Path) -> float | None:
    """The smallest training fraction at which kernel regression with the NTK at
    initialization reaches :data:`KERNEL_WORKS` test accuracy (inf: at none run)."""
    s = pd.read_csv(folder / "summary.csv")
    ok = s[s["ntk_init_test_acc"] >= KERNEL_WORKS]
    return float(ok["train_fraction"].min()) if len(ok) else math.inf


def _kernel_where_net_generalizes(folder: Path) -> float | None:
    """The NTK-at-init predictor's test accuracy at the smallest training fraction where the
    trained network ends with :data:`NET_GENERALIZES` test accuracy (None: at none)."""
    s = pd.read_csv(folder / "summary.csv").sort_values("train_fraction")
    ok = s[s["net_test_acc"] >= NET_GENERALIZES]
    return float(ok["ntk_init_test_acc"].iloc[0]) if len(ok) else None


_NOT_FOUND = "not found (paper not readable here)"
_OURS_CHOICE = "our choice: the paper's value could not be read here"

CARDS = (
    Card(
        name="mohamadi2024-kernel-regime",
        paper="Mohamadi et al. 2024",
        arxiv="2407.12332",
        claim="in the kernel regime a learner of modular addition needs a constant fraction "
        "of all p^2 pairs to generalize, while a two-layer quadratic network that leaves the "
        "kernel regime generalizes from fewer",
        quantities=(
            Quantity(
                name="smallest training fraction at which kernel regression with the NTK at "
                "initialization reaches 90% test accuracy",
                paper=None,
                accept=(0.0, 1.0),
                tolerance="the abstract's 'constant fraction of all p^2 pairs', read as a "
                "fraction of the table at which the kernel predictor works; its value was "
                "not found, so any fraction below the whole table counts (inf: at no "
                "fraction run, up to 0.8)",
                read=_kernel_fraction,
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy of the NTK-at-init predictor at the smallest fraction "
                "where the trained network reaches 99% test accuracy",
                paper=None,
                accept=(0.0, 0.9),
                tolerance="direction only: the network generalizes from fewer pairs than the "
                "kernel regime needs, so there the kernel predictor is still below 90%",
                read=_kernel_where_net_generalizes,
                files=("summary.csv",),
            ),
        ),
        setup=(
            Setting("task", "a + b mod p", "paper, abstract"),
            Setting("modulus p", _NOT_FOUND, "not found", ours="31",
                    why=f"{_OURS_CHOICE}; an NTK over all p^2 = 961 pairs per checkpoint fits "
                    "2 CPU cores"),
            Setting("training fractions", _NOT_FOUND, "not found",
                    ours="0.3 to 0.8 in steps of 0.1, one nested split, one seed",
                    why=_OURS_CHOICE),
            Setting("network", "a two-layer network with quadratic activation; width and "
                    "parametrization not found", "paper, abstract",
                    ours="embeddings of a and b (32 each) concatenated, one hidden layer of "
                    "256 with z^2, a linear readout", why=_OURS_CHOICE),
            Setting("optimizer and budget", _NOT_FOUND, "not found",
                    ours="AdamW lr 3e-3, betas (0.9, 0.98), weight decay 1, cross-entropy, "
                    "full batch, 3000 steps", why=_OURS_CHOICE),
            Setting("kernel regression method", _NOT_FOUND, "not found",
                    ours="trace NTK, K = (1/C) Σ_c J_c J_cᵀ; minimum-norm interpolation of "
                    "one-hot targets, the initial output dropped, argmax",
                    why="our choice; a review found it drops the cross-class blocks the claim "
                    "needs; the kernel-regime issue redoes it with the full kernel"),
            Setting("small population error", _NOT_FOUND, "not found",
                    ours="90% test accuracy for the kernel predictor, 99% for the network",
                    why=_OURS_CHOICE),
        ),
        study="kernels",
        notes="With the trace NTK the kernel predictor is below chance (1/31) at every "
        "fraction up to 0.8, with the kernel at init (at most 0.003) and at the last "
        "checkpoint (at most 0.026): a test pair's neighbours under this kernel (pairs sharing "
        "a or b) all carry other labels. The trace kernel also fails on exact analytic "
        "networks, so the first quantity's failure is our method's until the full kernel is "
        "used, and the second quantity's agreement says little. The trained network reaches "
        "100% test accuracy from 50% of the pairs (0.61 at 40%, 0.004 at 30%). Their "
        "rich-regime sample bound and Transformer experiments are not run.",
    ),
)  # fmt: skip


STUDY = Study(
    name="kernels",
    title="NTK regression vs the trained quadratic MLP across training fractions",
    paper="Mohamadi et al. 2024, arXiv 2407.12332",
    params=Params,
    run=run,
    committed="studies/kernels",
    smoke={"p": 7, "fractions": [0.5, 0.8], "max_steps": 20, "n_points": 20},
    cards=CARDS,
    runtime="about 7.7 min",
)
