"""Tveit, Remseth & Skogvold 2025: *Muon Optimizer Accelerates Grokking* (arXiv 2504.16041).

Its card ``tveit2025-muon`` is measured by the ``muon`` study
(:mod:`grokinterp.experiments.muon`), read from ``studies/muon/runs.csv``: steps to 95% test
accuracy per arm and seed, the median over seeds. An arm with a run that has not finished is
not read (None).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Reader, Setting


def median_steps(folder: Path, arm: str) -> float | None:
    """Median over seeds of ``arm``'s steps to the threshold (``runs.csv``): inf where a
    finished run never reached it, None where the arm was not trained or has a run that is
    not finished."""
    runs = pd.read_csv(folder / "runs.csv")
    rows = runs[runs["arm"] == arm]
    if not len(rows) or (rows["status"] != "done").any():
        return None
    return float(rows["steps_to_threshold"].astype(float).fillna(math.inf).median())


def ratio(num: str, den: str) -> Reader:
    """``num``'s median steps over ``den``'s (the speed-up of ``den``); None where either is
    unread or both never reached the threshold."""

    def read(folder: Path) -> float | None:
        a, b = median_steps(folder, num), median_steps(folder, den)
        if a is None or b is None or (math.isinf(a) and math.isinf(b)):
            return None
        return a / b

    return read


_FILES = ("runs.csv",)
_P = "Tveit et al. 2025, arXiv 2504.16041"

CARDS = (
    Card(
        name="tveit2025-muon",
        paper="Tveit et al. 2025 (Muon accelerates grokking)",
        arxiv="2504.16041",
        claim="training with Muon instead of AdamW makes grokking come sooner: the mean "
        "grokking epoch falls from 153.09 to 102.89 (x1.49; t = 5.02, p = 6.3e-8) over "
        "seven numerical tasks and three softmax variants",
        quantities=(
            Quantity(
                name="speed-up: AdamW / Muon median steps to 95% test accuracy",
                paper=153.09 / 102.89,
                accept=(1.2, math.inf),
                tolerance="at least x1.2 (theirs x1.49 over means of many runs); no upper "
                "bound, a larger speed-up supports the claim more strongly; median of 3 seeds",
                read=ratio("adamw", "muon"),
                files=_FILES,
            ),
        ),
        setup=(
            Setting("tasks", "six tasks listed (the abstract says seven): gcd (50% of the "
                    "pairs for training), x + y (80%), x / y (80%), x^y (70%), x * y (50%), all "
                    "mod 97, and the parity of 10 bits (50%)",
                    f"{_P}, Sec. 2.1 and the task table of Fig. 2",
                    ours="x + y mod 31, half the pairs for training",
                    why="one task; p scaled from their modular tasks to fit 2 shared CPU "
                    "cores (the one scaled knob), the training fraction kept at 50%"),
            Setting("model", "a transformer with RoPE, RMSNorm, a SiLU feed-forward and "
                    "dropout; no depth, width or head count stated", f"{_P}, Sec. 2.3",
                    ours="Nanda et al.'s 1-layer transformer (d_model 128, 4 heads, ReLU MLP "
                    "512, learned positions, no normalization)",
                    why="the paper gives no sizes, and the code it cites "
                    "(atveit/torch_grokking@94d5736, an AdamW-only port: 2 layers, width 128, "
                    "1 head, dropout 0.2, batch 512, main.py:L26-41) has no Muon; we use the "
                    "library's reference grokking model"),
            Setting("softmax", "standard softmax, stablemax and sparsemax", f"{_P}, abstract",
                    ours="softmax (float64 cross-entropy)",
                    why="the claim is pooled over the three; we test the standard softmax"),
            Setting("Muon", "Muon on the hidden matrices (spectral-norm constrained, "
                    "Newton-Schulz orthogonalized momentum); AdamW for the rest",
                    f"{_P}, Sec. 2.4 (no Muon setting is given: lr, momentum, weight decay "
                    "and which weights are Muon's are not stated); the Muon convention "
                    "(torch.optim.Muon's documentation)",
                    ours="torch.optim.Muon's update (momentum 0.95, Nesterov, 5 Newton-Schulz "
                    "steps in float32) on attention and MLP matrices, lr 0.02, decoupled "
                    "weight decay 0.15; embeddings, unembedding and biases AdamW lr 3e-3, "
                    "weight decay 1",
                    why="their Muon hyper-parameters were not published; lr 0.02 is Jordan "
                    "et al.'s "
                    "and torch's example, the weight decay matches AdamW's per-update decay "
                    "(lr x wd = 3e-3); float32 rather than bfloat16 Newton-Schulz "
                    "(grokinterp.training.spectral)"),
            Setting("AdamW", "AdamW, betas (0.9, 0.98), a weight decay 'equivalent' to "
                    "Muon's (value not stated); lr, batch and budget not stated",
                    f"{_P}, Sec. 2.4",
                    ours="AdamW lr 3e-3, betas (0.9, 0.98), weight decay 1, 10-step warm-up, "
                    "full batch", why="the library's quick recipe (Nanda et al.'s at 3x "
                    "their lr), in which this model groks within what 2 shared cores allow"),
            Setting("criterion", "first epoch with validation accuracy >= 95% once training "
                    "accuracy is about 100%",
                    f"{_P}, Sec. 2.3 (no number for 'about 100%'; the mean grokking epochs are "
                    "pooled over every task, softmax and seed, Sec. 3)",
                    ours="first logged step (every 10 updates) with test accuracy >= 95%",
                    why="full batch: an epoch is an update"),
        ),
        study="muon",
        not_run=(
            "their configuration: the paper states no learning rate, weight decay, batch, "
            "budget, model size or Muon setting (Sec. 2.3-2.4), and no code for its Muon, "
            "stablemax or sparsemax runs was released (the cited atveit/torch_grokking is "
            "AdamW-only), so their runs cannot be repeated; read from the arXiv text (v1)",
            "their six tasks and three softmax variants: one task and softmax only, 3 seeds "
            "per arm",
        ),
        notes="Measured (x + y mod 31, 3 seeds, median steps to 95%): AdamW 1370 (910-2520), "
        "Muon 1440 (1360-1460), the lr-matched AdamW (lr x 0.51, Muon's RMS step) 1355 over the "
        "2 seeds that reached 95% in 3000 updates (910-1800), EGD 790 (770-980). Muon did not "
        "come sooner than AdamW here; its spread over seeds was the smallest. Progress "
        "measures (progress.csv): under Muon the restricted loss fell below 1 nat later (500 "
        "against 300 updates) and the generalizing share passed 50% later (1500 against 600), "
        "so the circuit formed no earlier; Muon's float32 softmax collapsed on the whole "
        "training set by update 190 (AdamW's at about 1100). "
        "Read from studies/muon (runs.csv; arms.csv: median and range of steps and wall "
        "seconds per arm; progress.csv: per run, the steps at which train accuracy reaches "
        "99%, the restricted loss falls below 1, the generalizing share passes 50%, the key "
        "frequencies settle and test accuracy reaches 95% / 99%). A wider sweep (Essential AI, "
        "'Muon doesn't clearly grok faster', 2025) found the advantage sensitive to batch size "
        "and embedding width.",
    ),
)  # fmt: skip
