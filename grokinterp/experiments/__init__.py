"""Experiments: many runs through the sweep engine, and what they test.

:mod:`~grokinterp.experiments.sweep` (specs, local / ensemble / Ray backends, the results
table), :mod:`~grokinterp.experiments.efficiency` (norm curves and ungrokking, Varma et al.
2023), :mod:`~grokinterp.experiments.efficiency_study` (the whole circuit-efficiency
study and its report), :mod:`~grokinterp.experiments.phases` (phase diagrams, Liu et al.
2022) and :mod:`~grokinterp.experiments.effective_theory` (the critical training fraction
against a sweep).
"""

from grokinterp.experiments.sweep import expand, load_spec, run_sweep

__all__ = ["expand", "load_spec", "run_sweep"]
