"""Deep grokking on CPU: deep MLPs on digits, test accuracy and per-layer feature rank
(Fan, Pascanu & Jaggi 2024, "Deep grokking: would deep neural networks generalize
better?", arXiv 2405.19454).

Their setting: MLPs of 4, 8 and 12 ReLU layers of width 400 on 1,000 MNIST images, a large
initialization (Omnigrok's recipe), MSE loss, Adam with weight decay. They report that deeper
MLPs grok more readily, that the test accuracy of deep ones sometimes rises in two stages,
and that the numerical rank of the intermediate features falls as the network generalizes
(with a double descent in rank where the accuracy has two stages).

Ours, sized for 2 CPU cores: scikit-learn's 8x8 digits (the ``digits`` task, 200 training
images, the other 1,597 for test), MLPs of ``depths`` hidden ReLU layers of width ``width``
(default 128), every initial weight times ``alpha`` (default 2.0: with N(0, 1/fan_in) weights
a ReLU layer scales activations by about ``alpha / sqrt(2)``, so depth multiplies the
output scale; 2.0 is large for 12 layers and modest for 4), MSE against one-hot labels, AdamW
lr 1e-3, betas (0.9, 0.999), weight decay ``weight_decay`` (default 1.0), full batch, no
warm-up. The runs are one sweep (:mod:`grokinterp.sweeps`, ensemble backend).

After training, every checkpoint's features (``blocks.{i}.mlp.hook_post``, every layer) on
the training images and on the test images get their numerical and effective rank
(:mod:`grokinterp.analysis.rank`). Writes into ``out``:

* ``runs.csv``: one row per run: depth, seed, the step train accuracy reaches 99%, the
  test accuracy then, the steps test accuracy first comes within 1% of its final value and
  reaches 50% / 80%, the final and maximal test accuracy, the number of *stages* (surges of
  the test accuracy after train accuracy reached 99%, :func:`count_stages`), and the
  feature rank of the middle layer at the train-99% step and at the end, the mean over
  layers of both, and the Spearman correlation over checkpoints (from the train-99% step
  on) between the mean rank and the test accuracy;
* ``ranks.csv``: one row per (run, split, step, layer): numerical and effective rank, with
  train / test accuracy;
* ``figures/deep_grokking.png`` (and HTML): a column per depth (seed 0): train and test
  accuracy above, every layer's numerical rank (train features) below;
* ``report.txt``: the setup and, per depth, the numbers above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.analysis.rank import feature_rank_table
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import fan2024
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status
from grokinterp.viz.deep import deep_grokking_figure
from grokinterp.viz.report import write_figure_set

TRAIN_SIZE = 200

# a stage: the test accuracy rises by at least STAGE_RISE within STAGE_WINDOW steps; rises
# closer than STAGE_GAP steps apart are one stage
STAGE_RISE = 0.05
STAGE_WINDOW = 250
STAGE_GAP = 500


# where the authors' values of the parameters below were read
_THEIR_FILE = "Olivia-fsm/Deep-Grokking@52a0cab mnist/grokking/train_mnist_mlp.py"


@dataclass(frozen=True)
class Params:
    """The deep-grokking study's parameters (module doc)."""

    depths: tuple[int, ...] = param(
        (4, 8, 12), "numbers of hidden ReLU layers, one run each", paper="4, 8, 12"
    )
    seeds: tuple[int, ...] = param((0, 1), "initialization seeds of every depth")
    steps: int = param(
        10000,
        "full-batch training steps of every run",
        unit="steps",
        paper=f"100000 steps of batch 200 ({_THEIR_FILE}:L314-315)",
    )
    width: int = param(128, "hidden width of every layer", paper="400 (their run scripts)")
    alpha: float = param(
        2.0,
        "init scale: every initial weight times alpha",
        paper=f"8 in their run scripts, 10 by default ({_THEIR_FILE}:L321)",
    )
    weight_decay: float = param(
        1.0, "AdamW's weight decay", paper=f"0.01 ({_THEIR_FILE}:L319)"
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.depths or min(self.depths) < 1:
            raise ConfigError(f"depths must be positive layer counts, got {list(self.depths)}")
        check_nonempty("seeds", self.seeds)
        check_positive("steps", self.steps, minimum=100)
        check_positive("width", self.width)
        if not self.alpha > 0:
            raise ConfigError(f"alpha must be positive, got {self.alpha}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")


def deep_spec(params: Params, train_size: int = TRAIN_SIZE) -> dict[str, Any]:
    """The sweep spec of the study (module doc)."""
    steps, width, alpha = params.steps, params.width, params.alpha
    weight_decay, depths, seeds = params.weight_decay, params.depths, params.seeds
    return {
        "base": {"preset": "quick"},  # every field below is set: the preset is a placeholder
        "overrides": {
            "task.name": "digits", "task.p": None, "task.train_fraction": None,
            "task.train_size": train_size,
            "model.arch": "mlp", "model.mlp_input": "features", "model.d_mlp": width,
            "model.act_fn": "relu", "model.init_scale": alpha,
            "optim.lr": 1e-3, "optim.weight_decay": weight_decay, "optim.beta2": 0.999,
            "optim.warmup_steps": 0, "optim.loss": "mse", "optim.max_steps": steps,
            "schedule.log_every": 25, "schedule.ckpt_log_until": 200,
            "schedule.ckpt_log_count": 4, "schedule.ckpt_every": max(steps // 40, 25),
        },
        "grid": {"n_layers": list(depths)},
        "seeds": list(seeds),
        "backend": "ensemble",
    }  # fmt: skip


def count_stages(
    steps: Sequence[int],
    acc: Sequence[float],
    start: float = 0.0,
    rise: float = STAGE_RISE,
    window: int = STAGE_WINDOW,
    gap: int = STAGE_GAP,
) -> int:
    """Number of surges of an accuracy curve from step ``start`` on (the study passes the
    step train accuracy reaches 99%, so that only delayed rises count: 1 is ordinary
    grokking, 2 or more the multi-stage generalization of Fan et al.): maximal stretches of
    steps ``t`` where the best accuracy so far rises by at least ``rise`` within ``window``
    steps after ``t``, stretches less than ``gap`` steps apart counted as one. The running
    best makes the recovery from a dip (a loss spike) no surge."""
    s = pd.Series(list(acc), index=list(steps), dtype=float).cummax()
    starts: list[int] = []
    last_end: int | None = None
    for t in s.index:
        if t < start:
            continue
        later = s[(s.index > t) & (s.index <= t + window)]
        if not len(later) or float(later.max()) - float(s[t]) < rise:
            continue
        if last_end is None or t - last_end > gap:
            starts.append(int(t))
        last_end = int(t) + window
    return len(starts)


def _first(metrics: pd.DataFrame, col: str, at: float) -> float:
    hit = metrics.loc[metrics[col] >= at, "step"]
    return float(hit.iloc[0]) if len(hit) else math.nan


def _spearman(a: pd.Series, b: pd.Series) -> float:
    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return math.nan
    return float(a.rank().corr(b.rank()))


def run_row(run: Run, ranks: pd.DataFrame) -> dict[str, Any]:
    """The ``runs.csv`` row of one run from its metrics and its train-feature ranks."""
    m = run.metrics
    cfg = run.config
    final = float(m["test_acc"].iloc[-1])
    t99 = _first(m, "train_acc", 0.99)
    at_t99 = float(m.loc[m["step"] >= t99, "test_acc"].iloc[0]) if t99 == t99 else math.nan
    near = m.loc[m["test_acc"] >= final - 0.01, "step"]
    r = ranks[ranks["split"] == "train"]
    mid = cfg.model.n_layers // 2
    mean_rank = r.groupby("step")["numerical_rank"].mean()
    acc = r.groupby("step")["test_acc"].first()
    after = mean_rank.index >= (t99 if t99 == t99 else math.inf)
    ckpt_at_t99 = [s for s in mean_rank.index if s >= t99] if t99 == t99 else []

    def mid_rank(step: float) -> float:
        x = r[(r["step"] == step) & (r["layer"] == mid)]["numerical_rank"]
        return float(x.iloc[0]) if len(x) else math.nan

    first_ckpt = ckpt_at_t99[0] if ckpt_at_t99 else math.nan
    last_ckpt = float(mean_rank.index[-1])
    return {
        "depth": cfg.model.n_layers,
        "seed": cfg.seed,
        "steps": int(m["step"].iloc[-1]),
        "train_99_step": t99,
        "test_acc_at_train_99": at_t99,
        "test_50_step": _first(m, "test_acc", 0.5),
        "test_80_step": _first(m, "test_acc", 0.8),
        "test_final_minus_1pct_step": float(near.iloc[0]) if len(near) else math.nan,
        "final_test_acc": final,
        "max_test_acc": float(m["test_acc"].max()),
        "stages": count_stages(m["step"].tolist(), m["test_acc"].tolist(), start=t99)
        if t99 == t99
        else 0,
        "mid_layer": mid,
        "mid_rank_at_train_99": mid_rank(first_ckpt),
        "mid_rank_final": mid_rank(last_ckpt),
        "mean_rank_at_train_99": float(mean_rank.get(first_ckpt, math.nan)),
        "mean_rank_final": float(mean_rank.iloc[-1]),
        "rank_acc_spearman": _spearman(mean_rank[after], acc[after]),
    }


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the sweep (resuming a killed one), measure the ranks, write the tables, the
    figure and the report (module doc); ``data`` is ``(runs, ranks)``."""
    out = Path(out_dir)
    spec = deep_spec(params)
    run_sweep(spec, out / "sweep", backend="ensemble", progress=progress)
    rank_tables = []
    for r in expand(spec):
        run_dir = out / "sweep" / "runs" / r.name
        if read_status(run_dir).get("status") != "done":
            continue
        run = Run(run_dir)
        per_split = []
        for split in ("train", "test"):
            t = feature_rank_table(run, split=split)
            t.insert(0, "split", split)
            per_split.append(t)
        ranks = pd.concat(per_split, ignore_index=True)
        ranks.insert(0, "seed", r.config.seed)
        ranks.insert(0, "depth", r.config.model.n_layers)
        rank_tables.append(ranks)
    ranks = pd.concat(rank_tables, ignore_index=True) if rank_tables else pd.DataFrame()
    atomic_write_text(out / "ranks.csv", ranks.to_csv(index=False))
    return collect(out, data=(write_results(out, spec, ranks, static), ranks))


def write_results(
    out: Path, spec: dict[str, Any], ranks: pd.DataFrame, static: bool | None = None
) -> pd.DataFrame:
    """``runs.csv``, ``traces.csv``, the figure and the report from the finished runs of
    ``spec`` under ``out/sweep`` and their ``ranks`` (``ranks.csv``); returns ``runs``."""
    rows = []
    for r in expand(spec):
        run_dir = out / "sweep" / "runs" / r.name
        mine = ranks[(ranks["depth"] == r.config.model.n_layers) & (ranks["seed"] == r.config.seed)]
        if read_status(run_dir).get("status") == "done" and len(mine):
            rows.append(run_row(Run(run_dir), mine))
    runs = pd.DataFrame(rows)
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    if len(runs):
        traces = _traces(out, spec)
        fig = deep_grokking_figure(traces, ranks, seed=min(spec["seeds"]))
        write_figure_set({"deep_grokking": fig}, out / "figures", "Deep grokking", static)
        atomic_write_text(out / "traces.csv", traces.to_csv(index=False))
    atomic_write_text(out / "report.txt", report(runs, spec))
    return runs


def _traces(out: Path, spec: dict[str, Any]) -> pd.DataFrame:
    """Every run's logged train / test accuracy, one row per logged step."""
    parts = []
    for r in expand(spec):
        run_dir = out / "sweep" / "runs" / r.name
        if not (run_dir / layout.METRICS).is_file():
            continue
        m = Run(run_dir).metrics[["step", "train_acc", "test_acc", "train_loss", "param_norm"]]
        m.insert(0, "seed", r.config.seed)
        m.insert(0, "depth", r.config.model.n_layers)
        parts.append(m)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def report(runs: pd.DataFrame, spec: dict[str, Any]) -> str:
    """The setup and one line per run (module doc)."""
    o = spec["overrides"]
    lines = [
        "Deep grokking (Fan, Pascanu & Jaggi 2024, arXiv 2405.19454) on digits",
        f"setup: {o['task.train_size']} training images, MLP width {o['model.d_mlp']}, init "
        f"scale {o['model.init_scale']}, MSE, AdamW lr 1e-3 weight decay "
        f"{o['optim.weight_decay']}, {o['optim.max_steps']} full-batch steps; depths "
        f"{spec['grid']['n_layers']}, seeds {spec['seeds']}",
        "rank: numerical rank of H^T H (rtol = d * eps(float32)) of each layer's features on "
        "the training images",
        "",
    ]
    if not len(runs):
        return "\n".join(lines + ["no finished runs"]) + "\n"
    for _, r in runs.sort_values(["depth", "seed"]).iterrows():
        lines.append(
            f"depth {int(r['depth']):2d} seed {int(r['seed'])}: train 99% at "
            f"{r['train_99_step']:.0f} (test {r['test_acc_at_train_99']:.3f}); test 80% at "
            f"{r['test_80_step']:.0f}, within 1% of final at "
            f"{r['test_final_minus_1pct_step']:.0f}; final test {r['final_test_acc']:.3f}; "
            f"stages {int(r['stages'])}; mean rank {r['mean_rank_at_train_99']:.1f} -> "
            f"{r['mean_rank_final']:.1f} (layer {int(r['mid_layer'])}: "
            f"{r['mid_rank_at_train_99']:.0f} -> {r['mid_rank_final']:.0f}); "
            f"Spearman(rank, test acc) {r['rank_acc_spearman']:.2f}"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="deep-grokking",
    title="deep MLPs on digits: test accuracy and per-layer feature rank",
    paper="Fan, Pascanu & Jaggi 2024, arXiv 2405.19454",
    params=Params,
    run=run,
    committed="studies/deep_grokking",
    smoke={"depths": [1, 2], "seeds": [0], "steps": 100, "width": 8},
    cards=fan2024.CARDS,
    runtime="3.9 min",
    threads=1,  # the committed run trained with one thread on 2 shared cores
)
