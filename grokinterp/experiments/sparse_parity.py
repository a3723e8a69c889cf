"""Sparse parity: the grokking delay against the input length n at k = 3 (Barak, Edelman,
Goel, Kakade, Malach & Zhang 2022, "Hidden progress in deep learning: SGD learns parities
near the computational limit", arXiv 2207.08799; Pearce, Ghandeharioun, Hussein, Thain,
Wattenberg & Dixon 2023, the PAIR explorable "Do machine learning models memorize or
generalize?").

The claims. Barak et al.: networks trained by SGD learn the (n, k)-sparse parity with a long
plateau and a sharp transition, in a number of steps that grows as n^{O(k)} ("t_c <= c
n^{alpha k} <= 10^5 steps, for small architecture-dependent constants c, alpha", Sec. 3,
p. 6; online SGD, fresh batches every step); on a *finite* sample, with weight decay, the
same networks first overfit and generalize much later: grokking (Sec. 5, p. 10; Appendix
C.5, Figures 4 and 15: a width-100 ReLU MLP, hinge loss, SGD lr 0.1, batch 32). The PAIR
explorable trains a one-layer MLP on n = 30 bits, k = 3, on a fixed set of training strings
with weight decay, and it groks: its sweep (``_P source/grokking/sweep-sparse-parity/
hyper_shared.json`` and ``data__hypers_sparse_parity_v4.csv``, 9 seeds per cell) has width
64, AdamW lr 3e-3, betas (0.99, 0.98), cross-entropy, full batch, 20,000 steps; at 1,000
training strings every run of weight decay 0.03, 0.1 and 0.3 generalized (9 of 9 each).

This study trains that PAIR configuration (width ``width``, weight decay ``weight_decay``,
``train_size`` training strings, full batch) on the ``sparse_parity`` task
(:mod:`grokinterp.tasks.samples`: signs in {-1, +1}, a seeded relevant set S of k bits, the
label the parity of S, distinct strings so that no test string is a training string) for
each n of ``n_bits``, the one knob scaled, and each seed of ``seeds`` (the initialization;
the data, and so S, is ``data_seed`` 0 for every seed). A run stops ``patience`` updates
after its test accuracy first reaches 99%, or at ``steps``. Per run it reads the step the
training accuracy first reaches 99% (t_fit), the step the test accuracy does (t_gen), and
the grokking delay t_gen - t_fit; per checkpoint, the share of the first layer's weight on
the relevant inputs (:func:`grokinterp.analysis.parity.relevant_weight_share`: k / n for a
layer blind to S, 1 for one that reads only S). Then it fits t_gen and the delay as power
laws of n (least squares on log-log over the n where every seed generalized).

Writes into ``out_dir``: ``runs.csv`` (one row per run), ``scaling.csv`` (per n: medians,
how many generalized), ``fits.csv`` (the exponents), ``traces.csv`` (accuracy per logged
step), ``shares.csv`` (relevant weight share per checkpoint), ``report.txt``, ``figures/``;
the runs in ``sweep/`` (not committed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grokinterp.analysis.parity import FIRST_LAYER, relevant_weight_share
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import barak2022, pearce2023
from grokinterp.experiments.contract import (
    REPORT,
    Study,
    StudyResult,
    check_ascending,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status
from grokinterp.viz.report import write_figure_set
from grokinterp.viz.sparse_parity import sparse_parity_figure

THRESHOLD = 0.99  # "fit" and "generalized": accuracy >= 99%
LR, BETAS = 3e-3, (0.99, 0.98)  # the PAIR sweep's hyper_shared.json
_P = "PAIR-code/ai-explorables@64ac8eb source/grokking/sweep-sparse-parity"


@dataclass(frozen=True)
class Params:
    """The sparse-parity study's parameters (module doc)."""

    n_bits: tuple[int, ...] = param(
        (12, 15, 18, 21, 24, 27, 30, 36, 42),
        "input lengths n (the one knob scaled), one set of runs each",
        paper="30 (PAIR hyper_shared.json); Barak et al. n in {10, 20, 30} (Sec. 3, p. 6)",
    )
    parity_bits: int = param(3, "k, the number of relevant bits", paper="3")
    seeds: tuple[int, ...] = param(
        (0, 1, 2, 3, 4), "initialization seeds of every n", paper="9 (PAIR)"
    )
    train_size: int = param(
        1000, "training strings", unit="strings", paper="750-1750 (PAIR v4 sweep)"
    )
    test_size: int = param(
        1000, "held-out strings", unit="strings", paper="5000 (PAIR hyper_shared.json)"
    )
    width: int = param(64, "hidden ReLU units of the one-hidden-layer MLP", paper="64 (PAIR)")
    weight_decay: float = param(
        0.1, "AdamW's decoupled weight decay", paper="0.01-1 (PAIR v4 sweep)"
    )
    steps: int = param(
        20000, "full-batch updates at most", unit="steps", paper="20000 (PAIR max_steps)"
    )
    patience: int = param(
        20000,
        "updates a run goes on after its test accuracy first reaches 99% (at least steps: "
        "every run trains the whole budget, so the weights' cleanup is seen)",
        unit="steps",
    )

    def __post_init__(self) -> None:
        check_ascending("n_bits", self.n_bits, minimum=2)
        check_nonempty("seeds", self.seeds)
        check_positive("parity_bits", self.parity_bits)
        if self.parity_bits > min(self.n_bits):
            raise ConfigError(
                f"parity_bits ({self.parity_bits}) must be at most the smallest n_bits "
                f"({min(self.n_bits)})"
            )
        check_positive("train_size", self.train_size)
        check_positive("test_size", self.test_size)
        need = self.train_size + self.test_size
        if need > 2 ** min(self.n_bits):
            raise ConfigError(
                f"n_bits: {min(self.n_bits)} bits have only {2 ** min(self.n_bits)} distinct "
                f"strings, fewer than train_size + test_size = {need}; raise the smallest n"
            )
        check_positive("width", self.width)
        check_positive("steps", self.steps, minimum=10)
        check_positive("patience", self.patience, minimum=0)
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")


