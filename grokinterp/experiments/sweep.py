"""Grids of runs: ``grokinterp sweep SPEC``.

A spec (YAML or JSON) names a base config, the fields to vary and the seeds::

    base: {preset: quick}            # or {config: path/to/config.json}; optional overrides:
    overrides: {max_steps: 2000}     # any config field, by flag name or section.field
    grid:                            # cartesian product of these values
      weight_decay: [0.3, 1.0]
      train_fraction: [0.3, 0.5]
    runs:                            # and/or an explicit list of override sets
      - {lr: 0.01}
    seeds: [0, 1, 2]                 # the top-level seed; default [0]

Every combination becomes a run directory under ``SWEEP_DIR/runs/<name>/`` (the name lists
the varied fields, e.g. ``weight_decay=0.3,train_fraction=0.5,seed=0``), with its status in
``SWEEP_DIR/status/<name>.json`` (``running``, ``done``, ``diverged``, ``pruned`` by
``--prune-after`` (:func:`prune_runs`) or ``failed`` with the error; the
traceback of a failure in ``<name>.log``). ``results.csv`` has
one row per run: the varied fields, status, grokking landmarks, final train / test accuracy
and loss, final parameter norm, steps, the Liu et al. phase
(:func:`grokinterp.analysis.phases.liu_phase`) and the plateau class
(:func:`grokinterp.analysis.phases.plateau_class`: grokked / semi-grokked / rising /
memorized / unfitted).
Re-running the same spec skips finished runs and resumes killed ones (``grokinterp train
--resume`` semantics); a failing run is recorded and the others go on.

Backends: ``local`` (a pool of worker processes), ``ensemble`` (runs of the same shape
trained together as one batched computation, see :mod:`grokinterp.training.ensemble`),
``ray`` (each run a Ray task) and ``ray-ensemble`` (each same-shape batch a Ray task running
the ensemble trainer), on a local Ray instance or a cluster given by ``ray_address``
(``pip install grokinterp[ray]``); the Ray tasks train on their own node's disk and ship
the run directories home (:mod:`grokinterp.experiments.ray_backend`), so a cluster needs
no shared file system. Every backend writes the same run directories.
"""

from __future__ import annotations

import ctypes
import importlib
import itertools
import json
import multiprocessing as mp
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
import yaml
from tqdm.auto import tqdm

from grokinterp.analysis.phases import liu_phase, plateau_class
from grokinterp.config import TrainConfig, config_flags, replace
from grokinterp.errors import ConfigError, DivergedError, RunDirError
from grokinterp.experiments.ray_backend import UnitFn, ray_units
from grokinterp.presets import get_preset
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.lock import dir_lock
from grokinterp.runs.metrics import landmarks
from grokinterp.runs.sinks import check_kinds
from grokinterp.training import ensemble_batches, train, train_ensemble, train_groups

if TYPE_CHECKING:
    from grokinterp.experiments.predictor import Predictor

