"""Grokking tickets on CPU (Minegishi, Iwasawa & Matsuo 2024, "Bridging lottery ticket and
grokking", arXiv 2310.19470).

Their claim: prune a network that has grokked by weight magnitude, reset the surviving
weights to the network's initial values and retrain with the mask held fixed (a lottery
ticket, Frankle & Carbin 2019): this *grokking ticket* generalizes without the long delay
of the dense network, and faster than a dense network whose weight norm is matched to the
ticket's, so weight norm alone does not explain grokking.

The setup is the authors' MLP setting, read from their code
(gouki510/Grokking-Tickets@8cee814 config.py and config_pruning.py, model.py, prune.py,
pruner.py; the card :mod:`grokinterp.experiments.cards.minegishi2024` gives file and line):
a + b mod ``p`` (67) over the pairs a <= b only (task ``add_unordered``), 40% of them for
training, split by Python's ``random.seed(seed); shuffle`` of the row-major pair list
(``split_method="python_random"``, ``split_seed`` = the seed); their OnlyMLP as an MLP
configuration: 500-wide embeddings, a bias-free projection to 48 units shared by the two
tokens and summed, ReLU, a bias-free projection back to 500, the unembedding
(``mlp_combine="sum"``, ``mlp_bias=False``, ``mlp_out_proj``, ``mlp_init="embed_vocab"``);
AdamW lr 1e-3, betas (0.9, 0.98), weight decay 1 (dense and ticket), no warm-up, full batch,
cross-entropy in float64; ``steps`` updates of the dense runs and ``arm_steps`` (default
``steps``) of the ticket and its controls. Per seed:

1. **dense**: the base run, trained from its seeded initialization (a sweep,
   :mod:`grokinterp.sweeps`); it must reach test accuracy 95% by ``mask_step`` for its
   ticket to count as a grokking ticket (a seed whose base run does not is reported and
   skipped);
2. for each ``sparsity``: the magnitude mask of its weights at ``mask_step`` (theirs: the
   final checkpoint) (:func:`grokinterp.training.masks.magnitude_mask`, global over the
   weight matrices as their ``Mag`` pruner with ``scope="global"``, or with
   ``prune="no_embed"`` over all but the embedding), and three runs from the base run's
   step-0 weights (``init_from``), trained like it: **ticket** (the mask held fixed,
   ``mask_from``), **random** (a random mask with the same number of kept weights in every
   matrix, :func:`~grokinterp.training.masks.random_mask`: ours, a layer-matched version of
   their global ``Rand`` pruner), and **dense_norm** (no mask; every initial weight scaled by
   ``sum_l |m_l * theta_0,l| / sum_l |theta_0,l|``, the sum over weight matrices of their
   L2 norms, as their ``get_weight_norm`` and ``set_weight_ratio``: utils.py:L345-361,
   prune.py:L37-39, the paper's norm-matched control).

The base runs are a sweep; the arms of all seeds, one shape, are trained together by the
ensemble trainer (run directories ``out/sweep/arms/runs/<arm>_s<seed>_q<sparsity>``). Writes
into ``out``:

* ``arms.csv``: one row per run: arm, seed, sparsity, the initial and final parameter norm,
  the steps train accuracy reaches 99% and test accuracy 95%, final test accuracy;
* ``summary.csv``: per arm and sparsity, the number of seeds and how many reached 95% test
  accuracy, the median and the range of their steps to it;
* ``measures.csv``: per run and checkpoint, progress measures: parameter norm, the Gini
  coefficient of the embedding's Fourier norms (Nanda et al. 2023's sparsity in frequency),
  the numerical and effective rank of the hidden features on all pairs
  (:mod:`grokinterp.analysis.rank`), test accuracy;
* ``traces.csv``; ``figures/tickets.png`` (test accuracy and parameter norm of every arm,
  a column per sparsity, seed 0), ``figures/measures.png``; ``report.txt``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from grokinterp.analysis.fourier import embedding_freq_norms
from grokinterp.analysis.measures import gini
from grokinterp.analysis.rank import feature_rank_table
from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import minegishi2024
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_nonempty,
    check_open_unit,
    check_positive,
    collect,
    param,
)
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text, save_tensors
from grokinterp.runs.run import Run
from grokinterp.sweeps.spec import expand
from grokinterp.training import train_groups
from grokinterp.training.masks import (
    apply_mask,
    magnitude_mask,
    prunable,
    random_mask,
    save_mask,
)
from grokinterp.viz.deep import tickets_figure, tickets_measures_figure
from grokinterp.viz.report import write_figure_set

SEEDS = (0, 1, 2)
SPARSITIES = (0.6,)  # their sparsity 0.4 is the fraction kept (pruner.py:L21-29)
STEPS = 30000
P = 67
TRAIN_FRACTION = 0.4
CKPT_EVERY = 1000  # fixed, so that a longer budget extends the runs (resume)
ARMS = ("ticket", "random", "dense_norm")
PRUNE = ("all", "no_embed")  # which weight matrices the masks prune
TEST_TARGET = 0.95  # "generalized": test accuracy at least this


def base_spec(seeds: Sequence[int] = SEEDS, steps: int = STEPS, p: int = P) -> dict[str, Any]:
    """The dense base runs (module doc), one per seed; the split seed is the seed, as in
    their ``gen_train_test(frac_train, d_vocab, seed=config.seed, ...)`` (train.py)."""
    if steps < 100:
        raise ConfigError(f"steps must be >= 100, got {steps}")
    return {
        "base": {"preset": "quick"},  # every field below is set: the preset is a placeholder
        "overrides": {
            "task.name": "add_unordered", "task.p": p, "task.train_fraction": TRAIN_FRACTION,
            "task.split_method": "python_random",
            "model.arch": "mlp", "model.n_layers": 1, "model.d_model": 500,
            "model.d_mlp": 48, "model.mlp_combine": "sum", "model.act_fn": "relu",
            "model.mlp_bias": False, "model.mlp_out_proj": True,
            "model.mlp_init": "embed_vocab",
            "optim.lr": 1e-3, "optim.weight_decay": 1.0, "optim.beta1": 0.9,
            "optim.beta2": 0.98, "optim.warmup_steps": 0, "optim.max_steps": steps,
            "schedule.log_every": 50, "schedule.ckpt_log_until": 400,
            "schedule.ckpt_log_count": 4, "schedule.ckpt_every": CKPT_EVERY,
        },
        "seeds": list(seeds),
        "backend": "ensemble",
    }  # fmt: skip


def seed_config(spec: dict[str, Any], seed: int) -> TrainConfig:
    """The base run of ``seed``: the spec's config with that seed for both the
    initialization and the split (theirs: one ``config.seed`` for both)."""
    cfg = expand({**spec, "seeds": [seed]})[0].config
    return replace(cfg, {"task": {"split_seed": seed}})


def base_jobs(out: Path, spec: dict[str, Any]) -> dict[int, tuple[TrainConfig, Path]]:
    """seed -> (config, run directory ``out/sweep/base/runs/seed=<seed>``) of the dense
    base runs."""
    runs = out / "sweep" / "base" / "runs"
    return {s: (seed_config(spec, s), runs / f"seed={s}") for s in spec["seeds"]}


def _first(m: pd.DataFrame, col: str, at: float) -> float:
    hit = m.loc[m[col] >= at, "step"]
    return float(hit.iloc[0]) if len(hit) else math.nan


def _norm(params: dict[str, torch.Tensor]) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in params.values()))


def layer_norm_sum(params: dict[str, torch.Tensor], names: Sequence[str]) -> float:
    """``sum_l |W_l|_2`` over the weight matrices ``names``: the weight norm that Minegishi et
    al. match their dense control to (gouki510/Grokking-Tickets@8cee814 utils.py:L345-361,
    ``get_weight_norm``'s l2 norms; its division by the number of matrices cancels in the
    ratio)."""
    return sum(float(params[n].double().norm()) for n in names)


def prepare_arms(
    out: Path,
    base_dirs: dict[int, Path],
    sparsities: Sequence[float],
    prune: str = "all",
    mask_step: int | None = None,
) -> list[dict[str, Any]]:
    """Masks and scaled initial weights under ``out/masks`` for every grokked base run; one
    entry per arm run: arm, seed, sparsity, and its config overrides (absolute paths).
    ``prune``: ``all`` weight matrices, or ``no_embed`` (all but the embedding ``W_E``);
    ``mask_step``: the checkpoint the masks come from (None: the last)."""
    if prune not in PRUNE:
        raise ConfigError(f"prune must be one of {list(PRUNE)}, got {prune!r}")
    masks = (out / "masks").resolve()
    arms: list[dict[str, Any]] = []
    for seed, run_dir in sorted(base_dirs.items()):
        run = Run(run_dir)
        init = layout.checkpoint_path(run.path, 0).resolve()
        at = run.steps[-1] if mask_step is None else mask_step
        if at not in run.steps:
            raise ConfigError(
                f"mask_step {at}: the dense run {run_dir} has no checkpoint there; use a "
                f"multiple of {CKPT_EVERY} or the last step"
            )
        theta0, final = run.params(0), run.params(at)
        for i, q in enumerate(sparsities):
            tag = f"s{seed}_q{q:g}"
            names = [n for n in prunable(final) if prune == "all" or n != "embed.W_E"]
            ticket = magnitude_mask(final, q, names)
            rand = random_mask(ticket, seed=1000 * seed + i)
            ticket_path = save_mask(ticket, masks / f"{tag}_ticket.safetensors")
            rand_path = save_mask(rand, masks / f"{tag}_random.safetensors")
            all_w = prunable(theta0)
            scale = layer_norm_sum(apply_mask(theta0, ticket), all_w) / layer_norm_sum(
                theta0, all_w
            )
            scaled = {k: v * scale for k, v in theta0.items()}
            scaled_path = masks / f"{tag}_dense_norm_init.safetensors"
            save_tensors(scaled_path, scaled, {"step": "0"})
            common = {"sparsity": q, "seed": seed}
            arms += [
                {"arm": "ticket", **common, "run": {"init_from": str(init),
                                                    "mask_from": str(ticket_path)}},
                {"arm": "random", **common, "run": {"init_from": str(init),
                                                    "mask_from": str(rand_path)}},
                {"arm": "dense_norm", **common, "run": {"init_from": str(scaled_path)},
                 "scale": scale},
            ]  # fmt: skip
    return arms


def arm_jobs(
    out: Path, arms: Sequence[dict[str, Any]], steps: int, p: int
) -> list[tuple[TrainConfig, Path]]:
    """(config, run directory) of every arm run: its seed's base config (the split; full
    batch and ``init_from`` leave the init seed no role) with the arm's ``init_from`` /
    ``mask_from``, in ``out/sweep/arms/runs/<arm>_s<seed>_q<sparsity>``."""
    spec = base_spec([0], steps, p)
    runs = out / "sweep" / "arms" / "runs"
    return [
        (
            replace(seed_config(spec, a["seed"]), {"": a["run"]}),
            runs / f"{a['arm']}_s{a['seed']}_q{a['sparsity']:g}",
        )
        for a in arms
    ]


def _finished(run_dir: Path, steps: int) -> bool:
    if not (run_dir / layout.METRICS).is_file():
        return False
    rows = layout.read_metrics(run_dir)
    return bool(rows) and rows[-1]["step"] >= steps


def run_measures(run: Run) -> pd.DataFrame:
    """Per checkpoint: parameter norm, Gini of the embedding's Fourier norms, numerical and
    effective rank of the hidden features on all pairs, test accuracy."""
    p = run.config.task.p
    assert p is not None
    ranks = feature_rank_table(run, split="all")
    ginis = [
        {"step": s, "gini_embed": float(gini(embedding_freq_norms(run.params(s), p)))}
        for s in run.steps
    ]
    table = ranks.merge(pd.DataFrame(ginis), on="step")
    keep = ["step", "param_norm", "gini_embed", "numerical_rank", "effective_rank",
            "train_acc", "test_acc"]  # fmt: skip
    return table[keep]


@dataclass(frozen=True)
class Params:
    """The tickets study's parameters (module doc)."""

    seeds: tuple[int, ...] = param(SEEDS, "seeds of the dense base runs")
    sparsities: tuple[float, ...] = param(
        SPARSITIES, "fractions of the weights pruned, each in (0, 1)", unit="fraction"
    )
    steps: int = param(
        STEPS,
        "training steps of every run",
        unit="steps",
        paper="30000 (gouki510/Grokking-Tickets@8cee814 config.py:L17, config_pruning.py:L17)",
    )
    arm_steps: int | None = param(
        None,
        "training steps of the ticket, random and dense_norm runs; null: steps",
        unit="steps",
        paper="30000 (gouki510/Grokking-Tickets@8cee814 config_pruning.py:L17)",
    )
    mask_step: int | None = param(
        None,
        "the dense run's checkpoint the masks come from (a multiple of 1000 or the last "
        "step); null: the last",
        unit="steps",
        paper="the final checkpoint (gouki510/Grokking-Tickets@8cee814 config_pruning.py:L71-72)",
    )
    p: int = param(
        P,
        "the modulus of a + b mod p",
        paper="67 (gouki510/Grokking-Tickets@8cee814 config.py:L10)",
    )
    prune: Literal["all", "no_embed"] = param(
        "all", "weight matrices the masks prune: all, or all but the embedding"
    )
    base_target: float = param(
        TEST_TARGET,
        "test accuracy a dense run must reach for its masks to be built (0 accepts any)",
        unit="accuracy",
    )

    def __post_init__(self) -> None:
        check_nonempty("seeds", self.seeds)
        check_open_unit("sparsities", self.sparsities)
        check_positive("steps", self.steps, minimum=100)
        check_positive("p", self.p, minimum=2)
        if self.arm_steps is not None:
            check_positive("arm_steps", self.arm_steps, minimum=100)
        if self.mask_step is not None and not 0 < self.mask_step <= self.steps:
            raise ConfigError(f"mask_step must be in [1, steps={self.steps}], got {self.mask_step}")
        if self.prune not in PRUNE:
            raise ConfigError(f"prune must be one of {list(PRUNE)}, got {self.prune!r}")
        if not 0.0 <= self.base_target <= 1.0:
            raise ConfigError(f"base_target must be in [0, 1], got {self.base_target}")


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the base runs, build the masks, train the arms, write the tables, figures and
    report (module doc); ``data`` is ``arms.csv``'s table. Re-running resumes. A seed's base
    run must reach test accuracy ``params.base_target`` for its masks to be built."""
    out = Path(out_dir)
    seeds, sparsities, steps, p = params.seeds, params.sparsities, params.steps, params.p
    prune, base_target = params.prune, params.base_target
    spec = base_spec(seeds, steps, p)
    bases = base_jobs(out, spec)
    todo = [(c, d) for c, d in bases.values() if not _finished(d, steps)]
    if todo:  # one ensemble; finished runs are left alone, killed ones resume
        train_groups(todo, progress=progress)
    mask_at = steps if params.mask_step is None else params.mask_step
    base_dirs, skipped = {}, []
    for seed, (_, d) in bases.items():
        m = Run(d).metrics
        hit = _first(m[m["step"] <= mask_at], "test_acc", base_target)
        if not math.isnan(hit):
            base_dirs[seed] = d
        else:
            skipped.append(seed)
    arms = prepare_arms(out, base_dirs, sparsities, prune, mask_at)
    arm_steps = steps if params.arm_steps is None else params.arm_steps
    jobs = arm_jobs(out, arms, arm_steps, p)
    # the arms share one shape: the ensemble trainer (the sweep's ensemble backend) trains
    # them together; finished ones are left alone, killed ones resume
    todo = [(c, d) for c, d in jobs if not _finished(d, arm_steps)]
    if todo:
        train_groups(todo, progress=progress)
    entries: list[dict[str, Any]] = [
        {"arm": "dense", "sparsity": 0.0, "seed": s, "dir": d} for s, d in base_dirs.items()
    ]
    entries += [{**a, "dir": d} for a, (_, d) in zip(arms, jobs, strict=True)]
    rows, traces, measures = [], [], []
    for e in entries:
        if not _finished(e["dir"], steps if e["arm"] == "dense" else arm_steps):
            continue
        trained = Run(e["dir"])
        m = trained.metrics
        key: dict[str, Any] = {"arm": e["arm"], "seed": e["seed"], "sparsity": e["sparsity"]}
        rows.append(
            {
                **key,
                "init_norm": float(m["param_norm"].iloc[0]),
                "final_norm": float(m["param_norm"].iloc[-1]),
                "train_99_step": _first(m, "train_acc", 0.99),
                "test_95_step": _first(m, "test_acc", TEST_TARGET),
                "final_test_acc": float(m["test_acc"].iloc[-1]),
            }
        )
        t = m[["step", "train_acc", "test_acc", "train_loss", "param_norm"]].copy()
        traces.append(t.assign(**key))
        measures.append(run_measures(trained).assign(**key))
    table = pd.DataFrame(rows)
    atomic_write_text(out / "arms.csv", table.to_csv(index=False))
    summary = summarize(table)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    if traces:
        tr = pd.concat(traces, ignore_index=True)
        ms = pd.concat(measures, ignore_index=True)
        atomic_write_text(out / "traces.csv", tr.to_csv(index=False))
        atomic_write_text(out / "measures.csv", ms.to_csv(index=False))
        seed0 = min(base_dirs) if base_dirs else 0
        figs = {
            "tickets": tickets_figure(tr, seed0),
            "measures": tickets_measures_figure(ms, seed0),
        }
        write_figure_set(figs, out / "figures", "Grokking tickets", static)
    atomic_write_text(
        out / "report.txt",
        report(summary, spec, skipped, base_target, prune, mask_at, arm_steps),
    )
    return collect(out, data=table)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per arm and sparsity: seeds, how many reached the test target, and the median, min
    and max of their steps to it."""
    rows: list[dict[str, Any]] = []
    if not len(table):
        return pd.DataFrame(rows)
    for (arm, q), g in table.groupby(["arm", "sparsity"], sort=False):
        hit = g["test_95_step"].dropna()
        rows.append(
            {
                "arm": arm,
                "sparsity": q,
                "seeds": len(g),
                "generalized": len(hit),
                "median_test_95_step": float(hit.median()) if len(hit) else math.nan,
                "min_test_95_step": float(hit.min()) if len(hit) else math.nan,
                "max_test_95_step": float(hit.max()) if len(hit) else math.nan,
                "median_init_norm": float(g["init_norm"].median()),
                "median_final_norm": float(g["final_norm"].median()),
            }
        )
    return pd.DataFrame(rows)


