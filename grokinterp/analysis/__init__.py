"""Analysis: measures of checkpoints and runs, each a function with its formula and source.

:mod:`~grokinterp.analysis.fourier` (the Fourier basis over Z_p, spectra, key frequencies,
neuron clusters), :mod:`~grokinterp.analysis.measures` (restricted and excluded loss, Gini,
weight norms, logit shares), :mod:`~grokinterp.analysis.phases` (phase boundaries, Liu et
al.'s phases, plateau classes), :mod:`~grokinterp.analysis.efficiency` (D_crit from norm
tables), :mod:`~grokinterp.analysis.snapshot` (one checkpoint's views for the figures) and
:mod:`~grokinterp.analysis.table` (:func:`measure_run`: the per-checkpoint table of a run),
:mod:`~grokinterp.analysis.rank` (numerical and effective rank of each MLP layer's features,
Fan et al. 2024), :mod:`~grokinterp.analysis.representation` (parallelograms, RQI, the
effective loss and the effective theory's ideal accuracy and critical fraction, Liu et al.
2022), :mod:`~grokinterp.analysis.complexity` (the local learning coefficient through
devinterp and heavy-tailed power-law alphas through weightwatcher: the ``complexity`` extra).
Analysis reads run directories; it never imports training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grokinterp._lazy import lazy_attributes
from grokinterp.analysis import fourier, measures, phases

if TYPE_CHECKING:
    from grokinterp.analysis.table import Analysis, measure_run

__all__ = ["Analysis", "fourier", "measure_run", "measures", "phases"]

# the run-level table loads on first use: measures of tensors and tables (what a sweep's
# results need) do not import Run and the TransformerLens models behind it
__getattr__ = lazy_attributes(
    __name__, {"Analysis": "grokinterp.analysis.table", "measure_run": "grokinterp.analysis.table"}
)
