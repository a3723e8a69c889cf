"""The sweep's backends: how the runs of a prepared sweep directory get trained.

``local`` (a pool of spawned worker processes, each training one run as ``grokinterp
train --resume`` does), ``ensemble`` (runs of the same shape trained together as one
batched computation, :mod:`grokinterp.training.ensemble`), ``ray`` (each run a Ray task)
and ``ray-ensemble`` (each same-shape batch a Ray task running the ensemble trainer; both
through :mod:`grokinterp.sweeps.ray_backend`). Every backend writes the same run
directories and statuses (:mod:`grokinterp.sweeps.status`); a failing run is recorded and
the others go on.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing as mp
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from grokinterp.config import TrainConfig
from grokinterp.errors import DivergedError
from grokinterp.sweeps.ray_backend import UnitFn, ray_units
from grokinterp.sweeps.spec import SweepRun
from grokinterp.sweeps.status import read_status, status_path, write_status
from grokinterp.training import (
    check_ensemble_configs,
    ensemble_batches,
    train,
    train_ensemble,
    train_groups,
)

BACKENDS = ("local", "ensemble", "ray", "ray-ensemble")

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


def train_runs(
    sweep_dir: Path,
    todo: Sequence[SweepRun],
    total: int,
    backend: str,
    workers: int,
    progress: bool,
    device: str,
    log: tuple[str, str],
    ray_address: str | None,
) -> None:
    """Train ``todo`` (runs of the sweep in ``sweep_dir``, ``total`` runs in all) with
    ``backend``; ``workers`` processes for the local one, each with an equal share of this
    process's torch threads (at least 1); ``log`` is (log_to, comma-separated; W&B
    project)."""
    log_to, wandb_project = [k for k in log[0].split(",") if k], log[1]
    if backend in ("ensemble", "ray-ensemble"):
        check_ensemble_configs([r.config for r in todo])
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
        _track(statuses, total, len(todo), progress, f"sweep ({backend})")
    else:
        # the caller's thread budget (``--threads``, else torch's default, one per core)
        # shared among the workers: a spawned worker starts with torch's default, so a
        # study given --threads 1 beside another job would otherwise oversubscribe the cores
        threads = max(1, torch.get_num_threads() // workers)
        local = [_job(r, sweep_dir, threads, device, log) for r in todo]
        _track(_run_local(local, workers), total, len(todo), progress, "sweep")


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


__all__ = ["BACKENDS", "Job", "run_one", "train_runs"]
