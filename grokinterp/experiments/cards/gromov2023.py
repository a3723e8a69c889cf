"""Gromov 2023: *Grokking modular arithmetic* (arXiv 2301.02679).

Its card ``gromov2023-analytic`` is measured by the ``gromov`` study
(:mod:`grokinterp.experiments.gromov`: the analytic solution and its width).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Setting


def _widest_random_accuracy(folder: Path) -> float | None:
    """Accuracy over all pairs of the analytic network with random phases at the largest
    width in ``width.csv``, the worst seed (None: no random-phase row)."""
    width = pd.read_csv(folder / "width.csv")
    rand = width[width["phases"] == "random"]
    if rand.empty:
        return None
    return float(rand[rand["width"] == rand["width"].max()]["acc"].min())


_NOT_FOUND = "not found (the paper's body could not be read here)"
_OURS_CHOICE = "our choice: the paper's value could not be read here"

CARDS = (
    Card(
        name="gromov2023-analytic",
        paper="Gromov 2023",
        arxiv="2301.02679",
        claim="closed-form Fourier weights of a two-layer quadratic network solve a + b mod p, "
        "exactly once the network is wide",
        quantities=(
            Quantity(
                name="accuracy over all p^2 pairs of the analytic network with random phases "
                "at the largest width run, worst seed",
                paper=None,
                accept=(0.99, 1.0),
                tolerance="the abstract says the closed-form weights solve the task; no "
                "accuracy or width was found in the text read here, so >= 99% at our largest "
                "width counts",
                read=_widest_random_accuracy,
                files=("width.csv",),
            ),
        ),
        setup=(
            Setting("network", "two-layer fully connected, quadratic activation: a bias-free "
                    "linear layer on the one-hot pair (2p -> N), z^2, a bias-free readout "
                    "(N -> p)", "paper, abstract; the same form in Gromov's group's code, "
                    "d-doshi/Grokking@c42bd22 utils/Grokking_lib.py:L35-58 (not the paper's "
                    "own release)"),
            Setting("weights", "closed form: Fourier feature maps", "paper, abstract"),
            Setting("modulus p", _NOT_FOUND, "not found", ours="97", why=_OURS_CHOICE),
            Setting("width N", f"{_NOT_FOUND}; the width at which the network becomes exact "
                    "was not found either", "not found",
                    ours="48 to 2048 neurons (the quantity reads 2048)",
                    why="our scan: the paper's widths could not be read here"),
            Setting("phases", _NOT_FOUND, "not found",
                    ours="i.i.d. random phases, 5 seeds (the quantity); also our balanced "
                    "phases", why="our reading of the construction, not checked against the "
                    "paper's text"),
        ),
        study="gromov",
        notes="Random phases: mean accuracy 0.899 at N = 48, 0.948 at 64, 0.997 at 96, 0.9999 "
        "at 128 and 1.0 from 192 (width.csv). The paper's training claim (vanilla GD on MSE "
        "without regularization, and AdamW, find the same features) is not a quantity here: "
        "the study's trained network (p = 31, AdamW lr 3e-3, weight decay 1, cross-entropy, "
        "3000 steps; training.csv) differs in loss, optimizer and regularization, and the "
        "paper's p, width, fraction, learning rate and steps were not found.",
    ),
)  # fmt: skip
