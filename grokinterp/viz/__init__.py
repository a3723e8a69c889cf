"""Figures and reports: each figure a function that draws a table into a plotly Figure.

:mod:`~grokinterp.viz.figures` (the progress-measure figures), :mod:`~grokinterp.viz.
efficiency` (the circuit-efficiency figures), :mod:`~grokinterp.viz.report` (HTML pages
that work offline, PNG export) and :mod:`~grokinterp.viz.run_report` (``grokinterp analyze``:
measures, then figures). Figures draw what the analysis computed; none computes a measure.
"""

from grokinterp.viz import figures
from grokinterp.viz.run_report import analyze

__all__ = ["analyze", "figures"]
