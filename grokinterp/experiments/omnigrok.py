"""Omnigrok on CPU: the LU mechanism and grokking on digits (Liu, Michaud & Tegmark 2023,
"Omnigrok: grokking beyond algorithmic data", arXiv 2210.01117).

Their account: in weight-norm space the training loss is L-shaped (low everywhere above a
small norm) and the test loss U-shaped (lowest in a "Goldilocks" shell around the norm of
a standard initialization); a large initialization (scale alpha) starts outside the shell,
the network fits the training set there at once, and generalizes only after weight decay
has brought the norm back into the shell: grokking, on ordinary data too (MNIST).
Training with the norm held fixed inside the shell generalizes with no delay.

:func:`run` runs the sweeps (the sweep engine, ensemble backend) of the preset
``omnigrok_digits`` (scikit-learn's 8x8 digits, 200 training images, an MLP of two ReLU
hidden layers of 200, MSE loss, AdamW):

* ``lu``: constrained-norm training (``optim.fixed_norm``, no weight decay) at a sweep of
  norms: ``alpha * N_1`` for each alpha of ``lu_alphas``, where ``N_1`` is the norm of the
  initial weights at alpha = 1 (seed 0), started from the initialization at that alpha
  (their landscape code likewise holds each run at its initial norm). The table has the
  final and the lowest train and test loss and accuracy of each run: the LU figure.
* ``init``: for each alpha of ``init_alphas``, three conditions: ``decay`` (weight decay
  1.0, unconstrained: their grokking recipe), ``free`` (no weight decay, unconstrained) and
  ``fixed`` (no weight decay, the norm held at ``N_1``: the constrained control, started
  from the same large initialization and projected onto the norm at step 0). The table
  has, per run, the first step with train accuracy >= 99%, the first step with test
  accuracy >= ``TEST_THRESHOLD`` (digits with 200 training images tops out near 95%, so
  Power et al.'s 99% is out of reach), the delay between them, the test accuracy at the
  first of them (``test_acc_at_fit``: low when the network memorizes first) and the final
  numbers.

* ``late``: the late constraint, a test of the mechanism that the ``fixed`` control (a
  projection at step 0, which gives back alpha = 1's initialization) is not: each ``free``
  run of ``init`` at ``late_alphas``, memorized by its last step, continued for
  ``late_steps`` from its last checkpoint (``init_from``) with the norm projected onto
  ``N_1`` and held, with weight decay, or with neither; ``late.csv``, ``late_curves.csv``.
* ``lu_add``: the ``lu`` sweep on algorithmic data, as in their first figure: a + b mod 47
  with the 1-layer transformer of the preset ``efficiency`` (cross-entropy, 40% of the
  pairs for training), held at ``alpha * N_1`` of that model for each alpha of
  ``lu_add_alphas``; ``lu_add.csv``.

It writes ``lu.csv``, ``init.csv``, ``curves.csv`` (the init runs' logged metrics, every
``CURVE_EVERY`` steps), ``report.txt`` and ``figures/`` into ``out_dir``; the run
directories are under ``out_dir/sweeps`` (ordinary sweep directories: re-running resumes
and reuses finished runs). Where our setup differs from the paper's is in the preset's
docstring (:mod:`grokinterp.presets`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch

from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import liu2023
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.models import init_params
from grokinterp.presets import get_preset
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.tasks import get_task
from grokinterp.viz.omnigrok import init_figure, lu_figure
from grokinterp.viz.report import write_figure_set

PRESET = "omnigrok_digits"
ADD_PRESET = "efficiency"  # a + b mod 47, a 1-layer transformer (the lu_add part)
PARTS = ("lu", "init", "lu_add", "late")
CONDITIONS = ("decay", "free", "fixed")
DECAY = 1.0  # the weight decay of the decay condition (the preset's)
TRAIN_THRESHOLD, TEST_THRESHOLD = 0.99, 0.90
CURVE_EVERY = 50


def unit_norm(seed: int = 0, preset: str = PRESET) -> float:
    """``N_1``: the L2 norm of all a preset model's initial weights at alpha = 1."""
    cfg = get_preset(preset)
    spec = get_task(cfg.task.name)
    model = dataclasses.replace(cfg.model, init_scale=1.0)
    d_in, d_out = spec.d_vocab(cfg.task), cfg.model.d_vocab_out or spec.size(cfg.task)
    params = init_params(model, d_in, d_out, torch.Generator().manual_seed(seed))
    return math.sqrt(sum(float(p.double().pow(2).sum()) for p in params.values()))


