"""Circuit-efficiency experiments (Varma et al. 2023, arXiv 2309.02390), run as sweeps.

:func:`norm_curves`: memorization-only networks with random labels and generalizing
networks trained to the same training-loss target over a grid of training-set sizes D;
:func:`ungrokking`: a grokked network continued on nested smaller training sets. Both are
resumable sweeps of :mod:`grokinterp.sweeps`; the D_crit estimate from their
tables is :mod:`grokinterp.analysis.efficiency`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from grokinterp.analysis.efficiency import (
    DRIFT_TAIL,
    Crossing,
    crossing_from_table,
    crossing_lines,
    generalizing_norms,
    raw_crossing,
    run_circuit_stats,
    ungrokking_transitions,
)
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.presets import PRESETS
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.tasks import get_task
from grokinterp.viz.efficiency import norm_vs_d_figure, ungrok_figure

# ------------------------------------------------------------- the studies' shared params
# the base of the efficiency and semi-grokking studies' smoke runs: the efficiency preset on
# a + b mod 17 with a smaller model and lr 1e-2 (a run at D = 200 groks in 300 steps)
SMOKE_CONFIG = Path(__file__).with_name("smoke") / "efficiency_base.json"


def sweep_base(preset: str, config: Path | None) -> dict[str, str]:
    """The sweep base of a study's runs: ``config`` (a ``config.json``) when given, else
    the preset."""
    return {"config": str(config)} if config is not None else {"preset": preset}


def check_base(params: Any) -> None:
    """A study's ``Params.preset`` is known, and ``config`` is not given beside a preset
    other than the default one (the base is one or the other)."""
    if params.preset not in PRESETS:
        raise ConfigError(f"preset: unknown {params.preset!r}; known: {sorted(PRESETS)}")
    default = next(f.default for f in dataclasses.fields(params) if f.name == "preset")
    if params.config is not None and params.preset != default:
        raise ConfigError(
            f"preset and config: the base is one or the other, got preset {params.preset!r} "
            f"and config {str(params.config)!r}"
        )


def check_device(device: str) -> None:
    """``device`` names a torch device (whether this machine has it is checked when the
    runs start)."""
    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"device: unknown torch device {device!r}; use cpu, cuda or cuda:N"
        ) from None


# ----------------------------------------------------------------------------- experiments
def _sweep_table(
    spec: dict[str, Any], out: Path, backend: str, progress: bool, device: str = "cpu"
) -> pd.DataFrame:
    return run_sweep(spec, out, backend=backend, progress=progress, device=device)


def norm_curves(
    base: dict[str, Any],
    sizes: Sequence[int],
    seeds: Sequence[int],
    target_loss: float,
    out_dir: str | Path,
    *,
    max_steps: int = 20_000,
    read_at: str = "converged",
    backend: str = "ensemble",
    progress: bool = True,
    device: str = "cpu",
) -> tuple[pd.DataFrame, Crossing]:
    """Parameter norm at a training-loss target against the training-set size D.

    For each D in ``sizes`` and each seed, trains a memorization-only network (labels
    randomly permuted) and a generalizing one (true labels) on the nested training set of
    size D and reads its parameter norm (Varma et al. 2023, their figure of C_mem / C_gen
    efficiency). ``read_at="converged"`` (default) trains for ``max_steps`` under weight
    decay and reads the final norm, keeping the runs whose final training loss is at most
    ``target_loss``; ``read_at="first"`` stops at the first step where the training loss
    reaches the target. The first cannot separate the circuits: measured on the quick
    model, norms read at the first hit (30-50 steps in) are still the initialization's,
    nearly equal for both kinds at every D. Varma et al. compare norms at convergence.
    Writes ``curves.csv``, ``norm_vs_d.html`` and ``report.txt`` into ``out_dir`` (the runs
    go to ``out_dir/mem`` and ``out_dir/gen``, resumable sweeps).

    Args:
        base: the ``base`` of a sweep spec, e.g. ``{"preset": "quick"}`` or
            ``{"config": "run/config.json"}``, plus optional ``overrides``.
        sizes: training-set sizes D, ascending.
        seeds: seeds (of the initialization) for the spread of the estimate.
        target_loss: the training-loss target.
        max_steps: the step budget of each run; runs that do not reach the target in it
            are reported and left out of the estimate.
        read_at: ``converged`` or ``first`` (see above).

    Long by design: its docstring; the body is the two sweeps and the report.
    """
    if read_at not in ("converged", "first"):
        raise ValueError(f"read_at must be 'converged' or 'first', got {read_at!r}")
    stop = (
        {"stop_loss": target_loss, "stop_patience": 0}
        if read_at == "first"
        else {"stop_loss": None, "stop_acc": None}
    )
    out = Path(out_dir)
    _check_circuit_stats_apply(_curve_spec(base, {}, sizes, seeds))
    tables = []
    for kind, random_labels in (("mem", True), ("gen", False)):
        overrides = {**stop, "max_steps": max_steps, "random_labels": random_labels}
        spec = _curve_spec(base, overrides, sizes, seeds)
        tables.append(_sweep_table(spec, out / kind, backend, progress, device).assign(kind=kind))
    table = _curves_table(pd.concat(tables, ignore_index=True), out, target_loss)
    crossing = crossing_from_table(table)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "curves.csv", table.to_csv(index=False))
    fig = norm_vs_d_figure(table, crossing)
    atomic_write_text(out / "norm_vs_d.html", fig.to_html(include_plotlyjs=True))
    missed = table[~table["reached_target"]]
    lines = [
        f"Parameter norm at training loss {target_loss} (Varma et al. 2023), "
        f"{len(seeds)} seed(s), D in {list(sizes)}.",
        *crossing_lines(crossing, raw_crossing(table), generalizing_norms(table)),
        f"runs that missed the target within {max_steps} steps (left out): {len(missed)}",
        f"largest change of the parameter norm over the last {DRIFT_TAIL:.0%} of a run "
        f"(convergence check): {table['norm_drift'].abs().max():.1%}",
    ]
    atomic_write_text(out / "report.txt", "\n".join(lines) + "\n")
    return table, crossing


def _check_circuit_stats_apply(spec: dict[str, Any]) -> None:
    """Refuse, before anything trains, a base whose task has cyclic structure but an even p:
    the curves' ``gen_share`` (and so D_crit) needs the real Fourier basis over Z_p, which
    needs an odd p. (Tasks with no cyclic structure train, with ``gen_share`` NaN.)"""
    task = expand(spec, "efficiency base")[0].config.task
    if task.p is not None and task.p % 2 == 0 and get_task(task.name).fourier is not None:
        raise ConfigError(
            f"task.p: the circuit statistics (gen_share, D_crit) use the real Fourier basis "
            f"over Z_p, which needs an odd p; got p={task.p} (use {task.p + 1} or another "
            f"odd p)"
        )


# the columns of curves.csv, in order
CURVE_COLUMNS = [
    "kind", "D", "seed", "name", "status", "reached_target", "steps", "final_param_norm",
    "norm_drift", "final_train_loss", "final_test_acc", "gen_share", "plateau_class",
    "train_99_step", "test_99_step",
]  # fmt: skip


def _curve_spec(
    base: dict[str, Any], overrides: dict[str, Any], sizes: Sequence[int], seeds: Sequence[int]
) -> dict[str, Any]:
    """The sweep spec of one kind of network over the D grid and the seeds."""
    return {
        "base": {k: v for k, v in base.items() if k != "overrides"},
        "overrides": {**base.get("overrides", {}), **overrides},
        "grid": {"train_size": [int(d) for d in sizes]},
        "seeds": [int(s) for s in seeds],
    }


def _curves_table(sweeps: pd.DataFrame, out: Path, target_loss: float) -> pd.DataFrame:
    """Both kinds' sweep results, with each run's circuit statistics, as ``curves.csv``."""
    table = sweeps.rename(columns={"train_size": "D"})
    table["reached_target"] = table["final_train_loss"] <= target_loss
    stats = [
        run_circuit_stats(out / kind / "runs" / name)
        for kind, name in zip(table["kind"], table["name"], strict=True)
    ]
    table = table.join(pd.DataFrame(stats, index=table.index))
    table = table[[c for c in CURVE_COLUMNS if c in table.columns]]
    return table.sort_values(["kind", "D", "seed"])


def ungrokking(
    grokked_checkpoint: str | Path,
    sizes: Sequence[int],
    weight_decays: Sequence[float],
    steps: int,
    out_dir: str | Path,
    *,
    backend: str = "ensemble",
    progress: bool = True,
    device: str = "cpu",
) -> tuple[pd.DataFrame, dict[float, float | None]]:
    """Continue a grokked network on nested smaller training sets (Varma et al. 2023).

    ``grokked_checkpoint`` is ``RUN_DIR/checkpoints/step_<N>.safetensors`` of a run that
    generalized. Each new run starts from those weights (``init_from``) with the run's
    config, training set the first D' of the same seeded permutation (a subset of the
    original), for each D' in ``sizes`` and each weight decay, for ``steps`` steps. The
    transition D'_t for a weight decay is the geometric mean of the largest D' whose final
    test accuracy is below 50% and the smallest D' at or above it (None if all runs are on
    one side). Writes ``ungrokking.csv``, ``test_acc_vs_d.html`` and ``report.txt``.
    """
    ckpt = Path(grokked_checkpoint)
    config = ckpt.parent.parent / "config.json"
    if not config.exists():
        raise RunDirError(
            f"{ckpt}: expected RUN_DIR/checkpoints/step_<N>.safetensors of a run (no {config})"
        )
    out = Path(out_dir)
    overrides = {"init_from": str(ckpt), "max_steps": steps, "stop_acc": None, "stop_loss": None}
    grid = {
        "train_size": [int(d) for d in sizes],
        "weight_decay": [float(w) for w in weight_decays],
    }
    spec = {"base": {"config": str(config)}, "overrides": overrides, "grid": grid}
    table = _sweep_table(spec, out / "runs", backend, progress, device)
    table = table.rename(columns={"train_size": "D_prime"})
    transitions = ungrokking_transitions(table)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "ungrokking.csv", table.to_csv(index=False))
    atomic_write_text(
        out / "test_acc_vs_d.html", ungrok_figure(table, steps).to_html(include_plotlyjs=True)
    )
    found = [v for v in transitions.values() if v is not None]
    moves = (
        f"it moves by a factor {max(found) / min(found):.2f} across weight decays"
        if len(found) >= 2
        else "too few transitions found to compare weight decays"
    )
    lines = [
        f"Ungrokking from {ckpt}: {steps} steps on nested subsets D' = {list(sizes)}.",
        *(
            f"weight decay {wd}: transition D'_t = "
            + (f"{v:.0f}" if v is not None else "not inside the grid")
            for wd, v in transitions.items()
        ),
        f"Varma et al. predict that the transition does not depend on weight decay: {moves}.",
    ]
    atomic_write_text(out / "report.txt", "\n".join(lines) + "\n")
    return table, transitions
