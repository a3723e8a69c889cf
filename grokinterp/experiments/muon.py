"""Muon and egalitarian gradient descent against AdamW, with matched controls and progress
measures (Tveit et al. 2025, arXiv 2504.16041; Pasand & Dohmatob, ICLR 2026).

The claims: Tveit et al. report that Muon lowers the mean grokking epoch (first epoch with
validation accuracy >= 95% once training accuracy is near 100%) from 153.09 under AdamW to
102.89 over seven numerical tasks, three softmax variants and a modern transformer (their
abstract); Pasand & Dohmatob that gradient descent with the gradient's singular values
equalized, (G G^T)^(-1/2) G, groks far sooner than plain gradient descent
(asahebpa/Egalitarian-Gradient-Descent@046e066, cited as ``_E``: an MLP on one-hot pairs,
p = 127, half the pairs, width 512, SGD lr 0.7, L2 1e-4, batch 512, main-results/
mod_add.py:L50-68).

This study trains, per seed, on x + y mod ``p`` with half the pairs for training and the
1-layer transformer of Nanda et al. (d_model 128, 4 heads, ReLU MLP 512), full batch, the
*arms*:

* ``adamw``: AdamW lr ``lr`` (3e-3, the library's ``quick`` recipe), betas (0.9, 0.98),
  weight decay 1 (the regime in which this model groks; the baseline);
* ``muon``: the hidden matrices (attention and MLP weights) take Muon's step
  (``optim.optimizer="muon"``: Nesterov momentum 0.95, Newton-Schulz orthogonalization,
  torch's shape factor) with lr ``spectral_lr`` (0.02, Jordan et al.'s and torch's example
  value), the embeddings, unembedding and biases AdamW as in ``adamw``;
* ``egd``: the same, with EGD's step (the gradient's polar factor, no momentum);
* ``adamw_lr_matched``: ``adamw`` with lr multiplied by :func:`muon_step_ratio`, the ratio of
  the root-mean-square change Muon makes to a hidden weight per update to the one AdamW
  makes: our control, so that a Muon speed-up is not just a larger step. Where Adam's
  normalized step is about +-lr per weight and Muon's orthogonalized step has singular
  values about 1, that ratio is ``spectral_lr * sqrt(max(1, out/in)) * sqrt(min(out, in) /
  (out in)) / lr`` per matrix, averaged (as a root mean square over weights) over the hidden
  matrices: 0.51 for this model at lr 3e-3 and spectral_lr 0.02 (Muon's step is the
  smaller one, so the matched AdamW is the slower one).

Every arm decays the hidden weights by the same factor per update: Muon's and EGD's
``spectral_weight_decay`` is ``lr * weight_decay / spectral_lr`` (0.15), and the lr-matched
AdamW's weight decay is divided by its lr factor. The learning-rate schedule (10-step
linear warm-up, then constant) is every arm's.

The one knob scaled to fit 2 shared CPU cores: ``p`` (31 by default, theirs 97 (Tveit et
al.'s tasks; the dispute of Essential AI's blog) and 127 (_E)), with the training fraction
(50%) kept. Each run stops ``patience`` updates after its first logged step with test
accuracy >= ``threshold`` (95%, both papers' criterion), so that the cleanup is seen. Then
every run is analyzed (:func:`grokinterp.analysis.table.measure_run`: key frequencies at
the last checkpoint, restricted loss, generalizing share) and its milestones read
(:func:`grokinterp.analysis.milestones.milestones`, and the checkpoint from which the
embedding's key frequencies stay those of the end): did the optimizer move the
circuit-formation milestones, or only the test-accuracy jump?

Writes into ``out_dir``: ``runs.csv``, ``arms.csv``, ``metrics.csv``, ``progress.csv`` (per
run: the milestones), ``report.txt``, ``figures/``; the runs in ``sweep/<arm>/`` (not
committed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from grokinterp.analysis import fourier
from grokinterp.analysis.milestones import first_step, key_frequencies_settle, milestones
from grokinterp.analysis.table import measure_run
from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import arm_spec, describe_arms, run_arms
from grokinterp.experiments.cards import pasand2026, tveit2025
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
from grokinterp.runs.run import Run
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status

BASE_WD = 1.0
ARM_NAMES = ("adamw", "muon", "adamw_lr_matched", "egd")


def muon_step_ratio(model: ModelConfig, spectral_lr: float, lr: float) -> float:
    """Root mean square over the hidden weights of (Muon's step / AdamW's step) per update:
    ``spectral_lr sqrt(max(1, out/in)) sqrt(min(out, in) / (out in)) / lr`` for each hidden
    (out, in) matrix (module doc), for the transformer's attention and MLP matrices."""
    d, hd, mlp = model.d_model, model.n_heads * model.d_head, model.d_mlp
    mats = [(hd, d)] * 3 + [(d, hd), (mlp, d), (d, mlp)]  # (out, in): Q, K, V, O, in, out
    total = weights = 0.0
    for out, inp in mats:
        r = spectral_lr * math.sqrt(max(1.0, out / inp)) * math.sqrt(min(out, inp) / (out * inp))
        total += out * inp * (r / lr) ** 2
        weights += out * inp
    return math.sqrt(total / weights)


