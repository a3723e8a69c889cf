"""Mallinar, Beaglehole, Zhu, Radhakrishnan, Pandit & Belkin 2025: *Emergence in non-neural
models: grokking modular arithmetic via average gradient outer product* (ICML 2025, arXiv
2407.20199).

Its card is measured by the ``rfm`` study (:mod:`grokinterp.experiments.rfm`), read from
``studies/rfm/summary.csv``. The paper's claims are those of its abstract: test accuracy goes
from near zero to perfect over the RFM iterations, the training loss is identically zero and
the test loss constant in the first iterations, and M becomes block-circulant. The paper's
curves (its Fig. 1) are not read here as numbers: their scalar progress measures are not in the
released code, so the circulant structure is graded with our measure
(:func:`grokinterp.analysis.agop.agop_circulant_share`) against a direction.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from grokinterp.experiments.cards import Card, Quantity, Reader, Setting

_R = "nmallinar/rfm-grokking@73181df"
_T = f"{_R} train_kernel.py"
_G = f"{_R} models/gaussian_kernel.py"


def _stat(column: str, how: str = "median", tasks: tuple[str, ...] = ("add",)) -> Reader:
    """The median (or max) over the runs of ``tasks`` of a summary column; a run that never
    reached a level (NaN step) counts as inf; None when no such run."""

    def read(folder: Path) -> float | None:
        s = pd.read_csv(folder / "summary.csv")
        rows = s[s["task"].isin(tasks)]
        if rows.empty:
            return None
        v = rows[column].astype(float)
        if column.startswith("step_"):
            v = v.fillna(math.inf)
        return float(v.max() if how == "max" else v.median())

    return read


_ALL = ("add", "sub", "mul", "div")
_ABSTRACT = "paper, abstract"

CARDS = (
    Card(
        name="mallinar2025-rfm",
        paper="Mallinar et al. 2025",
        arxiv="2407.20199",
        claim="a recursive feature machine (kernel ridge regression + AGOP features) groks "
        "modular arithmetic: test accuracy jumps from near zero to perfect over its iterations "
        "while the training loss is identically zero, the test loss constant at first, and "
        "the learned feature matrix block-circulant",
        quantities=(
            Quantity(
                name="largest training MSE over every iteration and run",
                paper=0.0,
                accept=(0.0, 1e-12),
                tolerance="'identically zero' (abstract): float64 round-off of an "
                "interpolating solve",
                read=_stat("max_train_loss", "max", _ALL),
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy at iteration 0 (M = I), a + b, median over seeds",
                paper=None,
                accept=(0.0, 1 / 61),
                tolerance="'random, near zero' (abstract): at most chance, 1/p",
                read=_stat("test_acc_0"),
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy at the last iteration, a + b, median over seeds",
                paper=1.0,
                accept=(0.99, 1.0),
                tolerance="'perfect test accuracy' (abstract)",
                read=_stat("final_test_acc"),
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy at the last iteration, median over add, sub, mul, div",
                paper=1.0,
                accept=(0.99, 1.0),
                tolerance="'perfect test accuracy' on modular arithmetic (abstract)",
                read=_stat("final_test_acc", tasks=_ALL),
                files=("summary.csv",),
            ),
            Quantity(
                name="first iteration with test accuracy >= 99%, a + b, median over seeds",
                paper=None,
                accept=(2.0, 50.0),
                tolerance="direction only: after the first iterations and within their 50 "
                "(train_kernel.py:L116); a run that never got there counts as inf",
                read=_stat("step_test_99"),
                files=("summary.csv",),
            ),
            Quantity(
                name="test MSE at iteration 5 over that at iteration 0, a + b, median",
                paper=1.0,
                accept=(0.95, 1.05),
                tolerance="'the test loss ... remains constant in initial iterations' "
                "(abstract): within 5%",
                read=_stat("test_loss_ratio_5"),
                files=("summary.csv",),
            ),
            Quantity(
                name="circulant share of M_ab at the last iteration, a + b, median",
                paper=None,
                accept=(0.9, 1.0),
                tolerance="direction: 'block-circulant features' (abstract); an exact "
                "circulant gives 1, a random block 1/(p+1) = 0.016",
                read=_stat("final_circulant_share"),
                files=("summary.csv",),
            ),
        ),
        setup=(
            Setting("task", "x+y mod 61 (also x-y, x*y, x/y), inputs [onehot(a), onehot(b)], "
                    "targets one-hot", f"{_T}:L113-114, L139-146; {_R} data.py:L12-49"),
            Setting("split", "int(0.5 n) pairs for training, torch.randperm unseeded",
                    f"{_T}:L115, L140; {_R} data.py:L93-101", ours="grokinterp's seeded "
                    "permutation, split seeds 0 and 1", why="grokinterp draws splits with "
                    "its own seeded rule"),
            Setting("kernel", "Gaussian exp(-(x-z)^T M (x-z) / (2 L^2)), L = 2.5",
                    f"{_T}:L118, L120; {_G}:L35-50"),
            Setting("solver", "np.linalg.solve(K + ridge I, Y), ridge 0, float64",
                    f"{_T}:L18, L78, L117", ours="torch.linalg.solve_ex (LU), float64",
                    why="the same solve in torch"),
            Setting("AGOP update", "M <- sqrt(AGOP) of the fitted predictor over the training "
                    "inputs, Jacobians centered over samples first, scipy.linalg.sqrtm",
                    f"{_T}:L123, L176-178; {_G}:L52-132", ours="the symmetric eigendecomposition "
                    "square root (negative round-off eigenvalues set to 0)", why="the same "
                    "matrix for a PSD AGOP (test: ours matches their get_grads to 1e-9)"),
            Setting("iterations", "50, M_0 = I; each iteration solve, log train/test, update M",
                    f"{_T}:L116, L148-178"),
            Setting("evaluation", "MSE over every entry of the one-hot targets; accuracy of "
                    "the argmax", f"{_T}:L23-43"),
            Setting("circulant structure", "shown as images of M (and M minus its diagonal) "
                    "every 25-50 iterations; random circulant M as the a-priori control",
                    f"{_T}:L185-216; {_R} train_random_circulant_kernel.py:L108-133",
                    ours="a scalar: the share of M_ab's energy constant along wrapped "
                    "diagonals", why="their progress measures are not in the released code"),
        ),
        study="rfm",
        notes="Read from studies/rfm (summary.csv; curves.csv per iteration, report.txt, "
        "figures/). The paper's numbers are the claims of its abstract; the paper's text beyond "
        "it could not be read in this session, so none of its figures' values are cited.",
    ),
)  # fmt: skip
