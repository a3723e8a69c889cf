"""Grokking in a kernel machine: the recursive feature machine of Mallinar et al. 2025
(*Emergence in non-neural models: grokking modular arithmetic via average gradient outer
product*, ICML 2025, arXiv 2407.20199).

They report that RFM (kernel ridge regression with a Mahalanobis Gaussian kernel whose matrix
M is replaced by the square root of the average gradient outer product at every iteration;
:mod:`grokinterp.models.rfm`) goes from near-zero to perfect test accuracy on modular
arithmetic over its iterations while its training loss is identically zero (it interpolates)
and its test loss stays constant over the first iterations; what changes is M, which becomes
block-circulant. The study (:func:`run`) runs arch ``rfm`` (:func:`grokinterp.training.rfm.
train_rfm`) for every task and seed at the authors' defaults (p = 61, half of all pairs for
training, bandwidth 2.5, ridge 0, s = 1/2, 50 iterations) and measures, at every iteration's
checkpoint, how circulant M's operand blocks are (our circulant share, and the paper's
circulant deviation) and how close M is to the final M (their AGOP alignment;
:mod:`grokinterp.analysis.agop`). It writes

* ``curves.csv``: per run and iteration, train / test loss and accuracy, trace of M, the
  circulant share of ``M_ab``, the circulant deviation of ``M_ba``, the AGOP alignment;
* ``summary.csv``: per run, the largest training loss over all iterations, test accuracy at
  iteration 0 and at the end, the first iterations where test accuracy reaches 50% and 99%,
  the test loss at iteration 5 over that at iteration 0 and the first iteration where it is
  5% below it, the circulant share at iteration 1 and at the end and the first iteration
  where it reaches 0.9, the circulant deviation at iterations 1 and 10 and at the end, the
  AGOP alignment at iterations 1 and 10;
* ``report.txt`` and ``figures/``.

The run directories go to ``out_dir/runs`` (ordinary run directories: ``grokinterp.Run``
opens them); a run already complete there with the same config is not run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grokinterp.analysis.agop import (
    LOG_TASKS,
    agop_alignment,
    agop_circulant_deviation,
    agop_circulant_share,
)
from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import mallinar2025
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
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.tasks.registry import is_prime
from grokinterp.training.rfm import train_rfm
from grokinterp.viz.report import write_figure_set
from grokinterp.viz.rfm import rfm_figures

TASKS = ("add", "sub", "mul", "div")
CURVE_COLUMNS = [
    "run", "task", "seed", "step", "train_loss", "train_acc", "test_loss", "test_acc",
    "agop_trace", "circulant_share", "circulant_deviation", "agop_alignment",
]  # fmt: skip


@dataclass(frozen=True)
class Params:
    """The RFM study's parameters (module doc)."""

    tasks: tuple[str, ...] = param(
        TASKS, "operations a o b mod p (add, sub, mul, div)", paper="x+y (train_kernel.py:L113)"
    )
    seeds: tuple[int, ...] = param((0, 1), "split seeds (the split is the only randomness)")
    p: int = param(61, "the prime modulus", paper="61 (train_kernel.py:L114)")
    train_fraction: float = param(
        0.5, "fraction of all pairs used for training", paper="0.5 (train_kernel.py:L115)"
    )
    iters: int = param(50, "RFM iterations", unit="iterations", paper="50 (train_kernel.py:L116)")
    bandwidth: float = param(2.5, "Gaussian kernel bandwidth L", paper="2.5 (L118)")
    ridge: float = param(0.0, "ridge added to the kernel matrix", paper="0 (L117)")
    agop_power: float = param(0.5, "power s of the AGOP that becomes M", paper="0.5 (L123)")

    def __post_init__(self) -> None:
        check_choices("tasks", self.tasks, TASKS)
        check_nonempty("seeds", self.seeds)
        check_positive("iters", self.iters)
        check_open_unit("train_fraction", [self.train_fraction])
        if self.p < 3 or not is_prime(self.p):
            raise ConfigError(f"p must be a prime >= 3 (mul and div need a field), got {self.p}")
        if self.bandwidth <= 0 or self.agop_power <= 0 or self.ridge < 0:
            raise ConfigError(
                f"bandwidth and agop_power must be positive and ridge >= 0, got bandwidth "
                f"{self.bandwidth}, agop_power {self.agop_power}, ridge {self.ridge}"
            )


