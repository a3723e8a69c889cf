"""Analysis: measures of checkpoints and runs, each a function with its formula and source.

:mod:`~grokinterp.analysis.fourier` (the Fourier basis over Z_p, spectra, key frequencies,
neuron clusters), :mod:`~grokinterp.analysis.measures` (restricted and excluded loss, Gini,
weight norms, logit shares), :mod:`~grokinterp.analysis.phases` (phase boundaries, Liu et
al.'s phases, plateau classes), :mod:`~grokinterp.analysis.efficiency` (D_crit from norm
tables), :mod:`~grokinterp.analysis.snapshot` (one checkpoint's views for the figures) and
:mod:`~grokinterp.analysis.table` (:func:`measure_run`: the per-checkpoint table of a run).
Analysis reads run directories; it never imports training.
"""

from grokinterp.analysis import fourier, measures, phases
from grokinterp.analysis.table import Analysis, measure_run

__all__ = ["Analysis", "fourier", "measure_run", "measures", "phases"]
