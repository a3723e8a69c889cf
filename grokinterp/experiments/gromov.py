"""The Gromov study: how wide the analytic network must be, and whether training finds it.

Gromov 2023 (arXiv 2301.02679) gives closed-form weights for a two-layer quadratic MLP that
solves ``a + b mod p`` (:mod:`grokinterp.models.analytic`), exact "at large N" with random
phases, and reports that networks trained with gradient descent / AdamW end up with the same
feature maps. The study (:func:`run`, ``grokinterp study run gromov``) measures both:

* ``width.csv``: accuracy over all p² pairs of the analytic network against its width N,
  for the paper's random phases (several seeds) and for our balanced phases;
* ``training.csv``: a quadratic MLP (the kernel study's, :data:`grokinterp.experiments.kernels.
  QUADRATIC_MLP`) trained on ``a + b mod p_train``, and at every checkpoint its similarity to
  Gromov's form (:func:`grokinterp.analysis.gromov.gromov_similarity`) next to its accuracy.

Also ``report.txt`` and ``figures/``; the trained run goes to ``out_dir/sweep``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from grokinterp.analysis.gromov import gromov_similarity_table
from grokinterp.config import TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import gromov2023
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_ascending,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.experiments.kernels import QUADRATIC_MLP
from grokinterp.models import answer_logits
from grokinterp.models.analytic import MIN_BALANCED, gromov_params
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.tasks import make_dataset
from grokinterp.viz.analytic import analytic_figures
from grokinterp.viz.report import write_figure_set


def width_table(p: int, widths: Sequence[int], seeds: Sequence[int]) -> pd.DataFrame:
    """Accuracy over every pair of the analytic network for each width, phase kind, seed."""
    ds = make_dataset(TaskConfig(name="add", p=p, train_fraction=0.5))
    n_freq = (p - 1) // 2
    rows = []
    for width in widths:
        for phases in ("random", "balanced"):
            if width < n_freq or (phases == "balanced" and width < MIN_BALANCED * n_freq):
                continue
            for seed in seeds if phases == "random" else seeds[:1]:
                cfg, params = gromov_params(p, width, phases=phases, seed=seed)
                logits = answer_logits(params, ds.inputs, cfg)
                acc = int((logits.argmax(-1) == ds.labels).sum()) / len(ds.labels)
                rows.append({"p": p, "width": width, "phases": phases, "seed": seed, "acc": acc})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Params:
    """The Gromov study's parameters (module doc)."""

    p: int = param(97, "modulus of the width scan (the analytic network)")
    widths: tuple[int, ...] = param(
        (48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048),
        "widths N of the analytic network (below (p-1)/2 neurons a width is skipped)",
        unit="neurons",
    )
    seeds: tuple[int, ...] = param((0, 1, 2, 3, 4), "seeds of the random phases")
    p_train: int = param(31, "modulus of the trained quadratic MLP")
    train_fraction: float = param(
        0.5, "training fraction of the trained MLP", unit="fraction of all pairs"
    )
    max_steps: int = param(3000, "training steps of the trained MLP", unit="steps")

    def __post_init__(self) -> None:
        check_positive("p", self.p, minimum=3)
        check_ascending("widths", self.widths)
        if self.widths[-1] < (self.p - 1) // 2:
            raise ConfigError(
                f"widths: give at least one width >= (p-1)/2 = {(self.p - 1) // 2} (one neuron "
                f"per frequency), got {list(self.widths)}"
            )
        check_nonempty("seeds", self.seeds)
        check_positive("p_train", self.p_train, minimum=2)
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        check_positive("max_steps", self.max_steps)


def spec(params: Params) -> dict[str, Any]:
    """The sweep: one quadratic MLP on ``a + b mod p_train``."""
    return {
        "base": {"preset": "quick"},
        "overrides": {
            **QUADRATIC_MLP,
            "task": "add",
            "p": params.p_train,
            "train_fraction": params.train_fraction,
            "max_steps": params.max_steps,
        },
        "seeds": [0],
    }


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Write ``width.csv``, ``training.csv``, ``report.txt``, ``figures/`` (module doc);
    ``data`` is ``(width, training)``, both tables. Re-running resumes the trained run."""
    out = Path(out_dir)
    width = width_table(params.p, params.widths, params.seeds)
    sweep = spec(params)
    (run_spec,) = expand(sweep)
    run_sweep(sweep, out / "sweep", progress=progress)
    training = gromov_similarity_table(Run(out / "sweep" / "runs" / run_spec.name))
    atomic_write_text(out / "width.csv", width.to_csv(index=False))
    atomic_write_text(out / "training.csv", training.to_csv(index=False))
    write_figure_set(
        analytic_figures(width, training), out / "figures", title="Gromov's network",
        static=static,
    )  # fmt: skip
    atomic_write_text(out / "report.txt", report(width, training, sweep))
    return collect(out, data=(width, training))


def _first(table: pd.DataFrame, column: str, level: float) -> int | None:
    hit = table[table[column] >= level]
    return None if hit.empty else int(hit["step"].iloc[0])


def report(width: pd.DataFrame, training: pd.DataFrame, spec: dict[str, Any]) -> str:
    """Both tables as text."""
    lines = ["Gromov's analytic network (grokinterp.experiments.gromov)", ""]
    lines.append("accuracy over all pairs vs width (random: mean [min, max] over seeds)")
    for (w, phases), g in width.groupby(["width", "phases"]):
        lines.append(
            f"  N={w:<5} {phases:<8} {g['acc'].mean():.4f} [{g['acc'].min():.4f}, "
            f"{g['acc'].max():.4f}]"
        )
    ov = spec["overrides"]
    lines += ["", f"trained quadratic MLP: p={ov['p']}, train fraction {ov['train_fraction']}"]
    last = training.iloc[-1]
    lines.append(
        f"  final step {int(last['step'])}: test acc {last['test_acc']:.3f}, similarity "
        f"{last['gromov_similarity']:.3f} (in {last['gromov_in']:.3f}, out "
        f"{last['gromov_out']:.3f}, phase {last['gromov_phase']:.3f}, frequency coverage "
        f"{last['gromov_freq_coverage']:.2f}); at init {training['gromov_similarity'].iloc[0]:.3f}"
    )
    for label, col, level in [
        ("test acc >= 0.99", "test_acc", 0.99),
        ("similarity >= 0.5", "gromov_similarity", 0.5),
        ("similarity >= 0.9", "gromov_similarity", 0.9),
        ("phase coherence >= 0.9", "gromov_phase", 0.9),
    ]:
        lines.append(f"  {label:<24} step {_first(training, col, level)}")
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="gromov",
    title="Gromov's analytic network: accuracy vs width, and a trained net's similarity to it",
    paper="Gromov 2023, arXiv 2301.02679",
    params=Params,
    run=run,
    committed="studies/gromov",
    smoke={"p": 11, "widths": [5, 40], "seeds": [0], "p_train": 7, "max_steps": 20},
    cards=gromov2023.CARDS,
    runtime="about 15 s",
)
