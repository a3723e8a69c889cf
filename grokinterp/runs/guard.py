"""What ``--force`` may never delete, and the writes that may never leave a run directory.

``--force`` empties the output directory of a command. It never empties:

- the current directory, or a directory that holds it (``--out .``, ``--out ..``, an
  ``--out`` that resolves there through a symbolic link);
- a directory that holds an input of the command (its ``--config``, sweep spec, legacy
  checkpoint, ``init_from`` weights, ...): the inputs the command line names are registered
  with :func:`protecting` for the duration of the command, and callers may name more.

And a command writes inside a run directory only through real directories and files: a
symbolic link in the place of ``analysis/``, ``damaged/``, ``checkpoints/``, ``state/`` or
``metrics.jsonl`` is refused (:func:`check_no_links`), so that no write follows it out of
the run directory.

This module imports nothing heavy: the command line uses it before torch is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from grokinterp.errors import RunDirError

_PROTECTED: ContextVar[tuple[Path, ...]] = ContextVar("grokinterp_protected", default=())


@contextmanager
def protecting(paths: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """Register ``paths`` as inputs that no ``--force`` may delete, for the ``with`` block."""
    extra = tuple(Path(p) for p in paths if str(p).strip())
    token = _PROTECTED.set(_PROTECTED.get() + extra)
    try:
        yield
    finally:
        _PROTECTED.reset(token)


def _resolved(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):  # a NUL byte, a loop of links
        return Path(os.path.abspath(path))


def check_emptiable(path: Path, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Raise RunDirError unless ``--force`` may empty ``path``: it is neither the current
    directory nor holds it, and holds no input of the command (the ones registered with
    :func:`protecting`, and ``inputs``)."""
    target = _resolved(path)
    cwd = _resolved(Path.cwd())
    if target == cwd or target in cwd.parents:
        raise RunDirError(
            f"{path}: is the current directory or holds it; --force never empties it: give "
            f"the command a directory of its own (e.g. --out runs/NAME)"
        )
    for given in (*_PROTECTED.get(), *(Path(p) for p in inputs)):
        where = _resolved(given)
        if where == target or target in where.parents:
            raise RunDirError(
                f"{path}: holds {given}, an input of this command; --force would delete it: "
                f"write to another directory, or move the input out first"
            )


def check_no_links(run_dir: Path, *names: str) -> None:
    """Raise RunDirError when any of ``run_dir / name`` is a symbolic link: grokinterp
    writes a run's files and folders only inside the run directory."""
    for name in names:
        path = run_dir / name
        if path.is_symlink():
            raise RunDirError(
                f"{path}: is a symbolic link (to {os.readlink(path)}); grokinterp writes only "
                f"inside the run directory: replace the link by a directory or file of its own"
            )


def command_inputs(values: dict[str, object], outputs: Iterable[str]) -> list[Path]:
    """The paths among a parsed command line's values (argparse's ``vars(args)``): each
    value that is a Path, or a list or tuple of them, except those of ``outputs``."""
    skip = set(outputs)
    found: list[Path] = []
    for key, value in values.items():
        if key in skip:
            continue
        items = value if isinstance(value, list | tuple) else [value]
        found += [v for v in items if isinstance(v, Path)]
    return found


__all__ = ["check_emptiable", "check_no_links", "command_inputs", "protecting"]
