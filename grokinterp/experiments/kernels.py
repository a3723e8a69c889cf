"""The kernel regime, measured with the linearized network: the full-NTK predictor at
initialization and along training against the trained network, across training fractions.

Mohamadi et al. 2024 (arXiv 2407.12332) prove that in the kernel regime a
permutation-equivariant learner needs a constant fraction of the p² pairs of modular
addition to reach small test error, while a two-layer network with quadratic activation
that leaves the kernel regime generalizes from far fewer, and report that such networks
leave the kernel regime only after first overfitting. The study (:func:`run`) trains their
network in our MLP family (:data:`MOHAMADI_MLP`: one-hot a and b concatenated, one hidden
layer with ``z²``, a linear readout, no biases) at several training fractions of one nested
split (a sweep), and reports per fraction and per checkpoint ``t``:

* the trained network's test accuracy (at ``t`` and at the end) and grokking step;
* the *linearized predictor* around ``θ_t``
  (:func:`grokinterp.analysis.kernels.linearized_predictions`, full NTK with every class
  block, one-hot targets, minimum norm): where the network would end if it stayed in the
  kernel regime from ``t`` on. At ``t = 0`` it is the kernel regime's predictor;
* the *kernel predictor* with the NTK at ``t`` from zero output (what the kernel's features
  express), and, for comparison, the *trace-kernel* approximation at init and at the end
  (the study's method before the kernel-regime issue);
* per checkpoint, the kernel distance from initialization and the kernel-label alignment of
  the trace kernel on a fixed sample of pairs
  (:func:`grokinterp.analysis.kernels.ntk_table`), with the phase boundaries of the run.

At initialization the expected NTK depends only on whether two pairs share ``a`` or ``b``,
and those training pairs all carry other labels, so the kernel-at-init predictor scoring
below chance is expected from the symmetry, not a finding (:mod:`grokinterp.analysis.kernels`).

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

from grokinterp.analysis.kernels import ntk_accuracies, ntk_table, trace_kernel_accuracy
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

# the quadratic MLP with learned embeddings (Gromov 2023's network with an embedding in front),
# trained by the gromov study; this study's committed results before issue 27 used it too
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
# Mohamadi et al.'s two-layer quadratic network (their GromovMLP: one-hot [e_a, e_b], a
# bias-free hidden layer with z², a bias-free readout; mohamad-amin/tracked-grok-v2@2f4a835
# models/simple.py) in our MLP arch; the width and the optimizer are ours (card)
MOHAMADI_MLP: dict[str, Any] = {
    "arch": "mlp",
    "mlp_input": "onehot",
    "act_fn": "quadratic",
    "n_layers": 1,
    "d_mlp": 128,
    "mlp_bias": False,
    "unembed_bias": False,
    "mlp_init": "normal",
    "lr": 3e-3,
    "weight_decay": 1.0,
}
STUDY_SCHEDULE = {"log_every": 25, "ckpt_log_until": 200, "ckpt_log_count": 6, "ckpt_every": 500}
GENERALIZES = 0.9  # test accuracy at which a predictor (or the network) counts as generalizing


def study_spec(p: int, fractions: Sequence[float], max_steps: int, seed: int = 0) -> dict[str, Any]:
    """The sweep: one quadratic MLP per training fraction, on one nested split."""
    check_open_unit("fractions", fractions)
    return {
        "base": {"preset": "quick"},
        "overrides": {
            **MOHAMADI_MLP,
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

    p: int = param(
        17,
        "the modulus of a + b mod p (the full NTK over the training pairs is (f p³)², so the "
        "cost of each checkpoint grows as p⁶)",
    )
    fractions: tuple[float, ...] = param(
        (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        "training fractions, each in (0, 1) (run in ascending order)",
        unit="fraction of all pairs",
    )
    max_steps: int = param(3000, "training steps of every run", unit="steps")
    n_points: int = param(128, "pairs in the per-checkpoint trace NTK (distance, alignment)",
                          unit="pairs")  # fmt: skip
    kernel_steps: int = param(
        7, "checkpoints per run at which the full-NTK predictors are computed (log-spaced, "
        "with step 0, the memorization checkpoint and the last)", unit="checkpoints",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_positive("p", self.p, minimum=3)
        check_open_unit("fractions", self.fractions)
        if len(set(self.fractions)) != len(self.fractions):
            raise ConfigError(f"fractions: give distinct values, got {list(self.fractions)}")
        check_positive("max_steps", self.max_steps)
        check_positive("n_points", self.n_points, minimum=2)
        check_positive("kernel_steps", self.kernel_steps, minimum=2)


def kernel_checkpoints(steps: Sequence[int], must: Sequence[int], count: int) -> list[int]:
    """About ``count`` checkpoints of ``steps``, log-spaced in step + 1, always with the first,
    the last and those in ``must``."""
    steps = sorted(steps)
    chosen = {steps[0], steps[-1], *(s for s in must if s in steps)}
    top = math.log(steps[-1] + 1)
    for i in range(count):
        target = math.exp(top * i / max(count - 1, 1)) - 1
        chosen.add(min(steps, key=lambda s: abs(math.log(s + 1) - math.log(target + 1))))
    return sorted(chosen)


def _first_step(table: pd.DataFrame, col: str, level: float) -> int | None:
    hit = table[table[col] >= level]
    return int(hit["step"].iloc[0]) if len(hit) else None


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train, compute the NTK predictors, write the tables, report and figures (module doc);
    ``data`` is the summary table. Re-running resumes the sweep."""
    out = Path(out_dir)
    spec = study_spec(params.p, params.fractions, params.max_steps)
    run_sweep(spec, out / "sweep", progress=progress)
    rows, kernel_rows, metrics = [], [], []
    for r in expand(spec):
        run = Run(out / "sweep" / "runs" / r.name)
        frac = r.config.task.train_fraction
        m = run.metrics
        table = ntk_table(run, n_points=params.n_points)
        memorized = _first_step(table, "train_acc", 0.99)
        steps = kernel_checkpoints(run.steps, [] if memorized is None else [memorized],
                                   params.kernel_steps)  # fmt: skip
        acc = {s: ntk_accuracies(run, s) for s in steps}
        table = table.assign(
            train_fraction=frac,
            linearized_test_acc=[acc[s]["linearized"] if s in acc else math.nan
                                 for s in table["step"]],
            kernel_test_acc=[acc[s]["kernel"] if s in acc else math.nan for s in table["step"]],
        )  # fmt: skip
        first, last = steps[0], steps[-1]
        lin = table.dropna(subset=["linearized_test_acc"])
        rows.append(
            {
                "train_fraction": frac,
                "n_train": int(run.dataset.train_mask.sum()),
                "net_test_acc": float(m["test_acc"].iloc[-1]),
                "net_train_acc": float(m["train_acc"].iloc[-1]),
                "linearized_init_test_acc": acc[first]["linearized"],
                "kernel_init_test_acc": acc[first]["kernel"],
                "trace_init_test_acc": trace_kernel_accuracy(run, first),
                "memorized_step": memorized,
                "linearized_memorized_test_acc": (
                    None if memorized is None else acc[memorized]["linearized"]
                ),
                "net_memorized_test_acc": (
                    None
                    if memorized is None
                    else float(table.loc[table["step"] == memorized, "test_acc"].iloc[0])
                ),  # fmt: skip
                "linearized_final_test_acc": acc[last]["linearized"],
                "kernel_final_test_acc": acc[last]["kernel"],
                "trace_final_test_acc": trace_kernel_accuracy(run, last),
                "linearized_generalizes_step": _first_step(lin, "linearized_test_acc", GENERALIZES),
                "final_kernel_distance": float(table["kernel_distance"].iloc[-1]),
                **phase_boundaries(m),
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

    def fmt(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and v != v) else str(int(v))

    def acc(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and v != v) else f"{v:.3f}"

    lines = [
        "The kernel regime: full-NTK predictors vs the trained quadratic MLP "
        "(grokinterp.experiments.kernels)",
        f"overrides {spec['overrides']}",
        "lin@t: the network linearized around checkpoint t (full NTK, every class block) and "
        "trained to convergence; kern@t: the full NTK at t alone, from zero output; "
        "trace@t: the trace-kernel approximation (the study's method before issue 27).",
        "At init the expected NTK depends only on whether two pairs share a or b, whose "
        "training pairs carry other labels: the @init columns scoring below chance is "
        "expected from that symmetry, not evidence for or against the paper.",
        "mem: first checkpoint with train acc >= 0.99; lin_gen: first checkpoint whose "
        f"lin@t reaches {GENERALIZES} test acc.",
        "frac  n_train  net_test  lin@init kern@init trace@init  mem  net@mem lin@mem  "
        "lin@end kern@end trace@end  lin_gen grok_step  kdist",
    ]
    for r in summary.to_dict("records"):
        lines.append(
            f"{r['train_fraction']:<5} {r['n_train']:>7}  {r['net_test_acc']:>8.3f}  "
            f"{acc(r['linearized_init_test_acc']):>8} {acc(r['kernel_init_test_acc']):>9} "
            f"{acc(r['trace_init_test_acc']):>10} {fmt(r['memorized_step']):>4} "
            f"{acc(r['net_memorized_test_acc']):>8} {acc(r['linearized_memorized_test_acc']):>7}  "
            f"{acc(r['linearized_final_test_acc']):>7} {acc(r['kernel_final_test_acc']):>8} "
            f"{acc(r['trace_final_test_acc']):>9}  {fmt(r['linearized_generalizes_step']):>7} "
            f"{fmt(r['grokking_step']):>9}  {r['final_kernel_distance']:.3f}"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="kernels",
    title="The kernel regime: full-NTK predictors vs the trained quadratic MLP across "
    "training fractions",
    paper="Mohamadi et al. 2024, arXiv 2407.12332",
    params=Params,
    run=run,
    committed="studies/kernels",
    smoke={"p": 7, "fractions": [0.5, 0.8], "max_steps": 20, "n_points": 20, "kernel_steps": 3},
    cards=mohamadi2024.CARDS,
    runtime="about 3 min (2 cores shared with other jobs)",
)
