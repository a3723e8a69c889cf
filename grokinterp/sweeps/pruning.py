"""Pruning a sweep: every run trained to step N first, those a pruner gives up on stopped.

A :class:`Pruner` names the step at which it decides (``after``) and decides (``decide``:
the run directories, each trained to at least that step, to a :class:`Verdict` per run: its
probability of grokking and whether to stop it). :func:`prune_runs` (what
:func:`grokinterp.sweeps.run_sweep` does with ``prune=``) trains the runs to N with the
sweep's own backend, asks the pruner, records the runs it stops with status ``pruned`` and
writes :data:`PRUNING`; the runs it keeps go on to their budget. Nothing here knows how a
pruner decides: ``grokinterp sweep --prune-after N`` uses the shipped grokking predictor
(:func:`grokinterp.experiments.predictor.pruner`, Notsawo et al. 2023).

``SWEEP_DIR/pruning.json`` holds ``N``, the pruner's ``settings`` (e.g. its threshold),
``runs`` (each decided run's ``p_grok`` and whether it was ``pruned``), ``pruned`` (how
many), ``compute_saved`` (the share of the sweep's training steps that pruning saved) and
the pruner's ``record`` (e.g. what it scored on held-out sweeps). A resumed sweep does not
ask again about a run it has decided.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grokinterp.config import replace
from grokinterp.errors import RunDirError
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.spec import SweepRun
from grokinterp.sweeps.status import is_finished, read_status, write_status

PRUNING = "pruning.json"


@dataclass(frozen=True)
class Verdict:
    """A pruner's decision on one run at its step N.

    Args:
        p_grok: the run's probability of grokking (``pruning.json`` and the results table's
            ``p_grok`` column).
        stop: stop the run here (status ``pruned``); else it goes on to its budget.
        reason: the status message of a stopped run (default: its ``p_grok``).
    """

    p_grok: float
    stop: bool
    reason: str = ""


def _judges_any_run(runs: Sequence[SweepRun]) -> None:
    """The default :attr:`Pruner.check`: every run can be judged."""


@dataclass(frozen=True)
class Pruner:
    """Stop the runs of a sweep at step ``after`` that are not worth training on.

    Args:
        after: the step N at which runs are judged; a run whose budget (``max_steps``) is
            not beyond it is neither trained to N first nor judged.
        decide: run name -> its run directory (trained to at least N; runs that diverged
            or failed on the way are left out) to run name -> :class:`Verdict`. A run left
            out of the answer is not decided: it goes on, and a resumed sweep asks again.
        check: called with all the sweep's runs before anything is trained or written;
            raises :class:`~grokinterp.errors.ConfigError` for runs it could not judge at N
            (e.g. ones that keep too little of their history).
        settings: entries of ``pruning.json`` written after ``N``: what the rule is.
        record: entries of ``pruning.json`` written last: how well the rule is known to do.
    """

    after: int
    decide: Callable[[Mapping[str, Path]], Mapping[str, Verdict]]
    check: Callable[[Sequence[SweepRun]], None] = _judges_any_run
    settings: Mapping[str, Any] = field(default_factory=dict)
    record: Mapping[str, Any] = field(default_factory=dict)


def _recorded_runs(path: Path) -> dict[str, Any]:
    """The ``runs`` of an earlier ``pruning.json`` ({} when there is none): each run's
    ``p_grok`` (a number) and ``pruned`` (a boolean). RunDirError (one line) for a file of
    valid JSON but another shape, which a hand edit or another program leaves."""
    if not path.exists():
        return {}
    try:
        runs = json.loads(path.read_text()).get("runs")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        runs = None
    ok = isinstance(runs, dict) and all(
        isinstance(v, dict)
        and isinstance(v.get("pruned"), bool)
        and isinstance(v.get("p_grok"), int | float)
        and not isinstance(v.get("p_grok"), bool)
        for v in runs.values()
    )
    if not ok:
        raise RunDirError(
            f"{path}: not a pruning record (a 'runs' map of p_grok and pruned per run); it "
            f"was edited or damaged: delete it to decide again"
        )
    assert isinstance(runs, dict)
    return runs


def prune_runs(
    sweep_dir: Path,
    runs: Sequence[SweepRun],
    pruner: Pruner,
    train_to: Callable[[list[SweepRun]], object],
) -> dict[str, Any]:
    """Train every unfinished, undecided run whose budget exceeds ``pruner.after`` to that
    step (``train_to``, the sweep's own backend, on the runs with ``max_steps = N``; a run
    already past it is not retrained), ask ``pruner.decide`` about those that did not
    diverge or fail, and record the runs it stops as ``pruned`` (the others as
    ``running``). Writes and returns ``SWEEP_DIR/pruning.json`` (:data:`PRUNING`)."""
    n = pruner.after
    path = sweep_dir / PRUNING
    done = _recorded_runs(path)
    open_runs = [
        r
        for r in runs
        if r.name not in done
        and r.config.optim.max_steps > n
        and not is_finished(sweep_dir / "runs" / r.name)
    ]
    short = [
        SweepRun(r.name, r.varied, replace(r.config, {"optim": {"max_steps": n}}))
        for r in open_runs
        if not [s for s in layout.checkpoint_steps_on_disk(sweep_dir / "runs" / r.name) if s >= n]
    ]
    if short:
        train_to(short)
    judged = {
        r.name: sweep_dir / "runs" / r.name
        for r in open_runs
        if read_status(sweep_dir / "runs" / r.name).get("status") not in ("diverged", "failed")
    }
    verdicts = pruner.decide(judged) if judged else {}
    for name, d in judged.items():
        if name not in verdicts:
            continue
        v = verdicts[name]
        done[name] = {"p_grok": float(v.p_grok), "pruned": bool(v.stop)}
        if v.stop:
            write_status(d, "pruned", v.reason or f"p_grok = {v.p_grok:.3f}")
        else:
            write_status(d, "running")
    budgets = {r.name: r.config.optim.max_steps for r in runs}
    saved = sum(budgets[k] - n for k, v in done.items() if v["pruned"] and k in budgets)
    report = {
        "N": n,
        **pruner.settings,
        "runs": done,
        "pruned": sum(v["pruned"] for v in done.values()),
        "compute_saved": saved / max(1, sum(budgets.values())),
        **pruner.record,
    }
    atomic_write_text(path, json.dumps(report, indent=1))
    return report


__all__ = ["PRUNING", "Pruner", "Verdict", "prune_runs"]
