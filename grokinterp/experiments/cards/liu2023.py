"""Liu, Michaud & Tegmark 2023: *Omnigrok: Grokking Beyond Algorithmic Data* (arXiv 2210.01117).

Its card ``liu2023-omnigrok-lu`` is measured by the ``omnigrok`` study
(:mod:`grokinterp.experiments.omnigrok`: the LU mechanism, init scale, the late constraint).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Reader, Setting


def _lu_ends(col: str, folder: Path) -> tuple[float, float, float]:
    """The seed means of ``col`` in ``lu.csv`` at the smallest norm, the largest norm, and
    their minimum over the norms."""
    mean = pd.read_csv(folder / "lu.csv").groupby("fixed_norm")[col].mean().sort_index()
    return float(mean.iloc[0]), float(mean.iloc[-1]), float(mean.min())


FIT_ACC = 0.99  # a norm's runs fit the training set: every seed's final train accuracy >= this


def _u_ratio(folder: Path) -> float | None:
    """The U: the lower of the two arms' test loss over the lowest test loss (the lowest over
    each run, as their landscape code records; seed means), over the norms from the smallest
    up to the largest whose runs fit the training set (every seed's final train accuracy >=
    ``FIT_ACC``).

    The right arm must be memorization (the training set fit, the test set not): a norm so
    large that its runs never fit the training set is a failure to train, so the sweep is cut
    at the largest norm that fits. The left arm is the smallest norm whether or not it fits
    (under-fitting there is the high end of their L). None where fewer than 3 norms remain or
    the lowest test loss is at an end of them (no U to read)."""
    lu = pd.read_csv(folder / "lu.csv")
    if not len(lu):
        return None
    by_norm = lu.groupby("fixed_norm")
    fits = (by_norm["final_train_acc"].min() >= FIT_ACC).sort_index()
    if not fits.any():
        return None
    largest_fit = fits[fits].index.max()
    loss = by_norm["min_test_loss"].mean().sort_index()
    loss = loss[loss.index <= largest_fit]
    if len(loss) < 3:
        return None
    low = int(np.argmin(loss.to_numpy()))
    if low in (0, len(loss) - 1):
        return None
    return float(min(loss.iloc[0], loss.iloc[-1]) / loss.iloc[low])


def _l_ratio(folder: Path) -> float | None:
    """The L: the train loss at the largest norm over that at the smallest (the lowest over
    each run, seed means): far below 1 when the right arm is flat and low."""
    if not len(pd.read_csv(folder / "lu.csv")):
        return None
    small, large, _ = _lu_ends("min_train_loss", folder)
    return large / small


def _init_mean(col: str, alpha: float = 8.0, condition: str = "decay") -> Reader:
    """The seed mean of ``col`` of ``init.csv``'s runs at ``alpha`` in ``condition``; inf
    where no run fit the training set (``test_acc_at_fit``) within the budget."""

    def read(folder: Path) -> float | None:
        init = pd.read_csv(folder / "init.csv")
        rows = init[(init["alpha"] == alpha) & (init["condition"] == condition)]
        if not len(rows):
            return None
        vals = rows[col].astype(float)
        return math.inf if vals.isna().any() else float(vals.mean())

    return read


_OMNI = "KindXiaoming/Omnigrok@3a0a573"
_GROK_NB = f"{_OMNI} mnist/grokking/mnist-grokking.ipynb"
_LAND_NB = f"{_OMNI} mnist/landscape/mnist-landscape.ipynb"
_CPU = "cost on 2 CPU cores"
_PAPER = "arXiv 2210.01117"
_LU_SRC = (
    "the paper's MNIST evidence is Fig. 3 (a)-(c): reduced training and test errors (one minus "
    "accuracy) against the weight norm and the training-set size, 'LU' holding 'truer for "
    "smaller data'; the text gives the shape only, no ratio, and calls the U 'empirically "
    "common rather than provably universal' (Sec. 6)"
)

CARDS = (
    Card(
        name="liu2023-omnigrok-lu",
        paper="Liu, Michaud & Tegmark 2023",
        arxiv="2210.01117",
        claim="against a fixed weight norm the training loss is L-shaped and the test loss "
        "U-shaped; a large initialization with weight decay groks on MNIST (the training "
        "set fit first, test accuracy rising only as the norm falls)",
        quantities=(
            Quantity(
                name="U: test loss at the nearer end / the lowest test loss, over the norms "
                "from the smallest up to the largest whose runs fit the training set (every "
                "seed's final train accuracy >= 0.99; digits, lowest over each run, seed means)",
                paper=None,
                accept=(1.5, math.inf),
                tolerance=_LU_SRC + "; 1.5x at both "
                "ends is our bar for a U (the study's lu_summary rule). The right arm counts "
                "only where the runs fit the training set (memorization, not a failure to "
                "train); none where fewer than 3 norms remain or the lowest test loss is at "
                "an end",
                read=_u_ratio,
                files=("lu.csv",),
            ),
            Quantity(
                name="L: train loss at the largest norm / at the smallest norm (digits, lowest "
                "over each run, seed means)",
                paper=None,
                accept=(0.0, 0.1),
                tolerance=_LU_SRC + "; an L's right "
                "arm is flat and low: at least 10x below the small-norm end (our bar). The "
                "paper expects the train loss to be non-increasing in the norm (Sec. 2, fn. "
                "2) but reports rises at large norms that it puts down to optimization (the "
                "transformer's LU holds for alpha in [0.1, 4], App. B; IMDb, Sec. 4 fn. 5). "
                "Our largest norm, alpha 16, is beyond their MNIST sweep (alpha <= 10), and "
                "its runs never fit the training set (lu.csv: final train accuracy ~0.1, lowest "
                "train loss ~3e2 there), which drives this reading",
                read=_l_ratio,
                files=("lu.csv",),
            ),
            Quantity(
                name="test accuracy when the training set is first fit (train accuracy >= "
                "99%), alpha 8 with weight decay (seed mean)",
                paper=None,
                accept=(0.0, 0.5),
                tolerance="grokking: fit first while test accuracy is still low; for the MSE "
                "runs the text gives no number (only 'test accuracy improves much later', "
                "Fig. 3(d), Sec. 4), so our bar is at most 0.5 (chance 0.1). Their "
                "cross-entropy variant (App. E, alpha 100, 200 samples) plateaus at 30-40% "
                "early, then reaches ~75%",
                read=_init_mean("test_acc_at_fit"),
                files=("init.csv",),
            ),
            Quantity(
                name="final test accuracy, alpha 8 with weight decay (seed mean)",
                paper=None,
                accept=(0.9, 1.0),
                tolerance="it does generalize in the end; 0.9 is the study's generalization "
                "threshold (digits with 200 training images tops out near 0.95). The text "
                "gives no final MSE test accuracy (Fig. 3(d) only)",
                read=_init_mean("final_test_acc"),
                files=("init.csv",),
            ),
        ),
        setup=(
            Setting("data", "MNIST, 1,000 training images (28x28): 'a random subset' in the "
                    "paper, the first 1,000 in the notebook; the full 10k test set",
                    f"{_PAPER} Sec. 4 (image classification); {_GROK_NB} cell 7:1, 9:12, "
                    "9:55-59",
                    ours="scikit-learn's 8x8 digits: 200 training images, the other 1,597 for "
                    "test", why=f"{_CPU}: the data set scaled (fewer, smaller images)"),
            Setting("model", "MLP 784-200-200-10 (3 Linear layers, biases), ReLU",
                    f"{_PAPER} App. A (width 200, depth 3); {_GROK_NB} cell 7:11-13, 9:19-29",
                    ours="MLP 64-200-200-10, ReLU, no bias on the output layer",
                    why="the input width follows the 8x8 images; grokinterp's MLP "
                    "unembedding has no bias"),
            Setting("initialization", "PyTorch's default (Kaiming uniform, std "
                    "1/sqrt(3 fan_in), biases too), every parameter times alpha; alpha = 8 in "
                    "the notebook; the text's only MNIST-MSE alpha is 9.0 (its weight-decay "
                    "sweep, App. C)",
                    f"{_PAPER} Sec. 2, Sec. 4, App. C; {_GROK_NB} cell 7:8, 9:30-32",
                    ours="N(0, 1/fan_in) weights, zero biases, times alpha = 8 (about sqrt(3) "
                    "times their scale per layer)",
                    why="grokinterp's MLP init; the committed study predates this card"),
            Setting("loss", "MSE against one-hot labels",
                    f"{_PAPER} Sec. 4, App. A; {_GROK_NB} cell 7:4, 9:77"),
            Setting("optimizer (grokking run)", "AdamW lr 1e-3 (the paper, App. A); weight "
                    "decay 0.01 (the notebook; the text does not give the Fig. 3(d) run's)",
                    f"{_PAPER} App. A; {_GROK_NB} cell 7:5-7, 9:36",
                    ours="AdamW lr 1e-3, betas (0.9, 0.999), weight decay 1.0",
                    why=f"{_CPU}: the delay scales as 1/weight decay in their account, so 100x "
                    "the weight decay is to let 5,000 steps stand for their 10^5. Their App. C "
                    "finds t ∝ 1/weight decay on MNIST only for weight decay ~0.1 to 1.0, and "
                    "faster generalization than that at very low weight decay: scaling from "
                    "0.01 leaves the range they checked, so the equivalence is not backed by "
                    "their data"),
            Setting("batch size (grokking run)", "200 of the 1,000 training images",
                    f"{_PAPER} App. A; {_GROK_NB} cell 7:3",
                    ours="full batch (the 200 training images)",
                    why="the committed study ran when the sweep's ensemble backend trained "
                    "full batch only; it trains minibatches now, and the study has not been "
                    "rerun with them"),
            Setting("steps (grokking run)", "100,000", f"{_GROK_NB} cell 7:2",
                    ours="5,000", why=f"{_CPU}: budget scaled, weight decay raised to match"),
            Setting("precision and seed", "float64, seed 0", f"{_GROK_NB} cell 7:19-20",
                    ours="float32 weights (float64 loss), seeds 0 and 1",
                    why="grokinterp trains float32 weights"),
            Setting("norm-constrained (LU) runs", "AdamW lr 1e-3, weight decay 0, batch 100, "
                    "10,000 steps; after every step all weights rescaled to their initial "
                    "norm (alpha x default init)", f"{_PAPER} Sec. 2 (the rescaling); "
                    f"{_LAND_NB} cell 0:16, 0:55, 0:78-82, 0:107-109",
                    ours="AdamW lr 1e-3, weight decay 0, full batch, 2,000 steps; all "
                    "parameters rescaled to alpha x N_1 after every update and at step 0",
                    why=f"{_CPU}: steps scaled; full batch as above"),
            Setting("LU metric", "best train / test loss over the run, evaluated every 50 "
                    "steps on 2,000 samples", f"{_LAND_NB} cell 0:110-133",
                    ours="lowest train / test loss over the run, logged every 25 steps on all "
                    "training and test images", why="our logging interval and test set"),
            Setting("LU sweep", "alpha = 10^linspace(-1, 1, 21), at 22+5+1 training-set sizes "
                    "from 10 to 60,000", f"{_LAND_NB} cell 1:3-5",
                    ours="alpha 0.25 to 16 (12 values) at 200 training images",
                    why=f"{_CPU}: one training-set size"),
        ),
        study="omnigrok",
        not_run=(
            "the paper's quantitative MNIST claims (the delay in steps, the alpha threshold, "
            "the final test accuracy): not given in the text, only in Fig. 3(d)(e) and Fig. "
            "10(b), which were not read, so every quantity is a direction with our own bar. "
            "The text does give alpha 9.0 with 1,000 samples for the weight-decay sweep, "
            "and t ∝ 1/weight decay 'for gamma roughly between 0.1 and 1.0' (App. C)",
        ),
        notes="The study also holds the LU on a + b mod 47 (lu_add.csv, a 1-layer "
        "transformer, the efficiency preset; not read by this card). Theirs (Sec. 5.1, App. "
        "B-C): a 1-layer transformer on a + b mod 113 (d_model 128, 4 heads, d_mlp 512, "
        "ReLU), AdamW lr 1e-3, weight decay 1; its LU holds for alpha in [0.1, 4] with a "
        "critical train fraction of ~0.25 (App. B), the weight-decay sweep uses a train "
        "fraction of 0.3 (App. C). The study also holds "
        "the free (no weight decay) and fixed-norm controls, and the late constraint "
        "(late.csv). With Adam's beta2 = 0.98 (studies/omnigrok/beta2_0.98, not read by this "
        "card) the alpha-8 runs fit the training set while test accuracy is still low.",
    ),
)  # fmt: skip
