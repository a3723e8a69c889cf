"""The sweep's Ray backends: run directories come home, ensembles on every worker.

On a cluster the workers need not share a disk with the driver. Each Ray task trains in a
scratch directory on its own node (``$GROKINTERP_RAY_SCRATCH``, else the node's temporary
directory) and ships the run directories home to the sweep directory on the driver's node:

* A ``RunStore`` actor, pinned to the driver's node, is the only writer of the sweep
  directory. It hands a task the files a run already has (``pull``), so a run interrupted
  on one worker resumes from its last shipped checkpoint when Ray retries the task on any
  worker, and it writes what a task sends (``push``) atomically, after checking each
  file's SHA-256.
* While a task trains, a thread ships every file that changed, every few seconds
  (``$GROKINTERP_RAY_SYNC_SECONDS``, default 5), in an
  order that keeps the driver's copy resumable at every moment: checkpoints first, then
  the metrics and config, then the previous and the latest state file. When the task ends,
  everything is shipped once more, with the run's status file.

A task trains one run (backend ``ray``) or one same-shape batch of runs with the ensemble
trainer (backend ``ray-ensemble``: the batches of :func:`grokinterp.training.ensemble_batches`),
with one GPU each when the sweep's device is CUDA. Nothing here needs a shared file system,
and nothing needs one: a shared directory works as well, since the workers never write to
the sweep directory themselves. A task killed on its node leaves its scratch directory
(``grokinterp-<pid>-*``) behind; the next task on that node removes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs.io import atomic_write_bytes

SCRATCH_ENV = "GROKINTERP_RAY_SCRATCH"
SYNC_ENV = "GROKINTERP_RAY_SYNC_SECONDS"  # how often a task ships its changes (default 5)
Files = dict[str, tuple[bytes, str]]  # path relative to the sweep directory -> (bytes, sha256)
# trains the runs of a unit in ``scratch/runs/<name>``, statuses in ``scratch/status``
UnitFn = Callable[[Path, Any], None]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _order(rel: str) -> tuple[int, str]:
    """Ship checkpoints before the metrics and config, and the state files last (previous
    before latest), so the driver's copy is resumable after every single write."""
    if "/checkpoints/" in rel:
        rank = 0
    elif rel.endswith("previous.safetensors"):
        rank = 2
    elif rel.endswith("latest.safetensors"):
        rank = 3
    elif rel.startswith("status/"):
        rank = 4
    else:
        rank = 1
    return rank, rel


class RunStore:
    """The sweep directory's one writer, on the driver's node (a Ray actor)."""

    def __init__(self, sweep_dir: str):
        self.root = Path(sweep_dir)

    def pull(self, names: list[str]) -> Files:
        """Every file the runs ``names`` have so far, relative to the sweep directory."""
        out: Files = {}
        for name in names:
            run = self.root / "runs" / name
            for path in sorted(run.rglob("*")) if run.is_dir() else []:
                if path.is_file() and not path.name.endswith(".tmp"):
                    data = path.read_bytes()
                    out[str(path.relative_to(self.root))] = (data, _sha(data))
        return out

    def push(self, files: Files) -> None:
        """Write ``files`` (checked against their SHA-256) atomically, in shipping order."""
        for rel in sorted(files, key=_order):
            data, digest = files[rel]
            if _sha(data) != digest:
                raise RunDirError(f"{rel}: damaged in transit (checksum mismatch)")
            target = (self.root / rel).resolve()
            if self.root.resolve() not in target.parents:
                raise RunDirError(f"{rel}: outside the sweep directory")
            atomic_write_bytes(target, data)


