"""Progress measures of one grokking run (Nanda et al. 2023, "Progress measures for grokking
via mechanistic interpretability", arXiv 2301.05217).

Their claims, on a 1-layer transformer trained on a + b mod 113 with 30% of the pairs: the
network groks in three phases (memorization, circuit formation, cleanup); it ends up
computing the answer from a few *key frequencies* (a Fourier algorithm); and progress
measures of that algorithm move smoothly, well before the test loss does: the *restricted
loss* (the logits kept only in the key-frequency directions) falls long before the test
loss, the *excluded loss* (those directions removed) rises during circuit formation, the
weight norm falls during cleanup, and most MLP neurons end up in a frequency cluster.

The study trains one run (preset ``nanda`` by default, with the shipped reference run's
schedule: ``max_steps`` 25000, 12 log-spaced checkpoints up to step 1000, then one every
1000 steps; the paper trains 40000) into ``out_dir/run`` (resumable), analyzes it as
``grokinterp analyze`` does (:func:`grokinterp.viz.analyze`: ``run/analysis/``
measures.csv, summary.json and figures), or, with ``run_dir``, analyzes an existing run
instead (incrementally, without figures: on an analyzed run such as the shipped
``checkpoints/nanda`` it only reads the tables; nothing there changes). Writes into
``out_dir``:

* ``summary.csv``: one row (:func:`summarize`): the grokking step, the step train accuracy
  reaches 99%, the phase boundaries (from the logged test loss, and on the checkpoint
  grid), the key frequencies and their number, the fraction of MLP neurons in a frequency
  cluster at the last checkpoint, the steps from which the restricted loss and the test
  loss stay below 1;
* ``report.txt``: the setup, that row as text, and the verdicts on the paper's story.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import nanda2023
from grokinterp.experiments.contract import Study, StudyResult, check_positive, collect, param
from grokinterp.presets import PRESETS, get_preset
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.training import train
from grokinterp.viz import analyze

PHASES = ("memorization_end", "circuit_formation_end", "cleanup_end")
LOSS_LEVEL = 1.0  # "the loss falls below 1": the level the restricted and test loss cross


@dataclass(frozen=True)
class Params:
    """The progress-measures study's parameters (module doc)."""

    preset: str = param("nanda", "base preset of the trained run (ignored with run_dir)")
    p: int | None = param(None, "the modulus (default: the preset's)", paper="113")
    max_steps: int = param(25_000, "training steps", unit="steps", paper="40000")
    ckpt_log_count: int = param(
        12, "log-spaced checkpoints up to the preset's ckpt_log_until (1000 for nanda)"
    )
    ckpt_every: int = param(1000, "checkpoint spacing after them", unit="steps")
    key_freq_rule: Literal["causal", "embed", "logit", "neuron_argmax"] = param(
        "causal",
        "how the key frequencies are chosen at the last checkpoint (grokinterp.analysis.keyfreqs)",
    )
    device: str = param("cpu", "torch device for training and analysis")
    run_dir: Path | None = param(
        None,
        "an existing run directory to analyze instead of training one (e.g. checkpoints/nanda)",
    )

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"preset: unknown {self.preset!r}; known: {sorted(PRESETS)}")
        if self.p is not None:
            check_positive("p", self.p, minimum=3)
        check_positive("max_steps", self.max_steps)
        check_positive("ckpt_log_count", self.ckpt_log_count, minimum=0)
        check_positive("ckpt_every", self.ckpt_every)
        if self.key_freq_rule not in ("causal", "embed", "logit", "neuron_argmax"):
            raise ConfigError(
                f"key_freq_rule must be causal, embed, logit or neuron_argmax, got "
                f"{self.key_freq_rule!r}"
            )
        if self.run_dir is not None and not (self.run_dir / layout.CONFIG).is_file():
            raise ConfigError(f"run_dir: {self.run_dir} is not a run directory (no config.json)")


def train_config(params: Params) -> TrainConfig:
    """The trained run's config: the preset with the schedule (and ``p``) of ``params``."""
    overrides: dict[str, Any] = {
        "optim": {"max_steps": params.max_steps},
        "schedule": {"ckpt_log_count": params.ckpt_log_count, "ckpt_every": params.ckpt_every},
    }
    if params.p is not None:
        overrides["task"] = {"p": params.p}
    return replace(get_preset(params.preset), overrides)


