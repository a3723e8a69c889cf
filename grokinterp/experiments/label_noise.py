"""Memorization beside generalization under label corruption, and pruning it away by IPR
(Doshi, Das, He & Gromov 2024, ICLR; arXiv 2310.13061; their code d-doshi/Grokking@0b4335f).

Their claim (abstract; Sec. 2): a 2-layer MLP trained on a + b mod p with a fraction ξ of
its training labels corrupted can memorize the corrupted labels *and* generalize (the
"coexistence" phase); the memorizing neurons are those of low inverse participation ratio
(IPR) in the Fourier basis, and pruning them lowers the accuracy on the corrupted examples
(the network no longer reproduces their wrong labels) while the accuracy on the uncorrupted
data stays (their Fig. 4; their notebook's pruning cells plot it against the line
100 (1 - ξ)%). Weight decay pushes the network to ignore the corrupted labels (their
"partial / full inversion" phases).

Their setup is the ``doshi_mlp`` preset (each value cited there): a + b mod 97, 50% of
pairs, ξ = 0.35, one-hot inputs, 500 x^2 neurons without biases, MSE, full-batch AdamW lr
1e-2, no weight decay, 1,000 steps. This study trains it for each weight decay and seed (one
ensemble per weight decay), then for every run:

* ``curves.csv``: at every checkpoint, the mean neuron IPR
  (:func:`grokinterp.analysis.ipr.neuron_ipr`, their definition) and the accuracies on the
  uncorrupted training examples, on the corrupted ones against their wrong labels
  (memorization) and against their true labels, and on the test set;
* ``neurons.csv``: every neuron's IPR at the end;
* ``pruning.csv``: the accuracies as neurons are switched off lowest IPR first (theirs),
  highest first (their reverse run) and in a seeded random order (our control), every
  ``prune_every`` neurons (:func:`grokinterp.analysis.ipr.pruning_curve`);
* ``runs.csv``: per run, the final accuracies and, at the first count of lowest-IPR pruning
  where at most ``memorized_below`` of the corrupted examples still get their wrong label,
  the other accuracies, and the memorization left after pruning as many random neurons.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from grokinterp.analysis.groups import GroupBasis
from grokinterp.analysis.ipr import ipr_order, neuron_ipr, pruning_curve
from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import arm_spec, train_arm
from grokinterp.experiments.cards import doshi2024
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.spec import expand
from grokinterp.viz.label_noise import ipr_figure, pruning_figure
from grokinterp.viz.report import write_figure_set

PRESET = "doshi_mlp"


@dataclass(frozen=True)
class Params:
    """The label-noise study's parameters (module doc)."""

    p: int = param(97, "the modulus of a + b mod p", paper="97 (notebook cell 31 L3)")
    width: int = param(500, "hidden neurons N", paper="500 (cell 31 L7)")
    train_fraction: float = param(0.5, "fraction of all pairs for training",
                                  paper="0.5 (cell 31 L4)")  # fmt: skip
    label_noise: float = param(0.35, "fraction xi of the training labels corrupted",
                               paper="0.35 (cell 31 L5)")  # fmt: skip
    weight_decays: tuple[float, ...] = param(
        (0.0,), "AdamW weight decay of each arm (0: their coexistence run, read by the card; "
        "add 5 for their partial-inversion run)", paper="0 (pruning run, cell 31 L14); 5 "
        "(partial inversion, cell 11 L14)",
    )  # fmt: skip
    seeds: tuple[int, ...] = param((0, 1, 2), "initialization seeds (the split and the "
                                   "corruption are fixed)", paper="one run")  # fmt: skip
    steps: int = param(1000, "full-batch updates per run", unit="steps",
                       paper="1000 (cell 31 L10)")  # fmt: skip
    prune_every: int = param(5, "pruning curve every this many neurons", unit="neurons",
                             paper="every neuron (cell 33 L20)")  # fmt: skip
    memorized_below: float = param(
        0.05, "memorization counted as removed once at most this share of the corrupted "
        "examples still get their wrong label (our threshold)",
    )  # fmt: skip
    backend: Literal["ensemble", "local"] = param("ensemble", "sweep backend")
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        check_positive("p", self.p, minimum=3)
        check_positive("width", self.width)
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        if not 0.0 < self.label_noise < 1.0:
            raise ConfigError(f"label_noise must be in (0, 1), got {self.label_noise}")
        check_nonempty("weight_decays", self.weight_decays)
        if any(w < 0 for w in self.weight_decays) or len(set(self.weight_decays)) != len(
            self.weight_decays
        ):
            raise ConfigError(f"weight_decays: give distinct values >= 0, got "
                              f"{list(self.weight_decays)}")  # fmt: skip
        check_nonempty("seeds", self.seeds)
        check_positive("steps", self.steps)
        check_positive("prune_every", self.prune_every)
        if not 0.0 <= self.memorized_below < 1.0:
            raise ConfigError(f"memorized_below must be in [0, 1), got {self.memorized_below}")


