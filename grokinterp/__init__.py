"""grokinterp: train, checkpoint and dissect grokking models.

The curated API::

    import grokinterp
    grokinterp.train(grokinterp.TrainConfig(...), "runs/x")   # a run directory
    run = grokinterp.Run("runs/x")                             # open it
    grokinterp.analyze("runs/x")                               # measures + figures
    grokinterp.run_sweep(spec, "sweeps/wd")                    # many runs

Subpackages, in the order data flows through them: ``tasks`` -> ``models`` -> ``training``
-> ``runs`` (the run directory) -> ``analysis`` -> ``viz``; ``experiments`` drive many
runs through the same path. The names above are loaded on first use, so ``import
grokinterp`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from grokinterp._version import __version__

if TYPE_CHECKING:
    from grokinterp.config import TrainConfig
    from grokinterp.experiments.sweep import run_sweep
    from grokinterp.runs.run import Run
    from grokinterp.training.loop import train
    from grokinterp.viz.run_report import analyze

# name -> the module that defines it
_API = {
    "TrainConfig": "grokinterp.config",
    "Run": "grokinterp.runs.run",
    "train": "grokinterp.training.loop",
    "analyze": "grokinterp.viz.run_report",
    "run_sweep": "grokinterp.experiments.sweep",
}

__all__ = ["Run", "TrainConfig", "__version__", "analyze", "run_sweep", "train"]


def __getattr__(name: str) -> Any:
    """Load an API name from its module on first use (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'grokinterp' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
