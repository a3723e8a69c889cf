"""Mallinar, Beaglehole, Zhu, Radhakrishnan, Pandit & Belkin 2025: *Emergence in non-neural
models: grokking modular arithmetic via average gradient outer product* (ICML 2025, arXiv
2407.20199).

Its card is measured by the ``rfm`` study (:mod:`grokinterp.experiments.rfm`), read from
``studies/rfm/summary.csv``. The paper's values are those its text states: zero training loss
at every iteration and a test loss that stays flat, then improves around iteration 10, with
test accuracy reaching 100% a few iterations later (Sec. 1 on its Fig. 1, x + y mod 59; Sec. 3
on p = 61); a circulant deviation that falls gradually over the first 10 iterations and ends
close to 0 (Sec. 3, Fig. 2B). Its figures are not read as numbers.
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


def _ratio(num: str, den: str, tasks: tuple[str, ...] = ("add",)) -> Reader:
    """The median over the runs of ``tasks`` of ``num / den`` (None: no such run)."""

    def read(folder: Path) -> float | None:
        s = pd.read_csv(folder / "summary.csv")
        rows = s[s["task"].isin(tasks)]
        if rows.empty:
            return None
        v = (rows[num].astype(float) / rows[den].astype(float)).dropna()
        return float(v.median()) if len(v) else None

    return read


_ALL = ("add", "sub", "mul", "div")

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
                tolerance="'all iterations of RFM result in zero training loss' (Sec. 3): "
                "float64 round-off of an interpolating solve",
                read=_stat("max_train_loss", "max", _ALL),
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy at iteration 0 (M = I), a + b, median over seeds",
                paper=None,
                accept=(0.0, 1 / 61),
                tolerance="'near-zero test accuracy' in the first iterations (Sec. 3): at most "
                "chance, 1/p",
                read=_stat("test_acc_0"),
                files=("summary.csv",),
            ),
            Quantity(
                name="test MSE at iteration 5 over that at iteration 0, a + b, median",
                paper=1.0,
                accept=(0.95, 1.05),
                tolerance="'approximately constant, large test loss' over the first several "
                "iterations (Sec. 3): within 5%",
                read=_stat("test_loss_ratio_5"),
                files=("summary.csv",),
            ),
            Quantity(
                name="first iteration with test MSE 5% below iteration 0's, a + b, median",
                paper=10.0,
                accept=(8.0, 12.0),
                tolerance="'the test loss does not significantly change until iteration 8', "
                "'around iteration 10 the test loss starts improving' (Sec. 1, their Fig. 1 at "
                "p = 59; ours p = 61)",
                read=_stat("step_test_loss_drop"),
                files=("summary.csv",),
            ),
            Quantity(
                name="first iteration with test accuracy >= 50%, a + b, median over seeds",
                paper=None,
                accept=(10.0, 20.0),
                tolerance="'a few iterations later [than 10], test accuracy quickly transitions "
                "to 100%' (Sec. 1, Fig. 1 at p = 59): the middle of the jump within 10 after it",
                read=_stat("step_test_50"),
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy at the last iteration, a + b, median over seeds",
                paper=1.0,
                accept=(0.99, 1.0),
                tolerance="'a dramatic, sharp increase to 100% test accuracy' (Sec. 3)",
                read=_stat("final_test_acc"),
                files=("summary.csv",),
            ),
            Quantity(
                name="test accuracy at the last iteration, median over add, sub, mul, div",
                paper=1.0,
                accept=(0.99, 1.0),
                tolerance="addition, subtraction, multiplication and division (Sec. 3: 'RFM "
                "successfully learns multiplication and division')",
                read=_stat("final_test_acc", tasks=_ALL),
                files=("summary.csv",),
            ),
            Quantity(
                name="circulant deviation at iteration 10 over iteration 1, a + b, median",
                paper=None,
                accept=(0.0, 0.5),
                tolerance="'for the first 10 iterations, while ... the test loss does not "
                "improve, circulant deviation exhibits gradual, nearly linear, improvement' "
                "(Sec. 3): more than halved by iteration 10",
                read=_ratio("circulant_deviation_10", "circulant_deviation_1"),
                files=("summary.csv",),
            ),
            Quantity(
                name="circulant deviation at the last iteration, a + b, median",
                paper=0.0,
                accept=(0.0, 0.05),
                tolerance="'circulant deviation is close to 0 at the end of training' (Sec. 3); "
                "a random zero-mean block gives 1 - 1/p = 0.98",
                read=_stat("final_circulant_deviation"),
                files=("summary.csv",),
            ),
            Quantity(
                name="circulant share of M_ab at the last iteration, a + b, median (ours)",
                paper=None,
                accept=(0.9, 1.0),
                tolerance="direction: block-circulant features (Observation 1); an exact "
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
                    "matrix for a PSD AGOP (checked against their get_grads in this session: 1e-9; "
                    "the tests check ours against autograd)"),
            Setting("iterations", "50, M_0 = I; each iteration solve, log train/test, update M",
                    f"{_T}:L116, L148-178"),
            Setting("evaluation", "MSE over every entry of the one-hot targets; accuracy of "
                    "the argmax", f"{_T}:L23-43"),
            Setting("modulus", "p = 61 (Sec. 3, train_kernel.py:L114); their Fig. 1 uses p = 59",
                    _T + ":L114; paper, Sec. 1, 3"),
            Setting("progress measures", "circulant deviation of the bottom-left block of M "
                    "(summed variance of its wrapped diagonals over its squared norm), mul/div "
                    "reordered by the discrete log of the smallest generator; AGOP alignment "
                    "(cosine of M_t with the final M)", "paper, Sec. 3 and App. E (not in the "
                    "released code)"),
        ),
        study="rfm",
        not_run=(
            "their quadratic kernel (Sec. 2-3) and the NTK and Laplace kernels of the code, the "
            "random-circulant control (Sec. 3, Fig. 4), enforced circulant blocks (App. F) and "
            "the neural-network experiments (Sec. 4)",
        ),
        notes="Read from studies/rfm (summary.csv; curves.csv per iteration with our "
        "circulant share, their circulant deviation and AGOP alignment; report.txt, figures/). "
        "The paper's values are sentences of its text, not readings of its figures.",
    ),
)  # fmt: skip