def arm_name(weight_decay: float) -> str:
    """The arm (sweep folder) of one weight decay: ``wd0``, ``wd5``."""
    return f"wd{weight_decay:g}"


def specs(params: Params) -> dict[str, dict[str, Any]]:
    """Each weight decay's sweep spec over the seeds."""
    n = params.steps
    common = {
        "task.p": params.p, "task.train_fraction": params.train_fraction,
        "task.label_noise": params.label_noise, "model.d_mlp": params.width,
        "optim.max_steps": n, "schedule.log_every": max(n // 50, 1),
        "schedule.ckpt_log_until": max(n // 50, 1), "schedule.ckpt_log_count": 1,
        "schedule.ckpt_every": max(n // 20, 1),
    }  # fmt: skip
    return {
        arm_name(wd): arm_spec(
            {"preset": PRESET}, common, {"optim.weight_decay": wd}, params.seeds, params.backend
        )  # fmt: skip
        for wd in params.weight_decays
    }


def _orders(table: pd.DataFrame, seed: int) -> dict[str, list[int]]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "lowest": ipr_order(table, lowest_first=True),
        "highest": ipr_order(table, lowest_first=False),
        "random": torch.randperm(len(table), generator=gen).tolist(),
    }


def measure_run(run: Run, arm: str, params: Params) -> dict[str, pd.DataFrame]:
    """The run's curves, final neurons and pruning curves (module doc)."""
    cfg, ds, seed = run.config, run.dataset, run.config.seed
    basis = GroupBasis("additive", params.p)
    curves = []
    for step in run.steps:
        weights = run.params(step)
        ipr = neuron_ipr(weights, cfg.model, basis)
        acc = pruning_curve(weights, cfg.model, ds, range(params.width), [0]).iloc[0]
        curves.append({"arm": arm, "seed": seed, "step": step, "mean_ipr": ipr["ipr"].mean(),
                       **{k: acc[k] for k in acc.index if k.endswith("acc")}})  # fmt: skip
    final = run.params(run.steps[-1])
    neurons = neuron_ipr(final, cfg.model, basis)
    counts = sorted(set(range(0, params.width + 1, params.prune_every)) | {params.width})
    prunes = []
    for order, neurons_order in _orders(neurons, seed).items():
        c = pruning_curve(final, cfg.model, ds, neurons_order, counts)
        c.insert(0, "order", order)
        prunes.append(c)
    pruning = pd.concat(prunes, ignore_index=True)
    for t in (neurons, pruning):
        t.insert(0, "seed", seed)
        t.insert(0, "arm", arm)
    return {"curves": pd.DataFrame(curves), "neurons": neurons, "pruning": pruning}


def run_row(arm: str, seed: int, curves: pd.DataFrame, pruning: pd.DataFrame,
            threshold: float) -> dict[str, Any]:  # fmt: skip
    """One run's summary (module doc): final accuracies, and the accuracies where pruning
    the lowest-IPR neurons first has removed the memorization (NaN where it never does)."""
    last = curves.sort_values("step").iloc[-1]
    row: dict[str, Any] = {"arm": arm, "seed": seed, "steps": int(last["step"]),
                           "mean_ipr": last["mean_ipr"]}  # fmt: skip
    for m in ("train_acc", "clean_train_acc", "corrupted_acc", "corrupted_true_acc", "test_acc"):
        row[f"final_{m}"] = last[m]
    low = pruning[pruning["order"] == "lowest"].sort_values("pruned")
    hit = low[low["corrupted_acc"] <= threshold]
    if len(hit):
        k = hit.iloc[0]
        row["pruned_at_unmemorized"] = int(k["pruned"])
        row["fraction_at_unmemorized"] = k["fraction"]
        for m in ("clean_train_acc", "corrupted_acc", "corrupted_true_acc", "test_acc",
                  "train_acc"):  # fmt: skip
            row[f"{m}_at_unmemorized"] = k[m]
        rnd = pruning[(pruning["order"] == "random") & (pruning["pruned"] == k["pruned"])]
        row["random_corrupted_acc_at_same_count"] = float(rnd["corrupted_acc"].iloc[0])
        high = pruning[(pruning["order"] == "highest") & (pruning["pruned"] == k["pruned"])]
        row["highest_test_acc_at_same_count"] = float(high["test_acc"].iloc[0])
    return row


def report(runs: pd.DataFrame, params: Params, minutes: float) -> str:
    lines = [
        "Label corruption, memorization and pruning by IPR (Doshi et al. 2024, arXiv 2310.13061)",
        f"a + b mod {params.p}, {params.train_fraction:g} of pairs, {params.label_noise:g} of "
        f"training labels corrupted, {params.width} x^2 neurons, MSE, AdamW lr 1e-2, "
        f"{params.steps} full-batch steps, seeds {list(params.seeds)}",
        "",
    ]
    for _, r in runs.iterrows():
        lines.append(
            f"{r['arm']} seed {int(r['seed'])}: final test {r['final_test_acc']:.4f}, "
            f"uncorrupted train {r['final_clean_train_acc']:.4f}, corrupted fit to wrong label "
            f"{r['final_corrupted_acc']:.4f} (true label {r['final_corrupted_true_acc']:.4f}), "
            f"mean IPR {r['mean_ipr']:.3f}"
        )
        if not math.isnan(r.get("fraction_at_unmemorized", math.nan)):
            lines.append(
                f"    lowest-IPR pruning: memorization <= {params.memorized_below:g} after "
                f"{int(r['pruned_at_unmemorized'])} neurons ({r['fraction_at_unmemorized']:.2f}):"
                f" uncorrupted train {r['clean_train_acc_at_unmemorized']:.4f}, corrupted true "
                f"label {r['corrupted_true_acc_at_unmemorized']:.4f}, test "
                f"{r['test_acc_at_unmemorized']:.4f}; random pruning of as many leaves "
                f"{r['random_corrupted_acc_at_same_count']:.4f} memorized; highest-IPR first "
                f"leaves test {r['highest_test_acc_at_same_count']:.4f}"
            )
        else:
            lines.append("    lowest-IPR pruning never brings memorization under the threshold")
    lines += ["", f"study wall time (this invocation): {minutes:.1f} min"]
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train each weight decay's runs (resumable), measure every run, write the tables,
    the report and the figures."""
    out = Path(out_dir)
    t0 = time.perf_counter()
    tables: dict[str, list[pd.DataFrame]] = {"curves": [], "neurons": [], "pruning": []}
    rows = []
    for arm, spec in specs(params).items():
        train_arm(spec, out / "sweep" / arm, progress=progress, device=params.device)
        for r in expand(spec):
            measured = measure_run(Run(out / "sweep" / arm / "runs" / r.name), arm, params)
            for k, t in measured.items():
                tables[k].append(t)
            rows.append(run_row(arm, r.config.seed, measured["curves"], measured["pruning"],
                                params.memorized_below))  # fmt: skip
    merged = {k: pd.concat(v, ignore_index=True) for k, v in tables.items()}
    runs = pd.DataFrame(rows)
    for k, t in {**merged, "runs": runs}.items():
        atomic_write_text(out / f"{k}.csv", t.to_csv(index=False))
    minutes = (time.perf_counter() - t0) / 60
    atomic_write_text(out / "report.txt", report(runs, params, minutes))
    if static is not False:
        figs = {"ipr_curves": ipr_figure(merged["curves"])}
        for wd in params.weight_decays:
            figs[f"pruning_{arm_name(wd)}"] = pruning_figure(merged["pruning"], arm_name(wd))
        write_figure_set(figs, out / "figures", title="Label corruption and pruning by IPR",
                         static=static)  # fmt: skip
    return collect(out, data=runs)


STUDY = Study(
    name="label-noise",
    title="memorizing corrupted labels beside generalizing; pruning low-IPR neurons "
    "(Doshi et al. 2024)",
    paper="Doshi et al. 2024, arXiv 2310.13061",
    params=Params,
    run=run,
    committed="studies/label_noise",
    smoke={
        "p": 11,
        "width": 24,
        "seeds": [0],
        "steps": 40,
        "weight_decays": [0.0],
        "prune_every": 4,
    },  # fmt: skip
    cards=doshi2024.CARDS,
    runtime="2.7 min (3 seeds; one of 2 shared cores)",
    threads=1,
)
