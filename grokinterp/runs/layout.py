"""The run-directory format, shared by the writer (train) and the reader (Run).

::

    run_dir/
      config.json                        TrainConfig + grokinterp_version
      metrics.jsonl                      one JSON object per logged step
      checkpoints/step_<N>.safetensors   parameters after N updates (metadata: step, sha256)
      state/latest.safetensors           optimizer + RNG state of the latest checkpoint
      state/previous.safetensors         the same for the checkpoint before it
      early_loss.safetensors             the training loss of each of the first
                                         schedule.early_loss_steps updates ("loss", float64)
      damaged/                           files set aside by `grokinterp repair`
      analysis/                          written by `grokinterp analyze`

A metrics line has ``step``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``,
``param_norm`` (L2 norm of all parameters), ``param_norms`` (L2 norm of each parameter,
by name), ``lr`` (the learning rate of the next update), ``wall_time`` (seconds of
training so far, summed over resumed sessions), ``softmax_collapse`` (the fraction of
training examples whose float32 softmax rounds to exactly 1: Prieto et al. 2025) and
``train_loss32`` (the training cross-entropy computed in float32). Losses are the run's
loss (``optim.loss``: softmax or StableMax cross-entropy) in float64, averaged over the whole
train / test set; step N is measured after N updates. (Runs written before version 0.2
have no ``softmax_collapse`` or ``train_loss32``.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from torch import Tensor

from grokinterp.config import TrainConfig
from grokinterp.errors import RunDirError
from grokinterp.models import Params, get_arch, param_shapes
from grokinterp.runs.guard import check_emptiable
from grokinterp.runs.io import atomic_write_text, load_tensors, read_header
from grokinterp.runs.lock import dir_lock
from grokinterp.tasks import get_task

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
STATE = "state/latest.safetensors"
PREVIOUS_STATE = "state/previous.safetensors"  # the state of the checkpoint before
DAMAGED = "damaged"  # where `grokinterp repair` sets damaged files aside
ANALYSIS = "analysis"
EARLY_LOSS = "early_loss.safetensors"  # the per-update training loss of the first updates

_STEP_RE = re.compile(r"^step_(\d+)\.safetensors$")
_TEMPORARY_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # io.atomic_write_bytes's names


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINTS / f"step_{step}.safetensors"


def checkpoint_steps_on_disk(run_dir: Path) -> list[int]:
    folder = run_dir / CHECKPOINTS
    if not folder.is_dir():
        return []
    steps = [int(m.group(1)) for p in folder.iterdir() if (m := _STEP_RE.match(p.name))]
    return sorted(steps)


def read_early_loss(run_dir: Path) -> Tensor:
    """The training loss of each of the run's first updates (float64, one per update, from
    update 0), as :mod:`grokinterp.training.core` writes it; RunDirError if the run has none."""
    path = run_dir / EARLY_LOSS
    if not path.exists():
        raise RunDirError(
            f"{run_dir}: no per-update training losses ({EARLY_LOSS}); the run was trained "
            f"with schedule.early_loss_steps 0 or by an older grokinterp; retrain it"
        )
    tensors, _ = load_tensors(path)
    if "loss" not in tensors or tensors["loss"].dim() != 1:
        raise RunDirError(f"{path}: not a per-update loss file (no 1-D 'loss' tensor)")
    return tensors["loss"].double()


_NUMBERS = (
    "train_loss", "train_acc", "test_loss", "test_acc", "param_norm", "lr", "wall_time",
    "softmax_collapse", "train_loss32",
)  # fmt: skip


def parse_metrics_line(line: bytes) -> dict[str, Any] | None:
    """A line of metrics.jsonl as a dict, or None when it is not a metrics line: not UTF-8,
    not a JSON object, no integer ``step`` >= 0, or a field of :mod:`layout`'s list that is
    not a number (NaN and infinity are numbers: a diverged run logs them), or
    ``param_norms`` not a mapping of numbers. The one rule of readers and ``repair``."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(row, dict):
        return None
    step = row.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return None
    if not all(_is_number(row[k]) for k in _NUMBERS if k in row):
        return None
    norms = row.get("param_norms", {})
    if not isinstance(norms, dict) or not all(_is_number(v) for v in norms.values()):
        return None
    return row


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Parsed lines of metrics.jsonl (each checked by :func:`parse_metrics_line`); a
    trailing partial line (a killed write) is skipped, any other bad line is a RunDirError
    that points to ``grokinterp repair``."""
    path = run_dir / METRICS
    if not path.exists():
        return []
    rows = []
    lines = path.read_bytes().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        row = parse_metrics_line(line)
        if row is not None:
            rows.append(row)
            continue
        if i == len(lines) - 1:
            break  # the last write was interrupted
        raise RunDirError(
            f"{path}: line {i + 1} is not a metrics line (not UTF-8 JSON with a step and "
            f"numbers); the file was edited or damaged; `grokinterp repair {run_dir}` sets "
            f"the bad lines aside"
        )
    return rows


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop the metrics lines from ``step`` on (a resumed run logs them again)."""
    rows = [r for r in read_metrics(run_dir) if r["step"] < step]
    atomic_write_text(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in rows))


