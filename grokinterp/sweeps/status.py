"""The status of each run of a sweep: ``SWEEP_DIR/status/<name>.json``.

``running``, ``done``, ``diverged``, ``pruned`` (stopped by a pruner,
:mod:`grokinterp.sweeps.pruning`) or ``failed`` with the error (the traceback of a failure in
``<name>.log``); ``pending`` until a backend starts the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grokinterp.runs.io import atomic_write_text


def status_path(run_dir: Path) -> Path:
    """``SWEEP_DIR/status/<name>.json`` for the run directory ``SWEEP_DIR/runs/<name>``."""
    return run_dir.parent.parent / "status" / f"{run_dir.name}.json"


def write_status(run_dir: Path, status: str, error: str | None = None) -> None:
    atomic_write_text(status_path(run_dir), json.dumps({"status": status, "error": error}))


def read_status(run_dir: Path) -> dict[str, Any]:
    """The run's status; a missing or damaged status file (not JSON, not UTF-8, not a
    mapping with a string ``status``) is ``pending``: not trusted, so the run is redone
    (resumed where its own files allow)."""
    pending: dict[str, Any] = {"status": "pending", "error": None}
    try:
        d = json.loads(status_path(run_dir).read_bytes().decode())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return pending
    if not isinstance(d, dict) or not isinstance(d.get("status"), str):
        return pending
    return d


def is_finished(run_dir: Path) -> bool:
    """The run reached its last step (status ``done`` is written only then), diverged
    (status ``diverged``: resuming it would diverge again) or was stopped by a pruner
    (status ``pruned``, :mod:`grokinterp.sweeps.pruning`)."""
    return read_status(run_dir).get("status") in ("done", "diverged", "pruned")


__all__ = ["is_finished", "read_status", "status_path", "write_status"]
