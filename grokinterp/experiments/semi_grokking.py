"""Semi-grokking, tried on true-label runs around and above D_crit (Varma et al. 2023, arXiv
2309.02390).

Varma et al. predict that at a training-set size D near the critical size D_crit, where the
memorizing and the generalizing circuit are about equally efficient, a network can show
*semi-grokking*: a delayed rise of the test accuracy to a middling plateau rather than to
100%. :func:`run` trains true-label networks at several D (by default 1.5-3.2 D_crit of the
``efficiency`` preset, where networks start to find the generalizing circuit from scratch
within a budget), at several weight decays, several seeds each, for a long step budget with
sparse logging, and classifies each run by its test-accuracy plateau
(:func:`grokinterp.analysis.phases.plateau_class`: grokked / semi-grokked / undecided /
memorized / unfitted).

The runs are sweeps of :mod:`grokinterp.sweeps`, trained by the ``ensemble`` backend by
default, one sweep per size (``out/sweep/D=<d>``: every weight decay and seed of that size
trained together, members of one size need no padding), the largest D first (where the
generalizing circuit is cheapest to find); the tables are rewritten after each size, so a
long study has usable results before it ends. Re-running the same command skips finished
sizes and resumes a killed one from its last checkpoints. Writes into ``out``:

* ``runs.csv``: one row per run (D, D / D_crit, weight decay, seed, plateau class, plateau /
  final / max test accuracy, the steps where train accuracy reached 99% and test accuracy
  50%, final training loss and parameter norm, the final logits' share in the trigonometric
  subspace ``gen_share``);
* ``test_acc.csv``: every run's train / test accuracy, train loss and parameter norm, one row
  per ``trace_every`` steps (and the last);
* ``figures/test_acc_by_d.png`` (and HTML): test accuracy against step, a panel per D and
  weight decay, and the parameter norms;
* ``report.txt``: the setup, the classes per D and weight decay, and the verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from grokinterp.analysis.efficiency import run_circuit_stats
from grokinterp.analysis.phases import plateau_class
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.experiments.cards import varma2023
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_ascending,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.experiments.efficiency import SMOKE_CONFIG, check_base, check_device, sweep_base
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status
from grokinterp.viz.efficiency import semi_test_acc_figure
from grokinterp.viz.report import write_figure_set

NEAR_FACTOR = 1.5  # "near D_crit": within this factor of it (as the efficiency study's verdict)

# the columns of runs.csv, in order
RUN_COLUMNS = [
    "D", "D_over_dcrit", "weight_decay", "seed", "name", "status", "steps", "plateau_class",
    "plateau_test_acc", "final_test_acc", "max_test_acc", "max_test_step", "train_99_step",
    "test_50_step", "final_train_loss", "final_param_norm", "gen_share",
]  # fmt: skip
TRACE_COLUMNS = ["step", "train_loss", "train_acc", "test_acc", "param_norm"]


@dataclass(frozen=True)
class SemiStudy:
    """What :func:`run` found: ``runs`` (``runs.csv``), ``traces`` (``test_acc.csv``),
    the verdict line and whether every run has finished."""

    runs: pd.DataFrame
    traces: pd.DataFrame
    verdict: str
    complete: bool


def semi_spec(
    base: dict[str, Any],
    size: int,
    seeds: Sequence[int],
    max_steps: int,
    log_every: int,
    ckpt_every: int,
    weight_decays: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The sweep of one size: true-label runs on the first ``size`` pairs, one per weight
    decay (a grid over ``weight_decays``; None: the base's own) and seed, trained for
    ``max_steps`` with no early stop, logged every ``log_every`` steps, checkpointed at step
    0, every ``ckpt_every`` steps (where a killed run resumes from) and at the end."""
    grid = {} if weight_decays is None else {"weight_decay": [float(w) for w in weight_decays]}
    return {
        "base": {k: v for k, v in base.items() if k != "overrides"},
        "overrides": {
            **base.get("overrides", {}),
            "max_steps": max_steps,
            "stop_acc": None,
            "stop_loss": None,
            "random_labels": False,
            "train_size": int(size),
            "log_every": log_every,
            "ckpt_every": ckpt_every,
            "ckpt_log_count": 0,
        },
        **({"grid": grid} if grid else {}),
        "seeds": [int(s) for s in seeds],
    }


