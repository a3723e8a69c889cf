"""Grokking as the transition from lazy to rich training (Kumar, Bordelon, Gershman & Pehlevan,
ICLR 2024, arXiv 2310.06110; no code released that we could find).

Their claim: a network that starts in the lazy (kernel) regime first fits its training set
with its initial features, then learns features late, and generalizes then; the output scale
alpha controls how lazy it starts (large alpha: a longer delay between the fall of the train
and of the test loss, and in the limit the initial kernel's poor solution; small alpha: no
delay). Their modular-arithmetic network (App. 8.3, p. 13-14): a two-layer perceptron on the
concatenated one-hot vectors of a and b (D = 2p), N = 100 hidden units, p = 23, 90% of the
pairs for training, MSE on the one-hot answer, vanilla full-batch gradient descent with
learning rate 100, no weight decay; the output scaled as in App. 8.1 (p. 13, Eq. 7): the
predictor ``alpha (f(x; theta) - f(x; theta_0))`` with learning rate ``eta_0 / alpha^2``.

This study trains that network for each alpha of ``alphas`` and each seed (an arm per alpha,
its seeds one ensemble: :mod:`grokinterp.experiments.arms`), with our options
``model.output_scale``, ``model.center_output`` and ``optim.optimizer = "sgd"``, and at every
checkpoint reads the trace NTK on a fixed sample of pairs, its distance from the initial
kernel and its centered alignment with the labels (:func:`grokinterp.analysis.kernels.
ntk_table`; the network's own NTK: the centered predictor's is alpha^2 times it, which
neither measure sees). It writes:

* ``metrics.csv``: every logged line of every run (train / test loss and accuracy, the
  parameter norm), columns ``alpha`` and ``seed`` added;
* ``kernels.csv``: per checkpoint of every run, ``kernel_distance``, ``kernel_alignment``,
  ``kernel_norm`` and the metrics logged there;
* ``runs.csv``: per run, the first logged step where the training accuracy reaches
  ``train_level`` (``fit_step``) and where the test accuracy reaches ``test_level``
  (``generalize_step``), their difference (``delay``; inf where the test accuracy never got
  there within the budget), the kernel distance and alignment at the first checkpoint at or
  after each of those steps, and the parameter norm at the start and the end;
* ``alphas.csv``: per alpha, the medians over seeds;
* ``report.txt`` and ``figures/``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from grokinterp.analysis.kernels import ntk_table
from grokinterp.analysis.milestones import first_step
from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import arm_spec, train_arm
from grokinterp.experiments.cards import kumar2024
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_ascending,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status
from grokinterp.viz.lazy_rich import lazy_rich_figures
from grokinterp.viz.report import write_figure_set


@dataclass(frozen=True)
class Params:
    """The lazy-rich study's parameters (module doc)."""

    p: int = param(23, "the modulus of a + b mod p", paper="23 (App. 8.3, p. 14)")
    width: int = param(100, "hidden units N", paper="100 (App. 8.3, p. 14)")
    train_fraction: float = param(0.9, "fraction of all pairs for training",
                                  paper="0.9 (App. 8.3, p. 14)")  # fmt: skip
    eta0: float = param(100.0, "gradient descent's learning rate at alpha = 1; each arm "
                        "trains at eta0 / alpha^2", paper="100 (App. 8.3), rescaled "
                        "eta_0 / alpha^2 (App. 8.1, p. 13)")  # fmt: skip
    alphas: tuple[float, ...] = param(
        (1.0, 2.0, 3.0, 4.0, 6.0, 10.0), "output scales alpha, one arm each (ours: the "
        "values of their Fig. 2c sweep could not be read)",
    )  # fmt: skip
    seeds: tuple[int, ...] = param((0, 1, 2), "initialization seeds (the split is fixed)")
    steps: int = param(20000, "full-batch updates per run at most (our budget: their step "
                       "count is on a figure axis we could not read)", unit="steps")  # fmt: skip
    stop_patience: int = param(500, "a run stops this many steps after its test accuracy "
                               "first reaches 99% (our budget rule)", unit="steps")  # fmt: skip
    train_level: float = param(0.99, "training accuracy that counts as fitting the training "
                               "set (ours)")  # fmt: skip
    test_level: float = param(0.9, "test accuracy that counts as generalizing (ours)")
    ntk_points: int = param(128, "pairs (train and test alike, a fixed seeded sample) the "
                            "NTK is computed on at every checkpoint", unit="pairs")  # fmt: skip
    backend: Literal["ensemble", "local"] = param("ensemble", "sweep backend")
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        check_positive("p", self.p, minimum=3)
        check_positive("width", self.width)
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        if not (self.eta0 > 0 and math.isfinite(self.eta0)):
            raise ConfigError(f"eta0 must be positive and finite, got {self.eta0}")
        check_ascending("alphas", self.alphas, minimum=1e-6)
        if not all(math.isfinite(a) for a in self.alphas):
            raise ConfigError(f"alphas: give finite values, got {list(self.alphas)}")
        check_nonempty("seeds", self.seeds)
        check_positive("steps", self.steps)
        check_positive("stop_patience", self.stop_patience, minimum=0)
        for name in ("train_level", "test_level"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1], got {v}")
        check_positive("ntk_points", self.ntk_points, minimum=2)


