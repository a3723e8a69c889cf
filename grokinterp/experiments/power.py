"""Steps to generalize against the training fraction (Power et al. 2022, "Grokking:
generalization beyond overfitting on small algorithmic datasets", arXiv 2201.02177).

Their headline figure: on a binary-operation table (x / y mod 97 among others), the number
of optimization steps until validation accuracy first exceeds 99% grows steeply as the
fraction of the table used for training falls, and below about 25-30% nothing generalizes
within their budget. This study trains one run per training fraction and seed (a sweep; the
ensemble backend batches them), each until test accuracy reaches ``threshold`` (then
``patience`` steps more) or ``max_steps``, and writes into ``out_dir``:

* ``runs.csv``: per run: training fraction, seed, status, steps to ``threshold`` test
  accuracy (``steps_to_generalize``, empty when it never got there), steps to 99% train
  accuracy, final accuracies;
* ``curve.csv``: per fraction: runs, how many generalized, the median, min and max of their
  steps;
* ``figures/steps_vs_fraction`` and ``report.txt``.

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
from grokinterp.tasks.dataset import train_size
from grokinterp.viz.power import steps_vs_fraction
from grokinterp.viz.report import write_figure_set


@dataclass(frozen=True)
class Params:
    """The training-fraction study's parameters (module doc)."""

    task: str = param("div", "the binary operation (a registered task)", paper="x / y mod 97")
    p: int = param(47, "the modulus", paper="97 (Sec. 3)")
    fractions: tuple[float, ...] = param(
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        "training fractions, each in (0, 1)",
        unit="fraction of all pairs",
        paper="0.1 to 0.9 (Fig. 1)",
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "seeds (initialization; the split is fixed)")
    max_steps: int = param(10_000, "step budget of every run", unit="steps", paper="10^5")
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
    backend: Literal["ensemble", "local"] = param("ensemble", "sweep backend")

    def __post_init__(self) -> None:
        check_open_unit("fractions", self.fractions)
        check_nonempty("seeds", self.seeds)
        check_positive("max_steps", self.max_steps)
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
    """The sweep: one run per training fraction and seed; with ``batch_rule="power"`` each
    fraction's runs carry the batch size :func:`power_batch_size` gives their training set."""
    overrides = {
        "task.name": params.task, "task.p": params.p,
        "optim.max_steps": params.max_steps, "stop_acc": params.threshold,
        "stop_patience": params.patience,
    }  # fmt: skip
    common = {
        "base": {"preset": params.preset},
        "overrides": overrides,
        "seeds": list(params.seeds),
        "backend": params.backend,
    }
    if params.batch_rule == "preset":
        return {**common, "grid": {"train_fraction": list(params.fractions)}}
    task = get_preset(params.preset).task
    runs = []
    for q in params.fractions:
        n = train_size(
            replace(task, name=params.task, p=params.p, train_fraction=q, train_size=None)
        )
        runs.append({"train_fraction": q, "optim.batch_size": power_batch_size(n)})
    return {**common, "runs": runs}


def tables(sweep_dir: Path, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs.csv`` and ``curve.csv`` from the sweep's run directories."""
    rows = []
    for r in expand(spec(params)):
        d = sweep_dir / "runs" / r.name
        m = pd.DataFrame(layout.read_metrics(d)) if (d / layout.METRICS).exists() else None
        row: dict[str, Any] = {
            "train_fraction": r.config.task.train_fraction, "seed": r.config.seed,
            "status": read_status(d)["status"],
        }  # fmt: skip
        if m is not None and len(m):
            row.update(
                steps_to_generalize=first_step(m, "test_acc", params.threshold),
                train_99_step=first_step(m, "train_acc", 0.99),
                steps=int(m["step"].iloc[-1]),
                final_train_acc=float(m["train_acc"].iloc[-1]),
                final_test_acc=float(m["test_acc"].iloc[-1]),
            )
        rows.append(row)
    runs = pd.DataFrame(rows)
    if "steps_to_generalize" not in runs:
        runs["steps_to_generalize"] = math.nan
    curve = []
    for q, g in runs.groupby("train_fraction"):
        hit = g["steps_to_generalize"].dropna()
        curve.append(
            {
                "train_fraction": q, "runs": len(g), "generalized": len(hit),
                "median_steps": float(hit.median()) if len(hit) else math.nan,
                "min_steps": float(hit.min()) if len(hit) else math.nan,
                "max_steps": float(hit.max()) if len(hit) else math.nan,
            }
        )  # fmt: skip
    return runs, pd.DataFrame(curve)


def report(curve: pd.DataFrame, params: Params) -> str:
    """The setup and, per fraction, how many runs generalized and how fast."""
    lines = [
        "Steps to generalize against the training fraction (Power et al. 2022, arXiv 2201.02177)",
        f"setup: {params.task} mod {params.p}, preset {params.preset}, batch rule "
        f"{params.batch_rule}, seeds "
        f"{list(params.seeds)}, budget {params.max_steps} steps, generalized = test accuracy "
        f">= {params.threshold:g}",
        "",
    ]
    for _, r in curve.iterrows():
        steps = (
            f"median {r['median_steps']:.0f} (range {r['min_steps']:.0f}-{r['max_steps']:.0f})"
            if r["generalized"]
            else f"none within {params.max_steps}"
        )
        lines.append(
            f"fraction {r['train_fraction']:.2f}: {int(r['generalized'])}/{int(r['runs'])} "
            f"generalized, steps {steps}"
        )
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the sweep (resumable), then write the tables, figure and report (module doc)."""
    out = Path(out_dir)
    run_sweep(spec(params), out / "sweep", progress=progress)
    runs, curve = tables(out / "sweep", params)
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    atomic_write_text(out / "curve.csv", curve.to_csv(index=False))
    title = f"Steps to {params.threshold:.0%} test accuracy, {params.task} mod {params.p}"
    write_figure_set(
        {"steps_vs_fraction": steps_vs_fraction(runs, curve, title)},
        out / "figures", "Training fraction", static,
    )  # fmt: skip
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
    runtime="48 min (2 cores shared with other jobs)",
)
