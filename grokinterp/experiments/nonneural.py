"""Grokking beyond neural networks: the study of Miller, O'Neill and Bui 2024 (arXiv
2310.17247) with our non-neural trainer.

They report that a variational GP classifier on concealed parity, and a linear model on
their ``linear_features`` task, reach full training accuracy long before full test
accuracy, and that the gap follows the model's complexity term: the generalizing solution
is the low-complexity one, reached late. They also report that concealment (more random
bits appended to the parity bits) lengthens the gap. The study (:func:`run`) trains

* the GP (preset ``miller_gp``) at several ``n_bits`` (the concealment), for several seeds
  (``seed``, ``data_seed`` and ``split_seed`` all set to the seed), for ``gp_steps`` steps;
* the linear model (preset ``miller_linear``, their settings) for several seeds;

and writes ``summary.csv`` (one row per run: the steps where train and test accuracy first
reach 99%, the delay between them, final accuracies, the step of the complexity term's
peak), ``metrics.csv`` (every logged step of every run), ``report.txt`` and ``figures/``
into ``out_dir``. The run directories go to ``out_dir/runs`` (ordinary run directories:
``grokinterp.Run`` opens them); a run already complete there is not trained again.

Differences from their experiments: the GP runs for ``gp_steps`` (default 300) instead of
their 500 steps, logging every second step, to fit the study in minutes on 2 CPU cores; its
linear algebra is exact (Cholesky) where theirs used GPyTorch's iterative default; the seeds
are ours (they used 42, 52, 62, 72, 82 for the GP and 0-4 for the linear model). The
sweep engine (:mod:`grokinterp.sweeps`) trains neural runs only, so the runs here
are trained one after another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import miller2024
from grokinterp.experiments.contract import Study, StudyResult, check_positive, collect, param
from grokinterp.presets import get_nonneural_preset
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.metrics import landmarks
from grokinterp.runs.run import Run
from grokinterp.training.nonneural import train_nonneural
from grokinterp.viz.nonneural import nonneural_figures
from grokinterp.viz.report import write_figure_set

THRESHOLD = 0.99
METRIC_COLUMNS = [
    "step",
    "train_acc",
    "test_acc",
    "train_loss",
    "test_loss",
    "data_fit",
    "complexity",
    "objective",
    "param_norm",
    "lengthscale_relevant",
    "lengthscale_concealed",
    "outputscale",
    "weight_relevant",
    "weight_other",
]


def _check(n_bits: Sequence[int], gp_steps: int) -> None:
    if not n_bits or any(b < 3 for b in n_bits):
        raise ConfigError(
            f"n_bits: give bit-string lengths >= 3 (3 parity bits), got {list(n_bits)}"
        )
    check_positive("gp_steps", gp_steps)


def study_configs(
    n_bits: Sequence[int], gp_seeds: Sequence[int], linear_seeds: Sequence[int], gp_steps: int
) -> dict[str, TrainConfig]:
    """``{run name: config}`` of every run of the study."""
    _check(n_bits, gp_steps)
    out: dict[str, TrainConfig] = {}
    gp, lin = get_nonneural_preset("miller_gp"), get_nonneural_preset("miller_linear")
    for bits in n_bits:
        for s in gp_seeds:
            out[f"gp_bits={bits},seed={s}"] = replace(
                gp,
                {
                    "task": {"n_bits": bits, "data_seed": s, "split_seed": s},
                    "optim": {"max_steps": gp_steps},
                    "schedule": {"log_every": 2, "ckpt_log_count": 4, "ckpt_every": 100},
                    "": {"seed": s},
                },
            )
    for s in linear_seeds:
        out[f"linear_seed={s}"] = replace(
            lin, {"task": {"data_seed": s, "split_seed": s}, "": {"seed": s}}
        )
    return out


def _complete(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds this config's run, trained to the end."""
    if not (run_dir / layout.CONFIG).exists():
        return False
    run = Run(run_dir)
    if run.config.to_dict() != cfg.to_dict():
        return False
    m = layout.read_metrics(run_dir)
    return bool(m) and m[-1]["step"] == cfg.optim.max_steps