def arm_name(alpha: float) -> str:
    """The arm (sweep folder) of one output scale: ``alpha1``, ``alpha2.5``."""
    return f"alpha{alpha:g}"


def specs(params: Params) -> dict[str, dict[str, Any]]:
    """Each alpha's sweep spec over the seeds: their network and optimizer (module doc)."""
    n = params.steps
    common = {
        "task.name": "add", "task.p": params.p, "task.train_fraction": params.train_fraction,
        "model.arch": "mlp", "model.mlp_input": "onehot", "model.act_fn": "quadratic",
        "model.n_layers": 1, "model.d_mlp": params.width, "model.mlp_bias": False,
        "model.center_output": True,
        "optim.loss": "mse", "optim.optimizer": "sgd", "optim.weight_decay": 0.0,
        "optim.warmup_steps": 0, "optim.max_steps": n, "optim.stop_acc": 0.99,
        "optim.stop_patience": params.stop_patience,
        "schedule.log_every": 10, "schedule.ckpt_log_until": min(1000, n),
        "schedule.ckpt_log_count": 12, "schedule.ckpt_every": max(n // 20, 1),
        "schedule.early_loss_steps": 0,
    }  # fmt: skip
    return {
        arm_name(a): arm_spec(
            {"preset": "quick"},
            common,
            {"model.output_scale": a, "optim.lr": params.eta0 / a**2},
            params.seeds,
            params.backend,
        )  # fmt: skip
        for a in params.alphas
    }


def _at(kernels: pd.DataFrame, step: int | None, column: str) -> float:
    """``column`` at the first checkpoint at or after ``step`` (NaN: none, or no step)."""
    if step is None:
        return math.nan
    rows = kernels[kernels["step"] >= step]
    return float(rows[column].iloc[0]) if len(rows) else math.nan


def run_row(alpha: float, seed: int, metrics: pd.DataFrame, kernels: pd.DataFrame,
            params: Params) -> dict[str, Any]:  # fmt: skip
    """One run's row of ``runs.csv`` (module doc) from its metrics and its kernel table."""
    fit = first_step(metrics, "train_acc", params.train_level)
    gen = first_step(metrics, "test_acc", params.test_level)
    if fit is not None and gen is not None:
        delay = float(gen - fit)
    else:
        delay = math.inf if fit is not None else math.nan
    return {
        "alpha": alpha, "seed": seed, "steps": int(metrics["step"].iloc[-1]),
        "fit_step": fit, "generalize_step": gen, "delay": delay,
        "final_train_acc": float(metrics["train_acc"].iloc[-1]),
        "final_test_acc": float(metrics["test_acc"].iloc[-1]),
        "param_norm_start": float(metrics["param_norm"].iloc[0]),
        "param_norm_end": float(metrics["param_norm"].iloc[-1]),
        "kernel_distance_fit": _at(kernels, fit, "kernel_distance"),
        "kernel_distance_generalize": _at(kernels, gen, "kernel_distance"),
        "kernel_distance_end": float(kernels["kernel_distance"].iloc[-1]),
        "kernel_alignment_start": float(kernels["kernel_alignment"].iloc[0]),
        "kernel_alignment_fit": _at(kernels, fit, "kernel_alignment"),
        "kernel_alignment_generalize": _at(kernels, gen, "kernel_alignment"),
        "kernel_alignment_end": float(kernels["kernel_alignment"].iloc[-1]),
    }  # fmt: skip


ALPHA_COLUMNS = (
    "fit_step", "generalize_step", "delay", "final_test_acc", "kernel_distance_fit",
    "kernel_distance_generalize", "kernel_distance_end", "kernel_alignment_start",
    "kernel_alignment_fit", "kernel_alignment_generalize",
)  # fmt: skip


def alpha_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per alpha: the runs, how many diverged (left out of the rest), how many generalized,
    and the median over the others of each of :data:`ALPHA_COLUMNS` (a delay of a run that
    never generalized counts as inf)."""
    out = []
    for alpha, every in runs.groupby("alpha", sort=True):
        g = every[every["status"] != "diverged"] if "status" in every else every
        row: dict[str, Any] = {"alpha": alpha, "runs": len(every),
                               "diverged": len(every) - len(g),
                               "generalized": int(g["generalize_step"].notna().sum())}  # fmt: skip
        for c in ALPHA_COLUMNS:
            v = g[c].astype(float)
            row[c] = float(v.median()) if v.notna().any() else math.nan
        out.append(row)
    return pd.DataFrame(out)


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train every arm (resumably), read the kernels of every checkpoint, write the tables,
    figures and report (module doc); ``data`` is ``(runs, alphas)``."""
    out = Path(out_dir)
    t0 = time.perf_counter()
    all_specs = specs(params)
    for arm, spec in all_specs.items():
        train_arm(spec, out / "sweep" / arm, progress=progress, device=params.device)
    trained_s = time.perf_counter() - t0
    rows, metrics, kernels = [], [], []
    for alpha, (arm, spec) in zip(params.alphas, all_specs.items(), strict=True):
        for r in expand(spec):
            run_ = Run(out / "sweep" / arm / "runs" / r.name)
            m = pd.DataFrame(layout.read_metrics(run_.path))
            status = read_status(run_.path)["status"]
            if status == "diverged":  # its last weights are not finite: no kernel, no row
                rows.append({"alpha": alpha, "seed": r.config.seed, "status": status,
                             "steps": int(m["step"].iloc[-1])})  # fmt: skip
                continue
            k = ntk_table(run_, n_points=params.ntk_points)
            rows.append({**run_row(alpha, r.config.seed, m, k, params), "status": status})
            metrics.append(m[["step", "train_loss", "test_loss", "train_acc", "test_acc",
                              "param_norm"]].assign(alpha=alpha, seed=r.config.seed))  # fmt: skip
            kernels.append(k.assign(alpha=alpha, seed=r.config.seed))
    runs = pd.DataFrame(rows)
    alphas = alpha_table(runs)
    metrics_t, kernels_t = pd.concat(metrics, ignore_index=True), pd.concat(kernels)
    for name, table in (("runs", runs), ("alphas", alphas), ("metrics", metrics_t),
                        ("kernels", kernels_t)):  # fmt: skip
        atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
    write_figure_set(lazy_rich_figures(metrics_t, kernels_t, alphas), out / "figures",
                     title="Lazy to rich (Kumar et al. 2024)", static=static)  # fmt: skip
    minutes = ((time.perf_counter() - t0) / 60, trained_s / 60)
    atomic_write_text(out / "report.txt", report(runs, alphas, params, minutes))
    return collect(out, data=(runs, alphas))


def _step(v: Any) -> str:
    return "never" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0f}"


