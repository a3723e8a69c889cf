"""Grokfast on its authors' setup, against matched controls (Lee et al. 2024, arXiv
2405.20233; their code ironjr/grokfast@93b2248, cited as ``_L``).

Their headline (README.md:L176-195): on x * y mod 97 with half the equations for training,
a 2-layer transformer with minibatches of 512 and Adam, the baseline (weight decay 0) reaches
95% validation accuracy after 39,890 iterations, Grokfast-EMA (alpha 0.98, lambda 2, Adam
weight decay 0.005) after 910 and Grokfast-MA (window 100, lambda 5, weight decay 0.01)
after 790. This study trains, on the ``grokfast`` preset (every value cites _L) with the
authors' epoch (``drop_last`` false: 9 batches of 512 and one of 48, _L main.py:L131, L152)
and warm-up (``warmup_from_zero``: lr * min(1, t/10), _L main.py:L127-129), the *arms*:

* ``baseline``: Adam, lr 1e-3, weight decay 0 (_L main.py:L248-252);
* ``grokfast_ema``: + the EMA filter, alpha 0.98, lambda 2, Adam weight decay 0.005
  (_L README.md:L195);
* ``grokfast_ma``: + the MA filter, window 100, lambda 5, Adam weight decay 0.01
  (_L README.md:L183);
* ``lr_matched``: the baseline with lr x ``lr_scale`` (default 1 + lambda_EMA = 3): our
  control for "Grokfast only takes larger steps", which users of the Grokfast code ask for
  (lucidrains/grokfast-pytorch issue 1: lambda 2 is "more like 3x the lr"; issue 5: does
  Adam not cancel the amplification?). Derivation: write a coordinate's minibatch gradient
  g_t = mu + xi_t, a slow mean mu plus minibatch noise of variance sigma^2. The EMA filter's
  output h_t = alpha h_{t-1} + (1 - alpha) g_t is mu plus noise of variance
  sigma^2 (1 - alpha)/(1 + alpha) (1% of sigma^2 at alpha 0.98), so the filtered gradient
  g_t + lambda h_t ~= (1 + lambda) mu + xi_t. Adam's update is lr m / sqrt(v): its first
  moment sees the mean (1 + lambda) mu, its second moment (1 + lambda)^2 mu^2 + sigma^2.
  Where the noise dominates (sigma^2 >> (1 + lambda)^2 mu^2, a memorized minibatch regime)
  the drift per step along the slow direction is lr (1 + lambda) mu / sigma, against the
  baseline's lr mu / sigma: the step a (1 + lambda) times larger lr would give (which also
  scales the noise step, which the filter does not). Where the slow part dominates, Adam's
  normalization cancels the factor (issue 5's point): the filter then changes little, and a
  larger lr still triples the step. So 1 + lambda is the largest step scaling the EMA filter
  can give under Adam, and ``lr_matched`` is the generous control: if the baseline at
  3 x lr is as fast as Grokfast-EMA, the filter's speed-up is a step-size effect;
* ``adamw_wd1``: AdamW, lr 1e-3, weight decay 1 (the regime of Power et al. and of Nanda et
  al., where the baseline groks without any filter).

Task: their data are x in 0..p-1, y in 1..p-1 and the label x * y mod p (_L main.py:L73-87).
We train ``div`` (x * y^-1 mod p over the same pairs): y -> y^-1 is a bijection of 1..p-1,
so the tables differ only by a relabelling of the y tokens; with i.i.d. embedding rows
(nn.Embedding's N(0, 1)) and a uniform random half for training, the learning problem is the
same in distribution, though not per seed.

The two arms that may train for the whole 3 x 10^5-step budget (``baseline``,
``lr_matched``) write their resumable state every ``LONG_CKPT_EVERY`` = 1,000 updates (the
others at the study's sparse schedule), so that on CPU they can be trained in pieces: a
run stopped between state files loses at most 1,000 updates instead of restarting. The
schedule changes no number a run computes.

Each run stops at the first logged step where test accuracy reaches ``threshold`` (their 95%)
or at ``max_steps`` (their budget 3 x 10^5); metrics are logged every ``log_every`` = 10
updates, their once-per-epoch evaluation (ceil(4656 / 512) = 10 updates an epoch). The
seeds share the split (split_seed 0; theirs draws the split from the seed) and, by default,
train one after another (``backend="local"``, ``workers`` = 1 process; more train that many
runs at once): on 2 shared CPU cores a 3-member minibatch ensemble of this preset measured
about 6.5 s an update against about 0.1 s for a run alone.

Writes into ``out_dir``: ``runs.csv`` (arm, seed, steps and wall seconds to the threshold),
``arms.csv`` (per arm: median and range over seeds), ``metrics.csv``, ``report.txt``,
``figures/``; the runs in ``sweep/<arm>/`` (not committed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import arm_spec, describe_arms, run_arms
from grokinterp.experiments.cards import lee2024
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_choices,
    check_nonempty,
    check_positive,
    collect,
    param,
)

LAMB_EMA = 2.0  # _L README.md:L195
ARMS: dict[str, dict[str, Any]] = {
    "grokfast_ema": {"optimizer": "adam", "weight_decay": 0.005, "grokfast": "ema",
                     "grokfast_alpha": 0.98, "grokfast_lamb": LAMB_EMA},  # _L README.md:L195
    "grokfast_ma": {"optimizer": "adam", "weight_decay": 0.01, "grokfast": "ma",
                    "grokfast_window": 100, "grokfast_lamb": 5.0},  # _L README.md:L183
    "adamw_wd1": {"optimizer": "adamw", "weight_decay": 1.0},
    # the two long arms last, the one expected to be shorter (a 3x larger lr) first
    "lr_matched": {"optimizer": "adam", "weight_decay": 0.0},  # lr set from lr_scale
    "baseline": {"optimizer": "adam", "weight_decay": 0.0},  # _L main.py:L251-252
}  # fmt: skip
BASE_LR = 1e-3  # _L main.py:L248
LONG_CKPT_EVERY = 1000  # state files of the arms that may run the whole budget (module doc)
for _arm in ("baseline", "lr_matched"):
    ARMS[_arm]["schedule.ckpt_every"] = LONG_CKPT_EVERY


@dataclass(frozen=True)
class Params:
    """The Grokfast study's parameters (module doc)."""

    p: int = param(97, "the modulus", paper="97 (ironjr/grokfast@93b2248 main.py:L245)")
    seeds: tuple[int, ...] = param(
        (0, 1, 2), "seeds (initialization and minibatch order)", grows=True
    )
    arms: tuple[str, ...] = param(
        tuple(ARMS), f"the arms, trained in this order, from {', '.join(ARMS)}", grows=True
    )
    max_steps: int = param(
        300_000, "step budget of every run", unit="steps",
        paper="3x10^5 (main.py:L140, L246)",
    )  # fmt: skip
    threshold: float = param(0.95, "test accuracy to reach", unit="accuracy",
                             paper="0.95 (README.md:L176)")  # fmt: skip
    log_every: int = param(10, "metrics logged every this many updates (their epoch: 10)",
                           unit="steps")  # fmt: skip
    lr_scale: float = param(1 + LAMB_EMA, "lr_matched's lr over the baseline's (1 + lambda)")
    backend: Literal["ensemble", "local"] = param(
        "local",
        "sweep backend (local: one run after another; on 2 CPU cores the minibatch ensemble "
        "of this preset measured far slower than its members run alone)",
    )
    workers: int = param(
        1, "processes of the local backend: runs trained at once (sharing --threads)"
    )
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        check_positive("p", self.p, minimum=3)
        check_nonempty("seeds", self.seeds)
        check_choices("arms", self.arms, list(ARMS))
        check_positive("max_steps", self.max_steps)
        check_positive("log_every", self.log_every)
        check_positive("workers", self.workers)
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if not (self.lr_scale > 0 and math.isfinite(self.lr_scale)):
            raise ConfigError(f"lr_scale must be positive, got {self.lr_scale}")


