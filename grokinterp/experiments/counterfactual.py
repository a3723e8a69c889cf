"""Do a two-headed network's effect estimates grok? (Samothrakis, Matran-Fernandez, Abdullahi,
Fairbank & Fasli 2022, "Grokking-like effects in counterfactual inference", IJCNN 2022; their
selected code ssamot/starnet@cc942a0.)

Their claim (abstract, the only text of the paper we could read): a plain TARNet-like network
(two heads, one per arm) trained with a large batch, and ensembled, estimates treatment
effects as well as methods that rebalance the covariates, and the reason "might be
grokking". This study asks the question on a data set whose effects are known exactly: the
``counterfactual`` task (Hill 2011's IHDP response surface B on simulated covariates,
:mod:`grokinterp.tasks.counterfactual`), trained by the one training core with the factual
loss, logging the effect errors on every metrics line (:mod:`grokinterp.training.effects`).

Per arm (optimizer and weight decay) and realization (``data_seed``: a new draw of units,
coefficients and assignment, as IHDP's benchmark has 100 realizations), one run of the
``counterfactual`` preset (their released optimizer settings); every logged step gives the
factual training loss and the PEHE over the training units (within-sample) and the held-out
units (out-of-sample). A grokking-like effect is out-of-sample PEHE that keeps improving
*after* the factual training loss has fallen below the outcome noise's variance (1: below it
the network fits the noise of the outcomes it was shown, i.e. memorizes):

* ``fit_step``: the first logged step whose factual training loss is at most 1;
* ``pehe_at_fit`` and ``min_pehe_after_fit``, and ``late_gain = 1 - min_pehe_after_fit /
  pehe_at_fit`` (the share of the out-of-sample PEHE removed after the fit);
* ``best_step`` / ``best_pehe_out`` (the lowest out-of-sample PEHE of the run),
  ``delay = best_step - fit_step`` and ``delay_ratio = best_step / fit_step`` (grokking's
  generalization comes many times the fitting time after the start: Power et al. 2022's
  delays are orders of magnitude);
* ``peak_after_fit``: the highest out-of-sample PEHE between the fit and the lowest one
  after it, and ``second_descent = 1 - min_pehe_after_fit / peak_after_fit`` where that
  peak is a bump above ``pehe_at_fit`` (else 0: a first descent that merely continues past
  the fit is not a second one): the share of the PEHE removed after an overfitting bump,
  while the training loss stays at its floor;
* every PEHE also relative to the zero predictor's (``sqrt(mean tau^2)`` over the same
  units), so realizations of different effect scales compare.

Tables: ``metrics.csv`` (every logged row), ``runs.csv`` (one row per run), ``arms.csv`` (the
median over realizations per arm); figures: the factual training loss and the relative PEHE
over training, per arm.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import train_arm
from grokinterp.experiments.cards import samothrakis2022
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_choices,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.spec import expand
from grokinterp.tasks import make_dataset
from grokinterp.tasks.counterfactual import NOISE_SD
from grokinterp.viz.counterfactual import effects_figure
from grokinterp.viz.report import write_figure_set

PRESET = "counterfactual"
# arm -> (optimizer, weight decay): no regularizer; their L2 (Keras l2(0.001) on every
# kernel, ssamot/starnet@cc942a0 common.py:L39, is adam's coupled weight decay 0.002);
# decoupled AdamW weight decay 1 (the grokking literature's, Nanda et al. 2023)
ARMS: dict[str, tuple[str, float]] = {
    "none": ("adam", 0.0),
    "l2": ("adam", 0.002),
    "adamw": ("adamw", 1.0),
}
NOISE_VARIANCE = NOISE_SD**2
METRIC_COLUMNS = ("step", "train_loss", "test_loss", "pehe_in", "pehe_out", "ate_error_in",
                  "ate_error_out", "param_norm", "wall_time")  # fmt: skip


@dataclass(frozen=True)
class Params:
    """The counterfactual study's parameters (module doc)."""

    arms: tuple[str, ...] = param(
        ("l2", "none", "adamw"), "regularizer arms: l2 (the authors' L2 0.001 as adam weight "
        "decay 0.002), none (adam, no weight decay), adamw (decoupled weight decay 1)",
        paper="l2 (ssamot/starnet@cc942a0 common.py:L39)",
    )  # fmt: skip
    realizations: tuple[int, ...] = param(
        (0, 1, 2), "data seeds: each a new draw of units, coefficients and assignment "
        "(the scaled knob)", paper="IHDP's benchmark: 100 or 1000 realizations",
    )  # fmt: skip
    n_units: int = param(747, "units per realization (train + held out)", unit="units",
                         paper="747 (IHDP)")  # fmt: skip
    width: int = param(128, "units of the shared tanh representation layer",
                       paper="n_neurons, tuned per data set (value not released)")  # fmt: skip
    steps: int = param(20_000, "full-batch updates per run", unit="steps",
                       paper="n_iterations (the caller's; not released)")  # fmt: skip
    log_every: int = param(100, "a metrics line (effect errors included) every this many "
                           "steps", unit="steps")  # fmt: skip
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        check_choices("arms", self.arms, list(ARMS))
        check_nonempty("realizations", self.realizations)
        if len(set(self.realizations)) != len(self.realizations) or min(self.realizations) < 0:
            raise ConfigError(
                f"realizations: give distinct seeds >= 0, got {list(self.realizations)}"
            )
        check_positive("n_units", self.n_units, minimum=20)
        check_positive("width", self.width)
        check_positive("steps", self.steps)
        check_positive("log_every", self.log_every)
        if self.log_every > self.steps:
            raise ConfigError(f"log_every ({self.log_every}) must not exceed steps "
                              f"({self.steps})")  # fmt: skip