def report(
    summary: pd.DataFrame,
    spec: dict[str, Any],
    skipped: Sequence[int],
    base_target: float = TEST_TARGET,
    prune: str = "all",
    mask_step: int | None = None,
    arm_steps: int | None = None,
) -> str:
    """The setup and, per arm and sparsity, the steps to 95% test accuracy."""
    o = spec["overrides"]
    steps = o["optim.max_steps"]
    lines = [
        "Grokking tickets (Minegishi, Iwasawa & Matsuo 2024, arXiv 2310.19470)",
        f"setup (the authors' MLP setting): a + b mod {o['task.p']} over the pairs a <= b, "
        f"{o['task.train_fraction']:g} of them for training (split seed = seed); embeddings "
        f"{o['model.d_model']}, a shared bias-free projection to {o['model.d_mlp']} summed "
        f"over the two tokens, ReLU, a projection back to {o['model.d_model']}, unembedding; "
        f"AdamW lr {o['optim.lr']:g} betas ({o['optim.beta1']}, {o['optim.beta2']}) wd "
        f"{o['optim.weight_decay']:g}, full batch, {steps} steps of the dense runs and "
        f"{steps if arm_steps is None else arm_steps} of the ticket, random and dense_norm "
        f"runs; seeds "
        f"{spec['seeds']}; masks from the dense run's weights at step "
        f"{steps if mask_step is None else mask_step}, global magnitude over "
        + ("every weight matrix" if prune == "all" else "every weight matrix but the embedding"),
    ]
    if skipped:
        lines.append(
            f"seeds whose dense run did not reach test accuracy {base_target:g} (no ticket): "
            f"{list(skipped)}"
        )
    lines.append("")
    for _, r in summary.iterrows():
        steps = (
            f"median {r['median_test_95_step']:.0f} (range {r['min_test_95_step']:.0f}-"
            f"{r['max_test_95_step']:.0f})"
            if r["generalized"]
            else "none"
        )
        lines.append(
            f"{r['arm']:10s} sparsity {r['sparsity']:.1f}: {int(r['generalized'])}/"
            f"{int(r['seeds'])} reach 95% test accuracy, steps {steps}; norm "
            f"{r['median_init_norm']:.1f} -> {r['median_final_norm']:.1f}"
        )
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="tickets",
    title="grokking tickets: pruned subnetworks of a grokked MLP retrained from its init",
    paper="Minegishi, Iwasawa & Matsuo 2024, arXiv 2310.19470",
    params=Params,
    run=run,
    committed="studies/grokking_tickets",
    smoke={"seeds": [0], "sparsities": [0.5], "steps": 100, "p": 7, "base_target": 0.0},
    cards=minegishi2024.CARDS,
    runtime="12 min (3 seeds: dense runs of 30000 steps, arms of 6000; 2 shared cores)",
    committed_params={"arm_steps": 6000},
    threads=1,  # the committed run trained with one thread on 2 shared cores
)
