"""Experiments: the papers' studies, many runs through the sweep engine, and what they test.

The engine itself (specs, local / ensemble / Ray backends, the results table) is
:mod:`grokinterp.sweeps`, which imports nothing from here. Among the studies:
:mod:`~grokinterp.experiments.efficiency` (norm curves and ungrokking, Varma et al.
2023), :mod:`~grokinterp.experiments.efficiency_study` (the whole circuit-efficiency
study and its report), :mod:`~grokinterp.experiments.phases` (phase diagrams, Liu et al.
2022) and :mod:`~grokinterp.experiments.effective_theory` (the critical training fraction
against a sweep).
"""