def size_dir(out: Path, size: int) -> Path:
    """The sweep directory of one size."""
    return out / "sweep" / f"D={size}"


@dataclass(frozen=True)
class Params:
    """The semi-grokking study's parameters (module doc)."""

    preset: str = param("efficiency", "base preset of every run (the CPU-sized study)")
    config: Path | None = param(None, "a config.json as the base of every run, instead of preset")
    sizes: tuple[int, ...] = param(
        (369, 485, 638, 795),
        "training-set sizes D, ascending (default: 1.50, 1.97, 2.59 and 3.23 D_crit of the "
        "efficiency preset, where true-label runs start to generalize from scratch)",
        unit="pairs",
        paper="D = 1532 of a + b mod 113 (Fig. 6, one run shown)",
    )
    weight_decays: tuple[float, ...] = param(
        (0.5, 1.0, 2.0),
        "AdamW weight decays, ascending; every size runs at each (the efficiency study's "
        "ungrokking runs used 0.5 and 2, the preset 1)",
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "initialization seeds, each once")
    d_crit: float | None = param(
        246.0,
        "the D_crit the sizes are placed around, for the D / D_crit column and the verdict "
        "(default: the efficiency preset's, studies/efficiency with version 0.1; give your "
        "own for another base); none: not judged",
        unit="pairs",
    )
    max_steps: int = param(
        8000,
        "steps of every run (no early stop); the knob scaled to fit ~25 core-minutes",
        unit="steps",
        paper=">= 3.2e7 epochs of full-batch training (Fig. 6)",
    )
    log_every: int = param(100, "metrics every this many steps", unit="steps")
    ckpt_every: int = param(
        2000, "checkpoint spacing; a killed size resumes from the last", unit="steps"
    )
    trace_every: int = param(
        500, "one row in this many steps in test_acc.csv (a multiple of log_every)", unit="steps"
    )
    threads: int | None = param(
        None,
        "torch threads while training; none: torch's (1 is faster on shared cores: 27 against "
        "68 ms a step for 15 members of the efficiency preset)",
    )
    backend: Literal["local", "ensemble", "ray", "ray-ensemble"] = param(
        "ensemble", "sweep backend"
    )
    device: str = param("cpu", "torch device of the runs")

    def __post_init__(self) -> None:
        check_base(self)
        check_ascending("sizes", self.sizes)
        if (
            not self.weight_decays
            or list(self.weight_decays) != sorted(set(self.weight_decays))
            or self.weight_decays[0] <= 0
        ):
            raise ConfigError(
                "weight_decays: give distinct positive values in ascending order, got "
                f"{list(self.weight_decays)}"
            )
        check_nonempty("seeds", self.seeds)
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: give each seed once, got {list(self.seeds)}")
        if self.d_crit is not None and not self.d_crit > 0:
            raise ConfigError(f"d_crit must be positive, got {self.d_crit}")
        for name in ("max_steps", "log_every", "ckpt_every"):
            check_positive(name, getattr(self, name))
        if self.trace_every < self.log_every or self.trace_every % self.log_every:
            raise ConfigError(
                f"trace_every must be a multiple of log_every ({self.log_every}), "
                f"got {self.trace_every}"
            )
        if self.threads is not None:
            check_positive("threads", self.threads)
        check_device(self.device)


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train (or resume) every size, largest first, rewriting the tables after each (module
    docstring); ``data`` is a :class:`SemiStudy`, ``verdicts`` whether semi-grokking showed
    near ``d_crit`` (undecided without one)."""
    base = sweep_base(params.preset, params.config)
    sizes, seeds = params.sizes, params.seeds
    out = Path(out_dir)
    specs = {
        d: semi_spec(
            base,
            d,
            seeds,
            params.max_steps,
            params.log_every,
            params.ckpt_every,
            params.weight_decays,
        )  # fmt: skip
        for d in sizes
    }
    for s in specs.values():  # every size's configs are valid before anything trains
        expand(s)
    if params.threads is not None:
        torch.set_num_threads(params.threads)
    study = None
    done: dict[int, dict[str, Any]] = {}
    for d in sorted(sizes, reverse=True):
        where = size_dir(out, d)
        try:
            run_sweep(
                specs[d], where, backend=params.backend, progress=progress, device=params.device
            )
        except RunDirError as e:
            raise RunDirError(
                f"{where}: holds runs made with other settings (base, weight decays, seeds or "
                f"steps); choose "
                f"another output directory, or remove that folder to redo them ({e})"
            ) from None
        done[d] = specs[d]
        study = write_tables(out, done, params.d_crit, params.trace_every, static)
    assert study is not None
    anywhere = "held" if (study.runs["plateau_class"] == "semi-grokked").any() else "did not hold"
    verdicts = {
        "semi-grokking near D_crit": _held(study.verdict),
        "semi-grokking at any size run": anywhere,
    }
    return collect(out, data=study, verdicts=verdicts)


def _held(verdict: str) -> str:
    """:func:`judge_semi`'s line as held / did not hold / undecided."""
    if verdict.startswith("reproduced"):
        return "held"
    return "did not hold" if verdict.startswith("not seen on this setup") else "undecided"


