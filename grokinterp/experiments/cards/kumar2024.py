"""Kumar, Bordelon, Gershman & Pehlevan 2024: *Grokking as the transition from lazy to rich
training dynamics* (ICLR 2024, arXiv 2310.06110).

Its card ``kumar2024-lazy-rich`` is measured by the ``lazy-rich`` study
(:mod:`grokinterp.experiments.lazy_rich`). We found no code released by the authors (the
paper names none; its Papers with Code page lists none), so every setting is read from the
paper's text (v3, 11 Apr 2024; sections and pages as printed). The quantities are computed
here from the study's ``runs.csv`` and ``alphas.csv``; :func:`readings` gives them to the
study's report.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Setting

GROKKED = 2.0  # a run groks when it generalizes at >= this multiple of its fit step (ours)


def _spearman(x: pd.Series, y: pd.Series) -> float | None:
    """Spearman's rank correlation (average ranks; inf ranks last); None below 3 points or
    when either side is constant."""
    ok = x.notna() & y.notna()
    if int(ok.sum()) < 3:
        return None
    rx, ry = x[ok].rank(), y[ok].rank()
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(rx.corr(ry))


def delay_rank_correlation(alphas: pd.DataFrame) -> float | None:
    """Spearman's rho between alpha and the median grokking delay (steps from fitting the
    training set to generalizing; inf where a run never generalized)."""
    return _spearman(alphas["alpha"], alphas["delay"])


def smallest_alpha_ratio(runs: pd.DataFrame) -> float | None:
    """At the smallest alpha: the median over seeds of generalize_step / fit_step (1: the
    test accuracy follows the training accuracy; inf: it never generalized)."""
    g = runs[runs["alpha"] == runs["alpha"].min()]
    ratio = g["generalize_step"].astype(float) / g["fit_step"].astype(float).clip(lower=1)
    ratio = ratio.where(g["generalize_step"].notna(), math.inf)
    return float(ratio.median()) if len(g) and g["fit_step"].notna().all() else None


def _grokked(runs: pd.DataFrame) -> pd.DataFrame:
    fit, gen = runs["fit_step"].astype(float), runs["generalize_step"].astype(float)
    return runs[gen.notna() & (gen >= GROKKED * fit.clip(lower=1))]


def kernel_moved_at_fit(runs: pd.DataFrame) -> float | None:
    """Over the runs that grokked: the median of the kernel distance from step 0 when the
    training set is fit, divided by the distance when the test set is (0: the kernel had not
    moved while the network memorized; 1: it had moved all the way)."""
    g = _grokked(runs)
    r = g["kernel_distance_fit"] / g["kernel_distance_generalize"]
    r = r[g["kernel_distance_generalize"] > 0]
    return float(r.median()) if len(r) else None


def alignment_gain(runs: pd.DataFrame) -> float | None:
    """Over the runs that grokked: the median rise of the kernel-label alignment from the
    fit step to the generalization step."""
    g = _grokked(runs)
    d = (g["kernel_alignment_generalize"] - g["kernel_alignment_fit"]).dropna()
    return float(d.median()) if len(d) else None


def norm_growth(runs: pd.DataFrame) -> float | None:
    """The smallest, over runs, of the parameter norm at the end over at the start."""
    if not len(runs):
        return None
    return float((runs["param_norm_end"] / runs["param_norm_start"]).min())


def lazy_kernel_rank_correlation(alphas: pd.DataFrame) -> float | None:
    """Spearman's rho between alpha and the median kernel distance at the fit step: how far
    the kernel moved while the network fit its training set (lazier: less)."""
    return _spearman(alphas["alpha"], alphas["kernel_distance_fit"])


def _runs(folder: Path) -> pd.DataFrame:
    """``runs.csv`` without the runs that diverged (their loss became NaN: no measure)."""
    runs = pd.read_csv(folder / "runs.csv")
    return runs[runs["status"] != "diverged"] if "status" in runs else runs


def _alphas(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "alphas.csv")


def readings(runs: pd.DataFrame, alphas: pd.DataFrame) -> list[str]:
    """The card's quantities as report lines."""

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    if "status" in runs:
        runs = runs[runs["status"] != "diverged"]
    return [
        f"Spearman rho(alpha, delay): {num(delay_rank_correlation(alphas))}",
        f"generalize / fit step at the smallest alpha: {num(smallest_alpha_ratio(runs))}",
        f"runs that grokked (generalize >= {GROKKED:g} x fit step): {len(_grokked(runs))}",
        f"kernel distance at fit / at generalization, grokked runs: "
        f"{num(kernel_moved_at_fit(runs))}",
        f"kernel alignment gain fit -> generalization, grokked runs: {num(alignment_gain(runs))}",
        f"Spearman rho(alpha, kernel distance at fit): {num(lazy_kernel_rank_correlation(alphas))}",
    ]


_P = "paper (arXiv 2310.06110v3)"