def _trained(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds ``cfg``'s run, trained to its last step."""
    if not (run_dir / layout.CONFIG).is_file() or not (run_dir / layout.METRICS).is_file():
        return False
    rows = layout.read_metrics(run_dir)
    stored = TrainConfig.load(run_dir / layout.CONFIG)
    return (
        stored.to_dict() == cfg.to_dict() and bool(rows) and rows[-1]["step"] >= cfg.optim.max_steps
    )


def _stays_below(table: pd.DataFrame, column: str, level: float = LOSS_LEVEL) -> float:
    """The first step from which ``column`` stays below ``level`` (NaN if it never does)."""
    t = table[["step", column]].dropna().sort_values("step")
    above = t[t[column] >= level]
    after = t[t["step"] > above["step"].iloc[-1]] if len(above) else t
    return float(after["step"].iloc[0]) if len(after) else math.nan


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def summarize(run_dir: str | Path) -> pd.DataFrame:
    """One row from an analyzed run directory (``analysis/summary.json``,
    ``analysis/measures.csv``, ``metrics.jsonl``): see the module doc."""
    run = Run(run_dir)
    out = run.path / layout.ANALYSIS
    if not (out / "summary.json").is_file() or not (out / "measures.csv").is_file():
        raise ConfigError(f"{run.path}: not analyzed yet (no analysis/summary.json); analyze it")
    s = json.loads((out / "summary.json").read_text())
    measures = pd.read_csv(out / "measures.csv")
    phases = s.get("phases") or {}
    at_ckpts = s.get("phases_at_checkpoints") or {}
    freqs = s.get("key_freqs") or []
    final = s.get("final") or {}
    row: dict[str, Any] = {
        "run": str(run_dir),
        "p": s.get("p"),
        "steps": int(measures["step"].max()),
        "checkpoints": len(measures),
        "grokking_step": _num(s.get("grokking_step")),
        "train_99_step": _num(s.get("train_99_step")),
        **{k: _num(phases.get(k)) for k in PHASES},
        **{f"{k}_ckpt": _num(at_ckpts.get(k)) for k in PHASES},
        "key_freqs": " ".join(str(k) for k in freqs),
        "n_key_freqs": len(freqs),
        "key_freq_rule": s.get("key_freq_rule", ""),
        "frac_clustered": _num(final.get("frac_clustered")),
        "restricted_loss_below_1_step": (
            _stays_below(measures, "restricted_loss") if "restricted_loss" in measures
            else math.nan
        ),
        "test_loss_below_1_step": _stays_below(measures, "test_loss"),
        "test_loss_below_1_step_logged": _stays_below(run.metrics, "test_loss"),
        "final_test_acc": _num(final.get("test_acc")),
    }  # fmt: skip
    return pd.DataFrame([row])


def _at(measures: pd.DataFrame, step: float, column: str) -> float:
    hit = measures.loc[measures["step"] == step, column]
    return float(hit.iloc[0]) if len(hit) else math.nan


def verdicts(run_dir: str | Path, row: pd.Series) -> dict[str, str]:
    """The paper's story, prediction by prediction, on the checkpoint grid."""
    measures = pd.read_csv(Path(run_dir) / layout.ANALYSIS / "measures.csv")
    mem, circ, clean = (row[f"{k}_ckpt"] for k in PHASES)

    def verdict(ok: float | bool | None) -> str:
        if ok is None or (isinstance(ok, float) and math.isnan(ok)):
            return "undecided"
        return "held" if ok else "did not hold"

    def grows(col: str, a: float, b: float) -> bool | None:
        if col not in measures or math.isnan(a) or math.isnan(b):
            return None
        x, y = _at(measures, a, col), _at(measures, b, col)
        return None if math.isnan(x) or math.isnan(y) else y > x

    r, t = row["restricted_loss_below_1_step"], row["test_loss_below_1_step"]
    first, last = float(measures["step"].min()), float(measures["step"].max())
    falls = grows("sum_sq_weights", clean, circ)  # larger at the start of cleanup
    return {
        "the restricted loss falls below 1 before the test loss": verdict(
            None if math.isnan(r) or math.isnan(t) else r < t
        ),
        "the excluded loss rises during circuit formation": verdict(
            grows("excluded_loss", mem, circ)
        ),
        "the weight norm falls during cleanup": verdict(falls),
        "the Gini coefficient of the embedding's frequencies rises": verdict(
            grows("gini_embed", first, last)
        ),
    }


def _fmt(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:g}"


def report(row: pd.Series, config: TrainConfig, found: dict[str, str]) -> str:
    """The setup, the summary row and the verdicts as text."""
    t, m, o = config.task, config.model, config.optim
    freqs = "{" + ", ".join(row["key_freqs"].split()) + "}" if row["n_key_freqs"] else "none"
    frac = row["frac_clustered"]
    clustered = "-" if math.isnan(frac) else f"{100 * frac:.0f}%"
    lines = [
        "Progress measures (Nanda et al. 2023, arXiv 2301.05217)",
        f"run: {row['run']}: {t.name} mod {t.p}, train fraction {t.train_fraction:g}, "
        f"{m.arch} ({m.n_layers} layer(s), d_model {m.d_model}, d_mlp {m.d_mlp}), lr "
        f"{o.lr:g}, weight decay {o.weight_decay:g}, {row['steps']} steps, "
        f"{row['checkpoints']} checkpoints analyzed",
        "",
        f"train accuracy >= 99% at step {_fmt(row['train_99_step'])}; grokking step (test "
        f"accuracy >= 99%) {_fmt(row['grokking_step'])}",
        f"phases (from the logged test loss): memorization ends "
        f"{_fmt(row['memorization_end'])}, circuit formation ends "
        f"{_fmt(row['circuit_formation_end'])}, cleanup ends {_fmt(row['cleanup_end'])}; on "
        "the checkpoint grid " + " / ".join(_fmt(row[f"{k}_ckpt"]) for k in PHASES),
        f"key frequencies ({row['key_freq_rule']} rule): {freqs}; {clustered} of the MLP "
        "neurons in a frequency cluster at the last checkpoint (the paper: about 85%)",
        f"the restricted loss stays below 1 from step {_fmt(row['restricted_loss_below_1_step'])}"
        f", the test loss from step {_fmt(row['test_loss_below_1_step'])} (checkpoints; "
        f"{_fmt(row['test_loss_below_1_step_logged'])} in the logged metrics)",
        "",
        "the paper's story, on the checkpoint grid:",
    ]
    lines += [f"  {claim}: {v}" for claim, v in found.items()]
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the run into ``out_dir/run`` (resumable) or take ``params.run_dir``, analyze it
    and write ``summary.csv`` and ``report.txt`` (module doc); ``data`` is the summary row."""
    out = Path(out_dir)
    if params.run_dir is None:
        run_dir = out / "run"
        cfg = train_config(params)
        if not _trained(run_dir, cfg):
            train(cfg, run_dir, resume=True, device=params.device, progress=progress)
    else:
        run_dir = params.run_dir
    # incremental: on an analyzed run this only reads its tables; figures only for our own
    analyze(
        run_dir, key_freq_rule=params.key_freq_rule, device=params.device, progress=progress,
        figures=params.run_dir is None, static=static,
    )  # fmt: skip
    table = summarize(run_dir)
    found = verdicts(run_dir, table.iloc[0])
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.csv", table.to_csv(index=False))
    atomic_write_text(out / "report.txt", report(table.iloc[0], Run(run_dir).config, found))
    return collect(out, data=table, verdicts=found)


STUDY = Study(
    name="progress-measures",
    title="Nanda et al. 2023's progress measures on a trained (or the shipped) run",
    paper="Nanda et al. 2023, arXiv 2301.05217",
    params=Params,
    run=run,
    committed="studies/progress_measures",
    smoke={"preset": "quick", "p": 7, "max_steps": 40, "ckpt_log_count": 3, "ckpt_every": 20},
    cards=nanda2023.CARDS,
    runtime="about 30 min (training 25-30 min, then the analysis)",
)
