"""Progress measures under each training intervention, side by side.

Grokfast (Lee et al. 2024) and StableMax / ⊥Grad (Prieto et al. 2025) report when runs
generalize, not what happens inside them. :func:`run` trains one task several ways
(the *arms*), analyzes every checkpoint of each run with the progress measures of Nanda et
al. 2023, and reports for each arm when train and test accuracy reach 99%, the phase
boundaries, and when the key frequencies settle, the restricted loss falls and the
generalizing share rises (:func:`grokinterp.analysis.milestones.milestones`). The runs are
one resumable sweep; every arm keeps the base config's optimizer and schedule and changes
only what its name says.

Writes into ``out_dir``: ``sweep/`` (the runs), ``summary.csv`` (one row per arm),
``metrics.csv`` and ``measures.csv`` (every arm's logged metrics and analysis table, with
an ``arm`` column), ``report.txt`` and ``figures/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from grokinterp.analysis.milestones import key_frequencies_settle, milestones
from grokinterp.analysis.table import measure_run
from grokinterp.errors import ConfigError
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.presets import PRESETS
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.viz.overlay import progress_measures, training_curves
from grokinterp.viz.report import write_figure_set

# arm -> the config fields it changes (everything else is the base config's)
ARMS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "grokfast_ema": {"grokfast": "ema", "grokfast_alpha": 0.98, "grokfast_lamb": 2.0},
    "stablemax_wd0": {"loss": "stablemax", "weight_decay": 0.0},
    "orthograd_wd0": {"orthogonal_grad": True, "weight_decay": 0.0},
    "adamw_wd0": {"weight_decay": 0.0},
}


@dataclass(frozen=True)
class InterventionStudy:
    """What :func:`run` found: ``summary`` (one row per arm), and every arm's
    ``metrics`` and ``measures`` tables (column ``arm``)."""

    summary: pd.DataFrame
    metrics: pd.DataFrame
    measures: pd.DataFrame


def study_spec(
    base: dict[str, Any], arms: list[str], max_steps: int, patience: int, seed: int = 0
) -> dict[str, Any]:
    """The sweep spec of the study: one run per arm, stopping ``patience`` steps after test
    accuracy reaches 99% (or at ``max_steps``)."""
    unknown = [a for a in arms if a not in ARMS]
    if unknown or not arms:
        raise ConfigError(f"arms: unknown {unknown}; choose from {list(ARMS)}")
    stop = {"max_steps": max_steps, "stop_acc": 0.99, "stop_patience": patience}
    return {
        "base": {k: v for k, v in base.items() if k != "overrides"},
        "overrides": {**base.get("overrides", {}), **stop},
        "runs": [ARMS[a] for a in arms],
        "seeds": [seed],
    }


DEFAULT_PRESET = "quick"


@dataclass(frozen=True)
class Params:
    """The interventions study's parameters (module doc)."""

    preset: str = param(DEFAULT_PRESET, "base preset: task, model, optimizer (or give config)")
    config: Path | None = param(None, "a base config.json instead of the preset")
    arms: tuple[str, ...] = param(
        tuple(ARMS), f"the arms to train, from {', '.join(ARMS)}"
    )  # fmt: skip
    max_steps: int = param(
        10_000, "step budget of every arm", unit="steps",
        paper="Grokfast: 3x10^5 (ironjr/grokfast@93b2248 main.py:L140, L246); Prieto et al.: "
        "80000 for StableMax, 300 for ⊥AdamW (LucasPrietoAl/grokking-at-the-edge-of-numerical-"
        "stability@0cc9e8d run_main_experiments.sh:L50-51)",
    )  # fmt: skip
    patience: int = param(500, "steps trained on after test accuracy reaches 99%", unit="steps")
    backend: Literal["local", "ensemble", "ray", "ray-ensemble"] = param(
        "local",
        "sweep backend (the arms differ in their interventions, so ensemble trains them one "
        "group each)",
    )
    device: str = param("cpu", "torch device of training and analysis (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"preset: unknown {self.preset!r}; known: {sorted(PRESETS)}")
        if self.config is not None and self.preset != DEFAULT_PRESET:
            raise ConfigError(
                f"config: give a preset or a config file, not both (preset {self.preset!r}, "
                f"config {str(self.config)!r})"
            )
        check_nonempty("arms", self.arms)
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown or len(set(self.arms)) != len(self.arms):
            raise ConfigError(f"arms: give distinct arms from {list(ARMS)}, got {list(self.arms)}")
        check_positive("max_steps", self.max_steps)
        check_positive("patience", self.patience, minimum=0)
        _check_device(self.device)

    @property
    def base(self) -> dict[str, Any]:
        """The sweep base: the config file if given, else the preset."""
        return {"config": str(self.config)} if self.config else {"preset": self.preset}


def _check_device(text: str) -> None:
    """``device`` is a torch device this machine has (checked before anything runs)."""
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"device: unknown torch device {text!r}; use cpu, cuda or cuda:N"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {text!r}, but this torch sees no CUDA GPU; use cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device: {text!r}, but MPS is not available here; use cpu")


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train, analyze and compare the arms under ``out_dir`` (module doc); ``data`` is the
    :class:`InterventionStudy`. Re-running resumes the sweep. ``static``: write PNGs too
    (default: when kaleido and a Chromium are installed)."""
    arms, device = list(params.arms), params.device
    out = Path(out_dir)
    spec = study_spec(params.base, arms, params.max_steps, params.patience)
    runs = expand(spec)
    run_sweep(spec, out / "sweep", backend=params.backend, progress=progress, device=device)
    rows, metrics, measures = [], [], []
    for arm, r in zip(arms, runs, strict=True):
        run_dir = out / "sweep" / "runs" / r.name
        analysis = measure_run(run_dir, progress=False, device=device)
        run = Run(run_dir)
        m = run.metrics.assign(arm=arm)
        t = analysis.table.assign(arm=arm)
        row: dict[str, Any] = {"arm": arm, "run": r.name, **milestones(m, t)}
        row.update({k: analysis.summary.get(k) for k in ("grokking_step",)})
        row.update(analysis.summary.get("phases", {}))
        keys = analysis.key_freqs
        row["key_freqs"] = " ".join(map(str, keys)) if keys else ""
        # the embedding's spectrum, per checkpoint, against its own final choice
        embed_final = analysis.summary.get("key_freqs_by_rule", {}).get("embed", keys)
        row["key_freqs_settle_step"] = key_frequencies_settle(run, embed_final) if keys else None
        last = m.iloc[-1]
        row.update(
            final_step=int(last["step"]),
            final_test_acc=float(last["test_acc"]),
            final_param_norm=float(last["param_norm"]),
        )
        rows.append(row)
        metrics.append(m)
        measures.append(t)
    study = InterventionStudy(pd.DataFrame(rows), pd.concat(metrics), pd.concat(measures))
    _write(study, out, spec, static)
    return collect(out, data=study)


def _write(study: InterventionStudy, out: Path, spec: dict[str, Any], static: bool | None) -> None:
    atomic_write_text(out / "summary.csv", study.summary.to_csv(index=False))
    cols = [
        "arm",
        "step",
        "train_loss",
        "train_acc",
        "test_loss",
        "test_acc",
        "param_norm",
        "softmax_collapse",
        "train_loss32",
    ]
    atomic_write_text(out / "metrics.csv", study.metrics[cols].to_csv(index=False))
    keep = [c for c in study.measures.columns if not c.startswith(("embed_norm_k", "sum_sq."))]
    atomic_write_text(out / "measures.csv", study.measures[keep].to_csv(index=False))
    figs = {
        "training_curves": training_curves(study.metrics),
        "progress_measures": progress_measures(study.measures),
    }
    write_figure_set(figs, out / "figures", title="Training interventions", static=static)
    atomic_write_text(out / "report.txt", report(study.summary, spec))


def report(summary: pd.DataFrame, spec: dict[str, Any]) -> str:
    """The summary as text: one block per arm, steps where each measure moved."""
    lines = [
        "Training interventions, side by side (grokinterp.experiments.interventions)",
        f"base {spec['base']}, overrides {spec['overrides']}",
        "steps: first logged step (accuracies, collapse) or checkpoint (measures) where the",
        "measure crossed its threshold; '-' never within the budget.",
        "",
    ]
    fields = [
        ("train acc >= 99%", "train_99_step"), ("test acc >= 99%", "test_99_step"),
        ("memorization ends", "memorization_end"),
        ("circuit formation ends", "circuit_formation_end"), ("cleanup ends", "cleanup_end"),
        ("key frequencies settle", "key_freqs_settle_step"),
        ("restricted loss < 1", "restricted_below_1_step"),
        ("gen share >= 50%", "gen_share_50_step"), ("gen share >= 95%", "gen_share_95_step"),
        ("softmax collapse >= 50%", "collapse_50_step"),
    ]  # fmt: skip
    for row in summary.to_dict("records"):
        lines.append(
            f"{row['arm']} ({row['run']}): final test acc {row['final_test_acc']:.3f} "
            f"at step {row['final_step']}, parameter norm {row['final_param_norm']:.1f}, "
            f"key frequencies [{row['key_freqs']}], max softmax collapse "
            f"{row['max_softmax_collapse']:.2f}"
        )
        for label, key in fields:
            v = row.get(key)
            shown = "-" if v is None or (isinstance(v, float) and v != v) else f"{int(v)}"
            lines.append(f"  {label:<24} {shown}")
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="interventions",
    title="progress measures under Grokfast, StableMax, ⊥Grad and no weight decay",
    paper="Lee et al. 2024, arXiv 2405.20233; Prieto et al. 2025, arXiv 2501.04697",
    params=Params,
    run=run,
    committed="studies/interventions",
    smoke={
        "arms": ["baseline", "grokfast_ema"],
        "max_steps": 10,
        "patience": 5,
        "backend": "ensemble",
        "preset": "efficiency",
    },  # fmt: skip
    # its cards moved to the studies on the authors' setups (issue 28): grokfast, prieto
    cards=(),
    runtime="5.6 min",
)
