"""Figures that show in a notebook and in its static export.

In a Jupyter kernel plotly's default renderer is ``plotly_mimetype``: the figure goes to the
notebook as plotly JSON only, which JupyterLab draws but a static export of the notebook
(``jupyter nbconvert --to html``, a notebook viewer) shows as nothing. Importing
:mod:`grokinterp.viz` switches that default to ``plotly_mimetype+notebook``, which adds an
HTML rendering of each figure (plotly.js is written into the notebook once, so it works
offline); the figures then show live in Jupyter and in the exported HTML. A renderer the user
chose (``PLOTLY_RENDERER``, or ``plotly.io.renderers.default`` set to anything else) is left
alone. For images in the notebook file itself (a viewer that runs no JavaScript), add ``png``:
``plotly.io.renderers.default = "plotly_mimetype+notebook+png"`` (needs kaleido and Chromium).
"""

from __future__ import annotations

import os
import sys

import plotly.io as pio

__all__ = ["NOTEBOOK_RENDERER", "in_jupyter_kernel", "use_notebook_renderer"]

#: the renderer set in a Jupyter kernel: plotly JSON (live) + HTML (static exports)
NOTEBOOK_RENDERER = "plotly_mimetype+notebook"
_PLOTLY_KERNEL_DEFAULT = "plotly_mimetype"


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel; never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def use_notebook_renderer(force: bool = False) -> bool:
    """Set plotly's default renderer to :data:`NOTEBOOK_RENDERER` when in a Jupyter kernel
    whose renderer is still plotly's own choice (``force``: whatever it is); return whether
    it was set."""
    if not force and (
        os.environ.get("PLOTLY_RENDERER")
        or not in_jupyter_kernel()
        or pio.renderers.default != _PLOTLY_KERNEL_DEFAULT
    ):
        return False
    pio.renderers.default = NOTEBOOK_RENDERER
    return True
