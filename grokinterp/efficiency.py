"""Circuit efficiency (Varma et al. 2023, arXiv 2309.02390): the critical dataset size.

Varma et al. explain grokking by two families of circuits: C_mem, which memorizes and needs
more parameter norm the more training points it must fit, and C_gen, which generalizes and
needs about the same norm whatever the training-set size D. Weight decay favours the
circuit that reaches a given training loss with less norm, so generalization wins above
the critical dataset size D_crit where the two parameter-norm curves cross.

This module holds the experiments (:func:`norm_curves`: memorization-only networks with
random labels and generalizing networks trained to the same training-loss target over a
grid of D; :func:`ungrokking`: a grokked network continued on nested smaller training sets),
run as resumable sweeps, and the estimate of the crossing (:func:`estimate_dcrit`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grokinterp.errors import RunDirError
from grokinterp.io import atomic_write_text


@dataclass(frozen=True)
class Crossing:
    """An estimate of D_crit.

    Args:
        d_crit: the crossing, from the curves averaged over seeds (None if they do not
            cross inside the grid).
        per_seed: the crossing of each seed's curves (None where they do not cross).
        spread: (min, max) of the per-seed crossings that exist.
    """

    d_crit: float | None
    per_seed: list[float | None]
    spread: tuple[float, float] | None


def _crossing(d: np.ndarray, diff: np.ndarray) -> float | None:
    """The last D where ``diff`` (mem - gen) changes sign from < 0 to >= 0, interpolated
    linearly in log D: beyond it memorizing costs more norm at every size of the grid.
    (Below D_crit the true-label networks memorize too, so the two curves overlap and
    their difference changes sign with noise; the last change is the robust one.)"""
    for i in reversed(range(len(d) - 1)):
        if diff[i] < 0 <= diff[i + 1]:
            x0, x1 = math.log(d[i]), math.log(d[i + 1])
            t = -diff[i] / (diff[i + 1] - diff[i])
            return math.exp(x0 + t * (x1 - x0))
    return None  # no crossing inside the grid (e.g. memorization costs more everywhere)


def estimate_dcrit(
    sizes: Sequence[float],
    mem_norms: Sequence[Sequence[float]],
    gen_norms: Sequence[Sequence[float]],
) -> Crossing:
    """Where the memorizing networks' parameter norm overtakes the generalizing ones'.

    Args:
        sizes: the training-set sizes D, ascending (at least two).
        mem_norms: per seed, the parameter norm at the training-loss target of the
            memorization-only network (random labels) at each D.
        gen_norms: per seed, the same for the generalizing network.

    The crossing is the last D where ``mem - gen`` turns non-negative, interpolated linearly
    in log D between the two grid points around it (Varma et al. 2023 plot these curves against D on
    a log axis). Seeds are paired by position.
    """
    d = np.asarray(sizes, dtype=float)
    mem, gen = np.asarray(mem_norms, dtype=float), np.asarray(gen_norms, dtype=float)
    if d.ndim != 1 or len(d) < 2 or not np.all(np.diff(d) > 0) or d[0] <= 0:
        raise ValueError("sizes must be at least two positive, increasing training-set sizes")
    if mem.shape != gen.shape or mem.ndim != 2 or mem.shape[1] != len(d):
        raise ValueError(f"mem_norms and gen_norms must both be (seeds, {len(d)}); got "
                         f"{mem.shape} and {gen.shape}")
    per_seed = [_crossing(d, m - g) for m, g in zip(mem, gen, strict=True)]
    found = [x for x in per_seed if x is not None]
    return Crossing(
        d_crit=_crossing(d, mem.mean(0) - gen.mean(0)),
        per_seed=per_seed,
        spread=(min(found), max(found)) if found else None,
    )


# ----------------------------------------------------------------------------- experiments
def _sweep_table(spec: dict, out: Path, backend: str, progress: bool,
                 device: str = "cpu") -> pd.DataFrame:
    from grokinterp.sweep import run_sweep

    return run_sweep(spec, out, backend=backend, progress=progress, device=device)


def norm_curves(
    base: dict[str, Any],
    sizes: Sequence[int],
    seeds: Sequence[int],
    target_loss: float,
    out_dir: str | Path,
    *,
    max_steps: int = 20_000,
    read_at: str = "converged",
    backend: str = "ensemble",
    progress: bool = True,
    device: str = "cpu",
) -> tuple[pd.DataFrame, Crossing]:
    """Parameter norm at a training-loss target against the training-set size D.

    For each D in ``sizes`` and each seed, trains a memorization-only network (labels
    randomly permuted) and a generalizing one (true labels) on the nested training set of
    size D and reads its parameter norm (Varma et al. 2023, their figure of C_mem / C_gen
    efficiency). ``read_at="converged"`` (default) trains for ``max_steps`` under weight
    decay and reads the final norm, keeping the runs whose final training loss is at most
    ``target_loss``; ``read_at="first"`` stops at the first step where the training loss
    reaches the target. The first cannot separate the circuits: measured on the quick
    model, norms read at the first hit (30-50 steps in) are still the initialization's,
    nearly equal for both kinds at every D. Varma et al. compare norms at convergence.
    Writes ``curves.csv``, ``norm_vs_d.html`` and ``report.txt`` into ``out_dir`` (the runs
    go to ``out_dir/mem`` and ``out_dir/gen``, resumable sweeps).

    Args:
        base: the ``base`` of a sweep spec, e.g. ``{"preset": "quick"}`` or
            ``{"config": "run/config.json"}``, plus optional ``overrides``.
        sizes: training-set sizes D, ascending.
        seeds: seeds (of the initialization) for the spread of the estimate.
        target_loss: the training-loss target.
        max_steps: the step budget of each run; runs that do not reach the target in it
            are reported and left out of the estimate.
        read_at: ``converged`` or ``first`` (see above).
    """
    if read_at not in ("converged", "first"):
        raise ValueError(f"read_at must be 'converged' or 'first', got {read_at!r}")
    stop = {"stop_loss": target_loss, "stop_patience": 0} if read_at == "first" else \
        {"stop_loss": None, "stop_acc": None}
    out = Path(out_dir)
    tables = []
    for kind, random_labels in (("mem", True), ("gen", False)):
        spec = {
            "base": {k: v for k, v in base.items() if k != "overrides"},
            "overrides": {**base.get("overrides", {}), "max_steps": max_steps, **stop,
                          "random_labels": random_labels},
            "grid": {"train_size": [int(d) for d in sizes]},
            "seeds": [int(s) for s in seeds],
        }
        t = _sweep_table(spec, out / kind, backend, progress, device)
        t["kind"] = kind
        tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    table["reached_target"] = table["final_train_loss"] <= target_loss
    table = table.rename(columns={"train_size": "D"})
    table = table.join(pd.DataFrame(
        [run_circuit_stats(out / kind / "runs" / name) for kind, name
         in zip(table["kind"], table["name"], strict=True)], index=table.index))
    keep = ["kind", "D", "seed", "name", "status", "reached_target", "steps",
            "final_param_norm", "norm_drift", "final_train_loss", "final_test_acc",
            "gen_share", "plateau_class", "train_99_step", "test_99_step"]
    table = table[[c for c in keep if c in table.columns]].sort_values(["kind", "D", "seed"])
    crossing = crossing_from_table(table)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "curves.csv", table.to_csv(index=False))
    fig = norm_vs_d_figure(table, crossing)
    atomic_write_text(out / "norm_vs_d.html", fig.to_html(include_plotlyjs=True))
    missed = table[~table["reached_target"]]
    raw = raw_crossing(table)
    lines = [
        f"Parameter norm at training loss {target_loss} (Varma et al. 2023), "
        f"{len(seeds)} seed(s), D in {list(sizes)}.",
        *crossing_lines(crossing, raw, generalizing_norms(table)),
        f"runs that missed the target within {max_steps} steps (left out): {len(missed)}",
        f"largest change of the parameter norm over the last {DRIFT_TAIL:.0%} of a run "
        f"(convergence check): {table['norm_drift'].abs().max():.1%}",
    ]
    atomic_write_text(out / "report.txt", "\n".join(lines) + "\n")
    return table, crossing


DRIFT_TAIL = 0.1


def run_circuit_stats(run_dir: Path) -> dict[str, float]:
    """Per finished run: ``norm_drift``, the relative change of the parameter norm over the
    last ``DRIFT_TAIL`` of its logged steps (how far from converged the norm was when read),
    and ``gen_share``, the share of the final logits' norm in the trigonometric subspace of
    the run's own key frequencies (:func:`grokinterp.measures.trig_logit_share`; Varma et
    al. 2023 call a network generalizing when it is above 95%). ``gen_share`` is NaN for
    tasks with no cyclic structure and for runs with no checkpoint."""
    from grokinterp import fourier, measures
    from grokinterp.run import Run

    out = {"norm_drift": math.nan, "gen_share": math.nan}
    if not (run_dir / "config.json").exists():
        return out
    run = Run(run_dir)
    m = run.metrics
    if len(m) >= 2:
        norms = m["param_norm"].to_numpy()
        start = norms[int(len(norms) * (1 - DRIFT_TAIL))]
        out["norm_drift"] = float((norms[-1] - start) / norms[-1])
    task = run.config.task
    if not run.steps or task.p is None:
        return out
    try:
        structure = measures.check_fourier_task(task.name)
    except ValueError:
        return out
    params = run.params(run.steps[-1])
    keys = fourier.key_frequencies(params, task.p)
    logits = measures.all_pairs_logits(params, run.config.model, run.dataset)
    out["gen_share"] = measures.trig_logit_share(logits, keys, structure=structure).generalizing
    return out


GENERALIZING_SHARE = 0.95  # Varma et al.: a generalizing network has >95% of its logit
# norm in the trigonometric subspace of its key frequencies


def _norm_pivot(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    ok = table[table["reached_target"].astype(bool) & (table["kind"] == kind)]
    return ok.pivot_table(index="seed", columns="D", values="final_param_norm")


def generalizing_norms(table: pd.DataFrame) -> pd.Series:
    """Per seed, the mean parameter norm of its true-label runs that generalized (share of
    the logit norm in the trigonometric subspace >= ``GENERALIZING_SHARE``): the norm of the
    generalizing circuit C_gen, which Varma et al. find independent of D."""
    ok = table[table["reached_target"].astype(bool) & (table["kind"] == "gen")
               & (table["gen_share"] >= GENERALIZING_SHARE)]
    return ok.groupby("seed")["final_param_norm"].mean()


def crossing_from_table(table: pd.DataFrame) -> Crossing:
    """D_crit from a ``curves.csv`` table, as Varma et al. 2023 define it: where the
    memorization-only networks' norm reaches the generalizing circuit's
    (:func:`generalizing_norms`, a constant in D), per seed and for the seed averages
    (:func:`estimate_dcrit` against a flat curve). Seeds with no generalized run, and sizes
    where some seed's memorization run missed the loss target, are left out."""
    mem, level = _norm_pivot(table, "mem"), generalizing_norms(table)
    flat = pd.DataFrame({d: level for d in mem.columns})  # (seed, D): the level at every D
    return _paired_crossing(mem, flat)


