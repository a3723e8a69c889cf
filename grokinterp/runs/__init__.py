"""Runs on disk: the run-directory format, its atomic checksummed I/O, :class:`Run`, and the
import of checkpoints saved by the progress-measures paper's code.

The run directory is the interface between training (which writes it) and analysis (which
reads it): :mod:`grokinterp.runs.layout` defines it, :mod:`grokinterp.runs.io` writes and
reads its files, :class:`Run` opens one in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grokinterp._lazy import lazy_attributes

if TYPE_CHECKING:
    from grokinterp.runs.legacy import import_legacy
    from grokinterp.runs.metrics import Landmarks, landmarks
    from grokinterp.runs.reference import reference_run
    from grokinterp.runs.run import Run

__all__ = ["Landmarks", "Run", "import_legacy", "landmarks", "reference_run"]

# loaded on first use, so that training (which writes run directories through layout and
# io) does not import Run and the TransformerLens models behind it
__getattr__ = lazy_attributes(
    __name__,
    {
        "Landmarks": "grokinterp.runs.metrics",
        "Run": "grokinterp.runs.run",
        "landmarks": "grokinterp.runs.metrics",
        "import_legacy": "grokinterp.runs.legacy",
        "reference_run": "grokinterp.runs.reference",
    },
)