def report(runs: pd.DataFrame, alphas: pd.DataFrame, params: Params,
           minutes: tuple[float, float]) -> str:  # fmt: skip
    """The tables as text, with the card's readings."""
    lines = [
        "Lazy to rich: the output scale alpha and the grokking delay (Kumar et al. 2024)",
        f"a + b mod {params.p}, {params.train_fraction:.0%} train, one-hot pairs, "
        f"{params.width} x^2 units, MSE, full-batch GD at {params.eta0:g} / alpha^2, no weight "
        f"decay, centered predictor alpha (f - f_0); at most {params.steps} steps",
        f"fit: train acc >= {params.train_level:g}; generalize: test acc >= "
        f"{params.test_level:g}; kernel: trace NTK on {params.ntk_points} pairs",
        "",
        "alpha  runs  div  gen  fit   gen    delay  test_end  kd@fit  kd@gen  kd@end  "
        "al@0   al@fit  al@gen",
    ]
    for _, r in alphas.iterrows():
        lines.append(
            f"{r['alpha']:<6g} {int(r['runs']):>4} {int(r['diverged']):>4} "
            f"{int(r['generalized']):>4} "
            f"{_step(r['fit_step']):>5} {_step(r['generalize_step']):>6} "
            f"{r['delay']:>6.0f}  {r['final_test_acc']:>8.3f}  {r['kernel_distance_fit']:>6.3f}"
            f"  {r['kernel_distance_generalize']:>6.3f}  {r['kernel_distance_end']:>6.3f}  "
            f"{r['kernel_alignment_start']:>5.3f}  {r['kernel_alignment_fit']:>6.3f}  "
            f"{r['kernel_alignment_generalize']:>6.3f}"
        )
    lines += ["", "(medians over the seeds that did not diverge; div: runs whose loss became "
              "NaN, left out; kd: kernel distance from step 0; al: kernel-label alignment; a "
              "run that never generalized has delay inf)", ""]  # fmt: skip
    ratio = (runs["param_norm_end"] / runs["param_norm_start"]).min()
    lines.append(f"parameter norm end / start, smallest over runs: {ratio:.3f}")
    for reading in kumar2024.readings(runs, alphas):
        lines.append(reading)
    lines.append("")
    lines.append(f"runtime: {minutes[0]:.1f} min ({minutes[1]:.1f} min training, this session)")
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="lazy-rich",
    title="the output scale alpha against the grokking delay, kernel distance and alignment",
    paper="Kumar et al. 2024, arXiv 2310.06110",
    params=Params,
    run=run,
    committed="studies/lazy_rich",
    smoke={
        "p": 7,
        "width": 8,
        "eta0": 5.0,
        "alphas": [1.0, 4.0],
        "seeds": [0],
        "steps": 30,
        "ntk_points": 16,
    },  # fmt: skip
    cards=kumar2024.CARDS,
    runtime="5 min (one of 2 shared cores)",
    threads=1,
)