class _Shipper(threading.Thread):
    """Ships the files of ``scratch`` that changed since the last push, every few seconds."""

    def __init__(self, store: Any, ray: Any, scratch: Path):
        super().__init__(daemon=True)
        self.store, self.ray, self.scratch = store, ray, scratch
        self.sent: dict[str, tuple[int, int]] = {}
        self.stopping = threading.Event()

    def changed(self) -> Files:
        out: Files = {}
        for path in sorted(self.scratch.rglob("*")):
            if not path.is_file() or path.name.endswith(".tmp"):
                continue
            try:
                with path.open("rb") as f:  # one version of the file, whatever is renamed
                    st = os.fstat(f.fileno())
                    key = (st.st_size, st.st_mtime_ns)
                    rel = str(path.relative_to(self.scratch))
                    if self.sent.get(rel) == key:
                        continue
                    data = f.read()
            except FileNotFoundError:  # replaced between listing and opening
                continue
            out[rel] = (data, _sha(data))
            self.sent[rel] = key
        return out

    def flush(self) -> None:
        files = self.changed()
        if files:
            self.ray.get(self.store.push.remote(files))

    def run(self) -> None:
        period = float(os.environ.get(SYNC_ENV, "5"))
        while not self.stopping.wait(period):
            self.flush()


def _run_unit(store: Any, fn: UnitFn, names: list[str], payload: Any) -> list[tuple[str, str]]:
    """A Ray task: pull the runs into scratch, train them with ``fn``, ship them home;
    return each run's status."""
    import ray  # an optional extra; this runs on a Ray worker, where it is installed

    root = Path(os.environ.get(SCRATCH_ENV) or tempfile.gettempdir())
    _remove_orphans(root)
    scratch = Path(tempfile.mkdtemp(prefix=f"grokinterp-{os.getpid()}-", dir=root))
    try:
        for rel, (data, digest) in ray.get(store.pull.remote(names)).items():
            if _sha(data) != digest:
                raise RunDirError(f"{rel}: damaged in transit (checksum mismatch)")
            atomic_write_bytes(scratch / rel, data)
        for name in names:
            (scratch / "runs" / name).mkdir(parents=True, exist_ok=True)
        (scratch / "status").mkdir(exist_ok=True)
        shipper = _Shipper(store, ray, scratch)
        shipper.start()
        try:
            fn(scratch, payload)
        finally:
            shipper.stopping.set()
            shipper.join()
            shipper.flush()
        return [(name, _status_of(scratch, name)) for name in names]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _remove_orphans(root: Path) -> None:
    """Delete the scratch directories (``grokinterp-<pid>-*``) of tasks on this node whose
    process is gone (killed: they could not clean up; their runs were shipped home)."""
    for d in root.glob("grokinterp-*-*"):
        try:
            os.kill(int(d.name.split("-")[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def _status_of(scratch: Path, name: str) -> str:
    try:
        return str(json.loads((scratch / "status" / f"{name}.json").read_text())["status"])
    except (OSError, ValueError, KeyError):
        return "failed"


def ray_units(
    units: Sequence[tuple[UnitFn, list[str], Any]],
    sweep_dir: Path,
    address: str | None,
    gpus: float = 0.0,
) -> Iterator[str]:
    """Run each ``(fn, run names, payload)`` unit as a Ray task with one CPU (and ``gpus``
    GPUs), shipping its run directories home to ``sweep_dir``; yield each run's status as
    its task ends. Checks that Ray is installed at once."""
    try:
        import ray  # an optional extra: imported only when a ray backend is chosen
    except ImportError:
        raise ConfigError("the ray backends need Ray: pip install 'grokinterp[ray]'") from None
    return _statuses(ray, units, sweep_dir, address, gpus)


def _statuses(
    ray: Any,
    units: Sequence[tuple[UnitFn, list[str], Any]],
    sweep_dir: Path,
    address: str | None,
    gpus: float,
) -> Iterator[str]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    try:
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        store = (
            ray.remote(num_cpus=0, scheduling_strategy=here)(RunStore)
            .remote(str(sweep_dir.resolve()))
        )  # fmt: skip
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=3)(_run_unit)
        pending = [task.remote(store, fn, names, payload) for fn, names, payload in units]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for _name, status in ray.get(ready[0]):
                yield status
    finally:
        if started:
            ray.shutdown()