def lu_spec(
    alphas: Sequence[float], seeds: Sequence[int], steps: int, preset: str = PRESET
) -> dict[str, Any]:
    """The sweep of norms: each alpha's run held at ``alpha * N_1`` without weight decay."""
    n1 = unit_norm(preset=preset)
    return {
        "base": {"preset": preset},
        "overrides": {"weight_decay": 0.0, "max_steps": steps},
        "runs": [{"init_scale": a, "fixed_norm": round(a * n1, 4)} for a in alphas],
        "seeds": list(seeds),
    }


def condition_overrides(condition: str, alpha: float) -> dict[str, Any]:
    """The config fields of one condition of the init-scale experiment."""
    if condition == "decay":
        return {"init_scale": alpha, "weight_decay": DECAY}
    if condition == "free":
        return {"init_scale": alpha, "weight_decay": 0.0}
    if condition == "fixed":
        return {"init_scale": alpha, "weight_decay": 0.0, "fixed_norm": round(unit_norm(), 4)}
    raise ConfigError(f"condition: unknown {condition!r}; choose one of {list(CONDITIONS)}")


def init_spec(alphas: Sequence[float], seeds: Sequence[int], steps: int) -> dict[str, Any]:
    """The init-scale experiment: every alpha in each condition."""
    return {
        "base": {"preset": PRESET},
        "overrides": {"max_steps": steps},
        "runs": [condition_overrides(c, a) for a in alphas for c in CONDITIONS],
        "seeds": list(seeds),
    }


def late_spec(
    out: Path, alphas: Sequence[float], seeds: Sequence[int], init_steps: int, steps: int
) -> dict[str, Any]:
    """The late constraint: each ``free`` run of the init part (no weight decay, which has
    memorized by its last step) continued from that last checkpoint in each condition:
    the norm projected onto ``N_1`` and held there, weight decay, or neither."""
    free = [
        r for r in expand(init_spec(alphas, seeds, init_steps)) if _condition(r.varied) == "free"
    ]
    runs = [
        {
            **condition_overrides(c, r.config.model.init_scale),
            "init_from": str(
                layout.checkpoint_path(out / "sweeps" / "init" / "runs" / r.name, init_steps)
            ),
        }
        for r in free
        for c in CONDITIONS
    ]
    return {
        "base": {"preset": PRESET},
        "overrides": {"max_steps": steps},
        "runs": runs,
        "seeds": [0],  # the weights come from init_from; full batch: the seed is unused
    }


def _condition(varied: dict[str, Any]) -> str:
    if varied.get("fixed_norm") is not None:
        return "fixed"
    return "decay" if varied.get("weight_decay", 0.0) > 0 else "free"


def _first(rows: pd.DataFrame, col: str, at: float) -> float:
    hit = rows.loc[rows[col] >= at, "step"]
    return float(hit.iloc[0]) if len(hit) else math.nan