CARDS = (
    Card(
        name="kumar2024-lazy-rich",
        paper="Kumar, Bordelon, Gershman & Pehlevan 2024",
        arxiv="2310.06110",
        claim="without weight decay, grokking can be a lazy (kernel) fit followed by late "
        "feature learning (the authors call it a sufficient, not necessary, mechanism: App. "
        "14); a larger output scale alpha delays generalization more, and a small one can "
        "remove the delay",
        quantities=(
            Quantity(
                name="Spearman rho between alpha and the median grokking delay (test >= 90% "
                "step minus train >= 99% step)",
                paper=None,
                accept=(0.8, 1.0),
                tolerance="Sec. 3, p. 4 and Fig. 2c (the modular network): varying alpha "
                "'can make grokking more dramatic, or vanish entirely'; Sec. 5.1 / Fig. 3a "
                "give the same direction on the polynomial task, where the alpha -> inf limit "
                "'gives poor final performance' (so a run that never generalizes counts as "
                "an infinite delay). No number; ours: a rank correlation >= 0.8 over our "
                "alpha grid counts",
                read=lambda f: delay_rank_correlation(_alphas(f)),
                files=("alphas.csv",),
            ),
            Quantity(
                name="at the smallest alpha, generalization step / fit step (median)",
                paper=None,
                accept=(0.0, 1.5),
                tolerance="Sec. 3, p. 4 / Fig. 2c (modular): alpha can make grokking 'vanish "
                "entirely', at an alpha the text does not give. Where the paper shows it "
                "vanish in other settings, alpha is below 1 (0.0001 on MNIST, Sec. 6; 0.15 "
                "for the one-layer Transformer, Fig. 6). Its one modular time scale (App. "
                "16.1, Fig. 16; alpha and p not stated) is train accuracy perfect at about "
                "2k epochs and test generalizing around 3-4k, a ratio of about 1.5 to 2. "
                "Ours: the test accuracy reaches 90% within 1.5x the step the training "
                "accuracy reaches 99%, a bar stricter than that one figure (at an alpha it "
                "does not state), which would itself sit at or above it",
                read=lambda f: smallest_alpha_ratio(_runs(f)),
                files=("runs.csv",),
            ),
            Quantity(
                name="runs that grokked: kernel distance from init at the fit step / at the "
                "generalization step (median)",
                paper=None,
                accept=(0.0, 0.5),
                tolerance="App. 16.1, p. 22-23 (modular): while memorizing, the network "
                "fits 'a linearized (NTK) solution', which already reaches perfect training "
                "accuracy; footnote 1, p. 2 calls a network lazy when its output moves while "
                "its parameter gradient stays about constant. (The abstract's kernel fit "
                "'with its initial features' is said of the polynomial setting.) A "
                "direction; ours: less than half of the kernel's movement by the time the "
                "training set is fit",
                read=lambda f: kernel_moved_at_fit(_runs(f)),
                files=("runs.csv",),
            ),
            Quantity(
                name="runs that grokked: kernel-label alignment gain from fit to "
                "generalization (median)",
                paper=None,
                accept=(0.0, math.inf),
                tolerance="Fig. 1c, Sec. 5 (the polynomial task): features get aligned as it "
                "groks. The paper reports no alignment measured over training for the "
                "modular network, and its CKA is that of the initial kernel K_0, without "
                "centering. Ours, carried to the modular network: a rise of the centered "
                "alignment of the trace NTK; a direction",
                read=lambda f: alignment_gain(_runs(f)),
                files=("runs.csv",),
            ),
            Quantity(
                name="parameter norm at the end / at the start, smallest over runs",
                paper=None,
                accept=(1.0, math.inf),
                tolerance="Sec. 3, p. 4, Fig. 2a: the weight norm 'increases during "
                "training' (no weight decay); App. 9, p. 16: the final modular solution has "
                "a larger norm than the initial one. A direction, no number",
                read=lambda f: norm_growth(_runs(f)),
                files=("runs.csv",),
            ),
            Quantity(
                name="Spearman rho between alpha and the kernel distance at the fit step",
                paper=None,
                accept=(-1.0, -0.8),
                tolerance="Sec. 4.1, p. 5: as alpha -> inf the linearization (Eq. 1) becomes "
                "exact. App. 8.2, Fig. 7d-f measure the relative parameter change |w - w_0| "
                "/ |w_0| on the polynomial task, not a kernel distance on the modular one. "
                "A direction; ours: the kernel distance from step 0 at the fit step",
                read=lambda f: lazy_kernel_rank_correlation(_alphas(f)),
                files=("alphas.csv",),
            ),
        ),
        setup=(
            Setting("task", "a + b mod p: 'the figures below use p=23', and p in {13, 17, "
                    "19, 29, 31} grok 'in the same way' (which figures is not said; Fig. 16 "
                    "says only 'a small prime')",
                    f"{_P}, App. 8.3, p. 14; Fig. 16, p. 23"),
            Setting("training fraction", "90% of the p^2 pairs", f"{_P}, App. 8.3, p. 14"),
            Setting("network", "one-hidden-layer perceptron on the concatenated one-hot a, b "
                    "(D = 2p), N = 100 hidden units, one-hot output (p)",
                    f"{_P}, App. 8.3, p. 13-14"),
            Setting("activation, biases", "not stated for the modular network (they say "
                    "their results agree with Gromov 2023; x^2 without biases is Gromov's "
                    "network, not stated in this text; Eq. 3's phi is the polynomial model's)",
                    f"{_P}, App. 8.3, p. 14",
                    ours="x^2, no biases, N(0, 1/fan_in) weights",
                    why="ours: Gromov's network, which the paper cites as agreeing"),
            Setting("loss", "MSE on the one-hot answer; its normalization is not stated. "
                    "The one scale hint (App. 16.1): train loss about 0.06 at perfect train "
                    "accuracy on a modular run (our inference only: a per-class mean gives "
                    "1/p < 0.06 at zero output for p >= 17, so a sum over classes fits better)",
                    f"{_P}, Sec. 3, p. 4; App. 16.1, p. 22-23", ours="the mean over "
                    "examples and classes (torch.nn.MSELoss), lr 100 at alpha = 1",
                    why="ours: the scale their learning rate 100 goes with is not stated; at "
                    "this one the alpha = 1 run trains without diverging"),
            Setting("optimizer", "vanilla gradient descent, learning rate 100, no weight "
                    "decay; time counted in epochs (full batch is our reading; the text does "
                    "not say); how eta = 100 relates to eta_0 / alpha^2 (App. 8.1) is not "
                    "stated", f"{_P}, App. 8.3, p. 14"),
            Setting("output scale", "predictor alpha (f(x; theta) - f(x; theta_0)), gradients "
                    "through it, learning rate eta_0 / alpha^2 (stated for their experiments "
                    "in general)", f"{_P}, App. 8.1, Eq. 7, p. 13"),
            Setting("alpha values", "not given in the text (Fig. 2c sweeps alpha; its values "
                    "are only on the figure)", f"{_P}, Sec. 3, p. 4, Fig. 2c",
                    ours="1, 2, 3, 4, 6, 10", why="ours: their grid is not given in the text"),
            Setting("steps", "Fig. 2: not given in the text. App. 16.1 / Fig. 16 (a modular "
                    "run: two layers, no weight decay, 'a small prime', alpha not stated): "
                    "train accuracy perfect at about 2k epochs, test generalizing around 3-4k "
                    "epochs", f"{_P}, App. 16.1, p. 22-23, Fig. 16",
                    ours="at most 20,000 full-batch steps, stopping 500 after test 99%",
                    why="our budget on 2 shared cores (the one scaled knob)"),
            Setting("thresholds", "delays read off loss curves: the time 'between train loss "
                    "fall and test loss fall' (Fig. 3e); App. 16.1 and 16.4 argue that "
                    "grokking in loss and in accuracy coincide on modular arithmetic",
                    f"{_P}, Sec. 3; Fig. 3e, p. 7; App. 16.1, 16.4",
                    ours="fit: train acc >= 99%; generalize: test acc >= 90%",
                    why="ours: accuracy crossings give one number per run"),
            Setting("kernel measures", "CKA of the initial NTK K_0 on the test set, written "
                    "y^T K_0 y / (||K||_F ||y||^2) (Sec. 5), / (||K_0||_F ||y||) (Sec. 5.3) "
                    "and / (||K_0||_F ||y||^2) (Sec. 6.1), none with centering; NTK movement "
                    "sketched (Fig. 1, polynomial task)", f"{_P}, Sec. 5, 5.3, 6.1",
                    ours="trace NTK on 128 seeded pairs: Fort et al.'s kernel distance from "
                    "step 0 and Cortes et al.'s centered alignment with the one-hot labels",
                    why="the toolkit's kernel measures (grokinterp.analysis.kernels); the "
                    "centered alignment is ours, not the paper's CKA"),
        ),
        study="lazy-rich",
        not_run=(
            "their polynomial-regression toy (Sec. 5, the paper's main model) is not a task "
            "of the toolkit; this card tests the modular-arithmetic network of Sec. 3",
            "their MNIST, one-layer transformer and student-teacher sweeps (Sec. 6, App. 8.3.1)",
            "their Gaussian-data eigenvector-label task (Sec. 6.1, Fig. 5), the init-scale "
            "and label-scale sweeps (App. 8.2, Fig. 7b-c), alpha with weight decay (App. 13, "
            "Fig. 12) and the dataset-size sweep (App. 8.3.2)",
        ),
        notes="The paper's modular-arithmetic statements are Fig. 2 (accuracy and loss curves "
        "at one alpha, not stated in the text, and the alpha sweep of Fig. 2c), App. 9 (the "
        "final solution has a larger norm than the initial one) and App. 16.1 / Fig. 16 (a "
        "modular run whose linearized fit reaches perfect train accuracy by about 2k epochs "
        "and generalizes around 3-4k). Our number for each is in runs.csv / alphas.csv; the "
        "curves are in the study's figures.",
    ),
)  # fmt: skip