def write_tables(
    out: Path,
    specs: dict[int, dict[str, Any]],
    d_crit: float | None,
    trace_every: int,
    static: bool | None = None,
) -> SemiStudy:
    """``runs.csv``, ``test_acc.csv``, the figure and ``report.txt`` from the sizes done
    (``specs``: size -> its sweep spec)."""
    rows, traces = [], []
    for d, spec in specs.items():
        where = size_dir(out, d)
        for r in expand(spec):
            row, trace = _run_row(where / "runs" / r.name, r.name, d_crit, trace_every)
            key = {
                "D": r.config.task.train_size,
                "weight_decay": r.config.optim.weight_decay,
                "seed": r.config.seed,
            }
            rows.append({**row, **key})
            traces.append(trace.assign(**key))
    runs = pd.DataFrame(rows)
    runs["D_over_dcrit"] = runs["D"] / d_crit if d_crit else math.nan
    runs = runs.reindex(columns=RUN_COLUMNS)
    runs = runs.sort_values(["D", "weight_decay", "seed"], ignore_index=True)
    trace_table = pd.concat(traces, ignore_index=True)[
        ["D", "weight_decay", "seed", *TRACE_COLUMNS]
    ]
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    atomic_write_text(out / "test_acc.csv", trace_table.to_csv(index=False))
    verdict = judge_semi(runs, d_crit)
    fig = semi_test_acc_figure(trace_table, runs, d_crit)
    write_figure_set({"test_acc_by_d": fig}, out / "figures", title="Semi-grokking", static=static)
    complete = bool((runs["status"] == "done").all())
    first = next(iter(specs.values()))
    atomic_write_text(out / "report.txt", report(runs, first, d_crit, verdict))
    return SemiStudy(runs, trace_table, verdict, complete)