def overrides(params: Params) -> dict[str, Any]:
    """What every arm changes from the ``grokfast`` preset."""
    n = params.max_steps
    return {
        "task.name": "div",  # their y in 1..p-1 (main.py:L77), relabelled: module doc
        "task.p": params.p,
        "optim.drop_last": False,  # torch.split keeps the shorter last batch: main.py:L152
        "optim.warmup_from_zero": True,  # LambdaLR(u / 10): main.py:L127-129
        # F.cross_entropy of the float32 logits (main.py:L159): its softmax collapses once the
        # baseline's training loss is small (Prieto et al. 2025), which float64 would not do
        "optim.loss": "softmax32",
        "optim.max_steps": n,
        "stop_acc": params.threshold,
        "stop_patience": 0,
        "schedule.log_every": params.log_every,
        "schedule.ckpt_log_until": min(1000, n),
        "schedule.ckpt_log_count": 4,
        "schedule.ckpt_every": max(n // 4, 1),
    }


def specs(params: Params) -> dict[str, dict[str, Any]]:
    """Each arm's sweep spec, in training order."""
    out = {}
    for arm in params.arms:
        fields = dict(ARMS[arm])
        if arm == "lr_matched":
            fields["lr"] = BASE_LR * params.lr_scale
        spec = arm_spec({"preset": "grokfast"}, overrides(params), fields, params.seeds,
                        params.backend)  # fmt: skip
        out[arm] = {**spec, "workers": params.workers}
    return out


def report(arms: pd.DataFrame, params: Params, minutes: float) -> str:
    """Per arm the median (range) of steps and wall seconds to the threshold, and the ratios
    the card reads."""
    lines = [
        "Grokfast on its authors' setup (Lee et al. 2024, arXiv 2405.20233)",
        f"preset grokfast, x*y^-1 mod {params.p} (their x*y over y != 0, relabelled), seeds "
        f"{list(params.seeds)}, budget {params.max_steps}, threshold {params.threshold:g} "
        f"test accuracy, logged every {params.log_every} updates",
        "their README: baseline 39890 iterations (5984 s), EMA 910 (137 s), MA 790 (292 s)",
        "",
        *describe_arms(arms, params.threshold),
        "",
    ]
    med = dict(zip(arms["arm"], arms["median_steps"], strict=True)) if len(arms) else {}
    for num, den in (("baseline", "grokfast_ema"), ("baseline", "grokfast_ma"),
                     ("lr_matched", "grokfast_ema"), ("adamw_wd1", "grokfast_ema")):  # fmt: skip
        a, b = med.get(num), med.get(den)
        if a is not None and b is not None and a == a and b == b:
            lines.append(f"{num} / {den} (median steps): {a / b:.2f}")
    lines.append(f"study wall time (this invocation): {minutes:.1f} min")
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the arms one after another (each resumable), writing the tables after each."""
    out = Path(out_dir)
    arms = run_arms(
        out,
        specs(params),
        threshold=params.threshold,
        device=params.device,
        progress=progress,
        static=static,
        report=lambda arms, minutes: report(arms, params, minutes),
        curves_title="Grokfast's setup",
        set_title="Grokfast on its authors' setup",
    )
    return collect(out, data=arms)


STUDY = Study(
    name="grokfast",
    title="Grokfast-EMA and -MA on the authors' setup, against matched controls",
    paper="Lee et al. 2024, arXiv 2405.20233",
    params=Params,
    run=run,
    committed="studies/grokfast",
    smoke={
        "p": 5,
        "seeds": [0],
        "arms": ["grokfast_ema", "baseline"],
        "max_steps": 4,
        "log_every": 2,
        "backend": "ensemble",  # in-process: no worker start-up
    },  # fmt: skip
    cards=lee2024.CARDS,
    runtime="about 30 min for the EMA, MA and weight-decay-1 arms and 52 min for lr_matched "
    "(3 seeds each; lr_matched two runs at a time, one thread each); the baseline arm about "
    "0.08 s an update, 55 min a seed to their 39,890, some 7 hours to their budget "
    "(resumable in pieces: a state file every 1,000 updates)",
    threads=2,
)
