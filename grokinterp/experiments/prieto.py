"""StableMax and ⊥AdamW on their authors' setups (Prieto et al. 2025, arXiv 2501.04697;
their code LucasPrietoAl/grokking-at-the-edge-of-numerical-stability@0cc9e8d, ``_P``).

Their claims: without weight decay, softmax cross-entropy stops learning once its softmax
collapses; StableMax (no collapse) and ⊥Grad (no naive loss minimization) each give
generalization without weight decay, ⊥AdamW quickly. ``setting`` picks their model:

* ``mlp`` (their Figure 1; run_main_experiments.sh:L50-52): a + b mod p on 40% of the
  p^2 pairs, an MLP 2p-200-200-p without biases on the concatenated one-hot vectors of
  a and b (``mlp_input="onehot"``, ``mlp_bias=False``; _P utils.py:L186-187, L206;
  models.py:L4-28; datasets.py:L49-63), PyTorch's default init (``mlp_init="uniform"``),
  float32 weights, full batch, AdamW without weight decay or warm-up. Arms:

  - ``orthoadamw``: ⊥AdamW, lr 0.01, ``short_steps`` (theirs 300, sh:L51), modulus ``p``;
    the base AdamW steps with torch's defaults betas (0.9, 0.999), eps 1e-8: their
    OrthoGrad wrapper builds it from lr and weight decay only and loads the configured
    betas and eps into its own param_groups, which the base optimizer does not read
    (grokking_experiments.py:L53-67); loss: float32 softmax (their default
    ``--softmax_precision 32``, utils.py:L269);
  - ``adamw_control``: the same optimizer and budget without the projection (our control);
  - ``stablemax``: StableMax cross-entropy (float64 inside, utils.py:L43-49), lr 0.01,
    betas (0.9, 0.999), eps 1e-25, ``long_steps`` (theirs 80,000; sh:L50), modulus
    ``long_p``;
  - ``softmax64``: softmax cross-entropy in float64, lr 0.01, betas (0.9, 0.99), eps 1e-25,
    ``long_steps``, ``long_p`` (sh:L52; their Figure 1c);
  - ``softmax32``: the same in float32, their default precision (our control: where
    softmax collapse should stop learning).

  The long arms log every ``long_log_every`` steps (theirs 5,000) and keep a checkpoint
  (the state a run resumes from) every 5,000 steps (their model checkpoints,
  grokking_experiments.py:L84); ``long_p`` is the one knob scaled for cost (their 113:
  80,000 steps of their MLP at p = 113 take about 0.04 s a step for one seed on one CPU
  thread, 40-47 min a seed; ``--long-p 113 --backend local`` runs them, as
  ``studies/prieto/p113`` was for StableMax).
  The default 47 is the smallest modulus tried (23, 41, 47) at which the ``orthoadamw``
  arm generalizes within its 300 steps on every seed: at 23 (211 training pairs) nothing
  generalizes, so a run there does not test a claim (``studies/prieto/scaled_p.csv``).

* ``transformer`` (their Figure 6; sh:L86-94): the ``prieto_transformer`` preset (every
  value cites _P), lr 1e-3, 5,000 steps, modulus ``p``: ``orthoadamw`` (⊥AdamW, betas
  (0.9, 0.999), eps 1e-8 as above), ``wd1.5`` (AdamW weight decay 1.5), ``baseline``
  (weight decay 0); the softmax in float32 (their default); dropout 0.1 in training, as
  their encoder layer's, so these runs need ``backend="local"`` (the ensemble trains no
  dropout).

The output layer has p logits (their MLP's ``output_size=args.modulo``, utils.py:L186; their
transformer's 113 = p at their p, utils.py:L184). Each run stops at the first logged step
with test accuracy >= ``threshold`` (our bar for "generalizes": the paper shows curves, no
number) or at its budget. Writes ``runs.csv``, ``arms.csv``, ``metrics.csv``,
``report.txt``, ``figures/`` into ``out_dir``; the runs in ``sweep/<arm>/`` (not
committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import arm_spec, describe_arms, run_arms
from grokinterp.experiments.cards import prieto2025
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_choices,
    check_nonempty,
    check_positive,
    collect,
    param,
)

# their MLP (Figure 1), on the prieto_transformer preset's task; _P = their repository
MLP_BASE: dict[str, Any] = {
    "task.name": "add", "task.p": 113,  # add_mod, p 113: _P utils.py:L215, L233
    "task.train_fraction": 0.4,  # _P run_main_experiments.sh:L50-52
    "model.arch": "mlp", "model.n_layers": 2, "model.d_mlp": 200,  # _P utils.py:L206
    "model.mlp_input": "onehot", "model.mlp_bias": False,  # _P utils.py:L186-187
    "model.mlp_init": "uniform",  # nn.Linear's default: _P models.py:L18
    "model.act_fn": "relu",  # _P models.py:L13
    "model.sequence": "a_b_eq", "model.normalization": "none", "model.positional": "learned",
    "model.attn_bias": False, "model.unembed_bias": False, "model.causal": True,
    "model.transformer_init": "normal",  # the transformer-only fields at their defaults
    "optim.warmup_steps": 0,  # no scheduler: _P utils.py:L278
    "optim.batch_size": None,  # full batch: _P utils.py:L242; grokking_experiments.py:L36-37
    "optim.weight_decay": 0.0,  # _P utils.py:L275
}  # fmt: skip
ORTHO = {"orthogonal_grad": True, "lr": 0.01, "beta2": 0.999, "eps": 1e-8,
         "loss": "softmax32"}  # _P sh:L51; grokking_experiments.py:L53-67  # fmt: skip
MLP_ARMS: dict[str, dict[str, Any]] = {
    "orthoadamw": ORTHO,
    "adamw_control": {**ORTHO, "orthogonal_grad": False},
    "stablemax": {"loss": "stablemax", "lr": 0.01, "beta2": 0.999, "eps": 1e-25},  # sh:L50
    "softmax64": {"loss": "softmax", "lr": 0.01, "beta2": 0.99, "eps": 1e-25},  # sh:L52
    "softmax32": {"loss": "softmax32", "lr": 0.01, "beta2": 0.99, "eps": 1e-25},
}  # fmt: skip
MLP_SHORT = ("orthoadamw", "adamw_control")  # 300 epochs: _P sh:L51
MLP_SHORT_STEPS = 300
TRANSFORMER_ARMS: dict[str, dict[str, Any]] = {
    "orthoadamw": {"orthogonal_grad": True, "beta2": 0.999, "eps": 1e-8, "loss": "softmax32"},
    "wd1.5": {"weight_decay": 1.5, "loss": "softmax32"},  # _P sh:L90-91
    "baseline": {"loss": "softmax32"},  # _P sh:L93-94
}  # fmt: skip
TRANSFORMER_STEPS = 5000  # _P run_main_experiments.sh:L87-94
LONG_CKPT_EVERY = 5000  # their model checkpoints every log_frequency: _P sh:L50, L52; L84


@dataclass(frozen=True)
class Params:
    """The Prieto et al. study's parameters (module doc)."""

    setting: Literal["mlp", "transformer"] = param(
        "mlp", "their MLP (Fig. 1) or transformer (Fig. 6)"
    )
    arms: tuple[str, ...] = param(
        tuple(MLP_ARMS), f"arms, in training order: mlp {', '.join(MLP_ARMS)}; transformer "
        f"{', '.join(TRANSFORMER_ARMS)}", grows=True,
    )  # fmt: skip
    seeds: tuple[int, ...] = param((0, 1, 2), "seeds (initialization; the split is fixed)",
                                   paper="42 (utils.py:L293)", grows=True)  # fmt: skip
    p: int = param(113, "the modulus of the MLP's orthoadamw and adamw_control and of the "
                   "transformer", paper="113 (utils.py:L215)")  # fmt: skip
    long_p: int = param(47, "the modulus of the MLP's stablemax, softmax64 and softmax32 "
                        "(the knob scaled for cost; 40% of the pairs as theirs; the smallest "
                        "tried where ⊥AdamW generalizes within their 300 steps)",
                        paper="113 (utils.py:L215)")  # fmt: skip
    short_steps: int = param(MLP_SHORT_STEPS, "budget of the MLP's orthoadamw and adamw_control",
                             unit="steps", paper="300 (run_main_experiments.sh:L51)")  # fmt: skip
    long_steps: int = param(
        80_000, "budget of the MLP's stablemax, softmax64, softmax32 and of every transformer "
        "arm (the transformer's: min(this, 5000))", unit="steps",
        paper="80000 (MLP, sh:L50, L52); 5000 (transformer, sh:L87-94)",
    )  # fmt: skip
    threshold: float = param(0.95, "test accuracy that counts as generalized", unit="accuracy")
    log_every: int = param(
        10, "metrics logged every this many steps (the MLP's short arms and the transformer)",
        unit="steps", paper="10 for ⊥AdamW (sh:L51); 200 (transformer, sh:L87-94)",
    )  # fmt: skip
    long_log_every: int = param(500, "metrics logged every this many steps in the MLP's "
                                "long arms", unit="steps", paper="5000 (sh:L50, L52)")  # fmt: skip
    backend: Literal["ensemble", "local"] = param("ensemble", "sweep backend")
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        known = MLP_ARMS if self.setting == "mlp" else TRANSFORMER_ARMS
        check_choices("arms", self.arms, list(known), of=f"of setting {self.setting} ")
        check_nonempty("seeds", self.seeds)
        check_positive("p", self.p, minimum=3)
        check_positive("long_p", self.long_p, minimum=3)
        check_positive("short_steps", self.short_steps)
        check_positive("long_steps", self.long_steps)
        check_positive("log_every", self.log_every)
        check_positive("long_log_every", self.long_log_every)
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.setting == "transformer" and self.backend != "local":
            raise ConfigError(
                "backend: the transformer trains with their dropout 0.1, which the ensemble "
                "backend does not train; pass --backend local"
            )


