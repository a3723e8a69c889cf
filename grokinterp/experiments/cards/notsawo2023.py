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


#: the minibatch sweeps (their setting) carry this prefix in features.csv's ``part``
_MB = "mb_"


def _hjorth_auc(folder: Path) -> float | None:
    """ROC AUC of their statistic alone, the Hjorth activity of the raw early loss (a
    higher activity predicting grokking, as in their figure), over every minibatch run of
    ``features.csv`` (train and held-out sweeps) at the largest N (theirs: the first 400
    steps); None without minibatch runs."""
    table = pd.read_csv(folder / "features.csv")
    table = table[table["part"].astype(str).str.startswith(_MB)]
    if not len(table):
        return None
    rows = table[table["N"] == table["N"].max()]
    y = rows["grokked"].to_numpy(bool)
    x = rows["hjorth_activity"].to_numpy(np.float64)
    ok = ~np.isnan(x)
    return _auc(y[ok], x[ok]) if ok.any() else None


def _spectral_auc_cv(folder: Path) -> float | None:
    """The spectral family's cross-validated ROC AUC on the minibatch sweeps at the
    largest N (``auc.csv``, regime ``minibatch``)."""
    auc = pd.read_csv(folder / "auc.csv")
    if "regime" not in auc:
        return None
    rows = auc[(auc["family"] == "spectral") & (auc["regime"] == "minibatch")]
    if not len(rows):
        return None
    return float(rows.sort_values("N")["auc_cv"].iloc[-1])


_BLOG = "Tikquuss/tikquuss.github.io@c8f595f _posts/2023-07-25-blog-post-1.md"
_FIG = "Tikquuss/tikquuss.github.io@c8f595f _posts/2023-07-25/spect_diagram.png"
_GROK = "openai/grok@3d64b1d"
_SEPARATES = (
    "their figure (read off, approximate): runs with activity above ~0.3-0.4 mostly reach "
    "~100%, below ~0.25 mostly stay near 0%: a near-clean separation; AUC >= 0.8 is our bar"
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
                name="ROC AUC of the raw early-loss Hjorth activity alone, minibatch runs, "
                "largest N",
                paper=None,
                accept=(0.8, 1.0),
                tolerance=_SEPARATES,
                read=_hjorth_auc,
                files=("features.csv",),
            ),
            Quantity(
                name="cross-validated ROC AUC of the spectral features (raw curve), "
                "minibatch sweeps, largest N",
                paper=None,
                accept=(0.8, 1.0),
                tolerance=_SEPARATES,
                read=_spectral_auc_cv,
                files=("auc.csv",),
            ),
        ),
        setup=(
            Setting("model and task", "a transformer on arithmetic data: the code of Power "
                    "et al., reproduced", f"{_BLOG}:L16",
                    ours="1-layer transformer (d_model 32, 4 heads of 8, d_mlp 128) on a + b "
                    "and a - b mod 19 / 23 (held out: mod 29, and width 64)",
                    why="cost on 2 CPU cores: width and p scaled"),
            Setting("signal", "the training loss of each step L(t)", f"{_BLOG}:L16, L18"),
            Setting("statistic", "Hjorth activity m_0(L) = ∫ |F(L)(ω)|² dω = ∫ L(t)² dt of "
                    "the raw curve (nothing removed)", f"{_BLOG}:L18, L30-33"),
            Setting("window", "the first 400 training steps", f"{_BLOG}:L41"),
            Setting("batch size", "min(512, ceil(n_train / 2)), the last batch of an epoch "
                    "shorter (the default of the code they reproduced)",
                    f"{_GROK} grok/data.py:L419-435, grok/training.py:L80-83"),
            Setting("optimizer", "AdamW, betas (0.9, 0.98), 10 warm-up steps (the code "
                    "they reproduced)", f"{_GROK} grok/training.py:L103, L225",
                    ours="the same betas and warm-up length; the warm-up starts at lr / 10, "
                    "not 0", why="the full-batch sweeps' schedule, kept so that the two "
                    "regimes differ in the batch only"),
            Setting("target", "validation accuracy at the end of training (10k steps)",
                    f"{_BLOG}:L41",
                    ours="test accuracy >= 90% at the end of a 1,500-step budget",
                    why="the one knob scaled for 2 CPU cores: the budget (N = 400 is 27% of "
                    "it, theirs 4%; N = 50 is 3%)"),
            Setting("training fraction", "0.5 for the lr x weight-decay map; 0.4 to 0.9 in "
                    "the right panel", f"{_BLOG}:L41; {_FIG} legend",
                    ours="uniform in [0.4, 0.85], drawn per cell",
                    why="random cells over ranges where a pilot sweep found grokking, "
                    "memorizing and unfitted runs"),
            Setting("hyper-parameter grid", "lr 0.001 to 0.005; weight decay 0 to 5 (16 "
                    "values)", f"{_FIG} axes (read off the figure)",
                    ours="lr log-uniform in [0.0032, 0.02], weight decay log-uniform in "
                    "[0.32, 5], init scale log-uniform in [0.5, 2]",
                    why="larger learning rates so that runs grok within the 1,500-step "
                    "budget"),
        ),
        study="prediction",
        not_run=(
            "the paper's body could not be read here (its first author's summary and the "
            "code they reproduced were): p, width and the number of layers of their "
            "transformer are not known to us",
            "the power law t(r) = a r^-gamma + b of the time to generalize against the "
            "training fraction: its values were not found, and the study does not fit it",
        ),
        notes="Ours: the per-update loss (the minibatch it descends) in units of log p (a "
        "common factor within a task: no ranking changes), Σ_t L_t² "
        "(analysis.early.spectral_features, the default); minibatch sweeps mb_* with their "
        "batch size per cell, full-batch sweeps as a second regime. "
        "Their statistic is on the raw curve: a run whose loss stays high longer has "
        "the larger activity. Our isotonic-detrended variant (zero on every monotone curve) "
        "is reported beside it as family spectral_isotonic; the full-batch sweeps as a "
        "second regime (auc.csv, studies/prediction/README.md).",
    ),
)  # fmt: skip