def parity_spec(params: Params) -> dict[str, Any]:
    """The sweep spec of the study (module doc): one ensemble per n."""
    p = params
    return {
        "base": {"preset": "quick"},  # every field below is set: the preset is a placeholder
        "overrides": {
            "task.name": "sparse_parity", "task.parity_bits": p.parity_bits,
            "task.n_samples": p.train_size + p.test_size, "task.train_size": p.train_size,
            "task.data_seed": 0, "task.n_bits": p.n_bits[0],  # each n of the grid replaces it
            "model.arch": "mlp", "model.mlp_input": "features", "model.n_layers": 1,
            "model.d_mlp": p.width, "model.act_fn": "relu",
            "optim.lr": LR, "optim.beta1": BETAS[0], "optim.beta2": BETAS[1],
            "optim.weight_decay": p.weight_decay, "optim.warmup_steps": 0,
            "optim.max_steps": p.steps, "optim.stop_acc": THRESHOLD,
            "optim.stop_patience": p.patience,
            "schedule.log_every": 25, "schedule.ckpt_log_until": 200,
            "schedule.ckpt_log_count": 4, "schedule.ckpt_every": max(p.steps // 40, 25),
        },
        "grid": {"task.n_bits": list(p.n_bits)},
        "seeds": list(p.seeds),
        "backend": "ensemble",
    }  # fmt: skip


def _first(m: pd.DataFrame, col: str) -> float:
    hit = m.loc[m[col] >= THRESHOLD, "step"]
    return float(hit.iloc[0]) if len(hit) else math.nan


def run_row(run: Run) -> tuple[dict[str, Any], pd.DataFrame]:
    """A run's ``runs.csv`` row and its relevant-weight shares per checkpoint."""
    m, cfg = run.metrics, run.config
    relevant = run.samples.relevant
    shares = pd.DataFrame(
        [
            {"step": s, "share": relevant_weight_share(run.params(s)[FIRST_LAYER], relevant)}
            for s in run.steps
        ]
    )
    t_fit, t_gen = _first(m, "train_acc"), _first(m, "test_acc")

    def share_at(step: float) -> float:
        after = shares[shares["step"] >= step]
        return float(after["share"].iloc[0]) if step == step and len(after) else math.nan

    n = cfg.task.n_bits
    assert n is not None
    row = {
        "n_bits": n,
        "seed": cfg.seed,
        "relevant": " ".join(str(i) for i in relevant),
        "steps": int(m["step"].iloc[-1]),
        "fit_step": t_fit,
        "generalize_step": t_gen,
        "delay": t_gen - t_fit,
        "final_train_acc": float(m["train_acc"].iloc[-1]),
        "final_test_acc": float(m["test_acc"].iloc[-1]),
        "chance_share": len(relevant) / n,
        "share_init": float(shares["share"].iloc[0]),
        "share_at_fit": share_at(t_fit),
        "share_final": float(shares["share"].iloc[-1]),
    }
    shares.insert(0, "seed", cfg.seed)
    shares.insert(0, "n_bits", n)
    return row, shares


def power_fit(x: pd.Series, y: pd.Series) -> tuple[float, float]:
    """``(alpha, c)`` of the least-squares line log y = log c + alpha log x; NaN with fewer
    than two points."""
    if len(x) < 2:
        return math.nan, math.nan
    alpha, logc = np.polyfit(np.log(x.astype(float)), np.log(y.astype(float)), 1)
    return float(alpha), float(math.exp(logc))


def scaling(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``scaling.csv`` (per n: runs, generalized, medians of t_fit, t_gen, delay, final
    relevant share) and ``fits.csv`` (t_gen and delay as power laws of n over the n where
    every run generalized)."""
    rows = []
    for n in sorted(set(runs["n_bits"])):
        g = runs[runs["n_bits"] == n]
        ok = g["generalize_step"].notna()
        rows.append(
            {
                "n_bits": int(n),
                "runs": len(g),
                "generalized": int(ok.sum()),
                "fit_step": float(g["fit_step"].median()),
                "generalize_step": float(g["generalize_step"].median()) if ok.all() else math.inf,
                "delay": float(g["delay"].median()) if ok.all() else math.inf,
                "share_final": float(g["share_final"].median()),
                "chance_share": float(g["chance_share"].iloc[0]),
            }
        )
    table = pd.DataFrame(rows)
    fits = []
    if len(table):
        done = table[np.isfinite(table["generalize_step"]) & (table["delay"] > 0)]
        for what in ("generalize_step", "delay", "fit_step"):
            alpha, c = power_fit(done["n_bits"], done[what])
            fits.append({"quantity": what, "alpha": alpha, "c": c, "n_points": len(done),
                         "n_values": " ".join(str(int(v)) for v in done["n_bits"])})  # fmt: skip
    return table, pd.DataFrame(fits)


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the sweep (resuming a killed one), read every finished run, write the tables,
    the figure and the report (module doc); ``data`` is ``(runs, scaling, fits)``."""
    out = Path(out_dir)
    spec = parity_spec(params)
    run_sweep(spec, out / "sweep", backend="ensemble", progress=progress)
    rows, shares, traces = [], [], []
    for r in expand(spec):
        run_dir = out / "sweep" / "runs" / r.name
        if read_status(run_dir).get("status") != "done":
            continue
        run = Run(run_dir)
        row, share = run_row(run)
        rows.append(row)
        shares.append(share)
        t = run.metrics[["step", "train_acc", "test_acc", "train_loss", "test_loss"]].copy()
        t.insert(0, "seed", row["seed"])
        t.insert(0, "n_bits", row["n_bits"])
        traces.append(t)
    runs = pd.DataFrame(rows)
    table, fits = scaling(runs) if len(runs) else (pd.DataFrame(), pd.DataFrame())
    share_t = pd.concat(shares, ignore_index=True) if shares else pd.DataFrame()
    trace_t = pd.concat(traces, ignore_index=True) if traces else pd.DataFrame()
    for name, t in (("runs", runs), ("scaling", table), ("fits", fits), ("shares", share_t),
                    ("traces", trace_t)):  # fmt: skip
        atomic_write_text(out / f"{name}.csv", t.to_csv(index=False))
    if len(runs):
        fig = sparse_parity_figure(runs, trace_t, share_t, params.parity_bits)
        write_figure_set({"sparse_parity": fig}, out / "figures", "Sparse parity", static)
    atomic_write_text(out / REPORT, report(runs, table, fits, params))
    return collect(out, data=(runs, table, fits))


def report(runs: pd.DataFrame, table: pd.DataFrame, fits: pd.DataFrame, p: Params) -> str:
    """The setup, one line per n and the fitted exponents (module doc)."""
    lines = [
        "Sparse parity (Barak et al. 2022, arXiv 2207.08799; the PAIR explorable's setup)",
        f"setup: k = {p.parity_bits}, n in {list(p.n_bits)}; {p.train_size} training and "
        f"{p.test_size} held-out distinct strings of signs; MLP 1 hidden layer of {p.width} "
        f"ReLU; cross-entropy; AdamW lr {LR} betas {BETAS} weight decay {p.weight_decay}; "
        f"full batch; at most {p.steps} updates, stop {p.patience} after 99% test; seeds "
        f"{list(p.seeds)}",
        "t_fit / t_gen: first logged step (every 25) with train / test accuracy >= 99%; "
        "delay = t_gen - t_fit; share: first-layer |W| on the relevant bits (k/n = blind)",
        "",
    ]
    if not len(runs):
        return "\n".join(lines + ["no finished runs"]) + "\n"
    for _, r in table.iterrows():
        lines.append(
            f"n = {int(r['n_bits']):3d}: generalized {int(r['generalized'])}/{int(r['runs'])}; "
            f"median t_fit {r['fit_step']:.0f}, t_gen {r['generalize_step']:.0f}, delay "
            f"{r['delay']:.0f}; final share {r['share_final']:.3f} (chance "
            f"{r['chance_share']:.3f})"
        )
    lines.append("")
    for _, r in runs.sort_values(["n_bits", "seed"]).iterrows():
        lines.append(
            f"  n {int(r['n_bits'])} seed {int(r['seed'])} (S = {r['relevant']}): t_fit "
            f"{r['fit_step']:.0f}, t_gen {r['generalize_step']:.0f}, final test "
            f"{r['final_test_acc']:.3f}, share {r['share_init']:.3f} -> "
            f"{r['share_at_fit']:.3f} (at fit) -> {r['share_final']:.3f}"
        )
    lines.append("")
    for _, f in fits.iterrows():
        lines.append(
            f"power law {f['quantity']} ~ n^alpha over n = {f['n_values']}: alpha = "
            f"{f['alpha']:.2f} (alpha / k = {f['alpha'] / p.parity_bits:.2f})"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="sparse-parity",
    title="sparse parity: the grokking delay against n at k = 3",
    paper="Barak et al. 2022, arXiv 2207.08799; the PAIR explorable (Pearce et al. 2023)",
    params=Params,
    run=run,
    committed="studies/sparse_parity",
    smoke={
        "n_bits": [8, 10],
        "seeds": [0],
        "train_size": 100,
        "test_size": 100,
        "width": 8,
        "steps": 100,
        "patience": 10,
    },
    cards=barak2022.CARDS + pearce2023.CARDS,
    runtime="5.4 min",
    threads=1,  # the committed run trained with one thread on 2 shared cores
)