def raw_crossing(table: pd.DataFrame) -> Crossing:
    """Where the random-label and the true-label norm curves cross (:func:`estimate_dcrit`
    on the two curves as measured). Below the smallest D at which the true-label networks
    generalize within the step budget they memorize and the curves coincide, so this marks
    that D: an upper bound on D_crit that moves with the budget (grokking slows down as D
    approaches D_crit from above)."""
    return _paired_crossing(_norm_pivot(table, "mem"), _norm_pivot(table, "gen"))


def _paired_crossing(mem: pd.DataFrame, other: pd.DataFrame) -> Crossing:
    """:func:`estimate_dcrit` on two (seed x D) norm tables: the seeds in both, the sizes
    where every such seed has both values."""
    seeds = [s for s in mem.index if s in other.index]
    cols = [d for d in sorted(mem.columns) if d in other.columns
            and not mem.loc[seeds, d].isna().any() and not other.loc[seeds, d].isna().any()]
    if len(cols) < 2 or not seeds:
        return Crossing(None, [], None)
    return estimate_dcrit(cols, mem.loc[seeds, cols].to_numpy(),
                          other.loc[seeds, cols].to_numpy())


def _vline(fig: Any, x: float, name: str, span: tuple[float, float], dash: str,
           color: str) -> None:
    """A vertical line as a legend entry. (plotly's add_vline takes log10 coordinates on a
    log axis, so a line at D would be drawn at 10^D.)"""
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=[x, x], y=list(span), mode="lines", name=name,
                             line=dict(dash=dash, color=color, width=1.5)))