@dataclass(frozen=True)
class Params:
    """The Muon / EGD study's parameters (module doc)."""

    p: int = param(31, "the modulus (the one scaled knob)", paper="97 (Tveit et al.), 127 (_E)")
    seeds: tuple[int, ...] = param((0, 1, 2), "seeds (initialization; one split for all)")
    arms: tuple[str, ...] = param(ARM_NAMES, f"the arms, in training order, from {ARM_NAMES}")
    lr: float = param(3e-3, "AdamW's lr (every arm's, for the non-hidden parameters)")
    spectral_lr: float = param(0.02, "Muon's and EGD's lr for the hidden matrices")
    max_steps: int = param(3000, "step budget of every run", unit="steps")
    threshold: float = param(0.95, "test accuracy to reach", unit="accuracy",
                             paper="0.95 (both papers)")  # fmt: skip
    patience: int = param(200, "updates trained past the threshold (the cleanup)", unit="steps")
    log_every: int = param(10, "metrics logged every this many updates", unit="steps")
    ckpt_every: int = param(100, "a checkpoint every this many updates", unit="steps")
    analyze: bool = param(True, "measure the key frequencies and progress measures per run")
    backend: Literal["ensemble", "local"] = param("ensemble", "sweep backend")
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        check_positive("p", self.p, minimum=3)
        check_nonempty("seeds", self.seeds)
        check_choices("arms", self.arms, ARM_NAMES)
        for name in ("max_steps", "log_every", "ckpt_every"):
            check_positive(name, getattr(self, name))
        for name in ("lr", "spectral_lr"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"{name} must be positive, got {v}")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")


def arms(params: Params) -> dict[str, dict[str, Any]]:
    """Each arm's optimizer fields."""
    lr = params.lr
    ratio = muon_step_ratio(ModelConfig(), params.spectral_lr, lr)
    spectral_wd = lr * BASE_WD / params.spectral_lr  # the same decay per update
    spectral = {"spectral_lr": params.spectral_lr, "spectral_weight_decay": spectral_wd}
    return {
        "adamw": {"optimizer": "adamw", "lr": lr, "weight_decay": BASE_WD},
        "muon": {"optimizer": "muon", "lr": lr, "weight_decay": BASE_WD, **spectral},
        "egd": {"optimizer": "egd", "lr": lr, "weight_decay": BASE_WD, **spectral},
        "adamw_lr_matched": {
            "optimizer": "adamw",
            "lr": lr * ratio,
            "weight_decay": BASE_WD / ratio,
        },  # fmt: skip
    }


def overrides(params: Params) -> dict[str, Any]:
    """What every arm changes from the ``nanda`` preset."""
    n = params.max_steps
    return {
        "task.p": params.p,
        "task.train_fraction": 0.5,
        "optim.max_steps": n,
        "stop_acc": params.threshold,
        "stop_patience": params.patience,
        "schedule.log_every": params.log_every,
        "schedule.ckpt_log_until": min(100, n),
        "schedule.ckpt_log_count": 5,
        "schedule.ckpt_every": params.ckpt_every,
    }


def specs(params: Params) -> dict[str, dict[str, Any]]:
    """Each arm's sweep spec, in training order."""
    fields = arms(params)
    return {
        arm: arm_spec(
            {"preset": "nanda"}, overrides(params), fields[arm], params.seeds, params.backend
        )  # fmt: skip
        for arm in params.arms
    }


