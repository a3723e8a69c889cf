"""Steps to generalize against the training fraction (Power et al. 2022, "Grokking:
generalization beyond overfitting on small algorithmic datasets", arXiv 2201.02177).

Their claim: on a binary-operation table, the number of optimization steps until validation
accuracy first exceeds 99% grows steeply (exponentially, Sec. 3.1.1) as the fraction of the
table used for training falls, and below some fraction nothing generalizes within their
budget of 10^5 updates; symmetric operations (x + y) need less data than their
non-symmetric relatives (x / y, Sec. 3.2). This study trains one run per task (``tasks``,
by default x / y and x + y, the arms of one sweep), training fraction and seed (the
ensemble backend batches them), each until test accuracy reaches ``threshold`` (then
``patience`` steps more) or ``max_steps``, and writes into ``out_dir``:

* ``runs.csv``: per run: task, training fraction, seed, batch size, status, steps to
  ``threshold`` test accuracy (``steps_to_generalize``, empty when it never got there),
  steps to 99% train accuracy, final accuracies, wall time;
* ``curve.csv``: per task and fraction: runs, how many generalized, the median, min and max
  of their steps;
* ``figures/steps_vs_fraction_<task>`` and ``report.txt``.

The model and optimizer come from the base preset (``preset``), by default ``power``:
Power et al.'s own 2-layer post-LN decoder and AdamW settings, each value citing their code.
With ``batch_rule="power"`` every run trains on minibatches of
:func:`power_batch_size` rows of its own training set, their rule (so the batch shrinks with
the fraction where half the training set is under 512); ``"preset"`` keeps the preset's
batch size for every fraction. The card, :mod:`grokinterp.experiments.cards.power2022`,
lists what differs from their setup and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from grokinterp.analysis.milestones import first_step
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import power2022
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_choices,
    check_nonempty,
    check_open_unit,
    check_positive,
    collect,
    param,
)
from grokinterp.presets import PRESETS, get_preset
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status
from grokinterp.tasks import TASKS
from grokinterp.tasks.dataset import train_size
from grokinterp.viz.power import steps_vs_fraction
from grokinterp.viz.report import write_figure_set

BUDGET_DEFAULT = 10_000
"""The step budget of the committed run: the one knob scaled from Power et al.'s 10^5 (the
card, :mod:`grokinterp.experiments.cards.power2022`, says why); their p = 97 is kept."""


@dataclass(frozen=True)
class Params:
    """The training-fraction study's parameters (module doc)."""

    tasks: tuple[str, ...] = param(
        ("div", "add"),
        "the binary operations (registered tasks), one curve each",
        paper="x / y mod 97 (Fig. 1 left), x + y among others (Fig. 2 right)",
    )
    p: int = param(97, "the modulus", paper="97 (App. A.1.1)")
    fractions: tuple[float, ...] = param(
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        "training fractions, each in (0, 1)",
        unit="fraction of all pairs",
        paper="their curves span about 0.2 to 0.95 (Fig. 1 centre, Fig. 2)",
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "seeds (initialization; the split is fixed)")
    max_steps: int = param(
        BUDGET_DEFAULT,
        "step budget of every run (the one knob scaled; a larger one extends a study "
        "folder's runs)",
        unit="steps",
        paper="10^5",
        budget=True,
    )
    threshold: float = param(0.99, "test accuracy that counts as generalized", unit="accuracy")
    patience: int = param(200, "steps trained on after reaching the threshold", unit="steps")
    preset: str = param(
        "power", "base preset: the model and optimizer", paper="their decoder (`power` preset)"
    )
    batch_rule: Literal["power", "preset"] = param(
        "power",
        "minibatch size per run: 'power' = min(512, ceil(n_train / 2)) of each run's own "
        "training set, their rule; 'preset' = the preset's batch size for every fraction",
        paper="min(512, ceil(n / 2)) (openai/grok grok/data.py:L434-435)",
    )
    backend: Literal["ensemble", "local"] = param(
        "ensemble",
        "sweep backend (local: one run after another, or --workers at once; the ensemble "
        "carries a run that stopped in its batched forward until a quarter of its runs have "
        "stopped, then packs the rest anew at a checkpoint)",
    )
    workers: int = param(
        1, "processes of the local backend: runs trained at once (sharing --threads)"
    )
    device: str = param(
        "cpu", "torch device (cpu, cuda, cuda:N): their 10^5 updates need a GPU (card)"
    )

    def __post_init__(self) -> None:
        check_choices("tasks", self.tasks, sorted(TASKS))
        check_open_unit("fractions", self.fractions)
        check_nonempty("seeds", self.seeds)
        check_positive("max_steps", self.max_steps)
        check_positive("workers", self.workers)
        check_positive("patience", self.patience, minimum=0)
        check_positive("p", self.p, minimum=2)
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.preset not in PRESETS:
            raise ConfigError(f"preset: unknown {self.preset!r}; known: {sorted(PRESETS)}")


def power_batch_size(n_train: int) -> int:
    """Power et al.'s minibatch size for a training set of ``n_train`` examples:
    ``min(512, ceil(n_train / 2))``, so that every epoch has at least two updates (openai/grok
    @3d64b1d grok/data.py:L434-435; the epoch's remainder is a shorter last batch,
    ``optim.drop_last=False`` in the ``power`` preset)."""
    if n_train < 1:
        raise ConfigError(f"power_batch_size: a training set has at least 1 example, got {n_train}")
    return min(512, math.ceil(n_train / 2))