def claim_dir(
    path: Path,
    *,
    force: bool,
    refusal: str,
    keep: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> bool:
    """Make ``path`` a directory ready to be written, without losing anything by accident.

    An empty or missing directory is created. One that holds anything is kept as it is when
    ``keep`` (the caller continues what is there; returns True), emptied when ``force`` (the
    directory itself stays, and with it the lock of :mod:`grokinterp.runs.lock`), and
    otherwise refused with ``RunDirError("{path}: {refusal}")``: the one rule behind
    ``train``, ``sweep`` and ``import-legacy``. ``force`` never empties the current
    directory (or one holding it), nor one holding ``inputs`` or an input the command line
    registered (:func:`grokinterp.runs.guard.check_emptiable`).
    """
    if not str(path).strip():
        raise RunDirError("empty output path; give a directory (an unset variable?)")
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: is a file, not a directory; choose another path")
    if path.exists() and any(path.iterdir()):
        if keep and not force:
            return True
        if not force:
            raise RunDirError(f"{path}: {refusal}")
        check_emptiable(path, inputs)
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"{path}: cannot create the directory ({e.strerror})") from None
    return False


def remove_stale_temporaries(*folders: Path) -> list[Path]:
    """Delete the temporary files (``.<name>.<random>.tmp``) that a killed atomic write
    (:func:`grokinterp.runs.io.atomic_write_bytes`) left in ``folders``; call it only while
    holding their lock, when no write can be in flight. Returns them."""
    stale = [
        p
        for folder in folders
        if folder.is_dir()
        for p in folder.iterdir()
        if _TEMPORARY_RE.match(p.name) and p.is_file()
    ]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def config_diffs(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """``field: stored X, given Y`` for each field where two nested config dicts differ."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_diffs(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: stored {va!r}, given {vb!r}")
    return out


def prepare_run_dir(cfg: TrainConfig, run_dir: Path, *, resume: bool, force: bool) -> bool:
    """Make ``run_dir`` ready for training ``cfg``; return True when a run is resumed.

    ``resume`` continues the run already there (its config must match ``cfg`` but for the
    stopping rule, and it must have a state file); a run killed before its first state file
    starts afresh. Anything else already in the directory is refused unless ``force``,
    which deletes it. A fresh start writes ``config.json`` and no metrics.
    """
    cfg_path = run_dir / CONFIG
    if cfg_path.exists() and not force:
        stored = TrainConfig.load(cfg_path)
        if not resume:
            what = "the same" if stored.identity() == cfg.identity() else "a different"
            raise RunDirError(
                f"{run_dir}: already holds a run with {what} config; pass --resume to continue "
                f"it, --force to delete it and start over, or choose another directory"
            )
        diffs = config_diffs(stored.identity(), cfg.identity())
        if diffs:
            raise RunDirError(
                f"{cfg_path}: --resume with a different config ({'; '.join(diffs[:3])}); "
                f"use the stored config, another run directory, or --force to start over"
            )
        if (run_dir / STATE).exists() or (run_dir / PREVIOUS_STATE).exists():
            return True
        if any(s > 0 for s in checkpoint_steps_on_disk(run_dir)):
            raise RunDirError(
                f"{run_dir}: has checkpoints but no {STATE} to resume from (a shipped, "
                f"imported or copied run); train into another directory, or pass --force "
                f"to delete it and start over"
            )
        # killed before its first state file: start afresh in place
        (run_dir / METRICS).unlink(missing_ok=True)
    else:
        analysis = run_dir / ANALYSIS
        # an `analyze` writing the run's analysis holds its lock: --force waits for none
        with dir_lock(analysis, "run's analysis") if analysis.is_dir() else nullcontext():
            claim_dir(
                run_dir,
                force=force,
                refusal=(
                    f"exists, is not empty and holds no run (no {CONFIG}); choose another "
                    f"directory or pass --force to overwrite it"
                ),
                inputs=[p for p in (cfg.init_from, cfg.mask_from) if p is not None],
            )
    atomic_write_text(cfg_path, cfg.to_json())
    return False


CONFIG_SHA = "config_sha256"  # in every checkpoint and state file: the config's hash ...
CONFIG_IDENTITY = "config"  # ... and the config itself (TrainConfig.identity(), JSON)


def config_stamp(cfg: TrainConfig) -> dict[str, str]:
    """The metadata that ties a checkpoint or state file to the config it was trained
    under: ``config`` (:meth:`TrainConfig.identity`, the fields a resumed run may not
    change, as sorted JSON) and ``config_sha256`` (its SHA-256)."""
    identity = json.dumps(cfg.identity(), sort_keys=True)
    return {CONFIG_IDENTITY: identity, CONFIG_SHA: hashlib.sha256(identity.encode()).hexdigest()}


def _common_diffs(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """``field: trained with X, config.json says Y`` for the fields both dicts have (a field
    added to or removed from the config since the file was written is no difference)."""
    out = []
    for k in sorted(set(a) & set(b)):
        va, vb = a[k], b[k]
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _common_diffs(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: trained with {va!r}, config.json says {vb!r}")
    return out


def check_stamp(cfg: TrainConfig, meta: dict[str, str], path: Path) -> None:
    """Raise RunDirError when the file at ``path`` (its metadata ``meta``) was written under
    another config than ``cfg`` (the run's config.json): it was edited after training, or
    the file belongs to another run. Files written before the stamp existed pass."""
    if CONFIG_SHA not in meta or meta[CONFIG_SHA] == config_stamp(cfg)[CONFIG_SHA]:
        return
    try:
        stored = json.loads(meta.get(CONFIG_IDENTITY, ""))
    except json.JSONDecodeError:
        stored = None
    diffs = (
        _common_diffs(stored, cfg.identity())
        if isinstance(stored, dict)
        else ["the config hash differs"]
    )
    if diffs:
        raise RunDirError(
            f"{path}: was trained under another config than config.json ({'; '.join(diffs[:3])}"
            f"); config.json was edited after training, or the file belongs to another run: "
            f"restore config.json (a sweep's spec.json holds the config of each of its runs)"
        )


def check_header(cfg: TrainConfig, path: Path) -> None:
    """:func:`check_stamp`, :func:`check_shapes` and the dtypes of the checkpoint or state
    file at ``path``, from its header alone (cheap: no tensor is read)."""
    meta, tensors = read_header(path)
    check_stamp(cfg, meta, path)
    if path.parent.name == CHECKPOINTS and get_arch(cfg.model.arch).neural:
        check_weights(
            cfg, {k: (dtype, tuple(shape)) for k, (dtype, shape) in tensors.items()}, path
        )


def check_consistency(run_dir: Path, cfg: TrainConfig) -> None:
    """Refuse a run whose config.json disagrees with its own files: the latest checkpoint
    and the state files (their config stamp, and the checkpoint's names, shapes and
    dtypes). ``Run``, ``info``, ``analyze`` and ``train --resume`` call it."""
    for path in misplaced(run_dir):
        raise RunDirError(
            f"{path}: is not a regular {'folder' if path.name == CHECKPOINTS else 'file'}; "
            f"`grokinterp repair {run_dir}` sets it aside"
        )
    steps = checkpoint_steps_on_disk(run_dir)
    paths = [checkpoint_path(run_dir, steps[-1])] if steps else []
    paths += [p for p in (run_dir / STATE, run_dir / PREVIOUS_STATE) if p.is_file()]
    for path in paths:
        check_header(cfg, path)


def misplaced(run_dir: Path) -> list[Path]:
    """The run's files that are not regular files (a directory, a pipe in place of
    ``state/latest.safetensors``, ...) and a ``checkpoints`` that is not a directory: what
    a writer would fail on halfway, so every reader and writer refuses them first."""
    files = [run_dir / n for n in (METRICS, STATE, PREVIOUS_STATE, EARLY_LOSS)]
    out = [p for p in files if p.exists() and not p.is_file()]
    folder = run_dir / CHECKPOINTS
    if folder.exists() and not folder.is_dir():
        out.append(folder)
    return out


_DTYPES = {"F32": "float32", "float32": "float32"}


def check_weights(
    cfg: TrainConfig, tensors: dict[str, tuple[str, tuple[int, ...]]], path: Path
) -> None:
    """Raise RunDirError unless the weights in ``path`` (name -> (dtype, shape)) have the
    names and shapes that ``cfg`` gives its model, and are float32 (every checkpoint
    grokinterp writes is; a file of int64 or float16 weights with a valid checksum is
    another file, not a run's)."""
    spec = get_task(cfg.task.name)
    d_in = spec.d_vocab(cfg.task)
    want = param_shapes(cfg.model, d_in, cfg.model.d_vocab_out or spec.n_classes(cfg.task))
    got = {k: shape for k, (_, shape) in tensors.items()}
    if got != want:
        diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        raise RunDirError(
            f"{path}: holds a model of another shape than config.json describes ({diff[0]}: "
            f"{got.get(diff[0])} in the file, {want.get(diff[0])} from the config); "
            f"config.json was edited, or the file belongs to another run"
        )
    bad = sorted((k, d) for k, (d, _) in tensors.items() if _DTYPES.get(d) != "float32")
    if bad:
        raise RunDirError(
            f"{path}: holds {bad[0][0]} as {bad[0][1]}, not float32 like every grokinterp "
            f"checkpoint; the file was written by something else: use the run's own checkpoints"
        )


def check_shapes(cfg: TrainConfig, tensors: Params, path: Path) -> None:
    """Raise RunDirError unless the weights in ``path`` have the names, shapes and dtype
    (float32) that ``cfg`` (the run's config.json) gives its model, and are finite."""
    check_weights(
        cfg,
        {k: (str(v.dtype).removeprefix("torch."), tuple(v.shape)) for k, v in tensors.items()},
        path,
    )
    bad = next((k for k, v in sorted(tensors.items()) if not bool(v.isfinite().all())), None)
    if bad is not None:  # training stops at the first non-finite loss: never a run's own
        raise RunDirError(
            f"{path}: {bad} holds NaN or infinite weights; no grokinterp run checkpoints "
            f"those (training stops when it diverges): the file was edited or is another "
            f"run's; analyze other steps with --steps"
        )
