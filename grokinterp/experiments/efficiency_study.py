"""The circuit-efficiency study of Varma et al. 2023 (arXiv 2309.02390) in one call.

:func:`run` chains the experiments of :mod:`grokinterp.experiments.efficiency` the way
the paper tests its explanation of grokking, and checks its predictions on the outcome:

1. ``curves/``: memorization-only (random labels) and true-label networks trained over a
   geometric grid of training-set sizes D, several seeds; parameter norm at convergence
   against D; D_crit where the curves cross (:func:`grokinterp.experiments.efficiency.norm_curves`).
2. ``ungrok/``: the true-label run at the largest D that generalized (test accuracy >= 95%
   at the end), continued on nested subsets D' below it at several weight decays
   (:func:`grokinterp.experiments.efficiency.ungrokking`).
3. Semi-grokking: every true-label run classified by its test-accuracy plateau
   (:func:`grokinterp.analysis.phases.plateau_class`); those at the grid sizes around D_crit
   drawn with their parameter-norm curves.

Writes ``traces.csv`` (every run's logged train loss, test accuracy and parameter norm,
thinned), ``figures/`` (HTML, and PNG when kaleido and a Chromium are installed) and
``report.txt`` with each prediction marked held / did not hold / undecided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from grokinterp.analysis.efficiency import (
    Crossing,
    crossing_from_table,
    crossing_lines,
    generalizing_norms,
    raw_crossing,
)
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.experiments.cards import varma2023
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_ascending,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.experiments.efficiency import (
    SMOKE_CONFIG,
    check_base,
    check_device,
    norm_curves,
    sweep_base,
    ungrokking,
)
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.spec import expand
from grokinterp.tasks import get_task
from grokinterp.viz.efficiency import (
    norm_vs_d_figure,
    semi_grokking_figure,
    steps_to_generalize_figure,
    ungrok_figure,
)
from grokinterp.viz.report import write_figure_set

GENERALIZED_ACC = 0.95  # a run "generalized" when its final test accuracy reaches this
TRACE_EVERY = 50  # keep one logged row in this many steps in traces.csv


def geometric_sizes(lo: int, hi: int, n: int) -> list[int]:
    """``n`` training-set sizes from ``lo`` to ``hi``, evenly spaced in log D, rounded."""
    if not (1 <= lo < hi) or n < 2:
        raise ConfigError(f"sizes: need 1 <= lo < hi and n >= 2, got lo={lo}, hi={hi}, n={n}")
    out = sorted({int(round(x)) for x in np.geomspace(lo, hi, n)})
    return out


def extend_below(sizes: Sequence[int], n: int) -> list[int]:
    """``sizes`` with ``n`` more below the smallest, at the ratio of its first two."""
    ratio = sizes[1] / sizes[0]
    extra = [round(sizes[0] / ratio**k) for k in range(n, 0, -1)]
    return sorted({d for d in extra if d >= 1} | set(sizes))


def default_sizes(base: dict[str, Any], n: int = 7) -> list[int]:
    """``n`` sizes evenly spaced in log D from 9% to 72% of the task's pairs (ratio sqrt 2
    for n = 7): for a + b mod 47, 199 .. 1590. Wide enough to bracket D_crit for the
    presets we measured (docs/results/efficiency.md); pass sizes for other setups."""
    cfg = expand({"base": base, "overrides": base.get("overrides") or {}})[0].config
    total = get_task(cfg.task.name).n_pairs(cfg.task)
    return geometric_sizes(round(0.09 * total), round(0.72 * total), n)


@dataclass(frozen=True)
class EfficiencyStudy:
    """What the study found (the ``data`` of its :class:`~.contract.StudyResult`).

    Args:
        curves: ``curves/curves.csv`` (one row per run; see ``norm_curves``).
        crossing: the D_crit estimate.
        source: the checkpoint the ungrokking runs started from (None if no run generalized).
        ungrok: ``ungrok/ungrokking.csv`` (empty if skipped).
        transitions: ungrokking transition D'_t per weight decay.
        verdicts: prediction -> (held | did not hold | undecided, the evidence).
    """

    curves: pd.DataFrame
    crossing: Crossing
    source: Path | None
    ungrok: pd.DataFrame
    transitions: dict[float, float | None]
    verdicts: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Params:
    """The circuit-efficiency study's parameters (module doc)."""

    preset: str = param("efficiency", "base preset of every run (the CPU-sized study)")
    config: Path | None = param(None, "a config.json as the base of every run, instead of preset")
    seeds: tuple[int, ...] = param((0, 1, 2), "initialization seeds (3 for a spread)")
    target_loss: float = param(
        0.01, "training-loss target a curve run must reach to enter the curves", unit="loss"
    )
    sizes: tuple[int, ...] | None = param(
        None,
        "training-set sizes D of the curves, ascending; none: 7 sizes evenly spaced in "
        "log D from 9% to 72% of all pairs",
        unit="pairs",
    )
    max_steps: int = param(
        4000, "steps of each curve run (the norm is read at the end)", unit="steps"
    )
    weight_decays: tuple[float, ...] = param((0.5, 2.0), "weight decays of the ungrokking runs")
    ungrok_steps: int = param(6000, "steps of each ungrokking run", unit="steps")
    ungrok_sizes: tuple[int, ...] | None = param(
        None,
        "sizes D' of the ungrokking runs; none: the curve sizes below the source run's D, "
        "and two more below the grid at the same ratio",
        unit="pairs",
    )
    backend: Literal["local", "ensemble", "ray", "ray-ensemble"] = param(
        "ensemble", "sweep backend"
    )
    device: str = param("cpu", "torch device of the runs (cuda for the paper's p = 113)")

    def __post_init__(self) -> None:
        check_base(self)
        check_nonempty("seeds", self.seeds)
        if not self.target_loss > 0:
            raise ConfigError(f"target_loss must be positive, got {self.target_loss}")
        if self.sizes is not None:
            check_ascending("sizes", self.sizes)
            if len(self.sizes) < 2:
                raise ConfigError(f"sizes: give at least two sizes, got {list(self.sizes)}")
        check_positive("max_steps", self.max_steps)
        check_nonempty("weight_decays", self.weight_decays)
        if min(self.weight_decays) < 0:
            raise ConfigError(f"weight_decays must be >= 0, got {list(self.weight_decays)}")
        check_positive("ungrok_steps", self.ungrok_steps)
        if self.ungrok_sizes is not None:
            check_nonempty("ungrok_sizes", self.ungrok_sizes)
            if min(self.ungrok_sizes) < 1:
                raise ConfigError(f"ungrok_sizes must be >= 1, got {list(self.ungrok_sizes)}")
        check_device(self.device)


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Run (or resume) the whole study under ``out_dir`` (module docstring); ``data`` is an
    :class:`EfficiencyStudy`, ``verdicts`` the paper's predictions, held or not.

    Long by design: the study's steps in order, each one call, with their error messages.
    """
    base = sweep_base(params.preset, params.config)
    sizes = list(params.sizes) if params.sizes is not None else default_sizes(base)
    seeds, max_steps, ungrok_steps = list(params.seeds), params.max_steps, params.ungrok_steps
    backend, device = params.backend, params.device
    out = Path(out_dir)
    try:
        curves, crossing = norm_curves(
            base, sizes, seeds, params.target_loss, out / "curves",
            max_steps=max_steps, backend=backend, progress=progress, device=device,
        )  # fmt: skip
    except RunDirError as e:
        raise RunDirError(
            f"{out / 'curves'}: holds curve runs made with other settings "
            f"(base, sizes, seeds or steps); choose another output directory, "
            f"or remove that folder to redo them ({e})"
        ) from None
    traces = _traces(out / "curves", curves)
    atomic_write_text(out / "traces.csv", traces.to_csv(index=False))
    source = _ungrok_source(out / "curves", curves)
    ungrok = pd.DataFrame()
    transitions: dict[float, float | None] = {}
    candidates = list(params.ungrok_sizes or extend_below(sizes, 2))
    below = [] if source is None else [d for d in candidates if d < source[1]]
    if source is not None and below:
        try:
            ungrok, transitions = ungrokking(
                source[0], below, params.weight_decays, ungrok_steps, out / "ungrok",
                backend=backend, progress=progress, device=device,
            )  # fmt: skip
        except RunDirError as e:
            raise RunDirError(
                f"{out / 'ungrok'}: holds ungrokking runs made with other settings "
                f"(sizes, weight decays, steps or source run); remove that folder to redo "
                f"them with these (the curves are kept) ({e})"
            ) from None
    verdicts = judge(curves, crossing, transitions, sizes)
    figs: dict[str, Any] = {"norm_vs_d": norm_vs_d_figure(curves, crossing)}
    if len(ungrok):
        figs["ungrokking"] = ungrok_figure(ungrok, ungrok_steps, crossing)
    else:
        figs["ungrokking"] = "skipped: no true-label run generalized, nothing to ungrok"
    figs["semi_grokking"] = semi_grokking_figure(traces, curves, crossing, sizes)
    figs["steps_to_generalize"] = steps_to_generalize_figure(curves, max_steps)
    write_figure_set(figs, out / "figures", title="Circuit-efficiency study", static=static)
    src = source[0] if source is not None else None
    report = _report(curves, crossing, src, transitions, verdicts, sizes, seeds, out)
    atomic_write_text(out / "report.txt", report)
    found = EfficiencyStudy(curves, crossing, src, ungrok, transitions, verdicts)
    return collect(out, data=found, verdicts={k: v for k, (v, _) in verdicts.items()})


def _ungrok_source(curves_dir: Path, curves: pd.DataFrame) -> tuple[Path, int] | None:
    """The last checkpoint of the largest-D true-label run that generalized (lowest seed
    among equals) and its D; None when none did."""
    gen = curves[(curves["kind"] == "gen") & (curves["final_test_acc"] >= GENERALIZED_ACC)]
    if not len(gen):
        return None
    row = gen.sort_values(["D", "seed"], ascending=[False, True]).iloc[0]
    run_dir = curves_dir / "gen" / "runs" / row["name"]
    last = max(layout.checkpoint_steps_on_disk(run_dir))
    return layout.checkpoint_path(run_dir, last), int(row["D"])


def load_study(out_dir: str | Path) -> tuple[pd.DataFrame, Crossing, pd.DataFrame, pd.DataFrame]:
    """Read what :func:`run` wrote (the tables only, so a copy without the run
    directories reads too): ``(curves, crossing, traces, ungrok)``; ``ungrok`` is empty when
    that step was skipped."""
    out = Path(out_dir)
    if not (out / "curves" / "curves.csv").exists():
        raise RunDirError(
            f"{out}: not a study directory (no curves/curves.csv); write one by running "
            f"the efficiency study into it"
        )
    curves = pd.read_csv(out / "curves" / "curves.csv")
    ug = out / "ungrok" / "ungrokking.csv"
    ungrok = pd.read_csv(ug) if ug.exists() else pd.DataFrame()
    return curves, crossing_from_table(curves), pd.read_csv(out / "traces.csv"), ungrok


def _traces(curves_dir: Path, curves: pd.DataFrame) -> pd.DataFrame:
    """Every curve run's logged train loss, test accuracy and parameter norm (one row in
    ``TRACE_EVERY`` steps, and the last)."""
    parts = []
    for kind, d, seed, name in curves[["kind", "D", "seed", "name"]].itertuples(index=False):
        m = pd.DataFrame(layout.read_metrics(curves_dir / kind / "runs" / name))
        if m.empty:
            continue
        keep = (m["step"] % TRACE_EVERY == 0) | (m.index == len(m) - 1)
        m = m.loc[keep, ["step", "train_loss", "train_acc", "test_acc", "param_norm"]]
        parts.append(m.assign(kind=kind, D=d, seed=seed))
    cols = ["kind", "D", "seed", "step", "train_loss", "train_acc", "test_acc", "param_norm"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def judge(
    curves: pd.DataFrame,
    crossing: Crossing,
    transitions: dict[float, float | None],
    sizes: Sequence[int],
) -> dict[str, tuple[str, str]]:
    """Check the predictions of Varma et al. 2023 on the study's numbers.

    Long by design: one short block per prediction of the paper, in the paper's order."""
    v: dict[str, tuple[str, str]] = {}
    ok = curves[curves["reached_target"]]
    mem = ok[ok["kind"] == "mem"].groupby("D")["final_param_norm"].mean()
    if len(mem) >= 2:
        slope = float(np.polyfit(np.log(mem.index.to_numpy(float)), mem.to_numpy(), 1)[0])
        v["memorization norm grows with D"] = (
            "held" if slope > 0 else "did not hold",
            f"fitted slope {slope:.2f} per unit of ln D; mean norm {mem.iloc[0]:.1f} at "
            f"D={mem.index[0]} to {mem.iloc[-1]:.1f} at D={mem.index[-1]}",
        )
    else:
        v["memorization norm grows with D"] = (
            "undecided",
            f"memorization runs reached the loss target at {len(mem)} size(s)",
        )
    gen = ok[(ok["kind"] == "gen") & (ok["final_test_acc"] >= GENERALIZED_ACC)]
    g = gen.groupby("D")["final_param_norm"].mean()
    if len(g) >= 2:
        ratio = float(g.max() / g.min())
        v["generalizing norm does not grow with D"] = (
            "held" if g.iloc[-1] <= g.iloc[0] * 1.1 else "did not hold",
            f"generalized runs at D in {list(g.index)}: mean norms "
            f"{', '.join(f'{x:.1f}' for x in g)} (max/min {ratio:.2f})",
        )
    else:
        v["generalizing norm does not grow with D"] = (
            "undecided",
            f"generalized runs at {len(g)} size(s) only",
        )
    v["the curves cross (D_crit exists)"] = (
        (
            "held",
            f"D_crit ≈ {crossing.d_crit:.0f}; per seed "
            f"{[None if x is None else round(x) for x in crossing.per_seed]}",
        )
        if crossing.d_crit is not None
        else ("did not hold", f"no crossing inside D in {list(sizes)}")
    )
    found = {wd: x for wd, x in transitions.items() if x is not None}
    if not transitions:
        v["ungrokking transition at D_crit"] = ("undecided", "no ungrokking runs")
    elif not found:
        v["ungrokking transition at D_crit"] = (
            "did not hold",
            "test accuracy did not collapse (or collapsed everywhere) inside the D' grid",
        )
    else:
        txt = "; ".join(f"weight decay {wd}: D'_t ≈ {x:.0f}" for wd, x in found.items())
        if crossing.d_crit is not None:
            held = all(crossing.d_crit / 1.5 <= x <= crossing.d_crit * 1.5 for x in found.values())
            v["ungrokking transition at D_crit"] = (
                "held" if held else "did not hold",
                f"{txt}; D_crit ≈ {crossing.d_crit:.0f} (held means D'_t within a factor "
                f"1.5 of D_crit)",
            )
        else:
            v["ungrokking transition at D_crit"] = (
                "undecided",
                f"{txt}; no D_crit to compare with",
            )
    if len(found) >= 2:
        factor = max(found.values()) / min(found.values())
        v["ungrokking transition independent of weight decay"] = (
            "held" if factor <= math.sqrt(2) * 1.01 else "did not hold",
            f"D'_t moves by a factor {factor:.2f} across weight decays {sorted(found)} "
            f"(held means at most one grid step of sqrt 2)",
        )
    else:
        v["ungrokking transition independent of weight decay"] = (
            "undecided",
            f"transitions found for {len(found)} weight decay(s)",
        )
    gens = curves[curves["kind"] == "gen"]
    semi = gens[gens["plateau_class"] == "semi-grokked"]
    dc = crossing.d_crit
    near = dc is not None and bool(semi["D"].between(dc / 1.5, dc * 1.5).any())
    v["semi-grokking near D_crit"] = (
        "held" if near else "did not hold",
        f"{len(semi)} semi-grokked run(s)"
        + (f" at D={sorted(set(semi['D']))}" if len(semi) else "")
        + " (held means one within a factor 1.5 of D_crit); classes of the true-label runs: "
        + str(gens["plateau_class"].value_counts().to_dict()),
    )
    return v