def spec(params: Params) -> dict[str, Any]:
    """The sweep: one run per task, training fraction and seed; with ``batch_rule="power"``
    each run carries the batch size :func:`power_batch_size` gives its own training set."""
    overrides = {
        "task.p": params.p, "optim.max_steps": params.max_steps,
        "stop_acc": params.threshold, "stop_patience": params.patience,
    }  # fmt: skip
    base_task = get_preset(params.preset).task
    runs: list[dict[str, Any]] = []
    for name in params.tasks:
        for q in params.fractions:
            run: dict[str, Any] = {"task.name": name, "train_fraction": q}
            if params.batch_rule == "power":
                task = replace(base_task, name=name, p=params.p, train_fraction=q, train_size=None)
                run["optim.batch_size"] = power_batch_size(train_size(task))
            runs.append(run)
    return {
        "base": {"preset": params.preset},
        "overrides": overrides,
        "runs": runs,
        "seeds": list(params.seeds),
        "backend": params.backend,
        "workers": params.workers,
    }


def tables(sweep_dir: Path, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs.csv`` and ``curve.csv`` (one row per task and fraction) from the sweep's run
    directories."""
    rows = []
    for r in expand(spec(params)):
        d = sweep_dir / "runs" / r.name
        m = pd.DataFrame(layout.read_metrics(d)) if (d / layout.METRICS).exists() else None
        row: dict[str, Any] = {
            "task": r.config.task.name, "train_fraction": r.config.task.train_fraction,
            "seed": r.config.seed, "batch_size": r.config.optim.batch_size,
            "status": read_status(d)["status"],
        }  # fmt: skip
        if m is not None and len(m):
            row.update(
                steps_to_generalize=first_step(m, "test_acc", params.threshold),
                train_99_step=first_step(m, "train_acc", 0.99),
                steps=int(m["step"].iloc[-1]),
                final_train_acc=float(m["train_acc"].iloc[-1]),
                final_test_acc=float(m["test_acc"].iloc[-1]),
                wall_s=float(m["wall_time"].iloc[-1]),
            )
        rows.append(row)
    runs = pd.DataFrame(rows)
    if "steps_to_generalize" not in runs:
        runs["steps_to_generalize"] = math.nan
    curve = []
    for (task, q), g in runs.groupby(["task", "train_fraction"], sort=False):
        hit = g["steps_to_generalize"].dropna()
        curve.append(
            {
                "task": task, "train_fraction": q, "runs": len(g), "generalized": len(hit),
                "median_steps": float(hit.median()) if len(hit) else math.nan,
                "min_steps": float(hit.min()) if len(hit) else math.nan,
                "max_steps": float(hit.max()) if len(hit) else math.nan,
            }
        )  # fmt: skip
    return runs, pd.DataFrame(curve)


def report(curve: pd.DataFrame, params: Params) -> str:
    """The setup and, per task and fraction, how many runs generalized and how fast."""
    lines = [
        "Steps to generalize against the training fraction (Power et al. 2022, arXiv 2201.02177)",
        f"setup: {', '.join(params.tasks)} mod {params.p}, preset {params.preset}, batch rule "
        f"{params.batch_rule}, seeds {list(params.seeds)}, budget {params.max_steps} steps, "
        f"generalized = test accuracy >= {params.threshold:g}",
    ]
    for task, rows in curve.groupby("task", sort=False):
        lines += ["", f"{task}:"]
        for _, r in rows.iterrows():
            steps = (
                f"median {r['median_steps']:.0f} (range {r['min_steps']:.0f}-{r['max_steps']:.0f})"
                if r["generalized"]
                else f"none within {params.max_steps}"
            )
            lines.append(
                f"  fraction {r['train_fraction']:.2f}: {int(r['generalized'])}/{int(r['runs'])} "
                f"generalized, steps {steps}"
            )
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the sweep (resumable), then write the tables, figure and report (module doc)."""
    out = Path(out_dir)
    run_sweep(spec(params), out / "sweep", progress=progress, device=params.device)
    runs, curve = tables(out / "sweep", params)
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    atomic_write_text(out / "curve.csv", curve.to_csv(index=False))
    figures = {
        f"steps_vs_fraction_{task}": steps_vs_fraction(
            runs[runs["task"] == task], curve[curve["task"] == task],
            f"Steps to {params.threshold:.0%} test accuracy, {task} mod {params.p}",
        )
        for task in params.tasks
    }  # fmt: skip
    write_figure_set(figures, out / "figures", "Training fraction", static)
    atomic_write_text(out / "report.txt", report(curve, params))
    return collect(out, data=curve)


STUDY = Study(
    name="power",
    title="steps to generalize against the training fraction (Power et al. 2022)",
    paper="Power et al. 2022, arXiv 2201.02177",
    params=Params,
    run=run,
    committed="studies/power",
    smoke={"p": 7, "fractions": [0.4, 0.6], "seeds": [0], "max_steps": 30, "patience": 5},
    cards=power2022.CARDS,
    runtime="92 min on 2 shared cores: 36 runs at p = 97 up to 10^4 updates, two at a time "
    "(x / y 53 min, x + y 39 min)",
    committed_params={"backend": "local"},
    threads=1,
)