def progress_table(out: Path, params: Params, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per run that finished: its milestones (analysis/ written into the run directory);
    the rows of ``known`` (a previous table) are kept rather than measured again."""
    rows: list[dict[Any, Any]] = []
    for arm, spec in specs(params).items():
        for r in expand(spec):
            d = out / "sweep" / arm / "runs" / r.name
            if known is not None and len(known):
                old = known[(known["arm"] == arm) & (known["seed"] == r.config.seed)]
                if len(old):
                    rows.append(old.iloc[0].to_dict())
                    continue
            if read_status(d)["status"] != "done":
                continue
            metrics = pd.DataFrame(layout.read_metrics(d))
            analysis = measure_run(d, progress=False)
            row: dict[str, Any] = {"arm": arm, "seed": r.config.seed}
            row.update(milestones(metrics, analysis.table))
            freqs = sorted(int(k) for k in analysis.key_freqs or [])
            row["key_freqs"] = " ".join(str(k) for k in freqs)
            # the embedding's own key frequencies at the end (the analysis's causal choice
            # above may differ from them) and the checkpoint from which they stay so
            run = Run(d)
            p = run.config.task.p
            assert p is not None
            embed = sorted(int(k) for k in fourier.key_frequencies(run.params(run.steps[-1]), p))
            row["embed_key_freqs"] = " ".join(str(k) for k in embed)
            row["key_freqs_settle_step"] = key_frequencies_settle(run, embed)
            row["test_95_step"] = first_step(metrics, "test_acc", params.threshold)
            rows.append(row)
    return pd.DataFrame(rows)


PROGRESS_COLUMNS = (
    "train_99_step", "restricted_below_1_step", "gen_share_50_step", "key_freqs_settle_step",
    "test_95_step", "test_99_step",
)  # fmt: skip


def _progress_lines(progress: pd.DataFrame) -> list[str]:
    if not len(progress):
        return ["progress measures: none yet"]
    lines = ["progress measures, median (range) over seeds, steps:"]
    for arm, g in progress.groupby("arm", sort=False):
        parts = []
        for col in PROGRESS_COLUMNS:
            v = g[col].dropna().astype(float) if col in g else pd.Series(dtype=float)
            parts.append(
                f"{col} {v.median():.0f} ({v.min():.0f}-{v.max():.0f})"
                if len(v)
                else f"{col} never"
            )
        lines.append(f"  {arm}: " + "; ".join(parts))
    return lines


def report(arms_table: pd.DataFrame, params: Params, minutes: float, progress: pd.DataFrame) -> str:
    """Per arm the median (range) of steps and wall seconds to the threshold, the ratios the
    cards read, and the progress measures."""
    ratio = muon_step_ratio(ModelConfig(), params.spectral_lr, params.lr)
    lines = [
        "Muon and EGD against AdamW (Tveit et al. 2025; Pasand & Dohmatob, ICLR 2026)",
        f"x + y mod {params.p}, 50% of pairs, nanda 1-layer transformer, full batch, seeds "
        f"{list(params.seeds)}, budget {params.max_steps}, threshold {params.threshold:g} "
        f"test accuracy (+{params.patience} updates), logged every {params.log_every}",
        f"AdamW lr {params.lr:g}; hidden-matrix lr {params.spectral_lr:g} (Muon, EGD); "
        f"lr-matched AdamW lr x {ratio:.2f}",
        "Tveit et al.: mean grokking epoch AdamW 153.09, Muon 102.89 (ratio 1.49)",
        "",
        *describe_arms(arms_table, params.threshold),
        "",
    ]
    med = dict(zip(arms_table["arm"], arms_table["median_steps"], strict=True))
    for num, den in (("adamw", "muon"), ("adamw_lr_matched", "muon"), ("adamw", "egd"),
                     ("adamw", "adamw_lr_matched")):  # fmt: skip
        a, b = med.get(num), med.get(den)
        if a is not None and b is not None and a == a and b == b:
            lines.append(f"{num} / {den} (median steps): {a / b:.2f}")
    lines += ["", *_progress_lines(progress), "",
              f"study wall time (this invocation): {minutes:.1f} min"]  # fmt: skip
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the arms one after another (each resumable), then measure every run."""
    out = Path(out_dir)
    prog_path = out / "progress.csv"

    def read_progress() -> pd.DataFrame:
        return pd.read_csv(prog_path) if prog_path.exists() else pd.DataFrame()

    all_specs = specs(params)
    names = list(all_specs)
    table = pd.DataFrame()
    for k in range(len(names)):  # one arm more each pass: tables and progress after each
        last = k == len(names) - 1
        table = run_arms(
            out,
            {n: all_specs[n] for n in names[: k + 1]},
            threshold=params.threshold,
            device=params.device,
            progress=progress,
            static=static if last else False,
            report=lambda t, minutes: report(t, params, minutes, read_progress()),
            curves_title="AdamW, Muon and EGD",
            set_title="Muon and EGD against AdamW",
        )
        if params.analyze:
            prog = progress_table(out, params, read_progress())
            atomic_write_text(prog_path, prog.to_csv(index=False))
            text = (out / "report.txt").read_text()
            head = text.split("\nprogress measures")[0].rstrip("\n")
            lines = "\n".join(_progress_lines(prog))
            atomic_write_text(out / "report.txt", f"{head}\n\n{lines}\n")
    return collect(out, data=table)


STUDY = Study(
    name="muon",
    title="Muon and egalitarian gradient descent against AdamW, with an lr-matched control "
    "and progress measures",
    paper="Tveit et al. 2025, arXiv 2504.16041",
    params=Params,
    run=run,
    committed="studies/muon",
    smoke={
        "p": 5,
        "seeds": [0],
        "arms": ["adamw", "muon", "egd"],
        "max_steps": 4,
        "log_every": 2,
        "ckpt_every": 2,
        "patience": 0,
    },
    cards=tveit2025.CARDS + pasand2026.CARDS,
    runtime="5 min for the four arms x 3 seeds and their progress measures (one thread, 2 "
    "cores shared with other jobs)",
    threads=1,
)
