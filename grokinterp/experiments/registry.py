"""The study registry: every study, once, by its one name.

An entry is light (the module that holds the study, a one-line summary, the command names
it had before the registry), so that listing the studies and ``grokinterp --help`` import
no study; :func:`load` imports the module and returns its :class:`~.contract.Study`
(:func:`grokinterp.experiments.runner.run_study` runs one).
A new study is its own module (see :mod:`grokinterp.experiments.contract`) plus one
:func:`register` line below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grokinterp.errors import ConfigError

if TYPE_CHECKING:
    from grokinterp.experiments.contract import Study


@dataclass(frozen=True)
class Entry:
    """A registered study, before its module is imported.

    Attributes:
        name: the study's one name (``grokinterp study run NAME``, ``studies/...``).
        module: the module defining ``STUDY`` and ``Params``.
        summary: one line for ``study list`` and ``--help``.
        aliases: command names it had before (``grokinterp tickets``), still accepted.
    """

    name: str
    module: str
    summary: str
    aliases: tuple[str, ...] = ()


STUDIES: dict[str, Entry] = {}


def register(entry: Entry) -> Entry:
    """Add ``entry``; a name or alias that is already taken is refused."""
    taken = {n for e in STUDIES.values() for n in (e.name, *e.aliases)}
    clash = sorted({entry.name, *entry.aliases} & taken)
    if clash:
        raise ValueError(f"study name(s) {clash} already registered")
    STUDIES[entry.name] = entry
    return entry


def entry(name: str) -> Entry:
    """The entry called ``name`` (or having it as an alias); an unknown name is one line."""
    for e in STUDIES.values():
        if name == e.name or name in e.aliases:
            return e
    raise ConfigError(f"unknown study {name!r}; known: {', '.join(sorted(STUDIES))}")


def load(name: str) -> Study:
    """The study called ``name``, its module imported."""
    e = entry(name)
    study: Study = importlib.import_module(e.module).STUDY
    if study.name != e.name:
        raise RuntimeError(f"{e.module}.STUDY is named {study.name!r}, registered as {e.name!r}")
    return study


for _e in [
    Entry("power", "grokinterp.experiments.power",
          "steps to generalize against the training fraction (Power et al. 2022)"),
    Entry("efficiency", "grokinterp.experiments.efficiency_study",
          "circuit efficiency (Varma et al. 2023): norm curves, D_crit, ungrokking",
          ("efficiency study",)),
    Entry("semi-grokking", "grokinterp.experiments.semi_grokking",
          "semi-grokking near D_crit (Varma et al. 2023): long runs, plateau classes",
          ("efficiency semi",)),
    Entry("phase-diagram", "grokinterp.experiments.phases",
          "phase diagram of a 2D sweep (Liu et al. 2022)", ("phases",)),
    Entry("critical-fraction", "grokinterp.experiments.effective_theory",
          "effective theory's critical training fraction vs a sweep (Liu et al. 2022)"),
    Entry("omnigrok", "grokinterp.experiments.omnigrok",
          "the LU mechanism and grokking on digits (Omnigrok, Liu et al. 2023)"),
    Entry("interventions", "grokinterp.experiments.interventions",
          "Grokfast, StableMax, ⊥Grad and no weight decay, side by side"),
    Entry("grokfast", "grokinterp.experiments.grokfast",
          "Grokfast-EMA/MA on the authors' setup vs matched controls (Lee et al. 2024)"),
    Entry("prieto", "grokinterp.experiments.prieto",
          "StableMax and ⊥AdamW on the authors' MLP and transformer (Prieto et al. 2025)"),
    Entry("muon", "grokinterp.experiments.muon",
          "Muon and EGD vs AdamW and an lr-matched AdamW, with progress measures (Tveit 2025)"),
    Entry("prediction", "grokinterp.experiments.prediction",
          "predicting grokking from the first N updates (Notsawo et al. 2023)",
          ("prediction-study",)),
    Entry("gromov", "grokinterp.experiments.gromov",
          "Gromov's analytic network: accuracy vs width, a trained net's similarity",
          ("gromov-study",)),
    Entry("kernels", "grokinterp.experiments.kernels",
          "NTK regression vs the trained network across training fractions (Mohamadi 2024)",
          ("kernel-study",)),
    Entry("nonneural", "grokinterp.experiments.nonneural",
          "grokking in a GP classifier and a linear model (Miller et al. 2024)",
          ("nonneural-study",)),
    Entry("deep-grokking", "grokinterp.experiments.deep_grokking",
          "deep MLPs on digits: accuracy and per-layer feature rank (Fan et al. 2024)"),
    Entry("progress-measures", "grokinterp.experiments.progress_measures",
          "Nanda et al. 2023's progress measures on a trained (or the shipped) run"),
    Entry("tickets", "grokinterp.experiments.tickets",
          "grokking tickets: pruned subnetworks retrained from init (Minegishi et al. 2024)"),
    Entry("clock-pizza", "grokinterp.experiments.clock_pizza",
          "clock or pizza against the attention rate and width (Zhong et al. 2023)"),
    Entry("label-noise", "grokinterp.experiments.label_noise",
          "memorizing corrupted labels beside generalizing; pruning by IPR (Doshi et al. 2024)"),
    Entry("sn-representations", "grokinterp.experiments.sn_representations",
          "which irreducible representations an MLP trained on S_5 uses (Chughtai 2023)"),
    Entry("sparse-parity", "grokinterp.experiments.sparse_parity",
          "sparse parity: the grokking delay against n at k = 3 (Barak et al. 2022, PAIR)"),
    Entry("counterfactual", "grokinterp.experiments.counterfactual",
          "do treatment-effect estimates grok? PEHE over training (Samothrakis et al. 2022)"),
    Entry("lazy-rich", "grokinterp.experiments.lazy_rich",
          "the output scale alpha: grokking delay, NTK distance and alignment (Kumar 2024)"),
    Entry("anti-grokking", "grokinterp.experiments.anti_grokking",
          "late test-accuracy collapse, HTSR alpha and Correlation Traps (Prakash & Martin 2025)"),
    Entry("rfm", "grokinterp.experiments.rfm",
          "RFM groks modular arithmetic at zero training loss; circulant AGOP (Mallinar 2025)"),
]:  # fmt: skip
    register(_e)
