"""Prieto, Barsbey, Mediano & Birdal 2025: *Grokking at the Edge of Numerical Stability*
(arXiv 2501.04697).

Its cards are measured by the ``prieto`` study (:mod:`grokinterp.experiments.prieto`) on
the authors' MLP (their Figure 1): the ⊥AdamW card from ``studies/prieto/runs.csv`` (the
300-step arms at their modulus 113), the StableMax card from ``studies/prieto/p113`` (the
80,000-step arms at their modulus; the main folder ran them at the scaled modulus 47):
per arm and seed, the first logged step with test accuracy >= 95% and the best test
accuracy reached. An arm with a run that has not finished is not read (None). The paper's
values are read off the Figure 1 curves their repository's ``paper_plots.ipynb`` stores
(commit 0cc9e8d).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Reader, Setting

#: the long arms run again at the authors' modulus, a subfolder of the committed study:
#: ``grokinterp study run prieto --long-p 113 --arms stablemax softmax64 softmax32 --seeds 1 2
#: --backend local --threads 2 --out studies/prieto/p113``; the card reads it only where its
#: ``study.json`` records these parameters
P113 = "p113"
P113_PARAMS = {"setting": "mlp", "long_p": 113, "long_steps": 80_000, "threshold": 0.95}
#: their transformer (Fig. 6), a subfolder of the committed study: ``grokinterp study run
#: prieto --setting transformer --arms orthoadamw wd1.5 baseline --seeds 0 --backend local
#: --threads 1 --out studies/prieto/transformer``
TRANSFORMER = "transformer"
TRANSFORMER_PARAMS = {
    "setting": "transformer",
    "p": 113,
    "long_steps": 80_000,
    "threshold": 0.95,
    "log_every": 10,
}  # the transformer trains min(long_steps, 5000) steps: their 5,000
#: what ``reproduce check`` adds to the study's smoke scale to run each subfolder's code path
TRANSFORMER_SMOKE = {"setting": "transformer", "arms": ["orthoadamw", "wd1.5", "baseline"],
                     "backend": "local"}  # fmt: skip
P113_SMOKE = {"arms": ["stablemax", "softmax64", "softmax32"]}
NOTES_P113 = (
    "Read from studies/prieto/p113 (the long arms at their modulus; report.txt, metrics.csv "
    "and figures/ there). metrics.csv logs softmax_collapse, the fraction of training "
    "examples whose float32 softmax is exactly 1 (their Sec. 2). StableMax groks as their "
    "Fig. 1b shows on every seed, 5,000-20,000 steps later: 95% test accuracy at 59,500 "
    "steps (seed 1) and 71,000 (seed 2), and at 66,500 for seed 0, run alone earlier with "
    "the same settings (p113/stablemax_seed0_runs.csv); test accuracy at 50,000 steps "
    "0.84, 0.49 and 0.70, theirs 0.94 (0.98 from 65,000). Each run stops at 95% (the "
    "study's rule), so the best accuracy reads about 0.95. Training accuracy is 1, and a "
    "float32 softmax of the logits collapsed on every training example, from step 500 on "
    "(every seed), yet test accuracy climbs. The main "
    "folder (studies/prieto) ran the three long arms at p = 47, the modulus scaled for cost "
    "before their p was run (883 training pairs, where ⊥AdamW generalizes within 300 "
    "steps): no seed of any arm leaves chance in 80,000 steps (StableMax's best test "
    "accuracy 0.019-0.026 on 3 seeds, chance 1/47 = 0.021): with that little data StableMax, "
    "unlike ⊥AdamW, does not generalize within their budget. Their claim is about p = 113, "
    "which is what the card reads. The float64 softmax runs (their Fig. 1c) at p = 113 "
    "fit their training set by step 100 and stay at chance for all 80,000 steps on both "
    "seeds: best test accuracy 1.1% and 0.9% (chance 0.88%; both at step 0), 0.39% and 0.31% at "
    "the end. The float32 softmax control (their default precision) at p = 113 also stays far "
    "from generalizing on both seeds for the 80,000 steps, its softmax collapsed on 0.97-1 of "
    "the training examples from step 15,000 on: seed 2's best test accuracy is its step-0 "
    "0.93% (0.84% at the end); seed 1 creeps up from 0.13% at step 10,000 to 2.4% at "
    "80,000 (1.2% at 55,000), still under three times chance."
)
#: the p113 folder's seeds (seed 0 was run alone before the folder was made)
_P113_SPLIT_OURS = (
    "grokinterp's seeded permutation (split_seed 0); seeds 1 and 2 in p113/ (seed 0 run "
    "alone earlier with the same settings, its files beside them)"
)


def _rows(folder: Path, arm: str) -> pd.DataFrame | None:
    if not (folder / "runs.csv").is_file():
        return None
    runs = pd.read_csv(folder / "runs.csv")
    rows = runs[runs["arm"] == arm]
    if not len(rows) or (rows["status"] != "done").any():
        return None
    return rows


def _median_steps(arm: str) -> Reader:
    """Median over seeds of ``arm``'s steps to 95% test accuracy; inf where a finished run
    never got there within its budget."""

    def read(folder: Path) -> float | None:
        rows = _rows(folder, arm)
        if rows is None:
            return None
        return float(rows["steps_to_threshold"].astype(float).fillna(math.inf).median())

    return read


def _median_max_acc(arm: str, budget: int = 0) -> Reader:
    """Median over seeds of ``arm``'s best logged test accuracy within its budget; None where
    its runs had a budget below ``budget`` (the authors': a shorter run cannot test a claim
    about what happens by their last step) or the folder was not run."""

    def read(folder: Path) -> float | None:
        rows = _rows(folder, arm)
        if rows is None or (rows["max_steps"] < budget).any():
            return None
        return float(rows["max_test_acc"].median())

    return read


_P = "LucasPrietoAl/grokking-at-the-edge-of-numerical-stability@0cc9e8d"
_SH = f"{_P} run_main_experiments.sh"
_MLP_SETUP = (
    Setting(
        "task",
        "a + b mod 113 over all 113^2 pairs, 40% for training (5,107)",
        f"{_P} utils.py:L215, L233; datasets.py:L49-63; run_main_experiments.sh:L50-52",
    ),
    Setting(
        "split",
        "torch random_split under torch.manual_seed(42)",
        f"{_P} utils.py:L128, L293; grokking_experiments.py:L27-28",
        ours="grokinterp's seeded permutation (split_seed 0); seeds 0, 1, 2",
        why="grokinterp draws splits with its own seeded rule; three seeds instead of one",
    ),
    Setting(
        "model",
        "MLP 226-200-200-113, ReLU, no biases, on the concatenated one-hot "
        "vectors of a and b; nn.Linear's default init; float32",
        f"{_P} utils.py:L186-187, L206, L272; models.py:L4-28; datasets.py:L56-59 "
        "(mlp_input='onehot', mlp_bias=False, mlp_init='uniform')",
    ),
    Setting(
        "batch",
        "full batch, no warm-up",
        f"{_P} utils.py:L242, L278; grokking_experiments.py:L36-37, L89-96",
    ),
)
CARDS = (
    Card(
        name="prieto2025-orthograd",
        paper="Prieto et al. 2025",
        arxiv="2501.04697",
        claim="⊥AdamW (the gradient's component along the weights removed) generalizes "
        "quickly without weight decay, within their 300-step MLP run (Fig. 1) and on their "
        "transformer (Fig. 6), where AdamW without weight decay is delayed or stays at chance",
        quantities=(
            Quantity(
                name="⊥AdamW: steps to 95% test accuracy (MLP)",
                paper=None,
                accept=(0.0, 300.0),
                tolerance="their Figure 1 run is 300 full-batch steps (run_main_experiments"
                ".sh:L51) and the paper says it generalizes (Fig. 1 caption); 95% is our "
                "bar for that; median of 3 seeds",
                read=_median_steps("orthoadamw"),
                files=("runs.csv",),
            ),
            Quantity(
                name="AdamW, the same settings without ⊥: best test accuracy within 300 steps",
                paper=None,
                accept=(0.0, 0.95),
                tolerance="the delay the paper attributes to naive loss minimization (Fig. 1 "
                "caption): below our 95% bar within the same 300 steps; our control, "
                "median of 3 seeds",
                read=_median_max_acc("adamw_control"),
                files=("runs.csv",),
            ),
            Quantity(
                name="⊥AdamW: steps to 95% test accuracy (their transformer)",
                paper=600.0,
                accept=(300.0, 1200.0),
                tolerance="their Figure 6 run (one seed), read off the image of "
                "paper_plots.ipynb cell 16: 87% test accuracy at step 400, 99% at 600 (logged "
                "every 200 steps; the cell plots those points 500 apart, so its 0-5,000 axis "
                "is their first 2,000 steps); within a factor of 2; median over the folder's "
                "seeds",
                read=_median_steps("orthoadamw"),
                files=("runs.csv",),
                sub=TRANSFORMER,
                sub_params=TRANSFORMER_PARAMS,
                sub_smoke=TRANSFORMER_SMOKE,
            ),
            Quantity(
                name="AdamW with weight decay 1.5: steps to 95% test accuracy (their "
                "transformer)",
                paper=1400.0,
                accept=(700.0, 2800.0),
                tolerance="their Figure 6 run as above: 48% at step 1,000, 93% at 1,200, "
                "about 100% at 1,400; within a factor of 2",
                read=_median_steps("wd1.5"),
                files=("runs.csv",),
                sub=TRANSFORMER,
                sub_params=TRANSFORMER_PARAMS,
                sub_smoke=TRANSFORMER_SMOKE,
            ),
            Quantity(
                name="AdamW without weight decay: best test accuracy within 5,000 steps "
                "(their transformer)",
                paper=0.005,
                accept=(0.0, 0.5),
                tolerance="their Figure 6 baseline stays at or below about 0.5% (chance "
                "1/113 = 0.9%) through step 2,000, the last their figure shows of its 5,000 "
                "steps; we accept any best test accuracy below half the test set over their "
                "5,000 steps",
                read=_median_max_acc("baseline", budget=5000),
                files=("runs.csv",),
                sub=TRANSFORMER,
                sub_params=TRANSFORMER_PARAMS,
                sub_smoke=TRANSFORMER_SMOKE,
            ),
        ),
        setup=(
            *_MLP_SETUP,
            Setting("optimizer as it steps", "AdamW lr 0.01, torch's defaults betas (0.9, "
                    "0.999), eps 1e-8, weight decay 0: OrthoGrad builds the base AdamW from lr "
                    "and weight decay only; --beta2 0.99 and --adam_epsilon reach only the "
                    "wrapper's own param_groups, which the base optimizer does not read",
                    f"{_P} grokking_experiments.py:L50-67; run_main_experiments.sh:L51"),
            Setting("⊥Grad", "per tensor g - (w.g)/(w.w + 1e-30) w, rescaled to |g|, then "
                    "AdamW's step", f"{_P} orthograd.py:L24-52"),
            Setting("loss", "softmax cross-entropy in float32 (--softmax_precision 32, the "
                    "default)", f"{_P} utils.py:L52-67, L269; grokking_experiments.py:L73-83 "
                    "(optim.loss='softmax32')"),
            Setting("budget", "300 full-batch steps", f"{_SH}:L51"),
            Setting("transformer (Fig. 6)", "one nn.TransformerEncoderLayer(128, 4): post-LN, "
                    "FFN 2048 with biases, ReLU, dropout 0.1 in training (PyTorch's defaults), "
                    "no mask, no positions, on [x, y], a linear head with bias at the last "
                    "position; PyTorch's default init", f"{_P} models.py:L31-44; "
                    "grokking_experiments.py:L107-111 (the prieto_transformer preset)"),
            Setting("transformer's pairs", "x, y in 1 .. 112 (12,544 pairs), 40% for "
                    "training (5,017)", f"{_P} datasets.py:L134-136; {_SH}:L87-94",
                    ours="x, y in 0 .. 112 (12,769 pairs, 5,107 for training)",
                    why="grokinterp's tasks take every residue; one operand value in 113"),
            Setting("transformer's optimizers", "lr 1e-3, 5,000 full-batch steps, float32 "
                    "softmax cross-entropy; ⊥AdamW steps with betas (0.9, 0.999), eps 1e-8 (as "
                    "above); AdamW with weight decay 1.5 and without, betas (0.9, 0.99), eps "
                    "1e-25", f"{_SH}:L87-94; {_P} utils.py:L275, L289, L291"),
            Setting("transformer's logging", "test accuracy every 200 steps, in eval mode "
                    "(dropout off)", f"{_SH}:L87-94; {_P} logger.py:L41-50",
                    ours="every 10 steps, dropout off",
                    why="a finer reading of when 95% is reached; evaluating does not change "
                    "training (the masks are a function of the seed and step)"),
        ),
        study="prieto",
        not_run=(),
        notes="Read from studies/prieto (runs.csv, the MLP) and studies/prieto/transformer "
        "(runs.csv, their Fig. 6; report.txt and figures/ in each show every arm). On the "
        "transformer, one seed as theirs, with their dropout 0.1: ⊥AdamW's test accuracy is "
        "30% at step 400 (theirs 87%), 84% at 450 and 96% at 480 (theirs 99% at 600); weight "
        "decay 1.5 28% at 1,000 (theirs 48%), 91% at 1,200 (theirs 93%) and 95% at 1,230; "
        "AdamW without weight decay at most 0.85% through step 2,000 (chance 0.88%; theirs "
        "at most 0.5%) and 1.7% at best over their 5,000 steps. The same ⊥AdamW run "
        "without dropout (studies/prieto/transformer_no_dropout.csv, its config identical but for "
        "model.dropout 0) fits its training set by step 100 and keeps test accuracy at or "
        "below 0.55% through step 2,000, where it was stopped: dropout can decide whether "
        "⊥AdamW generalizes on this model (one seed each; not how often). "
        "The control adamw_control is ours: the paper's Figure 1 panels are curves, with no "
        "number to compare. The figure's arrow labels panel (a) '⊥AdamW + StableMax', but "
        "the run the script makes and their notebook plots (paper_plots.ipynb, key "
        "'...|orthogonal_gradients-True', no loss_function) uses the default float32 "
        "softmax cross-entropy: we follow the code.",
    ),
    Card(
        name="prieto2025-stablemax",
        paper="Prieto et al. 2025",
        arxiv="2501.04697",
        claim="StableMax (no softmax collapse) gives grokking without weight decay on their "
        "MLP (Fig. 1b: test accuracy about 98% by 80,000 steps), where softmax cross-entropy "
        "with the same optimizer overfits and stays at chance (Fig. 1c)",
        quantities=(
            Quantity(
                name="StableMax: best test accuracy within 80,000 steps (MLP, p = 113)",
                paper=0.98,
                accept=(0.95, 1.0),
                tolerance="their Figure 1b, one run (seed 42, utils.py:L293), read off the "
                "test-accuracy curve that their paper_plots.ipynb stores (logged every 5,000 "
                "steps: 0.30 at 30,000, 0.94 at 50,000, 0.96 at 55,000, 0.98 from 65,000; we "
                "read it against the plot's grid to about 0.01); 95% is our bar for "
                "'generalizes'; median over the folder's seeds (its runs stop at 95%, so "
                "this reads about 0.95 exactly where a run got there within 80,000 steps); "
                "read only from runs given their 80,000 steps (a shorter run does not test "
                "the claim)",
                read=_median_max_acc("stablemax", budget=80_000),
                files=("runs.csv",),
                sub=P113,
                sub_params=P113_PARAMS,
                sub_smoke=P113_SMOKE,
            ),
            Quantity(
                name="float64 softmax (their Fig. 1c): best test accuracy within 80,000 "
                "steps (p = 113)",
                paper=0.005,
                accept=(0.0, 0.5),
                tolerance="their Figure 1c test-accuracy curve (paper_plots.ipynb) stays at "
                "or below about 0.005 (chance 1/113 = 0.009) for all 80,000 steps while "
                "training accuracy is 1; we accept any median over seeds below half the test "
                "set, far from generalizing",
                read=_median_max_acc("softmax64", budget=80_000),
                files=("runs.csv",),
                sub=P113,
                sub_params=P113_PARAMS,
                sub_smoke=P113_SMOKE,
            ),
            Quantity(
                name="float32 softmax (our control): best test accuracy within 80,000 steps "
                "(p = 113)",
                paper=None,
                accept=(0.0, 0.5),
                tolerance="the paper's account (softmax collapse stops learning; Sec. 2) at "
                "their default precision: below half the test set, as for float64; our "
                "control, median over seeds",
                read=_median_max_acc("softmax32", budget=80_000),
                files=("runs.csv",),
                sub=P113,
                sub_params=P113_PARAMS,
                sub_smoke=P113_SMOKE,
            ),
        ),
        setup=(
            _MLP_SETUP[0],
            Setting(
                _MLP_SETUP[1].what,
                _MLP_SETUP[1].theirs,
                _MLP_SETUP[1].source,
                ours=_P113_SPLIT_OURS,
                why="grokinterp draws splits with its own seeded rule; more seeds than their one",
            ),
            _MLP_SETUP[2],
            _MLP_SETUP[3],
            Setting("optimizer", "AdamW lr 0.01, betas (0.9, 0.999), eps 1e-25, weight decay 0",
                    f"{_SH}:L50; {_P} utils.py:L194, L275, L291"),
            Setting("StableMax", "s(x) = x + 1 for x >= 0, 1/(1 - x + 1e-30) below; "
                    "cross-entropy of log(s / sum s) in float64", f"{_P} utils.py:L31-49"),
            Setting("softmax runs", "softmax cross-entropy in float64 (Fig. 1c), AdamW lr "
                    "0.01, betas (0.9, 0.99), eps 1e-25, weight decay 0; our control the same "
                    "in float32 (their default --softmax_precision 32)",
                    f"{_SH}:L52; {_P} utils.py:L23-28, L52-67, L269, L289, L291"),
            Setting("budget", "80,000 full-batch steps", f"{_SH}:L50, L52"),
            Setting("logging", "train and test accuracy every 5,000 steps",
                    f"{_SH}:L50, L52; {_P} grokking_experiments.py:L117-129",
                    ours="every 500 steps (the study's long_log_every)",
                    why="a finer reading of when 95% is reached; evaluating does not change "
                    "full-batch training"),
        ),
        study="prieto",
        notes=NOTES_P113,
    ),
)  # fmt: skip
