"""Tikeng Notsawo, Zhou, Pezeshki, Rish & Dumas 2023: *Predicting Grokking Long Before it
Happens: A look into the loss landscape of models which grok* (arXiv 2306.13253).

Its card ``notsawo2023-prediction`` is measured by the ``prediction`` study
(:mod:`grokinterp.experiments.prediction`: predicting grokking from the first N updates).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from grokinterp.experiments.cards import Card, Quantity, Setting


def _auc(y: np.ndarray, prob: np.ndarray) -> float:
    # the prediction study's _auc, repeated here: a card module does not import its study
    return float(roc_auc_score(y, prob)) if len(set(y.tolist())) == 2 else math.nan


#: the minibatch sweeps (the batch rule of the code they reproduced) carry this prefix in
#: features.csv's ``part``; the card reads the others, the full-batch sweeps: the paper's
#: setting (Sec. 2.2)
_MB = "mb_"


def _hjorth_auc(folder: Path) -> float | None:
    """ROC AUC of the blog's statistic alone, the Hjorth activity of the raw early loss (a
    higher activity predicting grokking: our reading of their figure), over every full-batch
    run of ``features.csv`` (train and held-out sweeps) at the largest N (theirs: the first
    400 steps); None without full-batch runs."""
    table = pd.read_csv(folder / "features.csv")
    table = table[~table["part"].astype(str).str.startswith(_MB)]
    if not len(table):
        return None
    rows = table[table["N"] == table["N"].max()]
    y = rows["grokked"].to_numpy(bool)
    x = rows["hjorth_activity"].to_numpy(np.float64)
    ok = ~np.isnan(x)
    return _auc(y[ok], x[ok]) if ok.any() else None


def _spectral_auc_cv(folder: Path) -> float | None:
    """The spectral family's cross-validated ROC AUC on the full-batch sweeps at the
    largest N (``auc.csv``, regime ``full_batch``)."""
    auc = pd.read_csv(folder / "auc.csv")
    if "regime" not in auc:
        return None
    rows = auc[(auc["family"] == "spectral") & (auc["regime"] == "full_batch")]
    if not len(rows):
        return None
    return float(rows.sort_values("N")["auc_cv"].iloc[-1])


_BLOG = "Tikquuss/tikquuss.github.io@c8f595f _posts/2023-07-25-blog-post-1.md"
_FIG = "Tikquuss/tikquuss.github.io@c8f595f _posts/2023-07-25/spect_diagram.png"
_GROK = "openai/grok@3d64b1d"
_PAPER = "arXiv 2306.13253"
_SEPARATES = (
    "the text gives no AUC, correlation or threshold. Their figure (the blog's; Fig. 8 right "
    "in the paper) read off, approximate: its x-axis is a 'normalize[d] activity' (Fig. 8 "
    "caption; the normalization is not stated); runs above ~0.3-0.4 of it mostly reach "
    "~100%, below ~0.25 mostly stay near 0%: a near-clean separation. The sign (higher "
    "activity, grokking) is our reading of that figure, not a claim of the text, which says "
    "'either positive or negative correlation' could be informative (Sec. 3). AUC >= 0.8 is "
    "our bar"
)

CARDS = (
    Card(
        name="notsawo2023-prediction",
        paper="Notsawo et al. 2023",
        arxiv="2306.13253",
        claim="the spectral signature (Hjorth activity) of the training loss over the first "
        "steps predicts whether a run will generalize at the end of training",
        quantities=(
            Quantity(
                name="ROC AUC of the raw early-loss Hjorth activity alone, full-batch runs, "
                "largest N",
                paper=None,
                accept=(0.8, 1.0),
                tolerance=_SEPARATES,
                read=_hjorth_auc,
                files=("features.csv",),
            ),
            Quantity(
                name="cross-validated ROC AUC of the spectral features (raw curve), "
                "full-batch sweeps, largest N",
                paper=None,
                accept=(0.8, 1.0),
                tolerance=_SEPARATES,
                read=_spectral_auc_cv,
                files=("auc.csv",),
            ),
        ),
        setup=(
            Setting("model and task", "2-layer transformer, 128-dim embeddings, 4 heads, "
                    "~4e5 non-embedding parameters, input and output embeddings tied, loss "
                    "and accuracy on the answer token only; a + b mod 97 and composition in "
                    "S5 (the blog: Power et al.'s code, reproduced)",
                    f"{_PAPER} Sec. 2.2; {_BLOG}:L16",
                    ours="1-layer transformer (d_model 32, 4 heads of 8, d_mlp 128) on a + b "
                    "and a - b mod 19 / 23 (held out: mod 29, and width 64)",
                    why="cost on 2 CPU cores: depth, width and p scaled"),
            Setting("signal", "the training loss of each step L(t)",
                    f"{_PAPER} Sec. 3; {_BLOG}:L16, L18"),
            Setting("statistic", "Hjorth activity m_0(L) = ∫ |F(L)(ω)|² dω = ∫ L(t)² dt "
                    "(Parseval). The paper calls it the variance of the signal, equal to the "
                    "spectral energy once L has zero mean, which it obtains by filtering out "
                    "the non-oscillatory components (a constant, a linear trend, a smooth "
                    "curve); the filter used for its figures is not given in the text. The "
                    "blog's formula: ∫ L² of the raw curve, nothing removed",
                    f"{_PAPER} Sec. 3 (and its footnote 1); {_BLOG}:L18, L30-33",
                    ours="Σ_t L_t² of the raw curve (the blog's formula); the isotonic-"
                    "detrended variant (family spectral_isotonic) is computed beside it but "
                    "not read by this card",
                    why="the card was set up from the blog before the paper's text was read; "
                    "the text names no filter, so no detrending can be matched to theirs"),
            Setting("window", "the first 400 training steps",
                    f"{_PAPER} Fig. 2 caption; {_BLOG}:L41"),
            Setting("batch size", "|D_train|, full batch (the paper's default 'unless stated "
                    "otherwise'; no other batch size is stated in the text; the only "
                    "hint of minibatches is the Limitations' 'noise induced by the sampling'); "
                    "the code "
                    "they say they reproduced uses min(512, ceil(n_train / 2)), the last "
                    "batch of an epoch shorter",
                    f"{_PAPER} Sec. 2.2, Sec. 6; {_GROK} grok/data.py:L419-435, "
                    "grok/training.py:L80-83"),
            Setting("optimizer", "AdamW lr 1e-4, weight decay 1, betas (0.9, 0.98), linear "
                    "warm-up over the first 10 updates (the defaults 'unless stated "
                    "otherwise'; their lr x weight-decay map varies lr and weight decay); the "
                    "same betas and warm-up in the code they reproduced",
                    f"{_PAPER} Sec. 2.2; {_GROK} grok/training.py:L103, L225",
                    ours="the same betas and warm-up length; the warm-up starts at lr / 10, "
                    "not 0; lr and weight decay drawn per cell (see the grid)",
                    why="the full-batch sweeps' schedule, kept so that the two "
                    "regimes differ in the batch only"),
            Setting("target", "validation accuracy at the end of training (10k steps); their "
                    "generalization step t_4 is the first step at 100% validation accuracy "
                    "(Fig. 1, r = 0.5: train accuracy near perfect at t_2 < 300 steps, "
                    "t_4 ≈ 7k)", f"{_PAPER} Sec. 2.3, Fig. 1 and 2 captions; {_BLOG}:L41",
                    ours="test accuracy >= 90% at the end of a 1,500-step budget",
                    why="the one knob scaled for 2 CPU cores: the budget (N = 400 is 27% of "
                    "it, theirs 4%; N = 50 is 3%)"),
            Setting("training fraction", "0.5 for the lr x weight-decay map (Fig. 2); maps "
                    "also at 0.4, 0.7 and 0.9 (Fig. 9); the right panel's values (0.4 to 0.9 "
                    "in the blog figure's legend) are not listed in the text",
                    f"{_PAPER} Fig. 2, 8, 9 captions; {_BLOG}:L41; {_FIG} legend",
                    ours="uniform in [0.4, 0.85], drawn per cell",
                    why="random cells over ranges where a pilot sweep found grokking, "
                    "memorizing and unfitted runs"),
            Setting("hyper-parameter grid", "lr 0.001 to 0.005; weight decay 0 to 5 (16 "
                    "values), read off the blog's figure only: the text gives no grid values",
                    f"{_FIG} axes (read off the figure); {_PAPER} Sec. 3",
                    ours="lr log-uniform in [0.0032, 0.02], weight decay log-uniform in "
                    "[0.32, 5], init scale log-uniform in [0.5, 2]",
                    why="larger learning rates so that runs grok within the 1,500-step "
                    "budget"),
        ),
        study="prediction",
        not_run=(
            "the power law t_4(r) = a r^-gamma + b of the time to generalize against the "
            "training fraction: theirs (gamma, a, b) = (7.73, 1.09e15, 1442.63) for modular "
            "addition at r >= 0.2 and (1.18, 1.85e6, 0.0) for S5 (App. A.3, Fig. 7); the "
            "study does not fit it",
        ),
        notes="Ours: the per-update loss (the minibatch it descends) in units of log p (a "
        "common factor within a task: no ranking changes), Σ_t L_t² "
        "(analysis.early.spectral_features, the default); full-batch sweeps (the paper's "
        "Sec. 2.2 setting, read by the card) and minibatch sweeps mb_* with the code's batch "
        "rule per cell as a second regime (until 2026-12 the card read the minibatch sweeps: "
        "raw activity AUC 0.30, spectral CV AUC 0.80 at N = 400, also below the bar). "
        "The blog's statistic is on the raw curve: a run whose loss stays high longer has "
        "the larger activity. The paper's text instead removes the non-oscillatory "
        "components first (Sec. 3, footnote 1) without naming the filter; of our families, "
        "the isotonic-detrended variant (zero on every monotone curve; family "
        "spectral_isotonic) is the closer to that description and is reported beside it "
        "(auc.csv, studies/prediction/README.md).",
    ),
)  # fmt: skip