def run_table(sweep_dir: Path, spec: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per finished run of a sweep (alpha, condition, seed, the landmarks, the final
    and the lowest losses), and the logged metrics of every run every ``CURVE_EVERY``
    steps."""
    rows, curves = [], []
    for r in expand(spec):
        d = sweep_dir / "runs" / r.name
        if not (d / layout.METRICS).exists():
            continue
        m = pd.DataFrame(layout.read_metrics(d))
        if not len(m) or int(m["step"].iloc[-1]) < r.config.optim.max_steps:
            continue  # unfinished
        last = m.iloc[-1]
        train_step = _first(m, "train_acc", TRAIN_THRESHOLD)
        test_step = _first(m, "test_acc", TEST_THRESHOLD)
        source = r.config.init_from
        key: dict[str, Any] = {
            "alpha": r.config.model.init_scale,
            "condition": _condition(r.varied),
            "fixed_norm": r.config.optim.fixed_norm,
            "weight_decay": r.config.optim.weight_decay,
            # the seed of the run the weights come from (the late part), or the run's own
            "seed": int(found.group(1))
            if source and (found := re.search(r"seed=(\d+)", source))
            else r.config.seed,
        }
        rows.append(
            {
                **key,
                "train_step": train_step,
                "test_step": test_step,
                "delay": test_step - train_step,
                "test_acc_at_fit": (
                    float(m.loc[m["step"] == train_step, "test_acc"].iloc[0])
                    if not math.isnan(train_step)
                    else math.nan
                ),
                "start_test_acc": m["test_acc"].iloc[0],
                "final_train_loss": last["train_loss"],
                "final_test_loss": last["test_loss"],
                "final_train_acc": last["train_acc"],
                "final_test_acc": last["test_acc"],
                "final_param_norm": last["param_norm"],
                "min_train_loss": m["train_loss"].min(),
                "min_test_loss": m["test_loss"].min(),
                "max_test_acc": m["test_acc"].max(),
                "steps": int(last["step"]),
            }
        )
        cols = ["step", "train_loss", "test_loss", "train_acc", "test_acc", "param_norm"]
        keep = m.loc[m["step"] % CURVE_EVERY == 0, cols].copy()
        for k, v in key.items():
            keep[k] = v
        curves.append(keep)
    table = pd.DataFrame(rows)
    return table, (pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())


def lu_summary(lu: pd.DataFrame) -> dict[str, Any]:
    """The LU shape, from the seed means of the final losses against the norm: where the
    test loss is lowest, how much higher it is at the smallest and the largest norm, and
    the train loss at the two ends. U-shaped: the lowest test loss is at neither end and
    both ends are at least 1.5 times higher."""
    cols = ["final_train_loss", "final_test_loss", "final_test_acc"]
    mean = lu.groupby("fixed_norm")[cols].mean().sort_index()
    norms = mean.index.to_numpy(dtype=float)
    train, test, acc = (mean[c].to_numpy(dtype=float) for c in cols)
    i = int(np.argmin(test))
    return {
        "best_norm": float(norms[i]),
        "best_test_loss": float(test[i]),
        "best_test_acc": float(acc[i]),
        "test_loss_small_norm": float(test[0]),
        "test_loss_large_norm": float(test[-1]),
        "train_loss_small_norm": float(train[0]),
        "train_loss_large_norm": float(train[-1]),
        "u_shaped": bool(0 < i < len(test) - 1 and min(test[0], test[-1]) > 1.5 * test[i]),
    }


def _lu_line(name: str, lu: pd.DataFrame) -> str:
    s = lu_summary(lu)
    return (
        f"{name}: lowest mean final test loss {s['best_test_loss']:.4f} (test acc "
        f"{s['best_test_acc']:.3f}) at norm {s['best_norm']:.1f}; test loss "
        f"{s['test_loss_small_norm']:.4f} at the smallest norm, "
        f"{s['test_loss_large_norm']:.4g} at the largest; train loss "
        f"{s['train_loss_small_norm']:.4f} at the smallest norm, "
        f"{s['train_loss_large_norm']:.2g} at the largest; U-shaped: {s['u_shaped']}"
    )


def report(
    lu: pd.DataFrame,
    init: pd.DataFrame,
    n1: float,
    lu_add: pd.DataFrame | None = None,
    late: pd.DataFrame | None = None,
) -> str:
    """The study's numbers in a few lines (report.txt)."""
    lines = [f"Omnigrok on digits (preset {PRESET}); N_1 (norm at alpha = 1) = {n1:.2f}"]
    if len(lu):
        lines.append(_lu_line("LU (digits)", lu))
    if lu_add is not None and len(lu_add):
        n1_add = unit_norm(preset=ADD_PRESET)
        lines.append(
            _lu_line(f"LU (a + b mod 47, preset {ADD_PRESET}, N_1 = {n1_add:.2f})", lu_add)
        )
    if len(init):
        lines.append(
            f"init scale (train acc >= {TRAIN_THRESHOLD:.0%} step, test acc then, test acc >= "
            f"{TEST_THRESHOLD:.0%} step, delay, final test acc; means over seeds, "
            f"nan = never):"
        )
        g = init.groupby(["condition", "alpha"])
        agg = g[["train_step", "test_acc_at_fit", "test_step", "delay", "final_test_acc"]].mean()
        for key, r in agg.iterrows():
            cond, alpha = cast(tuple[str, float], key)
            lines.append(
                f"  {cond:5s} alpha {alpha:5.2f}: train {r['train_step']:7.0f} (test acc "
                f"{r['test_acc_at_fit']:.3f})  test "
                f"{r['test_step']:7.0f}  delay {r['delay']:7.0f}  final test acc "
                f"{r['final_test_acc']:.3f}"
            )
    if late is not None and len(late):
        lines.append(
            f"late constraint (the memorized free runs continued; test acc at the start, "
            f"first step at test acc >= {TEST_THRESHOLD:.0%}, final test acc; means):"
        )
        agg = late.groupby(["condition", "alpha"])[
            ["start_test_acc", "test_step", "final_test_acc"]
        ].mean()
        for key, r in agg.iterrows():
            cond, alpha = cast(tuple[str, float], key)
            lines.append(
                f"  {cond:5s} from alpha {alpha:5.2f}: start {r['start_test_acc']:.3f}  test "
                f"{r['test_step']:7.0f}  final test acc {r['final_test_acc']:.3f}"
            )
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, specs: dict[str, dict[str, Any]], static: bool | None) -> str:
    """Write the tables, report and figures from the runs finished so far; return the
    report."""
    tables = {part: run_table(out / "sweeps" / part, spec) for part, spec in specs.items()}
    (lu, _), (init, curves), (lu_add, _) = tables["lu"], tables["init"], tables["lu_add"]
    late, late_curves = tables["late"]
    out.mkdir(parents=True, exist_ok=True)
    for name, table in (
        ("lu", lu),
        ("init", init),
        ("curves", curves),
        ("lu_add", lu_add),
        ("late", late),
        ("late_curves", late_curves),
    ):
        if len(table):
            atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
    text = report(lu, init, unit_norm(), lu_add, late)
    atomic_write_text(out / "report.txt", text)
    figures: dict[str, Any] = {}
    if len(lu):
        figures["lu"] = lu_figure(lu)
    if len(init):
        # the accuracy panel at the init scale with the longest delay under weight decay
        delays = init[init["condition"] == "decay"].groupby("alpha")["delay"].mean().dropna()
        shown = float(delays.index[int(np.argmax(delays.to_numpy()))]) if len(delays) else None
        figures["init_scale"] = init_figure(init, curves, shown)
    if len(lu_add):
        figures["lu_add"] = lu_figure(lu_add, "LU on a + b mod 47 (1-layer transformer)")
    if len(late):
        figures["late"] = init_figure(
            late, late_curves, float(late["alpha"].max()),
            "Memorized (no weight decay) digits networks, continued",
        )  # fmt: skip
    if figures:
        write_figure_set(figures, out / "figures", "Omnigrok on digits", static)
    return text


