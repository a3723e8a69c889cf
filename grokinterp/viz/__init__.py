"""Figures and reports: each figure a function that draws a table into a plotly Figure.

:mod:`~grokinterp.viz.figures` (the progress-measure figures), :mod:`~grokinterp.viz.
efficiency` (the circuit-efficiency figures), :mod:`~grokinterp.viz.report` (HTML pages
that work offline, PNG export) and :mod:`~grokinterp.viz.run_report` (``grokinterp analyze``:
measures, then figures). Figures draw what the analysis computed; none computes a measure.
In a Jupyter kernel, importing this package makes figures show in the notebook and in its
static HTML export (:mod:`~grokinterp.viz.notebook`).
"""

from grokinterp.viz import figures
from grokinterp.viz.notebook import use_notebook_renderer
from grokinterp.viz.run_report import analyze

use_notebook_renderer()

__all__ = ["analyze", "figures", "use_notebook_renderer"]
