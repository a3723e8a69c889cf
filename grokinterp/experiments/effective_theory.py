"""The effective theory's critical training fraction against a sweep (Liu et al. 2022, arXiv
2205.10343, section 3.3, Fig. 3): ``grokinterp critical-fraction SPEC``.

The spec sweeps the training set of the toy model (task ``int_add``; e.g. a grid of
``train_size`` and ``split_seed``) through the sweep engine. For every run we set side by side

* the effective theory's prediction for *its own* training set, before any training
  (:func:`grokinterp.analysis.representation.ideal_accuracy`: the ideal test accuracy that
  the training set's parallelograms allow, and whether they leave the linear representation
  as the only one, ``dof = 0``);
* what training gave: the final test accuracy and the RQI of the final embedding
  (:func:`grokinterp.analysis.representation.rqi`).

Per training-set size: the mean of each, the share of runs that generalize (final test
accuracy >= ``threshold``), that learned the linear representation (final RQI >=
``rqi_threshold``, 0.95 as in the authors' code), and that reached their training set's
ideal test accuracy. The theory's critical fraction is where the share of training sets with
``dof = 0`` reaches one half (over ``n_theory`` random training sets per size:
:func:`grokinterp.analysis.representation.critical_fraction`); the measured ones are where
the share of runs that generalize (``r_c_measured``) and the share that learned the linear
representation (``r_c_linear``) reach one half (interpolated between the sizes swept). With
few test pairs, some sums have no training pair at all, so the 90% threshold can be out of
reach of even the ideal model: ``r_c_linear`` is the one the theory speaks to.

Written to ``out_dir``: ``sweep/``, ``runs.csv``, ``fractions.csv`` (per size: measured and
predicted), ``summary.json`` (both critical fractions), ``figures/critical_fraction`` and
``report.txt`` (the critical fractions and the per-size table).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from grokinterp.analysis.representation import critical_fraction, crossing, ideal_accuracy, rqi
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import liu2022
from grokinterp.experiments.contract import Study, StudyResult, check_positive, collect, param
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand, load_spec
from grokinterp.viz.phases import critical_fraction_figure
from grokinterp.viz.report import write_figure_set

# the smoke run's spec: the toy model on 6 numbers, 2 sizes x 2 splits of 20 steps
SMOKE_SPEC = Path(__file__).with_name("smoke") / "critical_fraction.yaml"


@dataclass(frozen=True)
class Params:
    """The critical-fraction study's parameters (module doc)."""

    spec: Path = param(
        Path("studies/phase_diagrams/critical_fraction.yaml"),
        "the sweep spec (.yaml, .yml or .json) over training sets of the toy model (task int_add)",
        positional=True,
    )
    backend: Literal["local", "ensemble", "ray", "ray-ensemble"] = param(
        "ensemble", "sweep backend"
    )
    threshold: float = param(
        0.9, "a run generalized when its final test accuracy reaches this", unit="accuracy"
    )
    theory_splits: int = param(
        50, "random training sets per size for the theory's curve", unit="splits"
    )
    rqi_threshold: float = param(
        0.95,
        "a run learned the linear representation when its final RQI reaches this",
        paper="0.95 (the authors' code)",
    )
    force: bool = param(False, "delete the study's sweep folder first and retrain every run")

    def __post_init__(self) -> None:
        for name in ("threshold", "rqi_threshold"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {value}")
        check_positive("theory_splits", self.theory_splits)


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the spec, compare each run with the theory's prediction for its training set,
    write the tables, the figure and the report (module docstring); ``data`` is
    ``summary.json``'s dict.

    Long by design: the per-run rows, the per-size table and the summary, in order."""
    spec = load_spec(params.spec)
    threshold, rqi_threshold, n_theory = (
        params.threshold, params.rqi_threshold, params.theory_splits
    )  # fmt: skip
    runs = expand(spec)
    tasks = {(r.config.task.name, r.config.task.p) for r in runs}
    if len(tasks) != 1 or next(iter(tasks))[0] != "int_add":
        raise ConfigError(
            f"spec: the effective theory is for the integer addition table: every run needs "
            f"task int_add with one p (got {sorted(tasks, key=str)})"
        )
    p = runs[0].config.task.p
    assert p is not None
    out = Path(out_dir)
    table = run_sweep(
        spec, out / "sweep", backend=params.backend, force=params.force, progress=progress
    )
    status = dict(zip(table["name"], table["status"], strict=True))
    n_pairs = p * (p + 1) // 2
    rows = []
    for r in runs:
        run = Run(out / "sweep" / "runs" / r.name)
        ds = run.dataset
        train_pairs = ds.inputs[ds.train_mask, :2].numpy()
        own = ideal_accuracy(p, train_pairs)
        last = run.metrics.iloc[-1]
        rows.append(
            {
                "name": r.name,
                "status": status.get(r.name),
                "train_size": int(ds.train_mask.sum()),
                "fraction": int(ds.train_mask.sum()) / n_pairs,
                "split_seed": r.config.task.split_seed,
                "seed": r.config.seed,
                "ideal_test_acc": own["test_acc"],
                "dof": own["dof"],
                "final_train_acc": float(last["train_acc"]),
                "final_test_acc": float(last["test_acc"]),
                "rqi": rqi(run.params()["embed.W_E"][:p]),
            }
        )
    per_run = pd.DataFrame(rows)
    per_run["generalized"] = per_run["final_test_acc"] >= threshold
    n_test = n_pairs - per_run["train_size"]
    per_run["final_acc"] = (
        per_run["train_size"] * per_run["final_train_acc"] + n_test * per_run["final_test_acc"]
    ) / n_pairs
    per_run["linear"] = per_run["rqi"] >= rqi_threshold
    per_run["at_ideal"] = per_run["final_test_acc"] >= per_run["ideal_test_acc"] - 1e-9
    measured = (
        per_run.groupby("fraction")
        .agg(
            train_size=("train_size", "first"),
            runs=("name", "count"),
            test_acc=("final_test_acc", "mean"),
            acc=("final_acc", "mean"),
            generalized=("generalized", "mean"),
            rqi=("rqi", "mean"),
            linear=("linear", "mean"),
            at_ideal=("at_ideal", "mean"),
            ideal_test_acc_own=("ideal_test_acc", "mean"),
            dof0_own=("dof", lambda d: float(np.mean(d == 0))),
        )
        .reset_index()
    )
    theory = critical_fraction(p, list(measured["fraction"]), n_splits=n_theory)
    fractions = measured.merge(
        theory[["fraction", "ideal_test_acc", "p_unique"]], on="fraction", how="left"
    )
    summary = {
        "p": p,
        "threshold": threshold,
        "r_c_theory": crossing(fractions["fraction"], fractions["p_unique"], 0.5),
        "r_c_measured": crossing(fractions["fraction"], fractions["generalized"], 0.5),
        "r_c_linear": crossing(fractions["fraction"], fractions["linear"], 0.5),
        "rqi_threshold": rqi_threshold,
        "n_theory_splits": n_theory,
        "runs": len(per_run),
    }
    atomic_write_text(out / "runs.csv", per_run.to_csv(index=False))
    atomic_write_text(out / "fractions.csv", fractions.to_csv(index=False))
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    write_figure_set(
        {"critical_fraction": critical_fraction_figure(fractions, per_run, summary)},
        out / "figures",
        "Critical training fraction",
        static=static,
    )
    atomic_write_text(out / "report.txt", report(summary, fractions, params))
    return collect(out, data=summary)


def report(summary: dict[str, Any], fractions: pd.DataFrame, params: Params) -> str:
    """The critical fractions, theory's and measured, and the per-size table."""

    def frac(v: float | None) -> str:
        return "none inside the sizes swept" if v is None else f"{v:.2f}"

    lines = [
        "The effective theory's critical training fraction (Liu et al. 2022, arXiv 2205.10343)",
        f"spec {params.spec}; integer addition 0..{summary['p'] - 1}; {summary['runs']} runs; "
        f"theory over {summary['n_theory_splits']} random training sets per size",
        f"theory (half the training sets leave only the linear representation): r_c = "
        f"{frac(summary['r_c_theory'])}",
        f"trained, linear representation (final RQI >= {summary['rqi_threshold']:g}) in half "
        f"the runs: r = {frac(summary['r_c_linear'])}",
        f"trained, generalized (test accuracy >= {summary['threshold']:g}) in half the runs: "
        f"r = {frac(summary['r_c_measured'])}",
        "",
        "pairs  fraction  runs  theory dof=0  ideal test acc (own)  test acc  linear  RQI",
        *(
            f"{int(r['train_size']):<5}  {r['fraction']:<8.2f}  {int(r['runs']):<4}  "
            f"{r['p_unique']:<12.2f}  {r['ideal_test_acc_own']:<20.2f}  {r['test_acc']:<8.2f}  "
            f"{r['linear']:<6.2f}  {r['rqi']:.2f}"
            for _, r in fractions.iterrows()
        ),
    ]
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="critical-fraction",
    title="the effective theory's critical training fraction against trained toy models",
    paper="Liu et al. 2022, arXiv 2205.10343",
    params=Params,
    run=run,
    committed="studies/phase_diagrams/critical_fraction",
    smoke={"spec": str(SMOKE_SPEC), "theory_splits": 5},
    cards=liu2022.CRITICAL_FRACTION_CARDS,
    runtime="about 2 min",
)


__all__ = ["STUDY", "Params", "report", "run"]