def _schedule(n: int, log_every: int, ckpt_every: int, params: Params) -> dict[str, Any]:
    return {
        "optim.max_steps": n, "stop_acc": params.threshold, "stop_patience": 0,
        "schedule.log_every": log_every, "schedule.ckpt_log_until": min(100, n),
        "schedule.ckpt_log_count": 3, "schedule.ckpt_every": ckpt_every,
    }  # fmt: skip


def specs(params: Params) -> dict[str, dict[str, Any]]:
    """Each arm's sweep spec, in training order."""
    out = {}
    for arm in params.arms:
        if params.setting == "mlp":
            short = arm in MLP_SHORT
            n = params.short_steps if short else params.long_steps
            p = params.p if short else params.long_p
            every = params.log_every if short else params.long_log_every
            ckpt = max(n // 2, 1) if short else max(min(n // 2, LONG_CKPT_EVERY), 1)
            base = {"preset": "nanda"}
            fields = {**MLP_BASE, "task.p": p, "model.d_vocab_out": p}  # _P utils.py:L186
            arm_fields = MLP_ARMS[arm]
        else:
            n = min(params.long_steps, TRANSFORMER_STEPS)
            every, ckpt = params.log_every, max(n // 2, 1)
            base = {"preset": "prieto_transformer"}
            fields = {"task.p": params.p, "model.d_vocab_out": params.p}
            arm_fields = TRANSFORMER_ARMS[arm]
        out[arm] = arm_spec(base, {**fields, **_schedule(n, every, ckpt, params)}, arm_fields,
                            params.seeds, params.backend)  # fmt: skip
    return out


def report(arms: pd.DataFrame, params: Params, minutes: float) -> str:
    lines = [
        "StableMax and ⊥AdamW on the authors' setup (Prieto et al. 2025, arXiv 2501.04697)",
        f"setting {params.setting}, a + b mod p on 40% of pairs (p {params.p}"
        + (f"; the long arms' p {params.long_p}" if params.setting == "mlp" else "")
        + f"), seeds {list(params.seeds)}, budgets: short {params.short_steps}, long "
        f"{params.long_steps} steps; generalized = test accuracy >= {params.threshold:g}",
        "",
        *describe_arms(arms, params.threshold),
        "",
        f"study wall time (this invocation): {minutes:.1f} min",
    ]
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
        curves_title=f"Prieto et al.'s {params.setting}",
        set_title=f"Prieto et al.'s {params.setting}",
    )
    return collect(out, data=arms)


STUDY = Study(
    name="prieto",
    title="StableMax and ⊥AdamW on the authors' MLP and transformer, with controls",
    paper="Prieto et al. 2025, arXiv 2501.04697",
    params=Params,
    run=run,
    committed="studies/prieto",
    smoke={
        "p": 7,
        "long_p": 7,
        "seeds": [0],
        "arms": ["orthoadamw", "stablemax"],
        "short_steps": 10,
        "long_steps": 10,
        "log_every": 5,
        "long_log_every": 5,
    },  # fmt: skip
    cards=prieto2025.CARDS,
    runtime="about 1 min a short run (p 113, 300 steps); 27 min for the StableMax arm "
    "(3 seeds, p 47, 80,000 steps) on one of 2 shared cores; at p 113 40-47 min a long run "
    "alone on one thread (0.035 s a step), 77-83 min for StableMax's seeds 1 and 2 beside "
    "a third job; the transformer 5.5 min (⊥AdamW), 17 min (weight decay 1.5) and "
    "57 min (the baseline's 5,000 steps), one thread beside two other runs",
    threads=1,
)
