"""The per-checkpoint measures table of a run: progress measures over every checkpoint.

Writes into ``RUN_DIR/analysis/``:

* ``measures.csv``: one row per analyzed checkpoint (columns in :data:`COLUMNS`);
* ``summary.json``: key frequencies (the rule that chose them, every rule's choice, and the
  per-frequency evidence: :mod:`grokinterp.analysis.keyfreqs`), phase boundaries
  (:mod:`grokinterp.analysis.phases`; from ``metrics.jsonl`` where it has the test loss, the
  checkpoint-resolution ones beside them), landmarks, and which measures apply to the task;
* ``figures/``: the figures of :mod:`grokinterp.viz.figures` and an ``index.html`` showing them.

It is incremental: checkpoints already in ``measures.csv`` are not recomputed, unless the
key frequencies changed (then every row is, since restricted / excluded losses depend on
them) or the table was written by another version of the measures (``ANALYSIS_VERSION``).
The Fourier measures need the labels to be a sum or difference in a cyclic group: a + b
(``add``) or a - b (``sub``) in Z_p, or a * b (``mul``) or a / b (``div``) in the
multiplicative group Z_p* (p prime), whose characters are those of Z_{p-1} read through the
discrete logarithm (:mod:`grokinterp.analysis.groups`: the measures then run over the
(p - 1)^2 pairs with a, b != 0, and the plain train / test losses over every pair).
``summary.json`` records the basis under ``fourier_basis``. The ``perm`` task (x o y in
S_n, n <= 5) gets the same measures over the irreducible representations of S_n
(:mod:`grokinterp.analysis.symmetric`; Chughtai, Chan & Nanda 2023): its key components
(``key_freqs``, named in ``key_representations``) are representations, the logit cube is
the character cube ``chi(a o b o c^-1)``, the neuron clusters (a cyclic notion) are left
out, and ``summary.json`` adds ``representation_measures``, Chughtai et al.'s per-
representation readings of the last checkpoint. For other tasks only the task-agnostic
columns are computed and ``summary.json`` says why.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
from torch import Tensor
from tqdm.auto import tqdm

from grokinterp.analysis import complexity as complexity_measures
from grokinterp.analysis import fourier, keyfreqs, measures, symmetric
from grokinterp.analysis.complexity import LLCSettings
from grokinterp.analysis.groups import GroupBasis, task_basis, why_no_basis
from grokinterp.analysis.phases import phase_boundaries
from grokinterp.analysis.representation_measures import representation_measures
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.models import Params, answer_forward_chunked, cross_entropy64
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.tasks import get_task

#: bumped whenever the measures change; a table written by another version is recomputed
ANALYSIS_VERSION = 3
MEASURES = "measures.csv"
SUMMARY = "summary.json"

COLUMNS: dict[str, str] = {
    "step": "checkpoint step (updates done)",
    "train_loss": "cross-entropy (float64) on the training set, over the answer classes",
    "train_acc": "accuracy on the training set",
    "test_loss": "cross-entropy on the test set",
    "test_acc": "accuracy on the test set",
    "sum_sq_weights": "sum of squared weights over all parameters",
    "sum_sq.<param>": "sum of squared weights of one parameter",
    "restricted_loss": "test loss of the logits restricted to the key-frequency directions "
    "(Nanda et al. 2023)",
    "restricted_loss_all": "restricted loss over all pairs",
    "excluded_loss": "training loss with the key-frequency directions removed",
    "excluded_loss_k<k>": "training loss with only frequency k's directions removed",
    "gini_embed": "Gini coefficient of the per-frequency norms of W_E (Hurley & Rickard 2009)",
    "gini_logit": "Gini coefficient of the per-frequency norms of W_logit",
    "gen_share": "fraction of logit norm^2 in the key-frequency trigonometric subspace "
    "(the generalizing circuit; Varma et al. 2023)",
    "mem_share": "1 - gen_share: the rest (the memorizing circuit)",
    "gen_logit_norm": "norm of the (double-centered) logits in the key-frequency subspace: "
    "the generalizing circuit's logit strength, to set against sum_sq_weights (Varma et al.)",
    "mem_logit_norm": "norm of the rest of the centered logits: the memorizing circuit's",
    "logit_cube_cos_sim": "cosine similarity of the (class-centered) logits L[a, b, c] with "
    "their projection on cos(w_k(a + b - c)), k in the key frequencies (Nanda et al. 2023); "
    "a, b, c the group indices (discrete logarithms for mul / div, class 0 left out)",
    "logit_cube_residual": "norm of the rest of the logits, as a fraction of their norm",
    "frac_clustered": "fraction of MLP neurons with more than 85% of their grid variance in "
    "one frequency",
    "embed_norm_k<k>": "norm of W_E in frequency k (cos and sin rows of the Fourier basis of "
    "the task's group: summary.json's fourier_basis)",
    "llc": "local learning coefficient on the training set, devinterp's SGLD estimate (Lau et "
    "al. 2023; the complexity extra; summary.json's complexity has the sampler)",
    "llc_std": "standard deviation of the LLC over the SGLD chains",
    "alpha.<param>": "power-law exponent of the spectrum of one weight matrix, weightwatcher's "
    "fit (heavy-tailed self-regularization, Martin & Mahoney 2021; the complexity extra)",
    "alpha_mean": "mean of the fitted alpha.<param> (weightwatcher's summary alpha)",
}
_COMPLEXITY_COLUMNS = ("llc", "llc_std", "alpha.<param>", "alpha_mean")


@dataclass
class Analysis:
    """The result of :func:`analyze`."""

    table: pd.DataFrame
    summary: dict[str, Any]
    path: Path  # RUN_DIR/analysis
    key_freqs: list[int] | None = None  # None where the Fourier measures do not apply


def run_basis(run: Run) -> GroupBasis | None:
    """The group basis of the run's Fourier measures (:func:`grokinterp.analysis.groups.
    task_basis`: Z_p for ``add`` / ``sub``, Z_p* for ``mul`` / ``div``), or None where they
    do not apply (:func:`_why_not_fourier` says why)."""
    t = run.config.task
    if get_task(t.name).kind not in ("modular", "perm") or why_no_basis(
        t.name, t.p, t.random_labels, t.n
    ):
        return None
    return task_basis(t.name, t.p, t.random_labels, n=t.n)


def fourier_structure(run: Run) -> str | None:
    """``sum`` / ``difference`` (in the group of :func:`run_basis`) if the Fourier measures
    apply to the run's task, else None."""
    basis = run_basis(run)
    return None if basis is None else basis.structure


def _why_not_fourier(run: Run) -> str:
    t = run.config.task
    return why_no_basis(t.name, t.p, t.random_labels, t.n) or "no group basis"


class _Context:
    """What every checkpoint's measures share: data, masks, key frequencies."""

    def __init__(self, run: Run, key_freqs: list[int] | None, device: str):
        self.run = run
        self.cfg = run.config
        self.device = device
        ds = run.dataset
        self.inputs = ds.inputs.to(device)
        self.labels = ds.labels.to(device)
        self.train = ds.train_mask.to(device)
        self.n_classes = ds.n_classes
        self.basis = run_basis(run)
        self.structure = None if self.basis is None else self.basis.structure
        self.p = ds.size
        self.key_freqs = key_freqs
        # dataset row of each pair of the group's (n, n) grid (pairs outside it left out)
        self.grid_index = (
            None if self.basis is None else self.basis.grid_index(ds.inputs).to(device)
        )

    def on_grid(self, x: Tensor) -> Tensor:
        """Per-pair values (dataset rows first) on the group's (n, n, ...) grid."""
        assert self.grid_index is not None
        return x[self.grid_index]

    def forward(self, params: Params) -> tuple[Tensor, Tensor]:
        return answer_forward_chunked(params, self.inputs, self.cfg.model, self.n_classes)

    def choose_key_freqs(
        self, step: int, rule: str = keyfreqs.DEFAULT_RULE, given: list[int] | None = None
    ) -> keyfreqs.KeyFreqChoice:
        """Choose the key frequencies at the checkpoint at ``step`` by ``rule`` (or take
        ``given``), and use them from now on. Only for tasks with a Fourier structure."""
        assert self.structure is not None
        params = {k: v.to(self.device) for k, v in self.run.params(step).items()}
        logits, hidden = self.forward(params)
        choice = keyfreqs.choose_key_frequencies(
            params,
            self.on_grid(logits),
            self.on_grid(hidden) if hidden.shape[-1] else None,
            self.on_grid(self.labels),
            self.on_grid(self.train),
            self.structure,
            rule=rule,
            given=given,
            basis=self.basis,
        )
        self.key_freqs = choice.key_freqs
        return choice


def _ce(logits: Tensor, labels: Tensor) -> float:
    return float(cross_entropy64(logits, labels))


def checkpoint_measures(ctx: _Context, step: int) -> dict[str, float]:
    """Every measure of one checkpoint (a row of measures.csv)."""
    params = {k: v.to(ctx.device) for k, v in ctx.run.params(step).items()}
    logits, hidden = ctx.forward(params)
    tr, te = ctx.train, ~ctx.train
    row: dict[str, float] = {"step": step}
    row["train_loss"] = _ce(logits[tr], ctx.labels[tr])
    row["train_acc"] = float((logits[tr].argmax(-1) == ctx.labels[tr]).double().mean())
    row["test_loss"] = _ce(logits[te], ctx.labels[te])
    row["test_acc"] = float((logits[te].argmax(-1) == ctx.labels[te]).double().mean())
    sq = measures.sum_squared_weights(params)
    row["sum_sq_weights"] = float(sq["total"])
    for name, v in sq.items():
        if name != "total":
            row[f"sum_sq.{name}"] = float(v)
    if ctx.structure is None or ctx.basis is None:
        return row
    basis, keys = ctx.basis, ctx.key_freqs
    assert keys is not None
    grid = ctx.on_grid(logits)  # (n, n, classes): every class stays in the softmax
    labels, train = ctx.on_grid(ctx.labels), ctx.on_grid(tr)
    s = ctx.structure
    row["restricted_loss"] = measures.restricted_loss(
        grid, labels, keys, mask=~train, structure=s, basis=basis
    )
    row["restricted_loss_all"] = measures.restricted_loss(
        grid, labels, keys, structure=s, basis=basis
    )
    row["excluded_loss"] = measures.excluded_loss(
        grid, labels, keys, mask=train, structure=s, basis=basis
    )
    for k, v in zip(
        keys,
        measures.excluded_loss_per_freq(grid, labels, keys, mask=train, structure=s, basis=basis),
        strict=True,
    ):
        row[f"excluded_loss_k{k}"] = float(v)
    embed_norms = fourier.embedding_freq_norms(params, basis)
    row["gini_embed"] = float(measures.gini(embed_norms))
    row["gini_logit"] = float(measures.gini(fourier.logit_weight_freq_norms(params, basis)))
    norms = measures.trig_logit_norms(grid, keys, structure=s, basis=basis)
    row["gen_share"], row["mem_share"] = norms.shares()
    row["gen_logit_norm"], row["mem_logit_norm"] = norms.generalizing, norms.memorizing
    if basis.cyclic:
        cube = fourier.logit_cube_similarity(basis.tokens(grid, 2), keys, structure=s)
        row["logit_cube_cos_sim"] = cube.cos_sim
        row["logit_cube_residual"] = cube.residual_fraction
        fractions = fourier.neuron_freq_fractions(ctx.on_grid(hidden))
        row["frac_clustered"] = float(fourier.neuron_clusters(fractions)[1])
    else:  # the character cube chi(a o b o c^-1) of the key representations
        cos, rest = symmetric.character_cube_similarity(grid, basis.degree, keys)
        row["logit_cube_cos_sim"], row["logit_cube_residual"] = cos, rest
    for k, v in enumerate(embed_norms.tolist(), start=1):
        row[f"embed_norm_k{k}"] = v
    return row


def _load_existing(out: Path) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    table, summary = None, {}
    if (out / MEASURES).exists():
        try:
            table = pd.read_csv(out / MEASURES)
        except Exception as e:  # pandas raises several parser errors
            raise RunDirError(
                f"{out / MEASURES}: unreadable ({type(e).__name__}); delete it to recompute"
            ) from None
        if "step" not in table or not pd.api.types.is_integer_dtype(table["step"]):
            raise RunDirError(
                f"{out / MEASURES}: not a measures table (no integer 'step' column); the file "
                f"was edited or damaged; delete it to recompute"
            )
        words = [c for c in table if not pd.api.types.is_numeric_dtype(table[c])]
        if words:  # every measure is a number (or empty); a word is damage
            raise RunDirError(
                f"{out / MEASURES}: column(s) {words[:3]} hold values that are not numbers; "
                f"the file was edited or damaged; delete it to recompute"
            )
    if (out / SUMMARY).exists():
        try:
            loaded = json.loads((out / SUMMARY).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            loaded = None
        if not isinstance(loaded, dict):
            raise RunDirError(f"{out / SUMMARY}: not a summary; delete it to recompute")
        summary = loaded
    return table, summary


def _steps_to_measure(run: Run, steps: list[int] | None) -> list[int]:
    """``steps`` (default: every checkpoint on disk), checked to exist, sorted."""
    all_steps = run.steps
    if not all_steps:
        raise RunDirError(f"{run.path}: has no checkpoints to analyze")
    if steps is not None:
        missing = sorted(set(steps) - set(all_steps))
        if missing:
            raise RunDirError(
                f"{run.path}: no checkpoint at step(s) {missing[:5]}; "
                f"see `grokinterp info {run.path}`"
            )
    return sorted(set(steps if steps is not None else all_steps))


def _key_frequencies(ctx: _Context, key_freqs: list[int] | None, rule: str) -> dict[str, Any]:
    """Set the key frequencies (given, or chosen at the latest checkpoint by ``rule``) and
    start the summary with them and the per-frequency evidence, or with why the Fourier
    measures do not apply."""
    run = ctx.run
    keyfreqs.check_rule(rule)
    summary: dict[str, Any] = {
        "p": ctx.p if run.config.task.p is not None else None,
        "task": run.config.task.name,
    }
    if ctx.structure is None or ctx.basis is None:
        summary["key_freqs"] = None
        summary["fourier_basis"] = None
        summary["fourier_measures"] = f"not computed: {_why_not_fourier(run)}"
        return summary
    if key_freqs is not None:
        try:
            key_freqs = ctx.basis.check_components(key_freqs)
        except ConfigError as e:
            raise ConfigError(f"key_freqs (--key-freqs): {e}") from None
    last = run.steps[-1]
    choice = ctx.choose_key_freqs(last, rule, key_freqs)
    summary["key_freqs"] = ctx.key_freqs
    summary["key_freqs_source"] = (
        "given by the user"
        if key_freqs is not None
        else f"chosen at step {last} by the {choice.rule!r} rule (grokinterp.analysis.keyfreqs)"
        + (f"; {choice.note}" if choice.note else "")
    )
    summary["fourier_structure"] = ctx.structure
    summary["fourier_basis"] = ctx.basis.record()
    summary.update(choice.summary())
    summary["key_freq_evidence_step"] = last
    if not ctx.basis.cyclic:
        keys = ctx.key_freqs or []
        summary["key_representations"] = [ctx.basis.component_name(k) for k in keys]
        params = ctx.run.params(last)
        logits, _ = ctx.forward({k: v.to(ctx.device) for k, v in params.items()})
        summary["representation_measures"] = {
            "step": last,
            "source": "Chughtai, Chan & Nanda 2023 (arXiv 2302.03025): "
            "grokinterp.analysis.representation_measures.representation_measures",
            **representation_measures(params, ctx.on_grid(logits), ctx.basis.degree),
        }
    return summary


def _updated_table(
    ctx: _Context, out: Path, todo_steps: list[int], summary: dict[str, Any], progress: bool
) -> pd.DataFrame:
    """The measures table with a row for each step in ``todo_steps``: rows already on disk
    are kept unless they used other key frequencies or another version of the measures;
    rows of checkpoints deleted since are dropped."""
    table, old = _load_existing(out)
    if table is not None and (
        old.get("key_freqs") != summary["key_freqs"]
        or old.get("analysis_version") != ANALYSIS_VERSION
    ):
        table = None  # old rows used other key frequencies, or other measures
    done = set() if table is None else set(table["step"].astype(int))
    todo = [s for s in todo_steps if s not in done]
    rows = [
        checkpoint_measures(ctx, s)
        # no bar when there is nothing to do (an empty "0ckpt" widget in Jupyter)
        for s in tqdm(todo, disable=not progress or not todo, desc="analyze", unit="ckpt")
    ]
    new = pd.DataFrame(rows)
    table = new if table is None else pd.concat([table, new], ignore_index=True)
    table = table[table["step"].isin(ctx.run.steps)]
    return table.sort_values("step").reset_index(drop=True)


def _complexity_record(settings: LLCSettings, loss: str, n_train: int) -> dict[str, Any]:
    return {
        "columns": ["llc", "llc_std", "alpha.<param>", "alpha_mean"],
        "llc_sampler": settings.record(),
        "llc_batch_size": settings.batch(n_train),
        "llc_n_beta": settings.nbeta(n_train),
        "n_train": n_train,
        "llc_loss": f"{loss} (the run's optim.loss, per example, without weight decay), "
        "on the training set",
        "llc_reference": "devinterp examples/grokking.ipynb (commit a646b9d, cells 17, 21)",
        "alpha_fit": "weightwatcher analyze() defaults; attention weights over heads as one "
        "matrix (grokinterp.analysis.complexity.weight_matrices)",
        "versions": {m: version(m) for m in ("devinterp", "weightwatcher")},
    }


def _with_complexity(
    ctx: _Context,
    table: pd.DataFrame,
    old: dict[str, Any],
    settings: LLCSettings,
    progress: bool,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table with the complexity columns (``llc``, ``llc_std``, ``alpha.<param>``,
    ``alpha_mean``: :mod:`grokinterp.analysis.complexity`) filled in every row: rows that
    have them from an earlier analysis with the same sampler are kept."""
    record = _complexity_record(settings, ctx.cfg.optim.loss, int(ctx.train.sum()))
    same = (old.get("complexity") or {}).get("llc_sampler") == record["llc_sampler"]
    have = table["llc"].notna() if same and "llc" in table else pd.Series(False, table.index)
    todo = [int(s) for s in table.loc[~have, "step"]]
    train_x, train_y = ctx.inputs[ctx.train], ctx.labels[ctx.train]
    rows = []
    for step in tqdm(todo, disable=not progress or not todo, desc="complexity", unit="ckpt"):
        params = {k: v.to(ctx.device) for k, v in ctx.run.params(step).items()}
        est = complexity_measures.checkpoint_llc(
            params, ctx.cfg.model, ctx.cfg.optim.loss, train_x, train_y, ctx.n_classes, settings
        )
        alphas = complexity_measures.checkpoint_alphas(params)
        rows.append({"step": step, "llc": est.mean, "llc_std": est.std, **alphas})
    if rows:
        new = pd.DataFrame(rows).set_index("step")
        table = table.set_index("step")
        for col in new.columns:
            if col not in table:
                table[col] = math.nan
            table.loc[new.index, col] = new[col]
        table = table.reset_index()
    return table, record


PHASES = ("memorization_end", "circuit_formation_end", "cleanup_end")
LANDMARKS = ("grokking_step", "train_99_step", "test_99_step")


def _metrics_resolution(run: Run, table: pd.DataFrame) -> dict[str, Any]:
    """Phase boundaries and landmarks at the resolution of ``metrics.jsonl`` where it has
    the columns (the test loss for the phases, the accuracies for the landmarks), else at
    the checkpoints'; the checkpoint-resolution boundaries are kept beside them."""
    at_ckpts = phase_boundaries(table)
    m = run.metrics  # a damaged metrics.jsonl is reported (one line), never guessed around
    out: dict[str, Any] = {"phases_at_checkpoints": {k: at_ckpts[k] for k in PHASES}}
    if "test_loss" in m and int(m["test_loss"].notna().sum()) >= 3:
        logged = m[["step", "test_loss"]].dropna()
        out["phases"] = {k: phase_boundaries(logged)[k] for k in PHASES}
        every = float(logged["step"].diff().median())
        out["phase_resolution"] = f"metrics.jsonl (test loss every {every:g} steps)"
    else:
        out["phases"] = out["phases_at_checkpoints"]
        out["phase_resolution"] = "checkpoints (metrics.jsonl has no test loss)"
    if {"train_acc", "test_acc"} <= set(m.columns) and bool(m["test_acc"].notna().any()):
        lm = phase_boundaries(m[["step", "train_acc", "test_acc"]].dropna())
        out["landmark_resolution"] = "metrics.jsonl"
    else:
        lm, out["landmark_resolution"] = at_ckpts, "checkpoints"
    out.update({k: lm[k] for k in LANDMARKS})
    return out


def _phases_and_final(run: Run, table: pd.DataFrame) -> dict[str, Any]:
    """The rest of the summary: phase boundaries, landmarks, the final row, column docs."""
    return {
        **_metrics_resolution(run, table),
        "phase_rule": "grokinterp.analysis.phases.phase_boundaries (see its docstring)",
        "steps_analyzed": len(table),
        "analysis_version": ANALYSIS_VERSION,
        "final": {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in table.iloc[-1].to_dict().items()
            if not str(k).startswith(("embed_norm_k", "sum_sq.", "alpha."))
        },
        # the complexity columns are documented where the table has them (analyze --complexity)
        "columns": COLUMNS
        if "llc" in table
        else {k: v for k, v in COLUMNS.items() if k not in _COMPLEXITY_COLUMNS},
    }


def measure_run(
    run_dir: str | Path,
    *,
    steps: list[int] | None = None,
    key_freqs: list[int] | None = None,
    key_freq_rule: str = keyfreqs.DEFAULT_RULE,
    device: str = "cpu",
    progress: bool = True,
    complexity: LLCSettings | None = None,
) -> Analysis:
    """Compute the progress measures of every checkpoint (or of ``steps``) of a run.

    Args:
        run_dir: a run directory.
        steps: checkpoint steps to analyze (default: all on disk).
        key_freqs: the key frequencies to use; default: chosen at the latest checkpoint by
            ``key_freq_rule``.
        key_freq_rule: one of :data:`grokinterp.analysis.keyfreqs.RULES` (default
            ``causal``); ``summary.json`` records every rule's choice and the evidence.
        device: torch device for the computation.
        progress: show a progress bar.
        complexity: also the complexity columns (``llc``, ``llc_std``, ``alpha.<param>``,
            ``alpha_mean``; :mod:`grokinterp.analysis.complexity`, the ``complexity`` extra),
            the LLC sampled with these settings (``LLCSettings()``: devinterp's grokking
            example's). Without it, complexity columns computed before are kept (new rows
            have none) and ``summary.json`` keeps their record.
    """
    if complexity is not None:  # before any work: one line if the extra is missing
        complexity_measures.require("devinterp", "--complexity (the local learning coefficient)")
        complexity_measures.require("weightwatcher", "--complexity (the power-law alphas)")
    run = Run(run_dir)
    task = get_task(run.config.task.name)
    if task.target == "real":  # a regression run (counterfactual): no classes to measure
        raise ConfigError(
            f"{run.path}: task {task.name!r} has real-valued targets, and the progress "
            f"measures read class logits; its metrics.jsonl logs its own measures (e.g. PEHE)"
        )
    out = run.path / layout.ANALYSIS
    todo_steps = _steps_to_measure(run, steps)
    ctx = _Context(run, None, device)
    summary = _key_frequencies(ctx, key_freqs, key_freq_rule)
    old = _load_existing(out)[1]
    table = _updated_table(ctx, out, todo_steps, summary, progress)
    if complexity is not None:
        table, summary["complexity"] = _with_complexity(ctx, table, old, complexity, progress)
    elif "llc" in table and old.get("complexity"):
        summary["complexity"] = old["complexity"]
    out.mkdir(exist_ok=True)
    atomic_write_text(out / MEASURES, table.to_csv(index=False))
    summary.update(_phases_and_final(run, table))
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2))
    return Analysis(table=table, summary=summary, path=out, key_freqs=ctx.key_freqs)
