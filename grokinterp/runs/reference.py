"""The shipped reference runs (``checkpoints/nanda``, ``checkpoints/quick``), wherever
grokinterp was installed from.

The runs live in the repository's ``checkpoints/`` folder, not inside the package (40 MB).
:func:`reference_run_dir` looks for ``<name>`` in, in order: the folder named by the
``GROKINTERP_CHECKPOINTS`` environment variable; the ``checkpoints/`` folder of the source
checkout the package is imported from (an editable install, or a checkout on the path);
``checkpoints/`` and ``../checkpoints/`` of the working directory (a notebook started in
``notebooks/``). A wheel installed elsewhere finds them once ``GROKINTERP_CHECKPOINTS``
points at a checkout's ``checkpoints/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from grokinterp.errors import RunDirError
from grokinterp.runs import layout
from grokinterp.runs.run import Run

ENV = "GROKINTERP_CHECKPOINTS"
NAMES = ("nanda", "quick")


def candidates(name: str) -> list[Path]:
    """Where :func:`reference_run_dir` looks, in order."""
    places = []
    if os.environ.get(ENV):
        places.append(Path(os.environ[ENV]))
    places.append(Path(__file__).resolve().parents[2] / "checkpoints")  # the source checkout
    places += [Path("checkpoints"), Path("..") / "checkpoints"]
    return [p / name for p in places]


def reference_run_dir(name: str) -> Path:
    """The directory of the shipped run ``name`` (``nanda`` or ``quick``)."""
    if name not in NAMES:
        raise RunDirError(f"reference run {name!r}: the shipped runs are {list(NAMES)}")
    tried = candidates(name)
    for path in tried:
        if (path / layout.CONFIG).exists():
            return path
    raise RunDirError(
        f"reference run {name!r}: not found (tried {', '.join(str(p) for p in tried)}); the "
        f"runs ship with the repository, not the package: clone it and set {ENV} to its "
        f"checkpoints/ folder"
    )


def reference_run(name: str) -> Run:
    """The shipped run ``name`` as a :class:`Run`: ``grokinterp.reference_run("nanda")``."""
    return Run(reference_run_dir(name))
