"""Pearce, Ghandeharioun, Hussein, Thain, Wattenberg & Dixon 2023: *Do machine learning models
memorize or generalize?* (the PAIR explorable, pair.withgoogle.com/explorables/grokking;
no arXiv id).

Its sparse-parity card is measured by the ``sparse-parity`` study
(:mod:`grokinterp.experiments.sparse_parity`), read from ``studies/sparse_parity/``
(``scaling.csv``, ``runs.csv``). The authors' configuration is read from the explorable's repository
(``_P``): the sweep's shared hyperparameters (``hyper_shared.json``), its per-run table
(``data__hypers_sparse_parity_v4.csv``: 9 seeds per cell) and the post's text. The
training notebook (``server-side/grokking/MLP_Sparse_Parity.ipynb``) is listed in the
repository but its file could not be read here.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Setting, barak2022

_P = "PAIR-code/ai-explorables@64ac8eb"
_SWEEP = f"{_P} source/grokking/sweep-sparse-parity"
_POST = f"{_P} source/_posts/2023-05-32-grokking.md"
_CSV = f"{_SWEEP}/data__hypers_sparse_parity_v4.csv"
LARGEST_N = 30  # the explorable's n


def _generalized(folder: Path) -> pd.DataFrame:
    """The rows of ``runs.csv`` at n = 30 whose runs reached 99% test accuracy."""
    runs = pd.read_csv(folder / "runs.csv")
    return runs[(runs["n_bits"] == LARGEST_N) & runs["generalize_step"].notna()]


def _ratio(folder: Path) -> float | None:
    """The median over the runs that generalized at n = 30 of t_gen / t_fit; None where none
    did."""
    done = _generalized(folder)
    if not len(done):
        return None
    return float((done["generalize_step"] / done["fit_step"]).median())


def _share(folder: Path) -> float | None:
    """The median final relevant-weight share of the runs that generalized at n = 30."""
    done = _generalized(folder)
    return float(done["share_final"].median()) if len(done) else None


CARDS = (
    Card(
        name="pearce2023-sparse-parity",
        paper="Pearce et al. 2023 (PAIR explorable)",
        arxiv="",
        claim="a one-layer MLP on 30 random bits whose label is the parity of 3 of them, "
        "trained with weight decay on a fixed set of strings, first memorizes and later "
        "generalizes, its first layer ending on the 3 relevant bits",
        quantities=(
            Quantity(
                name=f"fraction of runs generalizing at n = {LARGEST_N} (1000 training "
                "strings, width 64, weight decay 0.1)",
                paper=1.0,
                accept=(0.66, 1.0),
                tolerance="theirs 9 of 9 runs with test loss below 0.1 in 20,000 steps (v4 "
                "sweep, train_size 1000, hidden 64, weight decay 0.1); of our 5 seeds at most "
                "one may miss (0.8: within the spread of a 90% rate)",
                read=barak2022.at_n("generalized", LARGEST_N, fraction=True),
                files=("scaling.csv",),
            ),
            Quantity(
                name=f"median over the runs that generalized at n = {LARGEST_N} of steps to "
                "99% test / steps to 99% train",
                paper=None,
                accept=(1.5, math.inf),
                tolerance="memorization first, generalization later: in the post's example "
                "run the training set is fit by about step 1,200 and the test set by about "
                f"3,750 ({_P} source/grokking/sparse-parity/init.js:L102-113, the "
                "animation's ranges), a ratio of ~3; at least 1.5",
                read=_ratio,
                files=("runs.csv",),
            ),
            Quantity(
                name=f"median final share of first-layer weight on the 3 relevant bits, runs "
                f"that generalized at n = {LARGEST_N}",
                paper=None,
                accept=(0.5, 1.0),
                tolerance="'all the weights connected to the distracting digits gray out' "
                "(the post, L54); blind to them the share is 3/30 = 0.1: most of the weight "
                "on the relevant bits",
                read=_share,
                files=("runs.csv",),
            ),
        ),
        setup=(
            Setting("task", "random strings of thirty 0s and 1s; label: an odd number of 1s "
                    "in the first three digits", f"{_POST}:L48; {_SWEEP}/hyper_shared.json:L1 "
                    "(n 30, k 3)",
                    ours="strings of signs in {-1, +1}, relevant set a seeded choice of 3 "
                    "(task sparse_parity, data_seed 0), distinct strings",
                    why="Barak et al.'s convention (the same function up to an affine map of "
                    "the inputs, which the first layer and its bias absorb)"),
            Setting("data", "train_size 750-1750 (v4 sweep), test_size 5000",
                    f"{_SWEEP}/hyper_shared.json:L1; {_CSV}",
                    ours="1000 training, 1000 held-out strings",
                    why="1000 is a cell of their sweep; the smaller test set for cost"),
            Setting("model", "one-layer MLP, hidden_size 64 (16-258 in the sweep), a single "
                    "output column, the bias a fixed input column",
                    f"{_SWEEP}/hyper_shared.json:L1; {_POST}:L50, L339-341",
                    ours="64 ReLU units, trainable biases, 2 output logits (softmax "
                    "cross-entropy: a logistic loss on their difference)",
                    why="grokinterp's MLP scores one logit per class"),
            Setting("optimizer", "AdamW, learning rate 0.003, b1 0.99, b2 0.98, "
                    "cross-entropy, 'regularization: l2', weight_decay 0.01-1 (v4 sweep; L1 in "
                    "the post's example run, footnote)",
                    f"{_SWEEP}/hyper_shared.json:L1; {_CSV}; {_POST}:L350",
                    ours="AdamW (decoupled weight decay) 0.1, full batch",
                    why="0.1 is a sweep cell in which every run generalized at 1000 strings; "
                    "whether their 'l2' is decoupled is not stated in the files read"),
            Setting("budget", "max_steps 20000, 9 seeds per cell",
                    f"{_SWEEP}/hyper_shared.json:L1; {_CSV}",
                    ours="20,000 updates; 5 seeds",
                    why="cost on 2 shared CPU cores"),
        ),
        study="sparse-parity",
        not_run=(
            "their training notebook (MLP_Sparse_Parity.ipynb) could not be read, so the "
            "activation, initialization and batch are not checked against it",
        ),
        notes="Read from studies/sparse_parity (scaling.csv; runs.csv, shares.csv, "
        "report.txt, figures/). The study's other n (12, 18, 24) extend the explorable's "
        "n = 30 for Barak et al.'s scaling (card barak2022-sparse-parity).",
    ),
)  # fmt: skip
