"""grokinterp: train, checkpoint and dissect grokking models.

The curated API::

    import grokinterp
    grokinterp.train(grokinterp.TrainConfig(...), "runs/x")   # a run directory
    run = grokinterp.Run("runs/x")                             # open it
    grokinterp.analyze("runs/x")                               # measures + figures
    grokinterp.reference_run("nanda")                          # the shipped reference run
    grokinterp.run_sweep(spec, "sweeps/wd")                    # many runs

Subpackages, in the order data flows through them: ``tasks`` -> ``models`` -> ``training``
-> ``runs`` (the run directory) -> ``analysis`` -> ``viz``; ``sweeps`` (the engine) drives
many runs through the same path, and ``experiments`` (the papers' studies) drive it. The
names above are loaded on first use, so ``import grokinterp`` does not import torch.
"""

from __future__ import annotations

import typing as _typing

from grokinterp._lazy import lazy_attributes as _lazy_attributes
from grokinterp._version import __version__

if _typing.TYPE_CHECKING:
    from grokinterp.config import TrainConfig
    from grokinterp.runs.reference import reference_run
    from grokinterp.runs.run import Run
    from grokinterp.sweeps.engine import run_sweep
    from grokinterp.training.loop import train
    from grokinterp.viz.run_report import analyze

__all__ = ["Run", "TrainConfig", "__version__", "analyze", "reference_run", "run_sweep", "train"]

__getattr__ = _lazy_attributes(
    __name__,
    {
        "TrainConfig": "grokinterp.config",
        "Run": "grokinterp.runs.run",
        "reference_run": "grokinterp.runs.reference",
        "train": "grokinterp.training.loop",
        "analyze": "grokinterp.viz.run_report",
        "run_sweep": "grokinterp.sweeps.engine",
    },
)


def __dir__() -> list[str]:
    """The curated API (loaded or not yet), the subpackages imported so far and the
    module's dunders; not the helpers this file imports (``annotations``, ``_typing``)."""
    public = [n for n in globals() if not n.startswith("_") and n != "annotations"]
    own = [n for n in globals() if n.startswith("__") and n != "__getattr__"]
    return sorted({*__all__, *public, *own})
