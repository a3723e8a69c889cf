"""Phase diagrams (Liu et al. 2022, arXiv 2205.10343, section 5): ``grokinterp phases SPEC``.

A sweep spec whose grid varies two fields (e.g. the toy model's decoder ``lr`` and
``weight_decay``, or the transformer's ``weight_decay`` and ``train_fraction``) is trained
through the sweep engine (:func:`grokinterp.sweeps.run_sweep`; the ensemble
backend by default). Each run gets its phase (:func:`grokinterp.analysis.phases.liu_phase`:
within the step budget, comprehension if train and test accuracy both reach 90% within
``window`` steps of each other, grokking if test lags by more, memorization if only train
reaches it, confusion if train does not) and its grokking delay (steps from 90% train to
90% test accuracy, Liu et al.'s ``G``; 10^3 steps is their window for the toy model). A cell
with several seeds takes the most common phase (ties go to the phase listed first in
:data:`grokinterp.viz.phases.PHASES`) and the median delay of its generalizing runs.

When the representation forms: for every run that generalizes (comprehension or grokking)
and has a table of numbers to embed, RQI over its checkpoints
(:func:`grokinterp.analysis.representation.rqi_over_checkpoints`): ``rqi_step``, the first
checkpoint whose RQI reaches ``rqi_threshold`` (0.95, as Liu et al.'s code), and
``rqi_at_train``, the RQI at the last checkpoint at or before the step where train accuracy
reached the threshold. A grokking run whose representation forms late (Liu et al.'s
mechanism) has ``rqi_step`` after ``train_step``, near ``test_step``; one whose delay comes
from elsewhere has a linear embedding before the training set is fit. The checkpoint series
of every grokking run (the cells that generalize late) is kept in ``rqi.csv``.

A spec with a stopping rule (``stop_acc``: the toy study stops a run 1000 steps after its
test accuracy first reaches 90%, when both steps the phase reads are known, and the
ensemble sheds the stopped runs) has every run that the rule ended before its train
accuracy reached ``threshold`` continued to ``max_steps`` without the rule
(:func:`continue_unfitted`), so that no phase is read from a run cut short.

Written to ``out_dir``: ``sweep/`` (the sweep directory: run directories, ``results.csv``),
``runs.csv`` (one row per run, with the RQI of its final embedding:
:func:`grokinterp.analysis.representation.rqi`, and the timing above), ``phases.csv`` (one
row per cell: the two fields, phase, delay, mean final RQI, the count of each phase over
seeds), ``rqi.csv`` (step, RQI, effective loss and accuracies at each checkpoint of each
grokking run), ``figures/`` (``phase_diagram``: the phase panel and the delay panel, HTML and
PNG) and ``report.txt`` (the phase counts, the diagram as text and the grokking runs'
timing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from grokinterp.analysis.phases import liu_phase
from grokinterp.analysis.representation import rqi, rqi_over_checkpoints
from grokinterp.config import replace
from grokinterp.errors import ConfigError, UserError
from grokinterp.experiments.cards import liu2022
from grokinterp.experiments.contract import Study, StudyResult, check_positive, collect, param
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.metrics import landmarks
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.results import RESULTS, results
from grokinterp.sweeps.spec import SweepRun, expand, load_spec
from grokinterp.sweeps.status import read_status
from grokinterp.training import train_groups
from grokinterp.viz.phases import PHASES, phase_diagram
from grokinterp.viz.report import write_figure_set

# the smoke run's spec: the toy model, 2 x 2 cells of 30 steps
SMOKE_SPEC = Path(__file__).with_name("smoke") / "phase_diagram.yaml"


def axes_of(spec: dict[str, Any], x: str | None, y: str | None) -> tuple[str, str]:
    """The two grid fields of the diagram: ``x`` and ``y`` as given (each must be a key of
    the spec's grid), or the grid's two keys in order."""
    grid = spec.get("grid") or {}
    if x is None and y is None:
        if len(grid) != 2:
            raise ConfigError(
                f"spec: a phase diagram needs a grid of two fields (got {sorted(grid) or 'none'});"
                f" or name them with x and y"
            )
        x, y = list(grid)
    for name, value in (("x", x), ("y", y)):
        if value not in grid:
            raise ConfigError(
                f"{name}: {value!r} is not a field of the spec's grid ({sorted(grid)})"
            )
    assert x is not None and y is not None
    if x == y:
        raise ConfigError(f"x and y: both are {x!r}; give two different grid fields")
    return x, y


def continue_unfitted(
    runs: Sequence[SweepRun], sweep_dir: Path, threshold: float = 0.9, *, progress: bool = True
) -> list[str]:
    """Continue to ``max_steps``, without the stopping rule, every finished run of the sweep
    that its stopping rule (``stop_acc`` / ``stop_loss``) ended before train accuracy reached
    ``threshold``: its phase needs the step where train accuracy does (or the budget's end,
    for confusion). A run stopped after both accuracies reached the threshold keeps its
    steps to them, all the phase reads. The continued runs resume from their last state
    (exact resume; ``config.json`` records the stopping rule removed), batched by the
    ensemble trainer; returns their names. A spec without a stopping rule continues none."""
    jobs = []
    for r in runs:
        o = r.config.optim
        if o.stop_acc is None and o.stop_loss is None:
            continue
        d = sweep_dir / "runs" / r.name
        metrics = pd.DataFrame(layout.read_metrics(d)) if (d / layout.METRICS).exists() else None
        if metrics is None or metrics.empty or read_status(d)["status"] != "done":
            continue
        fitted = bool((metrics["train_acc"] >= threshold).any())
        if fitted or int(metrics["step"].iloc[-1]) >= o.max_steps:
            continue
        jobs.append((r, replace(r.config, {"optim": {"stop_acc": None, "stop_loss": None}}), d))
    if jobs:
        train_groups([(cfg, d) for _, cfg, d in jobs], progress=progress)
    return [r.name for r, _, _ in jobs]


def run_phases(
    runs: pd.DataFrame, run_dirs: Sequence[Path], threshold: float = 0.9, window: int = 1000
) -> pd.DataFrame:
    """Per run (rows of ``runs``, a sweep's results table, with the matching run
    directories): its phase, the steps where train and test accuracy reach ``threshold``
    and the delay between them (NaN where one never does)."""
    rows = []
    for (_, r), d in zip(runs.iterrows(), run_dirs, strict=True):
        metrics = pd.DataFrame(layout.read_metrics(d))
        row = r.to_dict()
        row["final_rqi"] = _final_rqi(d)
        if metrics.empty:
            row.update(phase=None, train_step=np.nan, test_step=np.nan, delay=np.nan)
        else:
            lm = landmarks(metrics, threshold)
            row.update(
                phase=liu_phase(metrics, threshold, window),
                train_step=np.nan if lm.train_step is None else lm.train_step,
                test_step=np.nan if lm.test_step is None else lm.test_step,
                delay=np.nan if lm.delay is None else lm.delay,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _final_rqi(run_dir: Path) -> float:
    """RQI of the run's last embedding (the numbers ``0 .. p-1``, parallelograms over the
    integers for ``int_add`` and mod p otherwise); NaN for a run without one."""
    try:
        run = Run(run_dir)
        task = run.config.task
        if task.p is None or run.config.model.mlp_input != "tokens" or not run.steps:
            return np.nan
        modulus = None if task.name == "int_add" else task.p
        return rqi(run.params()["embed.W_E"][: task.p], modulus=modulus)
    except (UserError, ValueError):
        return np.nan


def representation_timing(
    runs: pd.DataFrame, run_dirs: Sequence[Path], rqi_threshold: float = 0.95
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs`` (:func:`run_phases`' table) with ``rqi_step`` (the first checkpoint whose RQI
    reaches ``rqi_threshold``) and ``rqi_at_train`` (the RQI at the last checkpoint at or
    before ``train_step``) for every generalizing run (comprehension or grokking) with an
    embedding of numbers (NaN for the others); and the checkpoint series (``name``, ``step``,
    ``rqi``, the effective loss for ``int_add``, the logged accuracies) of its grokking
    runs."""
    out = runs.copy()
    out["rqi_step"] = np.nan
    out["rqi_at_train"] = np.nan
    series = []
    for i, d in zip(out.index, run_dirs, strict=True):
        row = out.loc[i]
        if row["phase"] not in ("comprehension", "grokking"):
            continue
        try:
            curve = rqi_over_checkpoints(Run(d))
        except (UserError, ValueError):  # no embedding of numbers: RQI does not apply
            continue
        reached = curve.loc[curve["rqi"] >= rqi_threshold, "step"]
        out.loc[i, "rqi_step"] = float(reached.iloc[0]) if len(reached) else np.nan
        before = curve[curve["step"] <= row["train_step"]]
        out.loc[i, "rqi_at_train"] = float(before["rqi"].iloc[-1]) if len(before) else np.nan
        if row["phase"] == "grokking":
            series.append(curve.assign(name=row["name"]))
    cols = ["name", "step", "rqi", "effective_loss", "train_acc", "test_acc"]
    late = pd.concat(series, ignore_index=True) if series else pd.DataFrame(columns=cols)
    return out, late[[c for c in cols if c in late]]


