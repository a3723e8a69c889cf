"""The sweep engine: many runs of one spec, trained by a backend, summed up in a table.

It knows configs, run directories and trainers, and no paper: the studies of
:mod:`grokinterp.experiments` drive it.

* :mod:`~grokinterp.sweeps.spec`: the spec (YAML / JSON: base config, grid, explicit runs,
  seeds), :func:`load_spec` and :func:`expand` into :class:`SweepRun` s.
* :mod:`~grokinterp.sweeps.engine`: :func:`run_sweep`, which prepares (or resumes) the sweep
  directory, trains the unfinished runs and writes ``results.csv``; :data:`BACKENDS`.
* :mod:`~grokinterp.sweeps.backends`: the ``local`` (worker processes) and ``ensemble``
  (same-shape runs trained as one batch) backends, and the dispatch to Ray's.
* :mod:`~grokinterp.sweeps.ray_backend`: the ``ray`` and ``ray-ensemble`` backends (tasks
  on a cluster that ship their run directories home).
* :mod:`~grokinterp.sweeps.status`: each run's status file (:func:`read_status`).
* :mod:`~grokinterp.sweeps.pruning`: :class:`Pruner`, a callback that stops runs at step N
  (``run_sweep(..., prune=...)``), and ``pruning.json`` (:data:`PRUNING`).
* :mod:`~grokinterp.sweeps.results`: the results table (one row per run).
* :mod:`~grokinterp.sweeps.compare`: several runs, or a sweep filtered by config fields,
  overlaid in one table and one report (``grokinterp compare``).

The names here are loaded on first use, so importing the package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grokinterp._lazy import lazy_attributes

if TYPE_CHECKING:
    from grokinterp.sweeps.backends import BACKENDS
    from grokinterp.sweeps.engine import run_sweep
    from grokinterp.sweeps.pruning import PRUNING, Pruner, Verdict
    from grokinterp.sweeps.spec import SPEC, SweepRun, expand, load_spec
    from grokinterp.sweeps.status import read_status

__all__ = [
    "BACKENDS",
    "PRUNING",
    "SPEC",
    "Pruner",
    "SweepRun",
    "Verdict",
    "expand",
    "load_spec",
    "read_status",
    "run_sweep",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "BACKENDS": "grokinterp.sweeps.backends",
        "run_sweep": "grokinterp.sweeps.engine",
        "PRUNING": "grokinterp.sweeps.pruning",
        "Pruner": "grokinterp.sweeps.pruning",
        "Verdict": "grokinterp.sweeps.pruning",
        "SPEC": "grokinterp.sweeps.spec",
        "SweepRun": "grokinterp.sweeps.spec",
        "expand": "grokinterp.sweeps.spec",
        "load_spec": "grokinterp.sweeps.spec",
        "read_status": "grokinterp.sweeps.status",
    },
)