def _run_row(
    run_dir: Path, name: str, d_crit: float | None, trace_every: int
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One run's row of ``runs.csv`` and its thinned trace."""
    m = pd.DataFrame(layout.read_metrics(run_dir)) if (run_dir / layout.METRICS).exists() else None
    row: dict[str, Any] = {"name": name, "status": read_status(run_dir)["status"]}
    if m is None or m.empty:
        return row, pd.DataFrame(columns=TRACE_COLUMNS)
    m = m.sort_values("step", ignore_index=True)
    last = m.iloc[-1]
    n_tail = max(1, int(round(len(m) * 0.1)))

    def first(col: str, at: float) -> float:
        hit = m.loc[m[col] >= at, "step"]
        return float(hit.iloc[0]) if len(hit) else math.nan

    best = int(m["test_acc"].to_numpy().argmax())
    stats = run_circuit_stats(run_dir)
    row.update(
        steps=int(last["step"]),
        plateau_class=plateau_class(m),
        plateau_test_acc=float(m["test_acc"].iloc[-n_tail:].mean()),
        final_test_acc=float(last["test_acc"]),
        max_test_acc=float(m["test_acc"].iloc[best]),
        max_test_step=int(m["step"].iloc[best]),
        train_99_step=first("train_acc", 0.99),
        test_50_step=first("test_acc", 0.5),
        final_train_loss=float(last["train_loss"]),
        final_param_norm=float(last["param_norm"]),
        gen_share=stats["gen_share"],
    )
    keep = (m["step"] % trace_every == 0) | (m.index == len(m) - 1)
    trace = m.loc[keep, TRACE_COLUMNS]
    return row, trace


def judge_semi(runs: pd.DataFrame, d_crit: float | None) -> str:
    """Whether Varma et al.'s semi-grokking showed: a run classified ``semi-grokked`` within
    a factor ``NEAR_FACTOR`` of ``d_crit`` (the efficiency study's criterion)."""
    semi = runs[runs["plateau_class"] == "semi-grokked"]
    if d_crit is None:
        return f"{len(semi)} semi-grokked run(s) (no D_crit given: not judged)"
    near = semi[semi["D"].between(d_crit / NEAR_FACTOR, d_crit * NEAR_FACTOR)]
    if len(near):
        return (
            f"reproduced: {len(near)} semi-grokked run(s) within a factor {NEAR_FACTOR} of "
            f"D_crit = {d_crit:g}, at D = {sorted(set(near['D']))}"
        )
    return (
        f"not seen on this setup: no semi-grokked run within a factor {NEAR_FACTOR} of D_crit = "
        f"{d_crit:g} ({len(semi)} semi-grokked in all)"
    )


def report(runs: pd.DataFrame, spec: dict[str, Any], d_crit: float | None, verdict: str) -> str:
    """The setup, one line per D and weight decay (classes, plateau and max test accuracy),
    the semi-grokked runs wherever they are, and the verdict."""
    ov = spec["overrides"]
    lines = [
        "Semi-grokking around D_crit (Varma et al. 2023, arXiv 2309.02390)",
        f"base {spec['base']}; {ov['max_steps']} steps per run, metrics every "
        f"{ov['log_every']} steps, no early stop; D_crit "
        + (f"{d_crit:g}" if d_crit else "not given"),
        f"sizes D: {sorted(set(runs['D']))}; weight decays: "
        f"{sorted(set(runs['weight_decay']))}; seeds: {sorted(set(runs['seed']))}",
        "",
        "D      D/D_crit  wd     runs  classes                                  "
        "plateau test acc (median, range)   max test acc (range)",
    ]
    cells = runs[["D", "weight_decay"]].drop_duplicates().sort_values(["D", "weight_decay"])
    for d, wd in cells.itertuples(index=False, name=None):
        g = runs[(runs["D"] == d) & (runs["weight_decay"] == wd)]
        ratio = f"{d / d_crit:.2f}" if d_crit else "-"
        classes = ", ".join(f"{k} {v}" for k, v in g["plateau_class"].value_counts().items())
        pl, mx = g["plateau_test_acc"], g["max_test_acc"]
        lines.append(
            f"{d:<6} {ratio:>8}  {wd:<6g} {len(g):>4}  {classes:<40} "
            f"{pl.median():.3f} ({pl.min():.3f}-{pl.max():.3f})      "
            f"{mx.min():.3f}-{mx.max():.3f}"
        )
    semi = runs[runs["plateau_class"] == "semi-grokked"]
    lines += ["", f"semi-grokked runs: {len(semi)} of {len(runs)}"]
    for r in semi.itertuples(index=False):
        lines.append(
            f"  D={r.D}, weight decay {r.weight_decay:g}, seed {r.seed}: plateau "
            f"{r.plateau_test_acc:.3f}, train 99% at step {r.train_99_step:g}, test 50% at "
            f"step {r.test_50_step:g}"
        )
    lines += ["", f"verdict: {verdict}"]
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="semi-grokking",
    title="semi-grokking near D_crit: long true-label runs, classified by their plateau",
    paper="Varma et al. 2023, arXiv 2309.02390",
    params=Params,
    run=run,
    committed="studies/semi_grokking",
    smoke={
        "config": str(SMOKE_CONFIG),
        "sizes": [40, 200],
        "weight_decays": [0.5, 1.0],
        "seeds": [0],
        "d_crit": 100.0,
        "max_steps": 100,
        "log_every": 20,
        "ckpt_every": 100,
        "trace_every": 100,
    },  # fmt: skip
    cards=varma2023.SEMI_GROKKING_CARDS,
    runtime="14 min",
    threads=1,  # 1 is faster on shared cores (Params.threads)
)


__all__ = [
    "STUDY", "Params", "SemiStudy", "judge_semi", "report", "run", "semi_spec",
    "write_tables",
]  # fmt: skip
