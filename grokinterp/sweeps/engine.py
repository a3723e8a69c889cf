"""Grids of runs: ``grokinterp sweep SPEC``.

:func:`run_sweep` expands a spec (:mod:`grokinterp.sweeps.spec`) into runs, each a run
directory under ``SWEEP_DIR/runs/<name>/`` (the name lists the varied fields, e.g.
``weight_decay=0.3,train_fraction=0.5,seed=0``), with its status in
``SWEEP_DIR/status/<name>.json`` (:mod:`grokinterp.sweeps.status`: ``running``, ``done``,
``diverged``, ``pruned`` by a :class:`~grokinterp.sweeps.pruning.Pruner` or ``failed`` with
the error; the traceback of a failure in ``<name>.log``), trains them with a backend
(:mod:`grokinterp.sweeps.backends`) and writes ``results.csv``, one row per run
(:mod:`grokinterp.sweeps.results`). Re-running the same spec skips finished runs and
resumes killed ones (``grokinterp train --resume`` semantics); a failing run is recorded
and the others go on. A spec whose only change is a larger ``max_steps`` extends the sweep:
every run that trained to the end of the old budget continues from its last state (runs
that a stopping rule ended stay as they are); a smaller budget is refused.

Backends: ``local`` (a pool of worker processes), ``ensemble`` (runs of the same shape
trained together as one batched computation, see :mod:`grokinterp.training.ensemble`),
``ray`` (each run a Ray task) and ``ray-ensemble`` (each same-shape batch a Ray task running
the ensemble trainer), on a local Ray instance or a cluster given by ``ray_address``
(``pip install grokinterp[ray]``); the Ray tasks train on their own node's disk and ship
the run directories home (:mod:`grokinterp.sweeps.ray_backend`), so a cluster needs
no shared file system. Every backend writes the same run directories.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.lock import dir_lock
from grokinterp.runs.sinks import check_kinds
from grokinterp.sweeps.backends import BACKENDS, train_runs
from grokinterp.sweeps.pruning import Pruner, prune_runs
from grokinterp.sweeps.results import RESULTS, results
from grokinterp.sweeps.spec import SPEC, SweepRun, expand
from grokinterp.sweeps.status import is_finished, read_status, write_status
from grokinterp.training.preflight import check_bounds


def run_sweep(
    spec: dict[str, Any],
    sweep_dir: str | Path,
    *,
    backend: str | None = None,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
    ray_address: str | None = None,
    device: str = "cpu",
    log_to: Sequence[str] = (),
    wandb_project: str = "grokinterp",
    prune: Pruner | None = None,
) -> pd.DataFrame:
    """Run (or resume) every run of ``spec`` under ``sweep_dir``; return the results table.

    Args:
        spec: the sweep spec (:mod:`grokinterp.sweeps.spec`).
        sweep_dir: where the runs, their status and ``results.csv`` go.
        backend: ``local``, ``ensemble``, ``ray`` or ``ray-ensemble`` (default: the spec's,
            else local).
        workers: processes of the local backend (default: the spec's, else one per core).
        force: delete ``sweep_dir`` first.
        progress: show the progress display.
        ray_address: the Ray cluster of the Ray backends (default: start a local one).
        device: torch device of the runs (for the Ray backends, ``cuda`` gives each task
            one GPU of its node).
        log_to: also log every run's metrics to ``tensorboard`` and / or ``wandb``, a run
            each (:mod:`grokinterp.runs.sinks`).
        wandb_project: the W&B project of ``log_to=["wandb"]``.
        prune: train every run to step ``prune.after`` first and continue only the runs the
            pruner keeps; the others get status ``pruned``, and every decided run its
            probability in ``pruning.json`` and the table's ``p_grok`` column
            (:func:`grokinterp.sweeps.pruning.prune_runs`; ``grokinterp sweep
            --prune-after N`` passes :func:`grokinterp.experiments.predictor.pruner`).
    """
    sweep_dir = Path(sweep_dir)
    log = (",".join(check_kinds(log_to)), wandb_project)
    runs = expand(spec)
    for r in runs:  # every run's bounds before any run starts (docs/reliability.md)
        try:
            check_bounds(r.config)
        except ConfigError as e:
            raise ConfigError(f"run {r.name}: {e}") from None
    if prune is not None:
        prune.check(runs)
    backend = backend or spec.get("backend", "local")
    if backend not in BACKENDS:
        raise ConfigError(f"backend: unknown {backend!r}; choose one of {list(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: must be at least 1, got {workers}")
    with dir_lock(sweep_dir, "sweep"):
        _prepare(sweep_dir, spec, runs, force)
        if prune is not None:
            prune_runs(
                sweep_dir, runs, prune, lambda early: _run_prepared(
                    sweep_dir, early, backend, workers, spec, progress, device, log, ray_address
                ),
            )  # fmt: skip
        return _run_prepared(
            sweep_dir, runs, backend, workers, spec, progress, device, log, ray_address
        )


def _prepare(sweep_dir: Path, spec: dict[str, Any], runs: Sequence[SweepRun], force: bool) -> None:
    spec_path = sweep_dir / SPEC
    normalized = json.dumps({"runs": {r.name: r.config.to_dict() for r in runs}}, sort_keys=True)
    same = False
    if spec_path.exists() and not force:
        try:
            stored = json.loads(spec_path.read_bytes().decode())
            if not isinstance(stored, dict):
                raise ValueError("not a mapping")
        except (ValueError, RecursionError, OSError):  # JSONDecodeError, UnicodeDecodeError
            raise RunDirError(
                f"{spec_path}: not the JSON mapping a sweep writes; restore it, or pass --force "
                f"to start the sweep over"
            ) from None
        stored_runs = _normalized(stored.get("runs"))
        if json.dumps({"runs": stored_runs}, sort_keys=True) != normalized:
            _check_extension(sweep_dir, stored_runs, runs)
        same = True
    layout.claim_dir(
        sweep_dir,
        force=force,
        keep=same,
        refusal=(
            f"exists and is not a sweep directory (no {SPEC}); choose another directory or pass "
            f"--force"
        ),
    )
    (sweep_dir / "runs").mkdir(parents=True, exist_ok=True)
    (sweep_dir / "status").mkdir(exist_ok=True)
    atomic_write_text(
        spec_path,
        json.dumps({"spec": spec, "runs": json.loads(normalized)["runs"]}, indent=1, default=str),
    )


def _check_extension(sweep_dir: Path, stored: Any, runs: Sequence[SweepRun]) -> None:
    """Accept a spec that extends the stored one: a larger ``max_steps`` (the runs that
    trained to the old budget continue: :func:`_ended_by_budget`) and / or added runs (more
    seeds, more grid values: trained, while the runs already there are reused); refuse a
    removed run, any other change to a run's config, and a smaller budget."""
    new = {r.name: r.config.to_dict() for r in runs}

    def budgetless(cfgs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(json.dumps(cfgs))
        for cfg in out.values():
            if isinstance(cfg, dict) and isinstance(cfg.get("optim"), dict):
                cfg["optim"].pop("max_steps", None)
        return out

    def refuse(what: str) -> RunDirError:
        return RunDirError(
            f"{sweep_dir}: holds a sweep with a different spec ({what}); only a larger "
            f"max_steps or added runs extend a sweep: choose another directory or pass "
            f"--force to start over"
        )

    if not isinstance(stored, dict) or not all(isinstance(c, dict) for c in stored.values()):
        raise refuse(f"its {SPEC} holds no run configs")
    removed = sorted(set(stored) - set(new))
    if removed:
        raise refuse(f"runs removed: {removed[0]}")
    kept = {n: c for n, c in new.items() if n in stored}
    old_cfgs, new_cfgs = budgetless(stored), budgetless(kept)
    for name in kept:
        diffs = layout.config_diffs(old_cfgs[name], new_cfgs[name])
        if diffs:
            raise refuse(f"run {name}: {diffs[0]}")
    budget = {
        n: (stored[n]["optim"]["max_steps"], c["optim"]["max_steps"]) for n, c in kept.items()
    }
    shorter = [n for n, (old, given) in budget.items() if given < old]
    if shorter:
        n = shorter[0]
        old, given = budget[n]
        raise RunDirError(
            f"{sweep_dir}: max_steps {given} is below the {old} its runs were given (run {n}); "
            f"a sweep can be extended, not shortened: give max_steps >= {old} (analyze --steps "
            f"reads a part of a run)"
        )


def _ended_by_budget(run_dir: Path, cfg: TrainConfig) -> bool:
    """A finished run that trained to the end of a smaller budget than ``cfg``'s (its
    ``config.json`` holds the budget it last trained under): it continues when the sweep is
    extended. A run its stopping rule ended, or that diverged or was pruned, does not."""
    if read_status(run_dir).get("status") != "done" or not (run_dir / layout.CONFIG).exists():
        return False
    try:
        old = TrainConfig.load(run_dir / layout.CONFIG).optim.max_steps
    except ConfigError:
        return False
    steps = layout.checkpoint_steps_on_disk(run_dir)
    return old < cfg.optim.max_steps and bool(steps) and max(steps) >= old


def _normalized(runs: Any) -> Any:
    """Stored run configs with every field a newer grokinterp added at its default (so a
    sweep written before a config field existed is still the same sweep); as stored if they
    are not configs."""
    if not isinstance(runs, dict):
        return runs
    try:
        return {name: TrainConfig.from_dict(cfg).to_dict() for name, cfg in runs.items()}
    except ConfigError:
        return runs


def _run_prepared(
    sweep_dir: Path,
    runs: list[SweepRun],
    backend: str,
    workers: int | None,
    spec: dict[str, Any],
    progress: bool,
    device: str,
    log: tuple[str, str],
    ray_address: str | None,
) -> pd.DataFrame:
    """The runs of a prepared sweep directory not finished yet, then the results table."""
    extended = [r for r in runs if _ended_by_budget(sweep_dir / "runs" / r.name, r.config)]
    for r in extended:
        # no longer finished: a sweep killed while it trains other runs first (the ensemble
        # trains members by starting step, and rewrites every member's config.json before
        # it starts) must still continue these runs when run again
        write_status(sweep_dir / "runs" / r.name, "pending")
    todo = [r for r in runs if not is_finished(sweep_dir / "runs" / r.name)]
    n_workers = (  # processes of the local backend
        max(1, min(workers or spec.get("workers") or os.cpu_count() or 1, len(todo) or 1))
        if backend == "local"
        else 1
    )
    train_runs(sweep_dir, todo, len(runs), backend, n_workers, progress, device, log, ray_address)
    table = results(sweep_dir, runs)
    atomic_write_text(sweep_dir / RESULTS, table.to_csv(index=False))
    return table


__all__ = ["BACKENDS", "run_sweep"]
