"""Fan, Pascanu & Jaggi 2024: *Deep Grokking: Would Deep Neural Networks Generalize Better?*
(arXiv 2405.19454).

Its card ``fan2024-deep-grokking`` is measured by the ``deep-grokking`` study
(:mod:`grokinterp.experiments.deep_grokking`).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Setting


def _spearman(a: pd.Series, b: pd.Series) -> float:
    # the deep-grokking study's _spearman, repeated here: a card module does not import its
    # study
    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return math.nan
    return float(a.rank().corr(b.rank()))


def _delay_growth(folder: Path) -> float | None:
    """How much longer the deepest depth waits than the shallowest between fitting the
    training set (99%) and 80% test accuracy (seed medians, ``runs.csv``): positive when
    depth lengthens the delay; inf / -inf where the deepest / shallowest never got to 80%."""
    runs = pd.read_csv(folder / "runs.csv")
    if not len(runs) or runs["depth"].nunique() < 2:
        return None
    delay = (runs["test_80_step"] - runs["train_99_step"]).fillna(math.inf)
    by_depth = delay.groupby(runs["depth"]).median().sort_index()
    deep, shallow = float(by_depth.iloc[-1]), float(by_depth.iloc[0])
    if math.isinf(deep) and math.isinf(shallow):
        return None
    return deep - shallow


def _most_stages(folder: Path) -> float | None:
    """The most surges of test accuracy after memorization in any run (``runs.csv``)."""
    runs = pd.read_csv(folder / "runs.csv")
    return float(runs["stages"].max()) if len(runs) else None


def _test_rank_spearman(folder: Path) -> float | None:
    """Median over runs of the Spearman correlation, over the checkpoints from the step
    train accuracy reached 99%, between the mean numerical rank of the layers' features on
    the *test* images (their split) and test accuracy (``ranks.csv``, ``runs.csv``)."""
    runs = pd.read_csv(folder / "runs.csv")
    if not len(runs):
        return None
    ranks = pd.read_csv(folder / "ranks.csv")
    ranks = ranks[ranks["split"] == "test"]
    rhos = []
    for _, r in runs.iterrows():
        if r["train_99_step"] != r["train_99_step"]:
            continue
        mine = ranks[
            (ranks["depth"] == r["depth"])
            & (ranks["seed"] == r["seed"])
            & (ranks["step"] >= r["train_99_step"])
        ]
        g = mine.groupby("step").agg(rank=("numerical_rank", "mean"), acc=("test_acc", "first"))
        rho = _spearman(g["rank"], g["acc"])
        if rho == rho:
            rhos.append(rho)
    return float(pd.Series(rhos).median()) if rhos else None


_FAN = "Olivia-fsm/Deep-Grokking@52a0cab"
_TRAIN = f"{_FAN} mnist/grokking/train_mnist_mlp.py"
_SCRIPTS = f"{_FAN} mnist/grokking/script"
_CPU = "cost on 2 CPU cores"
_PREDATES = "the committed study predates this card"

CARDS = (
    Card(
        name="fan2024-deep-grokking",
        paper="Fan, Pascanu & Jaggi 2024",
        arxiv="2405.19454",
        claim="deeper MLPs are more susceptible to grokking, their test accuracy can rise in "
        "several stages, and the feature rank falls as they generalize",
        quantities=(
            Quantity(
                name="delay from train 99% to test 80%, deepest minus shallowest depth (seed "
                "medians, steps)",
                paper=None,
                accept=(25.0, 1e6),
                tolerance="the abstract states a direction; any lengthening of at least one "
                "logging interval (25 steps) counts; a deepest depth that never reaches 80% "
                "(inf) does not",
                read=_delay_growth,
                files=("runs.csv",),
            ),
            Quantity(
                name="most surges of test accuracy after memorization in any run",
                paper=None,
                accept=(2.0, math.inf),
                tolerance="multi-stage generalization (abstract): two or more surges (a rise "
                "of the best test accuracy by 5 points within 250 steps, surges 500 steps "
                "apart)",
                read=_most_stages,
                files=("runs.csv",),
            ),
            Quantity(
                name="Spearman correlation of the mean feature rank (test images) with test "
                "accuracy after memorization, median over runs",
                paper=None,
                accept=(-1.0, -0.5),
                tolerance="the abstract states that the rank drop lines up with generalization; "
                "a clearly negative correlation (-0.5 or below) is our bar",
                read=_test_rank_spearman,
                files=("runs.csv", "ranks.csv"),
            ),
        ),
        setup=(
            Setting("data", "MNIST, the first 1,000 training images (code default; the run "
                    "scripts use 2,000-8,000)",
                    f"{_TRAIN}:L147-154, L313; {_SCRIPTS}/mlp_0.sh:L6-9, mlp_1.sh, mlp_2.sh",
                    ours="scikit-learn's 8x8 digits: 200 training images, the other 1,597 for "
                    "test", why=f"{_CPU}: the data set scaled"),
            Setting("depth", "4, 8, 12 Linear layers (784 -> w, depth - 2 w -> w, w -> 10: "
                    "depth - 1 hidden ReLU layers)",
                    f"{_TRAIN}:L157-174, L322; {_SCRIPTS}/mlp_0.sh:L6-9, mlp_3.sh:L6-9",
                    ours="4, 8, 12 hidden ReLU layers (5, 9, 13 Linear layers)",
                    why=f"{_PREDATES}: it counts hidden layers"),
            Setting("width", "400 in every run script (code default 800)",
                    f"{_TRAIN}:L323; {_SCRIPTS}/mlp_0.sh:L6-9", ours="128",
                    why=f"{_CPU}: width scaled"),
            Setting("initialization", "PyTorch's default, every parameter times alpha = 8 "
                    "(mlp_0-2; mlp_3 sweeps 10, 6, 4, 2; code default 10)",
                    f"{_TRAIN}:L171-173, L321; {_SCRIPTS}/mlp_0.sh:L6-9, mlp_3.sh:L6-9",
                    ours="N(0, 1/fan_in) weights, zero biases, times alpha = 2",
                    why="grokinterp's MLP init; with it each ReLU layer scales activations by "
                    "about alpha/sqrt(2), so 2.0 is large at 12 layers and modest at 4 (the "
                    "study's choice)"),
            Setting("loss", "MSE against one-hot labels", f"{_TRAIN}:L290, L316"),
            Setting("optimizer", "AdamW lr 1e-3, other arguments at their defaults",
                    f"{_TRAIN}:L192, L317, L320"),
            Setting("weight decay", "0.01 (code default; scripts sweep 0.005-0.1)",
                    f"{_TRAIN}:L319", ours="1.0",
                    why=f"{_CPU}: 100x the weight decay shortens the delay so that 10^4 steps "
                    "stand for their 10^5 (Omnigrok's account)"),
            Setting("batch size", "200, shuffled minibatches", f"{_TRAIN}:L315",
                    ours="full batch (200)",
                    why="the committed study ran when the sweep's ensemble backend trained "
                    "full batch only; it trains minibatches now, and the study has not been "
                    "rerun with them"),
            Setting("steps", "100,000", f"{_TRAIN}:L314", ours="10,000",
                    why=f"{_CPU}: budget scaled"),
            Setting("precision and seed", "float64, seed 0", f"{_TRAIN}:L139-144, L324",
                    ours="float32 weights (float64 loss), seeds 0 and 1",
                    why="grokinterp trains float32 weights"),
            Setting("feature rank", "torch.linalg.matrix_rank(torch.cov(rep.T)) on the test "
                    "set, on the output of every nn.Linear (pre-activation), torch's default "
                    "tolerance, at most 8,000 features",
                    f"{_FAN} mnist/grokking/tunnel_methods.py:L9, L182, L260-272; "
                    f"{_TRAIN}:L242-248",
                    ours="numerical rank of the uncentered H^T H of every hidden layer's "
                    "post-ReLU features on the test images, rtol = d x eps(float32)",
                    why=f"{_PREDATES} (analysis.rank has center=True; the study uses the "
                    "default)"),
        ),
        study="deep-grokking",
        not_run=(
            "the paper's headline numbers (accuracy levels, steps of the surges) and which "
            "run script its main figure uses (width 400 vs 800, training-set size): not found, "
            "the paper body could not be read here",
        ),
        notes="runs.csv also has the Spearman correlation on the training images "
        "(rank_acc_spearman), which the study's report prints.",
    ),
)  # fmt: skip