def norm_vs_d_figure(table: pd.DataFrame, crossing: Crossing) -> Any:
    """Parameter norm against D for both kinds of networks, the generalizing circuit's norm
    (dotted), D_crit (dashed) and the crossing of the measured curves (dotted)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for kind, name, color in (("mem", "memorization only (random labels)", "#d62728"),
                              ("gen", "true labels", "#2ca02c")):
        t = table[(table["kind"] == kind) & table["reached_target"].astype(bool)]
        fig.add_trace(go.Scatter(x=t["D"], y=t["final_param_norm"], mode="markers",
                                 name=f"{name}, each seed", marker=dict(color=color, size=6,
                                                                        opacity=0.5)))
        mean = t.groupby("D")["final_param_norm"].mean()
        fig.add_trace(go.Scatter(x=mean.index, y=mean.values, mode="lines", name=name,
                                 line=dict(color=color, width=2)))
    level = generalizing_norms(table)
    if len(level):
        fig.add_hline(y=float(level.mean()), line_dash="dot", line_color="#2ca02c",
                      annotation_text=f"generalizing circuit ≈ {level.mean():.1f}")
    span = (float(table["final_param_norm"].min()), float(table["final_param_norm"].max()))
    if crossing.d_crit is not None:
        _vline(fig, crossing.d_crit, f"D_crit ≈ {crossing.d_crit:.0f}", span, "dash", "#000000")
    raw = raw_crossing(table)
    if raw.d_crit is not None:
        _vline(fig, raw.d_crit, f"measured curves cross ≈ {raw.d_crit:.0f}", span, "dot",
               "#7f7f7f")
    fig.update_xaxes(type="log", title_text="training-set size D")
    fig.update_yaxes(title_text="parameter norm at convergence")
    fig.update_layout(title="Circuit efficiency: parameter norm against dataset size",
                      template="plotly_white", height=450)
    return fig


def ungrokking(
    grokked_checkpoint: str | Path,
    sizes: Sequence[int],
    weight_decays: Sequence[float],
    steps: int,
    out_dir: str | Path,
    *,
    backend: str = "ensemble",
    progress: bool = True,
    device: str = "cpu",
) -> tuple[pd.DataFrame, dict[float, float | None]]:
    """Continue a grokked network on nested smaller training sets (Varma et al. 2023).

    ``grokked_checkpoint`` is ``RUN_DIR/checkpoints/step_<N>.safetensors`` of a run that
    generalized. Each new run starts from those weights (``init_from``) with the run's
    config, training set the first D' of the same seeded permutation (a subset of the
    original), for each D' in ``sizes`` and each weight decay, for ``steps`` steps. The
    transition D'_t for a weight decay is the geometric mean of the largest D' whose final
    test accuracy is below 50% and the smallest D' at or above it (None if all runs are on
    one side). Writes ``ungrokking.csv``, ``test_acc_vs_d.html`` and ``report.txt``.
    """
    ckpt = Path(grokked_checkpoint)
    config = ckpt.parent.parent / "config.json"
    if not config.exists():
        raise RunDirError(f"{ckpt}: expected RUN_DIR/checkpoints/step_<N>.safetensors of a run "
                          f"(no {config})")
    out = Path(out_dir)
    spec = {
        "base": {"config": str(config)},
        "overrides": {"init_from": str(ckpt), "max_steps": steps, "stop_acc": None,
                      "stop_loss": None},
        "grid": {"train_size": [int(d) for d in sizes],
                 "weight_decay": [float(w) for w in weight_decays]},
    }
    table = _sweep_table(spec, out / "runs", backend, progress, device)
    table = table.rename(columns={"train_size": "D_prime"})
    transitions: dict[float, float | None] = {}
    for wd, t in table.groupby("weight_decay"):
        t = t.sort_values("D_prime")
        low = t[t["final_test_acc"] < 0.5]["D_prime"]
        high = t[t["final_test_acc"] >= 0.5]["D_prime"]
        transitions[float(wd)] = (math.sqrt(low.max() * high.min())
                                  if len(low) and len(high) and low.max() < high.min()
                                  else None)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "ungrokking.csv", table.to_csv(index=False))
    atomic_write_text(out / "test_acc_vs_d.html",
                      ungrok_figure(table, steps).to_html(include_plotlyjs=True))
    found = [v for v in transitions.values() if v is not None]
    moves = (f"it moves by a factor {max(found) / min(found):.2f} across weight decays"
             if len(found) >= 2 else "too few transitions found to compare weight decays")
    lines = [f"Ungrokking from {ckpt}: {steps} steps on nested subsets D' = {list(sizes)}.",
             *(f"weight decay {wd}: transition D'_t = "
               + (f"{v:.0f}" if v is not None else "not inside the grid")
               for wd, v in transitions.items()),
             f"Varma et al. predict that the transition does not depend on weight decay: {moves}."]
    atomic_write_text(out / "report.txt", "\n".join(lines) + "\n")
    return table, transitions


def _fmt(c: Crossing) -> str:
    per = [None if x is None else round(x) for x in c.per_seed]
    spread = f"{c.spread[0]:.0f}-{c.spread[1]:.0f}" if c.spread else "none"
    return (f"{c.d_crit:.0f}" if c.d_crit else "none inside the grid") + \
        f" (per seed {per}, spread {spread})"


def crossing_lines(crossing: Crossing, raw: Crossing, level: pd.Series) -> list[str]:
    """The text lines that report both estimates."""
    return [
        f"generalizing circuit's norm (true-label runs with >= {GENERALIZING_SHARE:.0%} of "
        "the logit norm in the trig subspace): "
        + (f"{level.mean():.2f} (per seed {[round(float(x), 2) for x in level]})"
           if len(level) else "no true-label run reached that share"),
        f"D_crit, where memorization's norm reaches it: {_fmt(crossing)}",
        f"the measured curves cross (true-label runs generalize within the budget above): "
        f"{_fmt(raw)}",
    ]


def ungrok_figure(table: pd.DataFrame, steps: int, crossing: Crossing | None = None) -> Any:
    """Final test accuracy of the ungrokking runs against D', one line per weight decay
    (D_crit from the norm curves marked when given)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for wd, t in table.groupby("weight_decay"):
        t = t.sort_values("D_prime")
        fig.add_trace(go.Scatter(x=t["D_prime"], y=t["final_test_acc"], mode="lines+markers",
                                 name=f"weight decay {wd}"))
    if crossing is not None and crossing.d_crit is not None:
        _vline(fig, crossing.d_crit, f"D_crit ≈ {crossing.d_crit:.0f} (norm curves)", (0, 1),
               "dash", "#000000")
    fig.update_xaxes(type="log", title_text="training-set size D' of the continued run")
    fig.update_yaxes(title_text=f"test accuracy after {steps} steps", range=[0, 1.02])
    fig.update_layout(title="Ungrokking", template="plotly_white", height=450)
    return fig