# where the authors' values of the parameters below were read
_THEIR_MNIST = "KindXiaoming/Omnigrok@3a0a573 mnist"


@dataclass(frozen=True)
class Params:
    """The Omnigrok study's parameters (module doc)."""

    parts: tuple[str, ...] = param(
        PARTS,
        "parts to run: lu, init, lu_add, late (late continues runs of init, which must have "
        "finished)",
    )
    seeds: tuple[int, ...] = param((0, 1), "initialization seeds of every setting")
    lu_alphas: tuple[float, ...] = param(
        (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0),
        "init scales of lu: each run held at alpha * N_1",
        unit="alpha",
    )
    init_alphas: tuple[float, ...] = param(
        (1.0, 2.0, 4.0, 8.0, 16.0), "init scales of init", unit="alpha"
    )
    lu_steps: int = param(
        2000,
        "steps of the lu runs",
        unit="steps",
        paper=f"10000 of batch 100 ({_THEIR_MNIST}/landscape/mnist-landscape.ipynb "
        "cell 0:16, 0:55)",
    )
    init_steps: int = param(
        5000, "steps of the init runs", unit="steps",
        paper=f"100000 of batch 200 ({_THEIR_MNIST}/grokking/mnist-grokking.ipynb "
        "cell 7:2-3)",
    )  # fmt: skip
    lu_add_alphas: tuple[float, ...] = param(
        (0.125, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 2.0),
        "init scales of lu_add (a + b mod 47)",
        unit="alpha",
    )
    lu_add_steps: int = param(3000, "steps of the lu_add runs", unit="steps")
    late_alphas: tuple[float, ...] = param(
        (4.0, 8.0), "init scales whose memorized free runs of init the late part continues",
        unit="alpha",
    )  # fmt: skip
    late_steps: int = param(2000, "steps of the late runs", unit="steps")
    beta2: float | None = param(
        None,
        "AdamW's beta2 for the digits parts (none: the preset's 0.999, PyTorch's default, "
        "which Omnigrok's code uses)",
    )
    threads: int | None = param(1, "torch's intra-op threads while training (none: unchanged)")

    def __post_init__(self) -> None:
        unknown = set(self.parts) - set(PARTS)
        if unknown or not self.parts:
            raise ConfigError(f"parts: choose from {', '.join(PARTS)}; got {list(self.parts)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: give at least one seed, each once, got {list(self.seeds)}")
        for name in ("lu_alphas", "init_alphas", "lu_add_alphas", "late_alphas"):
            alphas = getattr(self, name)
            check_nonempty(name, alphas)
            if any(not a > 0 for a in alphas):
                raise ConfigError(f"{name}: give positive init scales, got {list(alphas)}")
        for name in ("lu_steps", "init_steps", "lu_add_steps", "late_steps"):
            check_positive(name, getattr(self, name))
        if self.beta2 is not None and not 0.0 <= self.beta2 < 1.0:
            raise ConfigError(f"beta2 must be in [0, 1), got {self.beta2}")
        if self.threads is not None:
            check_positive("threads", self.threads)


