"""Prieto, Barsbey, Mediano & Birdal 2025: *Grokking at the Edge of Numerical Stability*
(arXiv 2501.04697).

Its card ``prieto2025-stablemax`` is measured by the ``interventions`` study
(:mod:`grokinterp.experiments.interventions`), which also measures
:mod:`~grokinterp.experiments.cards.lee2024`. The text constants it shares with that card are
repeated, so that each paper's module stands alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Reader, Setting


def _final_test_acc(arm: str) -> Reader:
    """``arm``'s test accuracy at its last step (``summary.csv``); None where the study did
    not train that arm."""

    def read(folder: Path) -> float | None:
        s = pd.read_csv(folder / "summary.csv")
        rows = s[s["arm"] == arm]
        return float(rows["final_test_acc"].iloc[0]) if len(rows) else None

    return read


_PRIETO = "LucasPrietoAl/grokking-at-the-edge-of-numerical-stability@0cc9e8d"
_QUICK = (
    "the committed study ran the `quick` preset, sized for 2 CPU cores (p and budget "
    "scaled); the authors' setting is the reproduction issue's to run"
)
_PREDATES = "the committed study predates this card"
_QUICK_MODEL = (
    "the `quick` preset: 1-layer transformer (d_model 128, 4 heads, d_mlp 512, ReLU), no "
    "LayerNorm, learned positions, input 'a b =', loss on the last position"
)

CARDS = (
    Card(
        name="prieto2025-stablemax",
        paper="Prieto et al. 2025",
        arxiv="2501.04697",
        claim="StableMax (no softmax collapse) and ⊥Grad (no naive loss minimization) each "
        "give generalization without weight decay",
        quantities=(
            Quantity(
                name="final test accuracy, StableMax without weight decay",
                paper=None,
                accept=(0.95, 1.0),
                tolerance="the paper states that it generalizes (abstract; Fig. 1 caption); "
                "95% test accuracy is our bar for that",
                read=_final_test_acc("stablemax_wd0"),
                files=("summary.csv",),
            ),
            Quantity(
                name="final test accuracy, ⊥Grad (⊥AdamW) without weight decay",
                paper=None,
                accept=(0.95, 1.0),
                tolerance="the paper states quick generalization (abstract; Fig. 1 caption); "
                "95% test accuracy is our bar for that",
                read=_final_test_acc("orthograd_wd0"),
                files=("summary.csv",),
            ),
        ),
        setup=(
            Setting("task", "a + b mod 113, all 113^2 pairs",
                    f"{_PRIETO} utils.py:L215, L218; datasets.py:L49-63",
                    ours="a + b mod 47", why=_QUICK),
            Setting("training fraction", "0.4 (the code default 0.3 is not what the figures "
                    "use)", f"{_PRIETO} run_main_experiments.sh:L50-99; utils.py:L212"),
            Setting("model", "MLP 200-200, ReLU, no biases, float32, on two concatenated "
                    "one-hot vectors (226 inputs)",
                    f"{_PRIETO} utils.py:L186-187, L206, L272; models.py:L4-28",
                    ours=_QUICK_MODEL,
                    why=f"the committed study compares every arm on the `quick` preset's "
                    f"transformer; {_PREDATES}"),
            Setting("optimizer, StableMax run (Fig. 1)", "AdamW lr 0.01, betas (0.9, 0.999), "
                    "eps 1e-25, weight decay 0",
                    f"{_PRIETO} run_main_experiments.sh:L50; utils.py:L194, L221, L275, L289, "
                    "L291",
                    ours="AdamW lr 3e-3, betas (0.9, 0.98), eps 1e-8, weight decay 0, 10-step "
                    "warm-up",
                    why=f"the `quick` preset's optimizer; {_PREDATES} (prieto_optimizer/ "
                    "reruns the arms with lr 0.01, beta2 0.999, eps 1e-8)"),
            Setting("optimizer, ⊥AdamW run as it steps", "AdamW's defaults: lr 0.01, betas "
                    "(0.9, 0.999), eps 1e-8, weight decay 0 (--beta2 and --adam_epsilon are "
                    "ignored on the ⊥Grad path)",
                    f"{_PRIETO} grokking_experiments.py:L57-67; run_main_experiments.sh:L51",
                    ours="AdamW lr 3e-3, betas (0.9, 0.98), eps 1e-8, weight decay 0, 10-step "
                    "warm-up", why=f"the `quick` preset's optimizer; {_PREDATES}"),
            Setting("⊥Grad", "per tensor: g - (w.g)/(w.w + 1e-30) w, rescaled to |g|, then "
                    "the base optimizer's step", f"{_PRIETO} orthograd.py:L24-52"),
            Setting("StableMax", "s(x) = x + 1 for x >= 0, 1/(1 - x + 1e-30) below; "
                    "cross-entropy of log(s / sum s) in float64", f"{_PRIETO} utils.py:L31-49"),
            Setting("loss precision (softmax runs)", "cross-entropy at float32 softmax "
                    "precision", f"{_PRIETO} utils.py:L224, L269; grokking_experiments.py:L73-83",
                    ours="float64 loss (a float32 loss's collapse is logged, not trained on)",
                    why="grokinterp computes every loss in float64"),
            Setting("batch size", "full batch", f"{_PRIETO} utils.py:L239, L242; "
                    "grokking_experiments.py:L36-37"),
            Setting("budget (Fig. 1)", "StableMax 80,000 full-batch epochs; ⊥AdamW 300",
                    f"{_PRIETO} run_main_experiments.sh:L50-51",
                    ours="10,000 steps for every arm",
                    why="cost on 2 CPU cores: StableMax's budget scaled (⊥Grad's is longer "
                    "than theirs)"),
            Setting("seed", "42", f"{_PRIETO} utils.py:L293", ours="0", why=_PREDATES),
        ),
        study="interventions",
        not_run=(
            "the time to generalize as a number: not found in the text that could be read "
            "(Fig. 1 shows curves), so the quantities are directions with our own bar",
        ),
        notes="Read from studies/interventions (the `quick` preset). "
        "studies/interventions/prieto_optimizer/ (not read by this card) repeats the arms "
        "without weight decay with lr 0.01 and beta2 0.999; its report.txt has the numbers. "
        "The control without either intervention is the adamw_wd0 arm.",
    ),
)  # fmt: skip