def _relative(path: Path, root: Path) -> str:
    """``path`` inside the study directory, so a copied report still says where."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _report(
    curves: pd.DataFrame,
    crossing: Crossing,
    source: Path | None,
    transitions: dict[float, float | None],
    verdicts: dict[str, tuple[str, str]],
    sizes: Sequence[int],
    seeds: Sequence[int],
    out: Path,
) -> str:
    lines = [
        "Circuit-efficiency study (Varma et al. 2023, arXiv 2309.02390)",
        f"sizes D: {list(sizes)}; seeds: {list(seeds)}",
        *crossing_lines(crossing, raw_crossing(curves), generalizing_norms(curves)),
        f"largest norm change over the last 10% of a curve run: "
        f"{curves['norm_drift'].abs().max():.1%}",
        f"ungrokking from: {_relative(source, out)}"
        if source
        else "ungrokking: skipped (no run generalized)",
        *(
            f"  weight decay {wd}: D'_t = " + (f"{x:.0f}" if x else "not inside the grid")
            for wd, x in transitions.items()
        ),
        "",
        "Predictions of the paper:",
        *(f"  [{verdict}] {name}: {why}" for name, (verdict, why) in verdicts.items()),
    ]
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="efficiency",
    title="circuit efficiency: norm curves, D_crit, ungrokking and semi-grokking",
    paper="Varma et al. 2023, arXiv 2309.02390",
    params=Params,
    run=run,
    committed="studies/efficiency",
    smoke={
        "config": str(SMOKE_CONFIG),
        "sizes": [40, 200],
        "seeds": [0],
        "max_steps": 400,
        "weight_decays": [1.0],
        "ungrok_steps": 20,
    },  # fmt: skip
    cards=varma2023.EFFICIENCY_CARDS,
    runtime="about 30 min",
)


__all__ = [
    "STUDY",
    "EfficiencyStudy",
    "Params",
    "default_sizes",
    "extend_below",
    "geometric_sizes",
    "judge",
    "load_study",
    "run",
]
