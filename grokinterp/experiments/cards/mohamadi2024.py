"""Mohamadi, Li, Wu & Sutherland 2024: *Why Do You Grok? A Theoretical Analysis of Grokking
Modular Addition* (arXiv 2407.12332; ICML 2024).

Its card ``mohamadi2024-kernel-regime`` is measured by the ``kernels`` study
(:mod:`grokinterp.experiments.kernels`: the network linearized around its checkpoints, with
the full NTK, against the trained network), read from ``studies/kernels/summary.csv`` at the
smallest training fraction where the trained network reaches :data:`NET_GENERALIZES` test
accuracy. Both quantities are our constructs, not the paper's measures (its bound is on l2
loss; its experiments track the empirical NTK's change). The kernel-at-init predictor is not
read: by our argument, with an expected NTK that depends only on whether two pairs share a or
b it predicts against the label by symmetry, so its failure is expected and counts neither
way (the card's notes give its values).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Reader, Setting

KERNEL_WORKS = 0.9  # "small population error": a predictor's test accuracy
NET_GENERALIZES = 0.99  # the trained network's final test accuracy


def _at_net_fraction(column: str) -> Reader:
    """``column`` of the summary at the smallest training fraction where the trained network
    ends with :data:`NET_GENERALIZES` test accuracy (None: at no fraction, or no value)."""

    def read(folder: Path) -> float | None:
        s = pd.read_csv(folder / "summary.csv").sort_values("train_fraction")
        if column not in s:  # a summary written before the full-NTK predictors
            return None
        ok = s[s["net_test_acc"] >= NET_GENERALIZES]
        if not len(ok) or pd.isna(ok[column].iloc[0]):
            return None
        return float(ok[column].iloc[0])

    return read


_REPO = "mohamad-amin/tracked-grok-v2@2f4a835"  # the first author's code (no config files)
_P = "paper (arXiv 2407.12332, ar5iv)"

CARDS = (
    Card(
        name="mohamadi2024-kernel-regime",
        paper="Mohamadi et al. 2024",
        arxiv="2407.12332",
        claim="no permutation-equivariant kernel method (the kernel regime) reaches small "
        "population l2 loss on modular addition without a constant fraction of all p^2 pairs "
        "(a bound on classification error is left open); two-layer quadratic networks that "
        "interpolate with small l-infinity norm (or near-maximal l-infinity margin) "
        "generalize from fewer, and empirically leave the kernel regime only after first "
        "overfitting",
        quantities=(
            Quantity(
                name="test accuracy of the network linearized around its memorization "
                "checkpoint (first with train accuracy >= 99%; full NTK, trained to "
                "convergence), at the smallest fraction where the trained network reaches "
                "99% test accuracy",
                paper=None,
                accept=(0.0, KERNEL_WORKS - 1e-9),
                tolerance="ours, not the paper's measure: the network linearized at its "
                "memorization checkpoint, scored by test accuracy. The paper's evidence that "
                "networks 'leave the kernel regime only after initially overfitting' "
                "(abstract) is the change of the empirical NTK, ||Theta_t - Theta_0||_F, "
                "'negligible before fitting' and 'orders of magnitude larger' after it "
                "(Sec. 3.2; Figs. 1, 5); no quantity here reads it. Our bar: had the network "
                "stayed in the kernel regime from the point where it fit the training set, "
                "it would not generalize (below 90%)",
                read=_at_net_fraction("linearized_memorized_test_acc"),
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy of regression with the final full NTK alone (from zero "
                "output), at the same fraction",
                paper=None,
                accept=(KERNEL_WORKS, 1.0),
                tolerance="ours, not the paper's measure and not a claim of the paper: it "
                "says nothing of the final kernel's predictor, and its kernel methods "
                "exclude kernels chosen from the training data (Def. 2.3, footnote 4: with "
                "such a kernel any learner is a kernel method). Our diagnostic: the network "
                "generalizes by leaving the kernel regime, so the kernel it ends with "
                "(unlike the one at init) carries the solution (at least 90%)",
                read=_at_net_fraction("kernel_final_test_acc"),
                files=("summary.csv",),
            ),
        ),
        setup=(
            Setting("task", "a + b mod p in two settings: regression (x = (e_a, e_b, e_c), "
                    "y = p 1(a + b = c mod p), all p^3 triples, square loss; Sec. 3) and "
                    "classification ((e_a, e_b) -> c, all p^2 pairs, cross-entropy; Sec. 4)",
                    f"{_P}, Sec. 2 (Setup), p. 4",
                    ours="classification only",
                    why="ours: the toolkit's modular task is the classification one; the "
                    "regression setting is not run"),
            Setting("split", "the theory draws training points i.i.d. uniformly from the "
                    "population, so repeats are possible (Sec. 2; Thm D.2); the experiments' "
                    "split is not given in the text; the code takes a random permutation of "
                    "all p^2 pairs, the first frac_train for training",
                    f"{_P}, Sec. 2, App. B, Thm D.2; {_REPO} data.py (modular_addition)",
                    ours="one nested split over the fractions, one seed",
                    why="our choice: fractions compared on nested training sets"),
            Setting("modulus p", "Fig. 2 (regression, initialization scales): p = 47; the "
                    "other figures sweep 'various p', whose values are only in the images; "
                    "the classification p of Fig. 1 is not given in the text",
                    f"{_P}, Fig. 2, p. 6; Figs. 1, 3-5", ours="17",
                    why="the one knob scaled to 2 CPU cores: the full NTK over the training "
                    "pairs has (f p^3)^2 entries, a solve per checkpoint"),
            Setting("training points", "classification: n = 2 p^(5/3) (Sec. 4.2; App. A.2), "
                    "i.e. 2 p^(-1/3) of the p^2 pairs (0.778 at p = 17); regression: 2 "
                    "p^2.25 of the p^3 triples (App. A.1); Transformer: 2 p^(5/3) (App. A.3)",
                    f"{_P}, Sec. 4.2, p. 14; App. A.1-A.3, p. 19",
                    ours="fractions 0.2 to 0.8 in steps of 0.1",
                    why="our choice: a sweep to find the smallest fraction where our network "
                    "generalizes, which the quantities read; seven runs keep the study near "
                    "3 minutes"),
            Setting("network", "two layers, no biases, quadratic activation: f = V (W [e_a, "
                    "e_b])^2, W in R^(h x 2p), V in R^(p x h) (Sec. 2, Eq. 2.1); initialized "
                    "'according to [19]' (He et al. 2015; App. A.1-A.2), called default "
                    "PyTorch initialization in Fig. 1; width h = 4p in the regression "
                    "experiment (Fig. 3), h >= 8p in the theory (Thm 3.6, Thm 4.5), the "
                    "classification width not given in the text. N(0, 1) weights times "
                    "1/sqrt(fan_in) (NTK parametrization) appear only in the code",
                    f"{_P}, Sec. 2, p. 4; App. A.1-A.2, p. 19; Figs. 1, 3; {_REPO} "
                    "models/simple.py (GromovMLP)",
                    ours="the same form (mlp_input onehot, no biases) with weights N(0, "
                    "1/fan_in) (standard parametrization: the same function at init as the "
                    "code's, other per-layer gradient scales), width 128",
                    why="our MLP family's initialization; the width is our choice (between "
                    "4p = 68 and 8p = 136 at p = 17)"),
            Setting("loss", "cross-entropy (classification, App. A.2)",
                    f"{_P}, App. A.2, p. 19"),
            Setting("optimizer", "vanilla gradient descent with the gradient-normalized step "
                    "theta - eta grad / ||grad||_2 (Eq. A.1), learning rate 10, constant "
                    "(classification; regression: plain GD, lr 1; Transformer: full-batch "
                    "GD, lr 0.25)", f"{_P}, App. A.1-A.3, p. 19; Sec. 4.2; {_REPO} engine.py "
                    "(_gd_step)",
                    ours="AdamW lr 3e-3, betas (0.9, 0.98), full batch",
                    why="our training core has no normalized GD; AdamW groks this network "
                    "within 3000 steps on 2 cores (the paper's l-infinity term is meant to "
                    "'emulate the implicit bias' of Adam(W), Sec. 2)"),
            Setting("regularization", "an l-infinity penalty of strength 1e-20 "
                    "(classification and Transformer; 1e-4 in regression)",
                    f"{_P}, App. A.1-A.3, p. 19",
                    ours="AdamW weight decay 1, no l-infinity penalty",
                    why="our training core has no l-infinity penalty"),
            Setting("steps", "up to 100,000 (classification; regression 50,000, 100,000 or "
                    "200,000)", f"{_P}, App. A.1-A.2, p. 19",
                    ours="3000 full-batch steps",
                    why="our budget on 2 shared cores; the network fits and generalizes "
                    "within it from 60% of the pairs"),
            Setting("kernel predictor", "ridgeless eNTK regression around initialization "
                    "with the network at init f_0 as prior mean: f_0 + sum_i K(., x_i) "
                    "lambda_i, lambda = K^+ (y - f_0) (App. B.1; Def. 2.3), the kernel a p x "
                    "p matrix in classification (Def. 4.1); the eNTK-change plots use the NTK "
                    "of the first logit, following [32] (Fig. 1). The code (commented out) "
                    "does the same around init with the NTK of sum_c f_c / sqrt(C)",
                    f"{_P}, App. B.1, p. 20; Def. 2.3, p. 5; Def. 4.1, p. 10; Fig. 1; "
                    f"{_REPO} engine.py (_track_ntk_stats, apply_fn_trace)",
                    ours="the network linearized around each checkpoint's own outputs with "
                    "the full NTK (every class block), minimum norm, trained to convergence "
                    "on one-hot targets, argmax",
                    why="ours, an extension: the paper linearizes around init; we linearize "
                    "at later checkpoints too, to ask where the network would end had it "
                    "stayed in the kernel regime from there"),
            Setting("small population error", "population l2 loss against the all-zero "
                    "predictor: Thm 4.3 bounds it below by half the zero predictor's for n < "
                    "C p^2; Thm D.2 by p^2 (1 - 1/p - (n/p^2) e^(2/(p-1))), the zero "
                    "predictor scoring p^2 (at p = 17: 0.26 of it left at n/p^2 = 0.6, "
                    "vacuous from 0.83). No accuracy threshold: a bound on classification "
                    "error is left open (Sec. 4.1)",
                    f"{_P}, Thm 4.3, p. 10-11; Thm D.2, p. 30; Sec. 4.1, p. 12",
                    ours="90% test accuracy for a predictor, 99% for the network",
                    why="ours: the paper bounds squared error, not accuracy; an accuracy "
                    "threshold gives one pass or fail per predictor"),
        ),
        study="kernels",
        not_run=(
            "their rich-regime sample bounds (n = omega~(p^2) in regression, Thm 3.6; "
            "O~(p^(5/3)) in classification, Thm 4.5) and the Transformer experiments "
            "(App. A.3): not run",
            "the paper's own measure of leaving the kernel regime, the change of the empirical "
            "NTK ||Theta_t - Theta_0||_F before against after fitting the training set (Sec. "
            "3.2; Figs. 1, 2, 5): no quantity reads it",
            "the p-scaling of the 'constant fraction': one p only. The bound covers every "
            "permutation-equivariant kernel method, on l2 loss, and at p = 17 is "
            "non-vacuous only below a fraction of about 0.83; our predictors from the kernel "
            "at init fail at every fraction we ran, which we attribute to the symmetry of "
            "the expected kernel at init (our argument, not the paper's), so a p sweep of "
            "them would not test the bound either",
            "their initialization-scale experiments (Fig. 1 middle; Fig. 2, p = 47) and the "
            "l-infinity norm of the learned weights against p (Figs. 3-4)",
        ),
        notes="Both quantities are ours: the paper's measures are l2 loss (its bound) and "
        "the empirical NTK's change (its experiments). "
        "Committed run: p = 17, fractions 0.2 to 0.8, one seed, 3000 steps. "
        "The trained network reaches 99% test accuracy from 60% of the pairs (0.93 at 50%, "
        "0.18 at 40%, 0.03 at 30%). It fits its training set by step 69 (60%, 70%) or 200 "
        "(30%, 50%); "
        "linearized around that checkpoint with the full NTK it would score 0.034 at 60% "
        "(0.10 at 70%). Its final full kernel alone scores 1.0 from 50% of the pairs, and the "
        "kernel leads the network: at step 500 the kernel alone scores 0.91 (60%) and 1.0 "
        "(70%) while the network is at 0.43 and 0.93; the trace kernel's cosine distance "
        "from init stays below 0.06 throughout. Not evidence either way: at init the "
        "linearized network scores 0.009 to 0.043 and the kernel alone 0.000 to 0.052 at "
        "every fraction (chance 1/17 = 0.059), as the symmetry of the expected kernel at "
        "init implies (our argument), so the run does not test the 'constant fraction' "
        "bound. Before issue 27 "
        "the study (p = 31, learned embeddings, the trace kernel only) reported 0.000 to "
        "0.003 at init and 0.006 to 0.026 with the final trace kernel; on this network the "
        "final trace kernel scores 0.90 at 50% and 1.0 from 60%. The network linearized "
        "around its last checkpoint (0.72 at 50%) falls below the network (0.93): its "
        "cross-entropy logits are far from the one-hot squared-loss targets the "
        "linearization fits.",
    ),
)  # fmt: skip