def arm_spec(arm: str, params: Params) -> dict[str, Any]:
    """The sweep of one arm: the preset, the study's sizes, the arm's optimizer, one run per
    realization (``task.data_seed``; the initialization seed is 0)."""
    optimizer, wd = ARMS[arm]
    n = params.steps
    return {
        "base": {"preset": PRESET},
        "overrides": {
            "task.n_samples": params.n_units,
            "model.d_mlp": params.width,
            "optim.optimizer": optimizer,
            "optim.weight_decay": wd,
            "optim.max_steps": n,
            "schedule.log_every": params.log_every,
            "schedule.ckpt_every": max(n // 6, 1),
            "schedule.ckpt_log_until": max(n // 30, 1),
            "schedule.ckpt_log_count": 3,
        },  # fmt: skip
        "runs": [{"task.data_seed": s} for s in params.realizations],
        "seeds": [0],
        "backend": "local",
        "workers": 1,
    }


def zero_pehe(potential: np.ndarray, rows: np.ndarray) -> float:
    """The PEHE of the zero predictor over ``rows``: ``sqrt(mean tau^2)``."""
    tau = potential[rows, 1] - potential[rows, 0]
    return float(np.sqrt(np.mean(tau**2)))


def run_row(arm: str, seed: int, m: pd.DataFrame, zero_in: float, zero_out: float
            ) -> dict[str, Any]:  # fmt: skip
    """One run's summary (module doc) from its logged rows ``m``."""
    m = m.sort_values("step")
    last = m.iloc[-1]
    best = m.iloc[int(np.argmin(m["pehe_out"].to_numpy()))]
    row: dict[str, Any] = {
        "arm": arm, "data_seed": seed, "steps": int(last["step"]),
        "zero_pehe_in": zero_in, "zero_pehe_out": zero_out,
        "final_train_loss": last["train_loss"], "final_pehe_in": last["pehe_in"],
        "final_pehe_out": last["pehe_out"], "final_ate_error_out": last["ate_error_out"],
        "best_step": int(best["step"]), "best_pehe_out": best["pehe_out"],
        "final_rel_pehe_out": last["pehe_out"] / zero_out,
        "best_rel_pehe_out": best["pehe_out"] / zero_out,
    }  # fmt: skip
    fit = m[m["train_loss"] <= NOISE_VARIANCE]
    if len(fit):
        f = fit.iloc[0]
        after = m[m["step"] >= f["step"]]
        low = after.iloc[int(np.argmin(after["pehe_out"].to_numpy()))]
        between = after[after["step"] <= low["step"]]
        peak = float(between["pehe_out"].max())
        row.update(
            fit_step=int(f["step"]), pehe_at_fit=f["pehe_out"],
            min_pehe_after_fit=low["pehe_out"], min_after_fit_step=int(low["step"]),
            late_gain=1.0 - low["pehe_out"] / f["pehe_out"],
            peak_after_fit=between["pehe_out"].max(),
            second_descent=1.0 - low["pehe_out"] / peak if peak > f["pehe_out"] else 0.0,
            delay=int(best["step"]) - int(f["step"]),
            delay_ratio=int(best["step"]) / max(int(f["step"]), 1),
        )  # fmt: skip
    else:  # never below the noise floor: no memorization to grok after
        row.update(fit_step=math.nan, pehe_at_fit=math.nan, min_pehe_after_fit=math.nan,
                   min_after_fit_step=math.nan, late_gain=math.nan, peak_after_fit=math.nan,
                   second_descent=math.nan, delay=math.nan, delay_ratio=math.nan)  # fmt: skip
    return row


def read_arm(out: Path, arm: str, params: Params) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """The run rows and logged metrics of one arm's trained runs."""
    rows, frames = [], []
    for r in expand(arm_spec(arm, params)):
        d = out / "sweep" / arm / "runs" / r.name
        if not (d / layout.METRICS).exists():
            continue
        m = pd.DataFrame(layout.read_metrics(d))
        if not len(m) or "pehe_out" not in m:
            continue
        ds = make_dataset(r.config.task)
        assert ds.potential is not None  # the counterfactual task has it
        pot, train = ds.potential.double().numpy(), ds.train_mask.numpy()
        seed = r.config.task.data_seed
        rows.append(run_row(arm, seed, m, zero_pehe(pot, train), zero_pehe(pot, ~train)))
        m = m[list(METRIC_COLUMNS)].assign(rel_pehe_out=m["pehe_out"] / rows[-1]["zero_pehe_out"])
        frames.append(m.assign(arm=arm, data_seed=seed))
    return rows, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def arm_table(runs: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per arm, the median over realizations of the run summaries (and how many fit)."""
    cols = ["final_train_loss", "final_pehe_in", "final_pehe_out", "final_rel_pehe_out",
            "best_pehe_out", "best_rel_pehe_out", "best_step", "fit_step", "pehe_at_fit",
            "min_pehe_after_fit", "late_gain", "second_descent", "delay", "delay_ratio",
            "final_ate_error_out"]  # fmt: skip
    out = []
    for arm in order:
        g = runs[runs["arm"] == arm]
        if not len(g):
            continue
        fitted = int(g["fit_step"].notna().sum())
        row: dict[str, Any] = {"arm": arm, "runs": len(g), "runs_fit": fitted}
        row.update({c: g[c].median() for c in cols})
        out.append(row)
    return pd.DataFrame(out)


def report(arms: pd.DataFrame, runs: pd.DataFrame, params: Params, minutes: float) -> str:
    lines = [
        "Grokking-like effects in counterfactual inference (Samothrakis et al. 2022, IJCNN)",
        f"task counterfactual (Hill's IHDP surface B, simulated covariates): {params.n_units} "
        f"units, 90% for training; realizations {list(params.realizations)}; MLP of one tanh "
        f"layer of {params.width}, two linear heads, factual squared error, full batch, "
        f"Adam lr 1e-3, {params.steps} steps",
        "fit = factual training loss <= 1 (the outcome noise's variance); PEHE out-of-sample "
        "relative to the zero predictor's sqrt(mean tau^2)",
        "",
    ]
    for _, r in runs.iterrows():
        fit = "never fit below the noise variance"
        if not math.isnan(r["fit_step"]):
            fit = (f"fit at {int(r['fit_step'])}: PEHE_out {r['pehe_at_fit']:.3f} -> min after "
                   f"fit {r['min_pehe_after_fit']:.3f} at {int(r['min_after_fit_step'])} "
                   f"(late gain {r['late_gain']:.3f}; peak between {r['peak_after_fit']:.3f}, "
                   f"second descent {r['second_descent']:.3f})")  # fmt: skip
        lines.append(
            f"{r['arm']:6s} data_seed {int(r['data_seed'])}: final train "
            f"{r['final_train_loss']:.4f}, "
            f"PEHE_in {r['final_pehe_in']:.3f}, PEHE_out {r['final_pehe_out']:.3f} "
            f"(zero predictor {r['zero_pehe_out']:.3f}), best PEHE_out {r['best_pehe_out']:.3f} "
            f"at {int(r['best_step'])}; {fit}"
        )
    lines += ["", "medians over realizations:"]
    for _, a in arms.iterrows():
        lines.append(
            f"{a['arm']:6s}: fit {int(a['runs_fit'])}/{int(a['runs'])}, final PEHE_out "
            f"{a['final_pehe_out']:.3f} (relative {a['final_rel_pehe_out']:.3f}), best "
            f"{a['best_pehe_out']:.3f} (relative {a['best_rel_pehe_out']:.3f}) at step "
            f"{a['best_step']:.0f}, fit step {a['fit_step']:.0f}, late gain {a['late_gain']:.3f}, "
            f"second descent {a['second_descent']:.3f}, delay best - fit {a['delay']:.0f} steps"
        )
    lines += ["", f"study wall time (this invocation): {minutes:.1f} min"]
    return "\n".join(lines) + "\n"


def write_tables(out: Path, params: Params, minutes: float) -> pd.DataFrame:
    """``runs.csv``, ``arms.csv``, ``metrics.csv`` and ``report.txt`` of the runs trained so
    far (every arm's sweep folder that exists); returns the runs table."""
    rows: list[dict[str, Any]] = []
    frames = []
    for arm in params.arms:
        r, m = read_arm(out, arm, params)
        rows += r
        frames.append(m)
    runs = pd.DataFrame(rows)
    metrics = pd.concat(frames, ignore_index=True)
    arms = arm_table(runs, list(params.arms))
    for name, t in {"runs": runs, "arms": arms, "metrics": metrics}.items():
        atomic_write_text(out / f"{name}.csv", t.to_csv(index=False))
    atomic_write_text(out / "report.txt", report(arms, runs, params, minutes))
    return runs


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train each arm's realizations (resumable), rewriting the tables and the report after
    each arm (an interrupted study keeps what finished), then draw the figures."""
    out = Path(out_dir)
    t0 = time.perf_counter()
    for arm in params.arms:
        train_arm(arm_spec(arm, params), out / "sweep" / arm, progress=progress,
                  device=params.device)  # fmt: skip
        runs = write_tables(out, params, (time.perf_counter() - t0) / 60)
    if static is not False:
        metrics = pd.read_csv(out / "metrics.csv")
        write_figure_set({"effects": effects_figure(metrics, list(params.arms))},
                         out / "figures", title="Effect estimates over training",
                         static=static)  # fmt: skip
    return collect(out, data=runs)


STUDY = Study(
    name="counterfactual",
    title="whether and when a two-headed network's treatment-effect estimates grok "
    "(Samothrakis et al. 2022)",
    paper="Samothrakis et al. 2022, IJCNN (not on arXiv)",
    params=Params,
    run=run,
    committed="studies/counterfactual",
    smoke={
        "arms": ["none", "l2"],
        "realizations": [0],
        "n_units": 60,
        "width": 8,
        "steps": 40,
        "log_every": 10,
    },  # fmt: skip
    cards=samothrakis2022.CARDS,
    runtime="28.9 min (3 arms x 3 realizations x 20,000 steps; one of 2 shared cores)",
    threads=1,
)