def plateau_class(
    metrics: pd.DataFrame, grok_acc: float = 0.95, semi_acc: float = 0.2,
    tail: float = 0.1, flat_tol: float = 0.05,
) -> str:
    """Classify a run by its final test-accuracy plateau (semi-grokking, Varma et al. 2023).

    The plateau is the mean test accuracy over the last ``tail`` fraction of the logged
    steps. ``unfitted``: train accuracy never reaches 99%. ``grokked``: plateau >=
    ``grok_acc``. ``rising``: below that, and test accuracy still climbs by more than
    ``flat_tol`` across the tail (no plateau yet: the run needs a longer budget before it
    can be called semi-grokked). ``semi-grokked``: a flat, middling plateau (>= ``semi_acc``)
    reached with a delay: test accuracy first reaches half the plateau after train accuracy
    reached 99%. ``memorized``: the rest. Varma et al. observe semi-grokking for training
    sets near D_crit, where neither circuit is clearly more efficient.
    """
    t = metrics.sort_values("step")
    n_tail = max(1, int(round(len(t) * tail)))
    acc = t["test_acc"].to_numpy()
    plateau = float(acc[-n_tail:].mean())
    fit = t.loc[t["train_acc"] >= 0.99, "step"]
    if fit.empty:
        return "unfitted"
    if plateau >= grok_acc:
        return "grokked"
    if acc[-1] - acc[-n_tail] > flat_tol:
        return "rising"
    rise = t.loc[t["test_acc"] >= plateau / 2, "step"]
    if plateau >= semi_acc and not rise.empty and rise.iloc[0] > fit.iloc[0]:
        return "semi-grokked"
    return "memorized"
