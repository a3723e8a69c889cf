"""``grokinterp repair``: set a run's damaged files aside and make it resumable.

Every tensor file of a run directory carries a checksum, and every reader checks it, so a
damaged file is reported, never trusted. This module is the way out that keeps the rest of
the run: it checks every file, moves the damaged ones to ``RUN_DIR/damaged/`` (nothing is
deleted), drops unreadable lines of ``metrics.jsonl`` (kept in ``damaged/`` too) and, when
the latest state file or its checkpoint is damaged, rolls the run back to the previous
state (``state/previous.safetensors``: the state of the checkpoint before). ``train
--resume`` then continues from there and re-creates the later checkpoints bit for bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from grokinterp.config import TrainConfig
from grokinterp.errors import RunDirError, UserError
from grokinterp.runs import layout
from grokinterp.runs.guard import check_no_links
from grokinterp.runs.io import atomic_write_bytes, load_tensors
from grokinterp.runs.lock import dir_lock
from grokinterp.training.state import read_state


@dataclass
class RepairReport:
    """What :func:`repair` did.

    Args:
        set_aside: ``(file, why)`` for each file moved to ``damaged/``, paths relative to
            the run directory.
        bad_metrics_lines: lines of ``metrics.jsonl`` that did not parse, set aside.
        resume_step: the step ``train --resume`` continues from; None when no intact state
            is left.
        rolled_back: the latest state was unusable and the previous one took its place.
    """

    set_aside: list[tuple[str, str]] = field(default_factory=list)
    bad_metrics_lines: int = 0
    resume_step: int | None = None
    rolled_back: bool = False


def _set_aside(run_dir: Path, path: Path, why: str, report: RepairReport) -> None:
    rel = path.relative_to(run_dir)
    target = run_dir / layout.DAMAGED / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists():  # an earlier repair set aside a file of the same name
        target = target.with_name(f"{rel.name}.{n}")
        n += 1
    os.replace(path, target)
    report.set_aside.append((str(rel), why))


def _usable(run_dir: Path, which: str) -> int | None:
    """The step of state file ``which`` when it and its checkpoint are intact, else None."""
    try:
        return read_state(run_dir, which).loop.step
    except RunDirError:
        return None


def repair(run_dir: str | Path) -> RepairReport:
    """Check every file of the run in ``run_dir``; set the damaged ones aside in
    ``damaged/`` and leave the run resumable from its last intact state (see the module
    docstring). Holds the run's lock: a run being trained is refused."""
    run_dir = Path(run_dir)
    if not (run_dir / layout.CONFIG).is_file():
        raise RunDirError(f"{run_dir}: not a run directory (no {layout.CONFIG})")
    report = RepairReport()
    with dir_lock(run_dir, "run"):
        try:
            cfg = TrainConfig.load(run_dir / layout.CONFIG)
        except UserError as e:
            raise RunDirError(
                f"{run_dir / layout.CONFIG}: damaged ({str(e).splitlines()[0]}); it cannot be "
                f"rebuilt from the checkpoints: restore it (a sweep's spec.json holds the "
                f"config of each of its runs)"
            ) from None
        # damaged files move only inside the run directory, never along a link out of it
        check_no_links(run_dir, layout.DAMAGED, layout.CHECKPOINTS, "state", layout.METRICS)
        layout.remove_stale_temporaries(run_dir, run_dir / layout.CHECKPOINTS, run_dir / "state")
        for path in layout.misplaced(run_dir):
            _set_aside(run_dir, path, "not a regular file or folder", report)
        for step in layout.checkpoint_steps_on_disk(run_dir):
            path = layout.checkpoint_path(run_dir, step)
            try:
                _, meta = load_tensors(path)
            except RunDirError as e:
                why = str(e).split("; ")[0].removeprefix(f"{path}: ")
                _set_aside(run_dir, path, why, report)
                continue
            # intact, but of another config (config.json edited, or a file of another run):
            # not damage to set aside, a mismatch the user resolves
            layout.check_header(cfg, path)
            layout.check_stamp(cfg, meta, path)
        latest, previous = run_dir / layout.STATE, run_dir / layout.PREVIOUS_STATE
        for path in (latest, previous):
            if path.exists() and _usable(run_dir, str(path.relative_to(run_dir))) is None:
                _set_aside(run_dir, path, "damaged, or its checkpoint is", report)
        if not latest.exists() and previous.exists():
            os.replace(previous, latest)
            report.rolled_back = True
        if latest.exists():
            report.resume_step = _usable(run_dir, layout.STATE)
        _repair_metrics(run_dir, report)
        _repair_early_loss(run_dir, report)
    return report


def _repair_metrics(run_dir: Path, report: RepairReport) -> None:
    """Set aside every line a reader would refuse (:func:`layout.parse_metrics_line`: not
    UTF-8, not JSON, no step, a value of the wrong type), bytes as they were."""
    path = run_dir / layout.METRICS
    if not path.exists():
        return
    good: list[bytes] = []
    bad: list[bytes] = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        (good if layout.parse_metrics_line(line) is not None else bad).append(line)
    if bad:
        damaged = run_dir / layout.DAMAGED / "metrics.bad-lines.jsonl"
        damaged.parent.mkdir(parents=True, exist_ok=True)
        with damaged.open("ab") as f:
            f.write(b"".join(line + b"\n" for line in bad))
        atomic_write_bytes(path, b"".join(line + b"\n" for line in good))
        report.bad_metrics_lines = len(bad)


def _repair_early_loss(run_dir: Path, report: RepairReport) -> None:
    """Set aside an early-loss file a reader would refuse (damaged, or not a 1-D ``loss``):
    its losses cannot be rebuilt, and a resumed run records none rather than a wrong one."""
    path = run_dir / layout.EARLY_LOSS
    if not path.exists():
        return
    try:
        layout.read_early_loss(run_dir)
    except RunDirError as e:
        why = str(e).split("; ")[0].removeprefix(f"{path}: ")
        _set_aside(run_dir, path, f"{why}; `predict` needs it: retrain the run to get it", report)
