"""Zhong, Liu, Tegmark & Andreas 2023: *The clock and the pizza: two stories in mechanistic
explanation of neural networks* (NeurIPS 2023, arXiv 2306.17844).

Its card is measured by the ``clock-pizza`` study (:mod:`grokinterp.experiments.clock_pizza`),
read from ``studies/clock_pizza/cells.csv``: per (width, attention rate), the median over
seeds of gradient symmetricity and distance irrelevance on the final model
(:mod:`grokinterp.analysis.clock_pizza`). A cell with a run not finished is not read.

The paper's values are the medians of the authors' own runs, from the table they released
(``_Z result/1l_varywidth.csv``): 1-layer runs of the default sequence (``diff_vocab`` 0,
``eqn_sign`` 0), d_model 32-47, attention rate within 0.125 of ours (no circularity filter):
at rate 0, 25 runs: gradient symmetricity 0.996 (quartiles 0.995-0.997), distance
irrelevance 0.470 (0.313-0.639); at rate 1 (0.875-1), 18 runs: 0.311 (0.206-0.453) and 0.834
(0.772-0.876). Their Model A (rate 0, d_model 128) and Model B (rate 1): 99.37% and 0.17,
33.36% and 0.85 (Sec. 4, Table 1), which our measures give on their released weights
(``studies/clock_pizza/authors_models.csv``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Reader, Setting

_Z = "fjzzq2002/pizza@4c7f2f3"
_T = f"{_Z} code/train-main.py"
_VARY = f"{_Z} result/1l_varywidth.csv (1 layer, diff_vocab 0, eqn_sign 0, d_model 32-47)"
WIDTH = 32


def _cell(measure: str, rate: float, width: int = WIDTH) -> Reader:
    """The median over seeds of ``measure`` in the cell (width, rate); None where the cell
    is missing or a run of it has not finished."""

    def read(folder: Path) -> float | None:
        cells = pd.read_csv(folder / "cells.csv")
        row = cells[(cells["width"] == width) & ((cells["rate"] - rate).abs() < 1e-9)]
        if len(row) != 1 or row["finished"].iloc[0] < row["runs"].iloc[0]:
            return None
        v = float(row[measure].iloc[0])
        return None if math.isnan(v) else v

    return read


CARDS = (
    Card(
        name="zhong2023-clock-pizza",
        paper="Zhong et al. 2023",
        arxiv="2306.17844",
        claim="with constant attention (rate 0) a 1-layer transformer learns the pizza "
        "(gradient symmetricity ~1, low distance irrelevance), with standard attention "
        "(rate 1) the clock (low symmetricity, distance irrelevance ~1)",
        quantities=(
            Quantity(
                name="gradient symmetricity, rate 0, d_model 32",
                paper=0.996,
                accept=(0.98, 1.0),
                tolerance="their runs' quartiles 0.995-0.997 (25 runs, 1l_varywidth.csv); "
                "median of our seeds",
                read=_cell("gradient_symmetricity", 0.0),
                files=("cells.csv",),
            ),
            Quantity(
                name="distance irrelevance, rate 0, d_model 32",
                paper=0.470,
                accept=(0.2, 0.7),
                tolerance="their runs spread widely (quartiles 0.313-0.639, 25 runs); below "
                "0.7 keeps it under every clock-side quartile",
                read=_cell("distance_irrelevance", 0.0),
                files=("cells.csv",),
            ),
            Quantity(
                name="gradient symmetricity, rate 1, d_model 32",
                paper=0.311,
                accept=(0.0, 0.6),
                tolerance="their quartiles 0.206-0.453 (18 runs at rates 0.875-1); below 0.6 "
                "is far from the pizza's 0.99",
                read=_cell("gradient_symmetricity", 1.0),
                files=("cells.csv",),
            ),
            Quantity(
                name="distance irrelevance, rate 1, d_model 32",
                paper=0.834,
                accept=(0.7, 1.0),
                tolerance="their quartiles 0.772-0.876 (18 runs); above 0.7, the pizza side's "
                "upper quartile",
                read=_cell("distance_irrelevance", 1.0),
                files=("cells.csv",),
            ),
        ),
        setup=(
            Setting("task", "a + b mod 59, all 59^2 pairs, 80% for training; sequence [a, b] "
                    "read at b's position (no '=' token)",
                    f"{_T}:L322-334, L387-389, L531, L538-540, L547, L558"),
            Setting("split", "torch random_split, unseeded (a new split each run)",
                    f"{_T}:L389", ours="grokinterp's seeded permutation (split_seed 0) for "
                    "every seed", why="grokinterp draws splits with its own seeded rule"),
            Setting("model", "1 layer, 4 heads of d_model/4, MLP 4 d_model, ReLU, learned "
                    "positions, no LayerNorm, no causal mask, attention alpha softmax + "
                    "(1 - alpha)", f"{_T}:L88-118, L169-183, L378, L549, L553 "
                    "(model.sequence='a_b', causal=False, attention_rate)"),
            Setting("width", "d_model 128 (fixed-width runs) or int(2^U(5, 9)) (varying "
                    "width)", f"{_T}:L541-543", ours="d_model 32", why="cost on 2 shared CPU "
                    "cores; 32 is the narrowest width of their varying-width runs, and the "
                    "paper's values are read from those runs at d_model 32-47"),
            Setting("init", "N(0, 1/fan) per their modules: MLP W_in N(0, 1/d_mlp)",
                    f"{_T}:L65-94, L124-126", ours="Nanda et al.'s init: W_in N(0, 1/d_model)",
                    why="grokinterp's transformer init; every other matrix matches theirs"),
            Setting("optimizer", "AdamW lr 1e-3, weight decay 2, betas (0.9, 0.98), warm-up "
                    "from 0 over 10 updates, full batch, float64 cross-entropy",
                    f"{_T}:L357-366, L391, L395-396, L555-557"),
            Setting("budget", "20,000 full-batch updates", f"{_T}:L554",
                    ours="4,000 updates (the study's steps)", why="cost: 10 runs of 20,000 "
                    "updates do not fit the session's 2 shared cores; every run reached 99% "
                    "test accuracy by update 500-600 (runs.csv)"),
            Setting("measures", "gradient symmetricity over 100 triples (random.Random(42)); "
                    "distance irrelevance over all pairs", f"{_Z} code/eval-main.ipynb "
                    "('Gradient Symmetricity', 'Distance Irrelevance'); paper Sec. 4"),
        ),
        study="clock-pizza",
        not_run=(
            "their fixed-width sweep at d_model 128 and the width axis of their phase "
            "diagram (result/1l_varywidth.svg, d_model 32-511): `grokinterp study run "
            "clock-pizza --widths 32 64 128 256` runs it; not run in this session for cost",
        ),
        notes="Read from studies/clock_pizza (cells.csv; runs.csv per run, report.txt, "
        "figures/). The paper's values are medians of the authors' released runs "
        f"({_VARY}), not numbers printed in the paper.",
    ),
)  # fmt: skip
