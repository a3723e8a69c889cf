"""Minegishi, Iwasawa & Matsuo 2024: *Bridging Lottery Ticket and Grokking* (later versions:
*Understanding Grokking from Inner Structure of Networks*; arXiv 2310.19470).

Its card ``minegishi2024-tickets`` is measured by the ``tickets`` study
(:mod:`grokinterp.experiments.tickets`: grokking tickets against dense and random-mask
controls).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Setting

_TICKETS_REPO = "gouki510/Grokking-Tickets@8cee814"
_COMMITTED_DIFFERS = (
    "the committed study predates this card; the authors' value is affordable on 2 cores and "
    "is the reproduction issue's to run"
)
_TICKETS_HEAD = "gouki510/Grokking-Tickets@bd705c8"


def _censored_median(steps: pd.Series, budget: float) -> tuple[float, bool]:
    """The median of ``steps`` with the runs that never got there (NaN) counted as
    ``budget``, and whether it is censored (a lower bound on the true median: at least half
    the runs never got there, so the budget enters the middle of the sorted steps)."""
    never = int(steps.isna().sum())
    return float(steps.fillna(budget).median()), 2 * never >= len(steps)


def _speedup_at(sparsity: float) -> Any:
    """Dense median steps to 95% test accuracy over the ticket's, at ``sparsity``, from the
    runs of ``arms.csv`` (``test_95_step``): a run that never got there counts as the whole
    budget (the last step of ``traces.csv``). Where the ticket's median is so censored the
    ratio is an upper bound, where the dense one is a lower bound; None where both are (or
    either arm has no runs)."""

    def read(folder: Path) -> float | None:
        arms = pd.read_csv(folder / "arms.csv")
        dense = arms.loc[arms["arm"] == "dense", "test_95_step"]
        at = (arms["arm"] == "ticket") & ((arms["sparsity"] - sparsity).abs() < 1e-9)
        ticket = arms.loc[at, "test_95_step"]
        if not len(dense) or not len(ticket):
            return None
        budget = float(pd.read_csv(folder / "traces.csv")["step"].max())
        d, d_censored = _censored_median(dense, budget)
        t, t_censored = _censored_median(ticket, budget)
        if d_censored and t_censored:  # both bounded from below: the ratio is no bound at all
            return None
        return d / t

    return read


CARDS = (
    Card(
        name="minegishi2024-tickets",
        paper="Minegishi et al. 2024",
        arxiv="2310.19470",
        claim="a grokking ticket (magnitude mask of the grokked net, retrained from its init) "
        "reaches full test accuracy far sooner than the dense network",
        quantities=(
            Quantity(
                name="dense / ticket steps to 95% test accuracy, 60% of weights pruned",
                paper=3.0,
                accept=(1.5, math.inf),
                tolerance="read off their README Fig. 1 (dense ~8k-25k epochs, ticket ~5-6k); "
                "any ratio >= 1.5 counts as far sooner. Medians over every run (arms.csv), a "
                "run that never reached 95% counted as the step budget: when at least half the "
                "tickets never did, ours is an upper bound; when half the dense runs never did, "
                "a lower bound; none when both",
                read=_speedup_at(0.6),
                files=("arms.csv", "traces.csv"),
            ),
        ),
        setup=(
            Setting("task", "(a + b) mod 67 over the pairs a <= b (2278)",
                    f"{_TICKETS_REPO} config.py:L10-16; data_module.py:L12-21",
                    ours="a + b mod 31 over all ordered pairs", why=_COMMITTED_DIFFERS),
            Setting("training fraction", "0.4 (911 pairs)", f"{_TICKETS_REPO} config.py:L15",
                    ours="0.5", why=_COMMITTED_DIFFERS),
            Setting("model", "embedding 500, shared bias-free 500->48 per token, summed, "
                    "ReLU, 48->500, unembedding 500->p", f"{_TICKETS_REPO} config.py:L11-12, "
                    "L25, L28; model.py:L338-385",
                    ours="embeddings 64 concatenated, ReLU 128, unembedding",
                    why=_COMMITTED_DIFFERS),
            Setting("optimizer", "AdamW lr 1e-3, betas (0.9, 0.98), full batch",
                    f"{_TICKETS_REPO} config.py:L8; train.py:L45",
                    ours="AdamW lr 3e-3, betas (0.9, 0.98), full batch", why=_COMMITTED_DIFFERS),
            Setting("weight decay", "1 (dense and ticket)", f"{_TICKETS_REPO} config.py:L9"),
            Setting("budget", "30000 steps", f"{_TICKETS_REPO} config.py:L17",
                    ours="8000 steps", why=_COMMITTED_DIFFERS),
            Setting("pruning", "global magnitude, one shot, mask from the final checkpoint, "
                    "weights reset to step 0",
                    f"{_TICKETS_HEAD} config_pruning.py:L53-58; prune.py:L61-85"),
            Setting("sparsity", "40% of weights kept (their `sparsity` is the fraction kept)",
                    f"{_TICKETS_HEAD} pruner.py:L13-29; config_pruning.py:L54"),
        ),
        study="tickets",
        notes="Our sparsity is the fraction pruned: ours 0.6 is their 0.4.",
    ),
)  # fmt: skip