def run_config(params: Params, task: str, seed: int) -> TrainConfig:
    """The config of one run: arch ``rfm`` on ``task`` mod p, split seed ``seed``, one
    metrics line and one checkpoint per iteration."""
    return replace(
        TrainConfig(),
        {
            "task": {
                "name": task, "p": params.p, "train_fraction": params.train_fraction,
                "split_seed": seed,
            },
            "model": {
                "arch": "rfm", "rfm_bandwidth": params.bandwidth, "rfm_ridge": params.ridge,
                "rfm_agop_power": params.agop_power,
            },
            "optim": {"max_steps": params.iters},
            "schedule": {"log_every": 1, "ckpt_every": 1, "ckpt_log_count": 0},
            "": {"seed": seed},
        },
    )  # fmt: skip


def _complete(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds this config's run, run to the end."""
    if not (run_dir / layout.CONFIG).exists():
        return False
    if Run(run_dir).config.to_dict() != cfg.to_dict():
        return False
    m = layout.read_metrics(run_dir)
    return bool(m) and m[-1]["step"] == cfg.optim.max_steps


def curves(run: Run, name: str, task: str, seed: int, p: int) -> pd.DataFrame:
    """One row per iteration of a finished run: its metrics, the circulant share of
    ``M_ab``, Mallinar et al.'s circulant deviation of ``M_ba`` (both NaN at iteration 0,
    where M = I has all-zero operand blocks) and the AGOP alignment of M_t with the run's
    last M."""
    m = run.metrics
    mats = {s: run.params(s)["M"] for s in run.steps}
    final = mats[max(mats)]
    out = m[["step", "train_loss", "train_acc", "test_loss", "test_acc", "agop_trace"]].copy()
    out["circulant_share"] = out["step"].map(
        {s: agop_circulant_share(v, task, p) for s, v in mats.items()}
    )
    out["circulant_deviation"] = out["step"].map(
        {s: agop_circulant_deviation(v, task, p) for s, v in mats.items()}
    )
    out["agop_alignment"] = out["step"].map({s: agop_alignment(v, final) for s, v in mats.items()})
    out.insert(0, "seed", seed)
    out.insert(0, "task", task)
    out.insert(0, "run", name)
    return out[CURVE_COLUMNS]


def _first(steps: pd.Series, values: pd.Series, level: float) -> float:
    """The first step where ``values`` reaches ``level`` (NaN: never)."""
    hit = steps[values >= level]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def summarize(c: pd.DataFrame) -> dict[str, Any]:
    """The summary row of one run's curve (module doc)."""
    last, first = c.iloc[-1], c.iloc[0]
    at = c.set_index("step")
    return {
        "run": first["run"],
        "task": first["task"],
        "seed": int(first["seed"]),
        "iters": int(last["step"]),
        "max_train_loss": float(c["train_loss"].max()),
        "min_train_acc": float(c["train_acc"].min()),
        "test_acc_0": float(first["test_acc"]),
        "final_test_acc": float(last["test_acc"]),
        "step_test_50": _first(c["step"], c["test_acc"], 0.5),
        "step_test_99": _first(c["step"], c["test_acc"], 0.99),
        "test_loss_ratio_5": float(at["test_loss"].get(5, np.nan) / first["test_loss"]),
        "step_test_loss_drop": _first(c["step"], -c["test_loss"], -0.95 * first["test_loss"]),
        "circulant_share_1": float(at["circulant_share"].get(1, np.nan)),
        "final_circulant_share": float(last["circulant_share"]),
        "step_share_90": _first(c["step"], c["circulant_share"], 0.9),
        "circulant_deviation_1": float(at["circulant_deviation"].get(1, np.nan)),
        "circulant_deviation_10": float(at["circulant_deviation"].get(10, np.nan)),
        "final_circulant_deviation": float(last["circulant_deviation"]),
        "agop_alignment_1": float(at["agop_alignment"].get(1, np.nan)),
        "agop_alignment_10": float(at["agop_alignment"].get(10, np.nan)),
    }


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Run every (task, seed) (skipping complete runs), then write the tables, report and
    figures (module doc); ``data`` is the summary table."""
    out = Path(out_dir)
    tables, rows = [], []
    for task in params.tasks:
        for seed in params.seeds:
            name = f"{task}_seed={seed}"
            cfg = run_config(params, task, seed)
            run_dir = out / "runs" / name
            if not _complete(run_dir, cfg):
                train_rfm(cfg, run_dir, force=True, progress=progress)
            c = curves(Run(run_dir), name, task, seed, params.p)
            tables.append(c)
            rows.append(summarize(c))
    curve = pd.concat(tables, ignore_index=True)
    summary = pd.DataFrame(rows)
    atomic_write_text(out / "curves.csv", curve.to_csv(index=False))
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(out / "report.txt", report(summary, params))
    first_run = out / "runs" / f"{params.tasks[0]}_seed={params.seeds[0]}"
    write_figure_set(
        rfm_figures(curve, Run(first_run), params.p),
        out / "figures",
        title="Grokking in a recursive feature machine (Mallinar et al. 2025)",
        static=static,
    )
    return collect(out, data=summary)


def report(summary: pd.DataFrame, params: Params) -> str:
    """The summary as text, one line per run."""

    def f(v: Any, fmt: str = "g") -> str:
        return "-" if v is None or (isinstance(v, float) and v != v) else format(v, fmt)

    logs = " (discrete logs for mul/div)" if set(params.tasks) & set(LOG_TASKS) else ""
    lines = [
        "Recursive feature machine on modular arithmetic (Mallinar et al. 2025; "
        "grokinterp.experiments.rfm)",
        f"p = {params.p}, train fraction {params.train_fraction}, bandwidth {params.bandwidth}, "
        f"ridge {params.ridge}, M <- AGOP^{params.agop_power}, {params.iters} iterations",
        "circulant share: of M_ab's energy about its mean, the part constant along the task's "
        f"wrapped diagonals{logs}; a random block gives 1/(p+1) = {1 / (params.p + 1):.3f}",
        "run           max_train_mse  test_acc_0  step_50%  step_99%  final_test  "
        "share_1  share_end  step_share_0.9  test_loss_5/0",
    ]
    for r in summary.to_dict("records"):
        lines.append(
            f"{r['run']:<13} {f(r['max_train_loss'], '.1e'):>13}  {f(r['test_acc_0'], '.3f'):>10}"
            f"  {f(r['step_test_50']):>8}  {f(r['step_test_99']):>8}  "
            f"{f(r['final_test_acc'], '.3f'):>10}  {f(r['circulant_share_1'], '.3f'):>7}  "
            f"{f(r['final_circulant_share'], '.3f'):>9}  {f(r['step_share_90']):>14}  "
            f"{f(r['test_loss_ratio_5'], '.4f'):>13}"
        )
    lines += [
        "the paper's progress measures: circulant deviation of M_ba (0 for a circulant) and AGOP "
        "alignment with the last M; the first iteration with test MSE 5% below iteration 0's",
        "run           deviation_1  deviation_10  deviation_end  alignment_1  alignment_10  "
        "step_test_loss_-5%",
    ]
    for r in summary.to_dict("records"):
        lines.append(
            f"{r['run']:<13} {f(r['circulant_deviation_1'], '.3f'):>11}  "
            f"{f(r['circulant_deviation_10'], '.3f'):>12}  "
            f"{f(r['final_circulant_deviation'], '.4f'):>13}  {f(r['agop_alignment_1'], '.3f'):>11}"
            f"  {f(r['agop_alignment_10'], '.3f'):>12}  {f(r['step_test_loss_drop']):>18}"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="rfm",
    title="grokking in a recursive feature machine: test accuracy, zero training loss, "
    "circulant AGOP",
    paper="Mallinar et al. 2025, arXiv 2407.20199",
    params=Params,
    run=run,
    committed="studies/rfm",
    smoke={"tasks": ["add"], "seeds": [0], "p": 13, "train_fraction": 0.7, "iters": 4},
    cards=mallinar2025.CARDS,
    runtime="8.3 min on one of 2 shared CPU cores (8 runs of 36-88 s)",
    threads=1,
)
