"""Experiments: the papers' studies, each behind one contract, and their reproduction cards.

* :mod:`~grokinterp.experiments.contract`: what a study is (a frozen ``Params``, ``run(out_dir,
  params) -> StudyResult``, a :class:`~grokinterp.experiments.contract.Study`);
* :mod:`~grokinterp.experiments.registry`: every study once, by its one name (light: listing
  the studies imports none of them); :mod:`~grokinterp.experiments.runner`: ``run_study``;
* :mod:`~grokinterp.experiments.cards` and :mod:`~grokinterp.experiments.reproduce`: the
  reproduction cards (a paper's claim, the authors' configuration with its sources, our value
  from the committed study files, a verdict), their smoke check and README's table; the cards
  themselves are one module per paper in ``cards/`` (``power2022``, ``nanda2023``,
  ``varma2023``, ..., ``minegishi2024``), which each study imports;
* one module per study: ``power``, ``progress_measures``, ``efficiency_study`` (with its
  building blocks in ``efficiency``), ``semi_grokking``, ``phases``, ``effective_theory``,
  ``omnigrok``, ``interventions``, ``prediction`` (with the shipped predictor in
  ``predictor``), ``gromov``, ``kernels``, ``nonneural``, ``deep_grokking``, ``tickets``.

The sweep engine the studies run on is :mod:`grokinterp.sweeps`, which imports nothing from
here.
"""
