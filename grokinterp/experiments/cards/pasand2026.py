"""Pasand & Dohmatob 2026: *Egalitarian Gradient Descent: A Simple Approach to Accelerated
Grokking* (ICLR 2026; code asahebpa/Egalitarian-Gradient-Descent@046e066, cited ``_E``).

Its card ``pasand2026-egd`` is measured by the ``muon`` study
(:mod:`grokinterp.experiments.muon`), read from ``studies/muon/runs.csv``: the ``egd`` arm
against the ``adamw`` arm on our transformer. The authors' own baseline (plain gradient
descent on their MLP) was not run (``not_run``), so the verdict is one on our setup.
"""

from __future__ import annotations

import math

from grokinterp.experiments.cards import Card, Quantity, Setting, tveit2025

_E = "asahebpa/Egalitarian-Gradient-Descent@046e066"

CARDS = (
    Card(
        name="pasand2026-egd",
        paper="Pasand & Dohmatob 2026 (egalitarian gradient descent)",
        arxiv="none (ICLR 2026)",
        claim="preconditioning the gradient of a weight matrix by (G G^T)^(-1/2), which "
        "equalizes its singular values, makes grokking come much sooner than under the "
        "gradient descent it preconditions",
        quantities=(
            Quantity(
                name="speed-up: AdamW / EGD median steps to 95% test accuracy (our setup)",
                paper=None,
                accept=(1.2, math.inf),
                tolerance="our bar: EGD on the hidden matrices reaches 95% at least x1.2 "
                "sooner than AdamW alone; median of 3 seeds",
                read=tveit2025.ratio("adamw", "egd"),
                files=("runs.csv",),
            ),
        ),
        setup=(
            Setting("update", "W <- W - lr U diag(1 / max(s, 1e-6)) U^T G, G = U diag(s) V^T "
                    "(= U V^T for s > 1e-6)", f"{_E} main-results/mod_add.py:L188-198"),
            Setting("task", "x + y mod 127, one-hot pairs, 50% for training (shuffle seed 42)",
                    f"{_E} main-results/mod_add.py:L10-58",
                    ours="x + y mod 31 as tokens, 50% for training",
                    why="p scaled to fit 2 shared CPU cores (the study's one scaled knob)"),
            Setting("model", "MLP: one-hot (2p) -> 512 ReLU (with bias) -> p, He-normal init",
                    f"{_E} main-results/mod_add.py:L63-91",
                    ours="Nanda et al.'s 1-layer transformer (d_model 128, ReLU MLP 512)",
                    why="the study compares Muon and EGD on one model; their MLP with plain "
                    "SGD is not run (not_run)"),
            Setting("which weights", "the first layer W1 only (MLP); in their transformer "
                    "comparison the MLP weights of both layers, the result fed to Adam",
                    f"{_E} main-results/mod_add.py:L191; grokfast-comparison/main_modmult.py:"
                    "L178-216", ours="every attention and MLP matrix; embeddings, unembedding "
                    "and biases by AdamW",
                    why="the same split as Muon's, so that the two arms differ only in the "
                    "hidden matrices' step"),
            Setting("optimizer", "plain SGD, lr 0.7, L2 1e-4 on W1 and W2 in the loss "
                    "(so inside G)", f"{_E} main-results/mod_add.py:L65-66, L99-102, L119-121",
                    ours="lr 0.02 for the EGD step with decoupled weight decay 0.15 (the same "
                    "decay per update as AdamW's lr 3e-3 x 1); AdamW lr 3e-3, weight decay 1 "
                    "for the rest", why="on a transformer whose embeddings train with AdamW; "
                    "the lr is Muon's, so that EGD and Muon take steps of one size"),
            Setting("batch and budget", "batch 512, 15,000 epochs; after test accuracy passes "
                    "95% the run switches to plain SGD", f"{_E} main-results/mod_add.py:L67-68,"
                    " L224-228", ours="full batch (480 rows); EGD throughout; runs stop 200 "
                    "updates after 95%", why="the training set is smaller than their batch"),
            Setting("criterion", "first epoch with test accuracy > 95%",
                    f"{_E} main-results/mod_add.py:L224-225"),
        ),
        study="muon",
        not_run=(
            "their MLP on one-hot pairs at p = 127 with plain SGD (lr 0.7) as the baseline: "
            "the training core has no SGD for the neural archs yet, and the session's CPU "
            "time went to the transformer comparison",
        ),
        notes="Measured (x + y mod 31, 3 seeds, median steps to 95%): EGD 790 (770-980) "
        "against AdamW 1370 (910-2520), x1.73; the restricted loss fell below 1 nat at about "
        "the same step (400 against 300) but the generalizing share passed 50% at 700 against "
        "600 and test accuracy 95% at 790 against 1370: on this setup EGD shortened the step "
        "from the formed circuit to the test-accuracy jump (the cleanup), not the formation. "
        "Read from studies/muon (runs.csv, arms.csv, progress.csv). EGD's direction is "
        "the exact polar factor U V^T of the gradient; Muon's is an approximation of the "
        "polar factor of its Nesterov momentum: the two arms differ in momentum and in that "
        "approximation.",
    ),
)  # fmt: skip