def specs(out: Path, params: Params) -> dict[str, dict[str, Any]]:
    """The sweep spec of every part (``late`` reads the init runs under ``out``)."""
    seeds = params.seeds
    found = {
        "lu": lu_spec(params.lu_alphas, seeds, params.lu_steps),
        "init": init_spec(params.init_alphas, seeds, params.init_steps),
        "lu_add": lu_spec(params.lu_add_alphas, seeds, params.lu_add_steps, preset=ADD_PRESET),
        "late": late_spec(out, params.late_alphas, seeds, params.init_steps, params.late_steps),
    }
    if params.beta2 is not None:
        for part in ("lu", "init", "late"):
            found[part]["overrides"]["beta2"] = params.beta2
    return found


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Run (or resume) the parts, write the tables, report and figures (module doc);
    ``data`` is the report's text. Finished runs are reused."""
    if params.threads is not None:
        torch.set_num_threads(params.threads)
    out = Path(out_dir)
    found = specs(out, params)
    for part in params.parts:  # every config is valid before anything trains
        expand(found[part])
    text = ""
    for part in PARTS:  # the tables and figures after each part
        if part in params.parts:
            run_sweep(found[part], out / "sweeps" / part, backend="ensemble", progress=progress)
            text = write_outputs(out, found, static)
    return collect(out, data=text)


STUDY = Study(
    name="omnigrok",
    title="Omnigrok on digits: the LU mechanism, init scale, the late constraint",
    paper="Liu, Michaud & Tegmark 2023, arXiv 2210.01117",
    params=Params,
    run=run,
    committed="studies/omnigrok",
    smoke={
        "seeds": [0],
        "lu_alphas": [1.0, 4.0],
        "init_alphas": [4.0],
        "lu_add_alphas": [1.0],
        "late_alphas": [4.0],
        "lu_steps": 20,
        "init_steps": 20,
        "lu_add_steps": 20,
        "late_steps": 20,
    },  # fmt: skip
    cards=liu2023.CARDS,
    runtime="10.5 min",
)

__all__ = [
    "STUDY", "Params", "init_spec", "late_spec", "lu_spec", "lu_summary", "run", "run_table",
    "specs", "unit_norm",
]  # fmt: skip