SPEC = "spec.json"
RESULTS = "results.csv"
BACKENDS = ("local", "ensemble", "ray", "ray-ensemble")


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its name, the fields it varies, and its full config."""

    name: str
    varied: dict[str, Any]
    config: TrainConfig


def _field_index() -> dict[str, tuple[str, str]]:
    """Both spellings of every config field -> (section, field)."""
    index: dict[str, tuple[str, str]] = {}
    for flag, (section, name, _) in config_flags().items():
        index[flag] = index[flag.replace("-", "_")] = (section, name)
        if section:
            index[f"{section}.{name}"] = (section, name)
    return index


def _overrides(values: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    index = _field_index()
    out: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key not in index:
            raise ConfigError(
                f"{where}: unknown config field {key!r}; use a field name such "
                f"as 'weight_decay' or 'optim.weight_decay'"
            )
        section, name = index[key]
        out.setdefault(section, {})[name] = value
    return out


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON sweep spec."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sweep spec") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; give a .yaml or .json sweep spec") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; give a .yaml or .json sweep spec") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            spec = yaml.safe_load(text)
        else:
            spec = json.loads(text)
    except Exception as e:  # yaml and json raise different error types
        raise ConfigError(
            f"{path}: not valid {path.suffix[1:].upper() or 'JSON'} ({type(e).__name__})"
        ) from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a sweep spec is a mapping (base, grid, runs, seeds)")
    return spec


def expand(spec: dict[str, Any], where: str = "spec") -> list[SweepRun]:
    """Every run of a spec, with validated configs and unique names."""
    unknown = set(spec) - {"base", "overrides", "grid", "runs", "seeds", "backend", "workers"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; a spec has base, "
            f"overrides, grid, runs, seeds, backend, workers"
        )
    base_spec = spec.get("base") or {"preset": "nanda"}
    if "preset" in base_spec:
        base = get_preset(base_spec["preset"])
    elif "config" in base_spec:
        base = TrainConfig.load(base_spec["config"])
    else:
        raise ConfigError(f"{where}: base needs 'preset' or 'config'")
    base = replace(base, _overrides(spec.get("overrides") or {}, f"{where}: overrides"))
    grid = spec.get("grid") or {}
    if not all(isinstance(v, list) and v for v in grid.values()):
        raise ConfigError(f"{where}: every grid entry is a non-empty list of values")
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    explicit = spec.get("runs") or []
    if not isinstance(explicit, list) or not all(isinstance(r, dict) for r in explicit):
        raise ConfigError(f"{where}: runs is a list of mappings of config fields")
    variants = (
        [{**c, **r} for c in combos for r in (explicit or [{}])]
        if combos
        else (list(explicit) or [{}])
    )
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{where}: seeds is a list of integers")
    runs, names = [], set()
    for variant in variants:
        for seed in seeds:
            varied = {**variant, "seed": seed}
            cfg = replace(base, _overrides(varied, f"{where}: run {varied}"))
            name = ",".join(f"{k}={v}" for k, v in varied.items()).replace("/", "_")
            if name in names:
                raise ConfigError(f"{where}: two runs have the same settings ({name})")
            names.add(name)
            runs.append(SweepRun(name, varied, cfg))
    return runs


def status_path(run_dir: Path) -> Path:
    """``SWEEP_DIR/status/<name>.json`` for the run directory ``SWEEP_DIR/runs/<name>``."""
    return run_dir.parent.parent / "status" / f"{run_dir.name}.json"


def write_status(run_dir: Path, status: str, error: str | None = None) -> None:
    atomic_write_text(status_path(run_dir), json.dumps({"status": status, "error": error}))


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(status_path(run_dir).read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"status": "pending", "error": None}


def is_finished(run_dir: Path) -> bool:
    """The run reached its last step (status ``done`` is written only then), diverged
    (status ``diverged``: resuming it would diverge again) or was stopped by
    ``--prune-after`` (status ``pruned``)."""
    return read_status(run_dir).get("status") in ("done", "diverged", "pruned")


# name, run directory, config JSON, threads, device, log_to (comma-separated), W&B project
Job = tuple[str, str, str, int, str, str, str]


def run_one(job: Job) -> tuple[str, str, str | None]:
    """Train one run (in a worker process); never raises: failures are recorded."""
    name, run_dir_s, config_json, threads, device, log_to, project = job
    torch.set_num_threads(threads)
    run_dir = Path(run_dir_s)
    try:
        cfg = TrainConfig.from_dict(json.loads(config_json))
        write_status(run_dir, "running")
        train(
            cfg,
            run_dir,
            resume=True,
            progress=False,
            device=device,
            log_to=[k for k in log_to.split(",") if k],
            wandb_project=project,
        )
        write_status(run_dir, "done")
        return name, "done", None
    except DivergedError as e:  # an outcome of its hyper-parameters, recorded as such
        write_status(run_dir, "diverged", str(e))
        return name, "diverged", str(e)
    except BaseException as e:  # a failing run must not sink the sweep
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        status_path(run_dir).with_suffix(".log").write_text(traceback.format_exc())
        write_status(run_dir, "failed", msg)
        return name, "failed", msg


def _prepare(sweep_dir: Path, spec: dict[str, Any], runs: Sequence[SweepRun], force: bool) -> None:
    spec_path = sweep_dir / SPEC
    normalized = json.dumps({"runs": {r.name: r.config.to_dict() for r in runs}}, sort_keys=True)
    same = False
    if spec_path.exists() and not force:
        try:
            stored = json.loads(spec_path.read_text())
        except json.JSONDecodeError:
            raise RunDirError(
                f"{spec_path}: not valid JSON; restore it, or pass --force to start the sweep over"
            ) from None
        if json.dumps({"runs": _normalized(stored.get("runs"))}, sort_keys=True) != normalized:
            raise RunDirError(
                f"{sweep_dir}: holds a sweep with a different spec; choose "
                f"another directory or pass --force to start over"
            )
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
    prune_after: int | None = None,
) -> pd.DataFrame:
    """Run (or resume) every run of ``spec`` under ``sweep_dir``; return the results table.

    Args:
        spec: the sweep spec (see the module docstring).
        sweep_dir: where the runs, their status and ``results.csv`` go.
        backend: ``local``, ``ensemble`` or ``ray`` (default: the spec's, else local).
        workers: processes of the local backend (default: one per core).
        force: delete ``sweep_dir`` first.
        progress: show the progress display.
        ray_address: the Ray cluster of the Ray backends (default: start a local one).
        device: torch device of the runs (for the Ray backends, ``cuda`` gives each task
            one GPU of its node).
        log_to: also log every run's metrics to ``tensorboard`` and / or ``wandb``, a run
            each (:mod:`grokinterp.runs.sinks`).
        wandb_project: the W&B project of ``log_to=["wandb"]``.
        prune_after: train every run to this step first, predict with the shipped grokking
            predictor (:mod:`grokinterp.experiments.predictor`) and continue only the runs
            predicted to grok; the others get status ``pruned`` and their probability in
            ``pruning.json`` and the table's ``p_grok`` column (:func:`prune_runs`).
    """
    sweep_dir = Path(sweep_dir)
    log = (",".join(check_kinds(log_to)), wandb_project)
    runs = expand(spec)
    model: Predictor | None = None
    if prune_after is not None:
        predictor = _predictor()
        model = predictor.choose(predictor.load_models(), prune_after, None)
    if model is not None:
        for r in runs:
            if r.config.schedule.early_loss_steps < model.n:
                raise ConfigError(
                    f"--prune-after {model.n}: run {r.name} keeps the loss of only "
                    f"{r.config.schedule.early_loss_steps} updates (early_loss_steps); "
                    f"set early_loss_steps >= {model.n} in the spec's overrides"
                )
    backend = backend or spec.get("backend", "local")
    if backend not in BACKENDS:
        raise ConfigError(f"backend: unknown {backend!r}; choose one of {list(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: must be at least 1, got {workers}")
    with dir_lock(sweep_dir, "sweep"):
        _prepare(sweep_dir, spec, runs, force)
        if model is not None:
            prune_runs(
                sweep_dir, runs, model, lambda early: _run_prepared(
                    sweep_dir, early, backend, workers, spec, progress, device, log, ray_address
                ),
            )  # fmt: skip
        return _run_prepared(
            sweep_dir, runs, backend, workers, spec, progress, device, log, ray_address
        )


PRUNING = "pruning.json"


def _predictor() -> ModuleType:
    """:mod:`grokinterp.experiments.predictor`, loaded on first use: it reads runs through
    the analysis (TransformerLens models), which a sweep's training workers never import."""
    return importlib.import_module("grokinterp.experiments.predictor")


def prune_runs(
    sweep_dir: Path,
    runs: Sequence[SweepRun],
    model: Predictor,
    train_to: Callable[[list[SweepRun]], object],
) -> dict[str, Any]:
    """``--prune-after``: train every unfinished run whose budget exceeds ``model.n`` to
    that step (``train_to``, the sweep's own backend, on the runs with ``max_steps = n``; a
    run already past it is not retrained), predict its probability of grokking
    (:func:`grokinterp.experiments.predictor.predict_run`), and record the runs below the
    model's threshold as ``pruned``. Writes and returns ``SWEEP_DIR/pruning.json``: the
    model's N, threshold and budget, each decided run's probability, and the share of the
    sweep's training steps that pruning saved."""
    n = model.n
    path = sweep_dir / PRUNING
    done: dict[str, Any] = json.loads(path.read_text())["runs"] if path.exists() else {}
    open_runs = [
        r
        for r in runs
        if r.name not in done
        and r.config.optim.max_steps > n
        and not is_finished(sweep_dir / "runs" / r.name)
    ]
    short = [
        SweepRun(r.name, r.varied, replace(r.config, {"optim": {"max_steps": n}}))
        for r in open_runs
        if not [s for s in layout.checkpoint_steps_on_disk(sweep_dir / "runs" / r.name) if s >= n]
    ]
    if short:
        train_to(short)
    for r in open_runs:
        d = sweep_dir / "runs" / r.name
        if read_status(d).get("status") in ("diverged", "failed"):
            continue
        p = _predictor().predict_run(d, model).probability
        done[r.name] = {"p_grok": p, "pruned": p < model.threshold}
        if p < model.threshold:
            write_status(d, "pruned", f"predicted P(grok within {model.budget}) = {p:.3f}")
        else:
            write_status(d, "running")
    budgets = {r.name: r.config.optim.max_steps for r in runs}
    saved = sum(budgets[k] - n for k, v in done.items() if v["pruned"] and k in budgets)
    report = {
        "N": n,
        "threshold": model.threshold,
        "budget": model.budget,
        "family": model.family,
        "runs": done,
        "pruned": sum(v["pruned"] for v in done.values()),
        "compute_saved": saved / max(1, sum(budgets.values())),
        "heldout": model.heldout,
    }
    atomic_write_text(path, json.dumps(report, indent=1))
    return report


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
    log_to, wandb_project = [k for k in log[0].split(",") if k], log[1]
    todo = [r for r in runs if not is_finished(sweep_dir / "runs" / r.name)]
    if backend == "ensemble":
        jobs = [(r.config, sweep_dir / "runs" / r.name) for r in todo]
        train_groups(
            jobs,
            progress=progress,
            status=write_status,
            device=device,
            log_to=log_to,
            wandb_project=wandb_project,
        )
    elif backend in ("ray", "ray-ensemble"):
        gpus = 1.0 if device.startswith("cuda") else 0.0
        ray_jobs = [(r.config, _job(r, sweep_dir, 1, device, log)) for r in todo]
        units: list[tuple[UnitFn, list[str], Any]] = (
            [(_train_single, [j[0]], j) for _, j in ray_jobs]
            if backend == "ray"
            else [
                (_train_batch, [j[0] for _, j in batch], [j for _, j in batch])
                for batch in ensemble_batches(ray_jobs)
            ]
        )
        statuses = ray_units(units, sweep_dir, ray_address, gpus)
        _track(statuses, len(runs), len(todo), progress, f"sweep ({backend})")
    else:
        n_workers = max(
            1, min(workers or spec.get("workers") or os.cpu_count() or 1, len(todo) or 1)
        )
        threads = max(1, (os.cpu_count() or 1) // n_workers)
        local = [_job(r, sweep_dir, threads, device, log) for r in todo]
        _track(_run_local(local, n_workers), len(runs), len(todo), progress, "sweep")
    table = results(sweep_dir, runs)
    atomic_write_text(sweep_dir / RESULTS, table.to_csv(index=False))
    return table


def _job(
    r: SweepRun,
    sweep_dir: Path,
    threads: int,
    device: str,
    log: tuple[str, str] = ("", "grokinterp"),
) -> Job:
    """What :func:`run_one` needs to train ``r`` (plain strings: it crosses processes)."""
    config = json.dumps(r.config.to_dict())
    return r.name, str(sweep_dir / "runs" / r.name), config, threads, device, *log


def _die_with_parent(parent: int) -> None:
    """Pool initializer: on Linux, the worker gets SIGKILL when the sweep's process dies,
    however it dies (``kill -9`` included), so no run goes on training unwatched; the
    lock of its run directory goes with it."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the call
        os._exit(1)


def _run_local(jobs: list[Job], n_workers: int) -> Iterator[str]:
    """Each job in a pool of ``n_workers`` spawned processes; yields statuses as runs end."""
    with mp.get_context("spawn").Pool(
        n_workers, initializer=_die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        for _name, status, _err in pool.imap_unordered(run_one, jobs):
            yield status
        # let the workers exit by themselves: terminating them (the context's exit) leaves
        # their semaphores registered and the resource tracker warns of a leak
        pool.close()
        pool.join()


def _in_scratch(job: Job, scratch: Path) -> Job:
    """``job`` with its run directory moved to ``scratch/runs/<name>`` (a Ray task's)."""
    return (job[0], str(scratch / "runs" / job[0]), *job[2:])


def _train_single(scratch: Path, job: Job) -> None:
    """A ``ray`` unit: one run, as the local backend trains it."""
    run_one(_in_scratch(job, scratch))


def _train_batch(scratch: Path, jobs: list[Job]) -> None:
    """A ``ray-ensemble`` unit: one same-shape batch, trained as one ensemble; a batch that
    fails as a whole records every member as failed."""
    moved = [_in_scratch(j, scratch) for j in jobs]
    torch.set_num_threads(moved[0][3])
    dirs = [Path(j[1]) for j in moved]
    try:
        train_ensemble(
            [TrainConfig.from_dict(json.loads(j[2])) for j in moved],
            dirs,
            progress=False,
            status=write_status,
            device=moved[0][4],
            log_to=[k for k in moved[0][5].split(",") if k],
            wandb_project=moved[0][6],
        )
    except BaseException as e:  # a failing batch must not sink the sweep
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        for d in dirs:
            if read_status(d).get("status") not in ("done", "diverged"):
                write_status(d, "failed", msg)


def _track(statuses: Iterator[str], total: int, todo: int, progress: bool, desc: str) -> None:
    """Drive a backend's runs to the end, counting them on a progress bar."""
    done = failed = 0
    with tqdm(
        total=total, initial=total - todo, disable=not progress, unit="run", desc=desc
    ) as bar:
        for status in statuses:
            done += status in ("done", "diverged")
            failed += status == "failed"
            bar.update(1)
            bar.set_postfix(done=done, failed=failed, left=todo - done - failed)


def results(sweep_dir: Path, runs: Sequence[SweepRun]) -> pd.DataFrame:
    """One row per run: varied fields, status, landmarks, final metrics."""
    rows = []
    pruning = (
        json.loads((sweep_dir / PRUNING).read_text())["runs"]
        if (sweep_dir / PRUNING).exists()
        else None
    )
    for r in runs:
        d = sweep_dir / "runs" / r.name
        st = read_status(d)
        row: dict[str, Any] = {
            "name": r.name,
            **r.varied,
            "status": st["status"],
            "error": st["error"],
        }
        metrics = (
            pd.DataFrame(layout.read_metrics(d))
            if (d / layout.METRICS).exists()
            else pd.DataFrame()
        )
        if len(metrics):
            last = metrics.iloc[-1]
            lm = landmarks(metrics)
            row.update(liu_phase=liu_phase(metrics), plateau_class=plateau_class(metrics))
            row.update(
                train_99_step=lm.train_step,
                test_99_step=lm.test_step,
                grok_delay=lm.delay,
                steps=int(last["step"]),
                final_train_acc=last["train_acc"],
                final_test_acc=last["test_acc"],
                final_train_loss=last["train_loss"],
                final_test_loss=last["test_loss"],
                final_param_norm=last["param_norm"],
            )
        if pruning is not None:
            row["p_grok"] = pruning.get(r.name, {}).get("p_grok")
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["SweepRun", "expand", "load_spec", "results", "run_sweep"]