def phase_cells(runs: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """One row per (x, y) cell: the most common phase over its runs (ties: the earlier of
    :data:`PHASES`), the median delay of its runs that reached the threshold on both sets,
    and the count of each phase."""
    rows = []
    for (xv, yv), group in runs.groupby([x, y], sort=True):
        counts = {p: int((group["phase"] == p).sum()) for p in PHASES}
        best = max(PHASES, key=lambda p: (counts[p], -PHASES.index(p)))
        delays = group["delay"].dropna()
        rqis = group["final_rqi"].dropna() if "final_rqi" in group else pd.Series(dtype=float)
        rows.append(
            {
                x: xv,
                y: yv,
                "phase": best if counts[best] else None,
                "delay": float(delays.median()) if len(delays) else np.nan,
                "final_rqi": float(rqis.mean()) if len(rqis) else np.nan,
                "runs": len(group),
                **{f"n_{p}": counts[p] for p in PHASES},
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Params:
    """The phase diagram's parameters (module doc)."""

    spec: Path = param(
        Path("studies/phase_diagrams/toy.yaml"),
        "the sweep spec (.yaml, .yml or .json) whose grid varies two fields",
        positional=True,
    )
    x: str | None = param(None, "grid field on the x axis; none: the grid's first")
    y: str | None = param(None, "grid field on the y axis; none: the grid's second")
    backend: Literal["local", "ensemble", "ray", "ray-ensemble"] = param(
        "ensemble", "sweep backend"
    )
    threshold: float = param(
        0.9, "accuracy train and test must reach within the budget", unit="accuracy",
        paper="0.9 (their plotting notebook)",
    )  # fmt: skip
    window: int = param(
        1000,
        "test reaching the threshold at most this many steps after train is comprehension, "
        "later is grokking",
        unit="steps",
        paper="10^3 (the toy model)",
    )
    rqi_threshold: float = param(
        0.95,
        "the representation has formed when RQI reaches this (rqi_step)",
        paper="0.95 (their notebook, cell 1:L313-316)",
    )
    force: bool = param(False, "delete the study's sweep folder first and retrain every run")

    def __post_init__(self) -> None:
        for name in ("threshold", "rqi_threshold"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {value}")
        check_positive("window", self.window, minimum=0)
        if self.x is not None and self.x == self.y:
            raise ConfigError(f"x and y: both are {self.x!r}; give two different grid fields")


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the spec's grid (resuming a killed diagram), classify every run, and write the
    tables, the figure and the report (module docstring); ``data`` is the cells table."""
    spec = load_spec(params.spec)
    x, y = axes_of(spec, params.x, params.y)
    out = Path(out_dir)
    names = [r.name for r in expand(spec)]  # validates the spec before anything is written
    table = run_sweep(
        spec, out / "sweep", backend=params.backend, force=params.force, progress=progress
    )
    if continue_unfitted(expand(spec), out / "sweep", params.threshold, progress=progress):
        table = results(out / "sweep", expand(spec))  # the continued runs' rows anew
        atomic_write_text(out / "sweep" / RESULTS, table.to_csv(index=False))
    table = table.set_index("name").loc[names].reset_index()
    sweep_runs = [out / "sweep" / "runs" / n for n in names]
    runs = run_phases(table, sweep_runs, params.threshold, params.window)
    runs, late = representation_timing(runs, sweep_runs, params.rqi_threshold)
    cells = phase_cells(runs, x, y)
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    atomic_write_text(out / "phases.csv", cells.to_csv(index=False))
    atomic_write_text(out / "rqi.csv", late.to_csv(index=False))
    fig = phase_diagram(cells, x, y, f"Phase diagram: {y} against {x}")
    write_figure_set({"phase_diagram": fig}, out / "figures", "Phase diagram", static=static)
    atomic_write_text(out / "report.txt", report(cells, x, y, params, runs))
    return collect(out, data=cells)


def report(
    cells: pd.DataFrame, x: str, y: str, params: Params, runs: pd.DataFrame | None = None
) -> str:
    """The phase counts and the diagram as text: a row per ``y`` value, the phase (its first
    four letters) and the delay in steps of each ``x`` cell; then, given ``runs``
    (:func:`representation_timing`'s table), each grokking run's steps to the accuracy
    threshold on train and test and to the RQI threshold."""
    counts = cells["phase"].value_counts().to_dict()
    xs, ys = sorted(set(cells[x])), sorted(set(cells[y]))
    at = {(r[x], r[y]): r for _, r in cells.iterrows()}

    def cell(xv: Any, yv: Any) -> str:
        r = at.get((xv, yv))
        if r is None or r["phase"] is None or pd.isna(r["phase"]):
            return "-"
        delay = "" if pd.isna(r["delay"]) else f" {r['delay']:.0f}"
        return f"{str(r['phase'])[:4]}{delay}"

    def label(v: Any) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    grid = [[f"{y} \\ {x}", *(label(v) for v in xs)]]
    grid += [[label(yv), *(cell(xv, yv) for xv in xs)] for yv in ys]
    widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
    lines = [
        "Phase diagram (Liu et al. 2022, arXiv 2205.10343)",
        f"spec {params.spec}; phases at accuracy {params.threshold:g}, comprehension window "
        f"{params.window} steps",
        f"{len(cells)} cells: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
        "",
        "phase (first four letters) and delay in steps, by cell:",
        *("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in grid),
    ]
    grok = runs[runs["phase"] == "grokking"] if runs is not None and "rqi_step" in runs else None
    if grok is not None and len(grok):

        def step(v: Any) -> str:
            return "never" if pd.isna(v) else f"{v:.0f}"

        lines += [
            "",
            f"grokking runs: steps to {params.threshold:g} train / test accuracy, to RQI >= "
            f"{params.rqi_threshold:g} (first checkpoint), RQI when train reached the threshold:",
            *(
                f"  {r[x]:g} {x}, {r[y]:g} {y}, seed {r.get('seed', '-')}: train "
                f"{step(r['train_step'])}, test {step(r['test_step'])}, RQI {step(r['rqi_step'])}"
                f", RQI at train {r['rqi_at_train']:.2f}"
                for _, r in grok.iterrows()
            ),
        ]
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="phase-diagram",
    title="phase diagram of a 2D sweep: comprehension, grokking, memorization, confusion",
    paper="Liu et al. 2022, arXiv 2205.10343",
    params=Params,
    run=run,
    committed="studies/phase_diagrams/toy",
    smoke={"spec": str(SMOKE_SPEC), "window": 10},
    cards=liu2022.PHASES_CARDS,
    runtime="69 min (their 10^5 steps, 121 cells; one of 2 shared cores)",
)


__all__ = [
    "STUDY",
    "Params",
    "axes_of",
    "continue_unfitted",
    "phase_cells",
    "report",
    "representation_timing",
    "run",
    "run_phases",
]