def summarize(name: str, cfg: TrainConfig, metrics: pd.DataFrame) -> dict[str, Any]:
    """One summary row: landmarks at 99% accuracy, final values, the complexity's peak."""
    lm = landmarks(metrics, THRESHOLD)
    peak = metrics.iloc[int(metrics["complexity"].to_numpy().argmax())]
    last = metrics.iloc[-1]
    return {
        "run": name,
        "model": cfg.model.arch,
        "n_bits": cfg.task.n_bits,
        "seed": cfg.seed,
        "train_step": lm.train_step,
        "test_step": lm.test_step,
        "delay": lm.delay,
        "final_train_acc": float(last["train_acc"]),
        "final_test_acc": float(last["test_acc"]),
        "complexity_peak_step": int(peak["step"]),
        "complexity_peak": float(peak["complexity"]),
        "final_complexity": float(last["complexity"]),
    }


@dataclass(frozen=True)
class Params:
    """The non-neural study's parameters (module doc)."""

    n_bits: tuple[int, ...] = param(
        (10, 20, 40, 80), "bit-string lengths of the GP runs (3 parity bits each)", unit="bits"
    )
    gp_seeds: tuple[int, ...] = param(
        (0, 1, 2), "seeds of the GP runs (none: no GP runs)", paper="42, 52, 62, 72, 82"
    )
    linear_seeds: tuple[int, ...] = param(
        (0, 1, 2, 3, 4), "seeds of the linear-model runs (none: no linear runs)", paper="0-4"
    )
    gp_steps: int = param(300, "GP training steps", unit="steps", paper="500")

    def __post_init__(self) -> None:
        _check(self.n_bits, self.gp_steps)
        if not self.gp_seeds and not self.linear_seeds:
            raise ConfigError("gp_seeds, linear_seeds: give seeds for at least one of them")


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train every run (skipping complete ones), write the tables, report and figures
    (module doc); ``data`` is the summary table. The GP runs need GPyTorch (the ``gp``
    extra); with ``gp_seeds=()`` the linear runs alone need nothing more."""
    configs = study_configs(params.n_bits, params.gp_seeds, params.linear_seeds, params.gp_steps)
    out = Path(out_dir)
    rows, tables = [], []
    for name, cfg in configs.items():
        run_dir = out / "runs" / name
        if not _complete(run_dir, cfg):
            train_nonneural(cfg, run_dir, force=True, progress=progress)
        m = Run(run_dir).metrics
        rows.append(summarize(name, cfg, m))
        cols = [c for c in METRIC_COLUMNS if c in m]
        tables.append(
            m[cols].assign(run=name, model=cfg.model.arch, n_bits=cfg.task.n_bits, seed=cfg.seed)
        )
    summary = pd.DataFrame(rows)
    metrics = pd.concat(tables, ignore_index=True)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(out / "metrics.csv", metrics.to_csv(index=False))
    write_figure_set(
        nonneural_figures(metrics, summary),
        out / "figures",
        title="Grokking beyond neural networks",
        static=static,
    )
    atomic_write_text(out / "report.txt", report(summary))
    return collect(out, data=summary)


def report(summary: pd.DataFrame) -> str:
    """The summary as text: one line per run, then the per-setting medians."""

    def fmt(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and v != v) else str(int(v))

    lines = [
        "Non-neural grokking (Miller et al. 2024; grokinterp.experiments.nonneural)",
        f"steps at which train / test accuracy first reach {THRESHOLD:.0%}",
        "run                      train_step  test_step  delay  final_test  complexity_peak_step",
    ]
    for r in summary.to_dict("records"):
        lines.append(
            f"{r['run']:<24} {fmt(r['train_step']):>10} {fmt(r['test_step']):>10} "
            f"{fmt(r['delay']):>6}  {r['final_test_acc']:>10.3f}  "
            f"{fmt(r['complexity_peak_step']):>20}"
        )
    lines.append("median delay per setting (runs that reached 99% test accuracy / all)")
    key = summary["model"] + summary["n_bits"].map(
        lambda b: "" if pd.isna(b) else f" {int(b)} bits"
    )
    for k, g in summary.groupby(key, sort=False):
        done = g["delay"].dropna()
        med = f"{done.median():g}" if len(done) else "-"
        lines.append(f"  {k:<16} {med:>8}  ({len(done)}/{len(g)})")
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="nonneural",
    title="grokking in a GP classifier and a linear model",
    paper="Miller, O'Neill & Bui 2024, arXiv 2310.17247",
    params=Params,
    run=run,
    committed="studies/nonneural",
    smoke={"n_bits": [10], "gp_seeds": [0], "linear_seeds": [0], "gp_steps": 10},
    needs=("gpytorch",),  # its GP runs: the gp extra
    cards=miller2024.CARDS,
    runtime="about 12 min",
)
