"""Predicting grokking early (Notsawo et al. 2023, arXiv 2306.13253), measured on sweeps.

Notsawo, Zhou, Pezeshki, Rish and Dumas show that oscillations of the training loss in the
first epochs predict whether a run will grok much later. This module builds the labeled
sweeps that test it, the early features of every run (:mod:`grokinterp.analysis.early`:
the loss-curve spectrum, mechanistic progress measures at step N, plain baselines),
cross-validated predictors per feature family (scikit-learn), the predictor shipped with
the package (``prediction_model.json``, evaluated with numpy by :func:`predict_run`) and
its evaluation on held-out sweeps (other p, other task, other width) and as a sweep-pruning
rule (``grokinterp sweep --prune-after N``).

The study (:func:`run`; ``grokinterp study run prediction OUT``) writes into ``OUT``:

* ``sweep/<part>/``: the sweeps (ensemble backend; resumable: a killed study reruns from
  the runs' last checkpoints); their run directories are not committed;
* ``features.csv``: one row per (run, N): the run's sweep part, hyper-parameter cell, label
  (test accuracy reached ``GROK_THRESHOLD`` within the budget) and grokking step, and
  every early feature at step N;
* ``spectra.csv``: the mean amplitude spectrum of the early loss of grokking and
  non-grokking runs;
* ``auc.csv``: ROC AUC per feature family and N (grouped cross-validation on the training
  sweeps, and the model trained on them scored on the held-out sweeps);
* ``confusion.csv``, ``pruning.csv``: the confusion matrices at the chosen threshold, and
  the compute saved / grokking runs lost of pruning on the held-out sweeps;
* ``figures/``: the early loss spectra of grokking vs non-grokking runs, AUC against N;
* ``report.txt``: the AUC of every feature family at every N.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

from grokinterp.analysis.early import (
    FAMILIES,
    amplitude_spectrum,
    chance_loss,
    early_features,
    early_loss,
    oscillation,
)
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.experiments import power
from grokinterp.experiments.cards import notsawo2023
from grokinterp.experiments.contract import Study, StudyResult, collect, param
from grokinterp.experiments.predictor import Predictor, domain_of, save_models
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.sweeps.status import read_status
from grokinterp.viz.prediction import auc_figure, spectra_figure
from grokinterp.viz.report import write_figure_set

#: a run "groks" when its test accuracy at the end of its budget is at least this (Liu et
#: al. 2022's 90%): Notsawo et al.'s target is the validation accuracy at the end of training
#: (10k steps; their blog post, Tikquuss/tikquuss.github.io@c8f595f
#: _posts/2023-07-25-blog-post-1.md:L41); ours is 1,500 steps (the one knob scaled)
GROK_THRESHOLD = 0.9
#: the step budget of every study run (theirs: 10,000 steps; scaled for 2 CPU cores)
BUDGET = 1500
#: the steps N at which the predictors are evaluated (each a checkpoint of every run);
#: theirs: the first 400 training steps (blog post L41)
STEPS_N = (50, 100, 150, 200, 300, 400)
EARLY_LOSS_STEPS = max(STEPS_N)
CELLS_PER_PART = 25
SEEDS = (0, 1)

#: the model of the training sweeps: a 1-layer transformer as Nanda et al.'s, narrower
SMALL_MODEL = {"d_model": 32, "n_heads": 4, "d_head": 8, "d_mlp": 128}
WIDE_MODEL = {"d_model": 64, "n_heads": 4, "d_head": 16, "d_mlp": 256}

#: name -> (task, p, model, cells): the training sweeps, then the held-out ones (other p,
#: other width). Full batch. Three training sweeps of 50 runs: the fourth first planned
#: (sub at p = 19) did not fit the study's time on 2 shared cores.
TRAIN_PARTS: dict[str, tuple[str, int, dict[str, int], int]] = {
    "add_p19": ("add", 19, SMALL_MODEL, CELLS_PER_PART),
    "sub_p23": ("sub", 23, SMALL_MODEL, CELLS_PER_PART),
    "add_p23": ("add", 23, SMALL_MODEL, CELLS_PER_PART),
    "mb_add_p19": ("add", 19, SMALL_MODEL, CELLS_PER_PART),
    "mb_sub_p23": ("sub", 23, SMALL_MODEL, CELLS_PER_PART),
}
HELDOUT_PARTS: dict[str, tuple[str, int, dict[str, int], int]] = {
    "heldout_add_p29": ("add", 29, SMALL_MODEL, 15),
    "heldout_sub_p23_wide": ("sub", 23, WIDE_MODEL, 15),
    "mb_heldout_add_p29": ("add", 29, SMALL_MODEL, 15),
}
#: the minibatch parts (Power et al.'s code, which Notsawo et al. say they reproduced,
#: trains with minibatches; the paper's own text states full batch, its Sec. 2.2, which the
#: card reads): ``mb_<part>`` draws the same cells as ``<part>`` and trains each with batches
#: of min(512, ceil(n_train / 2)) rows, the last of an epoch shorter: openai/grok
#: grok/data.py ``ArithmeticIterator.calculate_batchsize`` (batchsize 0, the default of
#: grok/training.py) and its iterator without drop_last)
MINIBATCH_PREFIX = "mb_"
#: the regimes evaluated separately (training parts, held-out parts), then pooled
REGIMES = ("full_batch", "minibatch", "pooled")
#: the order the study trains them in (minibatch first: the setting of the code they
#: reproduced, the study's first design; the
#: held-out sweeps before the last training one, so that a study cut short can still be
#: evaluated)
ORDER = [
    "mb_add_p19", "mb_sub_p23", "mb_heldout_add_p29",
    "add_p19", "sub_p23", "heldout_add_p29", "heldout_sub_p23_wide", "add_p23",
]  # fmt: skip


def is_minibatch(part: str) -> bool:
    return part.startswith(MINIBATCH_PREFIX)


def regime_parts(parts: Sequence[str], regime: str) -> list[str]:
    """The parts of ``parts`` in ``regime`` (``pooled``: all of them)."""
    if regime == "pooled":
        return list(parts)
    return [p for p in parts if is_minibatch(p) == (regime == "minibatch")]


def power_batch_size(p: int, train_fraction: float) -> int:
    """Power et al.'s default batch size for a training set of ``int(train_fraction * p^2)``
    pairs (our split's size for a two-operand task mod p): min(512, ceil(n / 2)), through
    :func:`grokinterp.experiments.power.power_batch_size`."""
    return power.power_batch_size(int(train_fraction * p * p))


def _cells(part: str, n: int) -> list[dict[str, float]]:
    """``n`` hyper-parameter cells drawn for ``part`` (seeded by its name; a minibatch
    part draws its full-batch twin's): learning rate and weight decay log-uniform, training
    fraction uniform, init scale log-uniform, over ranges where a pilot sweep found
    grokking, memorizing and unfitted runs."""
    rng = np.random.default_rng(sum(map(ord, part.removeprefix(MINIBATCH_PREFIX))))
    cells = []
    for _ in range(n):
        cells.append(
            {
                "lr": float(np.round(10 ** rng.uniform(-2.5, -1.7), 5)),
                "weight_decay": float(np.round(10 ** rng.uniform(-0.5, 0.7), 4)),
                "train_fraction": float(np.round(rng.uniform(0.4, 0.85), 3)),
                "init_scale": float(np.round(10 ** rng.uniform(-0.3, 0.3), 3)),
            }
        )
    return cells


def part_spec(part: str) -> dict[str, Any]:
    """The sweep spec of one part of the study."""
    task, p, model, n_cells = {**TRAIN_PARTS, **HELDOUT_PARTS}[part]
    cells = _cells(part, n_cells)
    batch: dict[str, Any] = {}
    if is_minibatch(part):
        cells = [{**c, "batch_size": power_batch_size(p, c["train_fraction"])} for c in cells]
        batch = {"drop_last": False}
    return {
        "base": {"preset": "quick"},
        "overrides": {
            "task": task,
            "p": p,
            **model,
            "max_steps": BUDGET,
            "log_every": 10,
            "ckpt_log_count": 0,
            "ckpt_every": 50,
            "early_loss_steps": EARLY_LOSS_STEPS,
            **batch,
        },
        "runs": cells,
        "seeds": list(SEEDS),
        "backend": "ensemble",
    }


def train_parts(out: str | Path, parts: list[str], progress: bool = False) -> None:
    """Train (or resume) the sweeps ``parts`` under ``out/sweep/<part>``."""
    for part in parts:
        run_sweep(part_spec(part), Path(out) / "sweep" / part, progress=progress)


# ---------------------------------------------------------------------------- labels, features
def label(run_dir: Path) -> dict[str, Any]:
    """A run's outcome: ``grokked``, Notsawo et al.'s target (the validation accuracy at the
    end of training; theirs 10k steps, ours the :data:`BUDGET`) at least
    :data:`GROK_THRESHOLD`; ``reached`` (test accuracy reached it at some logged step, the
    label of the study's first version) and ``grok_step`` (the first such step), the final
    train / test accuracy and its sweep status."""
    rows = layout.read_metrics(run_dir)
    st = read_status(run_dir)["status"]
    hit = [r["step"] for r in rows if r["test_acc"] >= GROK_THRESHOLD]
    last = rows[-1] if rows else {}
    return {
        "status": st,
        "grokked": st == "done" and last.get("test_acc", 0.0) >= GROK_THRESHOLD,
        "reached": bool(hit) and st == "done",
        "grok_step": hit[0] if hit and st == "done" else math.nan,
        "train_99_step": next((r["step"] for r in rows if r["train_acc"] >= 0.99), math.nan),
        "final_train_acc": last.get("train_acc", math.nan),
        "final_test_acc": last.get("test_acc", math.nan),
    }


def part_features(out: Path, part: str, steps_n: Sequence[int] = STEPS_N) -> pd.DataFrame:
    """One row per (run, N) of a finished sweep part: identity, label and early features.
    Runs that diverged before N, or never finished, have no row at that N."""
    rows = []
    for r in expand(part_spec(part)):
        d = out / "sweep" / part / "runs" / r.name
        lab = label(d)
        if lab["status"] not in ("done", "diverged"):
            continue
        cell = ",".join(f"{k}={v}" for k, v in r.varied.items() if k not in ("seed", "batch_size"))
        for n in steps_n:
            try:
                feats = early_features(d, n)
            except (RunDirError, ConfigError):  # diverged before n: no curve to read
                continue
            # a minibatch part's cells are its full-batch twin's: one group for both
            group = f"{part.removeprefix(MINIBATCH_PREFIX)}/{cell}"
            rows.append(
                {"part": part, "name": r.name, "cell": group, **r.varied, "N": n,
                 **lab, **feats}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    atomic_write_text(path, table.to_csv(index=False))


def features_table(out: Path, parts: Sequence[str]) -> pd.DataFrame:
    """``features.csv`` with every finished part's rows (parts already in it are kept)."""
    path = out / "features.csv"
    old = pd.read_csv(path) if path.exists() else pd.DataFrame({"part": []})
    have = set(old["part"])
    new = [part_features(out, p) for p in parts if p not in have and _part_done(out, p)]
    table = pd.concat([old, *new], ignore_index=True) if new else old
    if new:
        _write_csv(path, table)
    return table


def _part_done(out: Path, part: str) -> bool:
    return (out / "sweep" / part / "results.csv").exists()


# ---------------------------------------------------------------------------- predictors
#: nonnegative, heavy-tailed features that enter the models as log10(x + 1e-12)
LOG_FEATURES = [
    "spec_low_amp", "spec_high_amp", "hjorth_activity", "iso_spec_low_amp",
    "iso_spec_high_amp", "iso_hjorth_activity", "mean_sq_weight", "train_loss_rel",
    "test_loss_rel", "restricted_loss_rel", "excluded_loss_rel",
]  # fmt: skip
FOLDS = 5
#: the threshold keeps this share of the grokking runs (out-of-fold, training sweeps)
TARGET_RECALL = 0.95


def fit(
    rows: pd.DataFrame, family: str, n: int, features: Sequence[str] | None = None
) -> Predictor:
    """A logistic regression (scikit-learn, balanced class weights) on ``family``'s
    features of ``rows``, as a :class:`Predictor` (threshold 0.5 until chosen)."""
    feats = list(features if features is not None else FAMILIES[family])
    logs = [f for f in feats if f in LOG_FEATURES]
    raw = rows[feats].to_numpy(np.float64)
    shell = Predictor(
        n=n, budget=BUDGET, grok_threshold=GROK_THRESHOLD, family=family, features=feats,
        log_features=logs, impute=[0.0] * len(feats), mean=[0.0] * len(feats),
        scale=[1.0] * len(feats), coef=[0.0] * len(feats), intercept=0.0, threshold=0.5,
    )  # fmt: skip
    logged = shell.transform(np.where(np.isnan(raw), np.nan, raw))
    impute = np.nanmedian(np.where(np.isfinite(logged), logged, np.nan), axis=0)
    impute = np.where(np.isnan(impute), 0.0, impute)
    x = np.where(np.isnan(logged), impute, logged)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
    clf.fit((x - scaler.mean_) / scale, rows["grokked"].to_numpy(bool))
    return dataclasses.replace(
        shell,
        impute=impute.tolist(),
        mean=scaler.mean_.tolist(),
        scale=scale.tolist(),
        coef=clf.coef_[0].tolist(),
        intercept=float(clf.intercept_[0]),
    )


def out_of_fold(
    rows: pd.DataFrame, family: str, n: int, features: Sequence[str] | None = None
) -> np.ndarray:
    """Each row's probability from a model fitted without its hyper-parameter cell
    (``GroupKFold`` over cells: no seed of a test cell is in training)."""
    prob = np.full(len(rows), np.nan)
    y = rows["grokked"].to_numpy(bool)
    for train_idx, test_idx in GroupKFold(FOLDS).split(rows, y, rows["cell"]):
        fold = rows.iloc[train_idx]
        if fold["grokked"].nunique() < 2:
            prob[test_idx] = float(fold["grokked"].mean())
            continue
        model = fit(fold, family, n, features)
        prob[test_idx] = model.probability(rows.iloc[test_idx][model.features].to_numpy(np.float64))
    return prob


def recall_threshold(y: np.ndarray, prob: np.ndarray, recall: float = TARGET_RECALL) -> float:
    """The largest threshold that keeps (``prob >= threshold``) at least ``recall`` of the
    positive rows."""
    pos = np.sort(prob[y.astype(bool)])
    if not len(pos):
        return 0.5
    k = int(math.floor((1 - recall) * len(pos)))  # positives allowed below the threshold
    return float(pos[k])


def _auc(y: np.ndarray, prob: np.ndarray) -> float:
    return float(roc_auc_score(y, prob)) if len(set(y.tolist())) == 2 else math.nan


def _late_auc(rows: pd.DataFrame, prob: np.ndarray, n: int) -> float:
    """AUC over the runs that did not grok and those that grokked at step 10 N or later
    (for which N is at most 10% of the grokking step: the issue's bar)."""
    y = rows["grokked"].to_numpy(bool)
    keep = ~y | (rows["grok_step"].to_numpy(np.float64) >= 10 * n)
    return _auc(y[keep], prob[keep])


def pruning(y: np.ndarray, prob: np.ndarray, threshold: float, n: int) -> dict[str, float]:
    """What stopping the runs with ``prob < threshold`` at step ``n`` does to a sweep of
    ``BUDGET``-step runs: the share of its training steps saved and of its grokking runs
    lost."""
    pruned = prob < threshold
    pos = y.astype(bool)
    return {
        "threshold": threshold,
        "runs": len(y),
        "pruned": int(pruned.sum()),
        "compute_saved": float(pruned.sum() * (BUDGET - n) / (len(y) * BUDGET)),
        "grokking_runs": int(pos.sum()),
        "grokking_lost": int((pruned & pos).sum()),
        "grokking_lost_frac": float((pruned & pos).sum() / pos.sum()) if pos.any() else math.nan,
    }


@dataclass
class Evaluation:
    """Tables of :func:`evaluate` and the predictors to ship (by N)."""

    auc: pd.DataFrame
    confusion: pd.DataFrame
    pruning: pd.DataFrame
    models: dict[int, Predictor]


def evaluate(
    table: pd.DataFrame, train: Sequence[str], heldout: Sequence[str], regime: str = "pooled"
) -> Evaluation:
    """For one ``regime`` (the rows of its tables carry its name), every N and feature
    family: grouped-CV AUC on the ``train`` parts, the model fitted on all of them scored on
    each ``heldout`` part and on them pooled, confusion matrices at the threshold that keeps
    95% of the grokking runs out of fold, and the pruning trade-off on the held-out parts. A
    feature that no training run has (runs whose features predate it) is left out of its
    family (``n_features`` counts the rest; a family left empty is not fitted). The model
    shipped at each N is the family with the best grouped-CV AUC (chosen on the training
    sweeps only)."""
    auc_rows, conf_rows, prune_rows = [], [], []
    models: dict[int, Predictor] = {}
    for n in sorted({int(v) for v in table["N"]}):
        tr = table[table["part"].isin(train) & (table["N"] == n)].reset_index(drop=True)
        ho = table[table["part"].isin(heldout) & (table["N"] == n)].reset_index(drop=True)
        if tr["grokked"].nunique() < 2:
            continue
        y_tr = tr["grokked"].to_numpy(bool)
        best: tuple[float, Predictor] | None = None
        for family in FAMILIES:
            # a feature no training run has (runs that predate it) is left out of its family
            feats = [f for f in FAMILIES[family] if not tr[f].isna().all()]
            if not feats:
                continue
            oof = out_of_fold(tr, family, n, feats)
            model = fit(tr, family, n, feats)
            model = dataclasses.replace(model, threshold=recall_threshold(y_tr, oof))
            row: dict[str, Any] = {
                "regime": regime, "N": n, "family": family, "auc_cv": _auc(y_tr, oof),
                "n_features": len(feats), "runs_train": len(tr),
                "grokked_train": int(y_tr.sum()),
                "median_grok_step_train": float(tr.loc[y_tr, "grok_step"].median()),
                "auc_cv_late": _late_auc(tr, oof, n),
                "grokked_late_train": int((tr["grok_step"] >= 10 * n).sum()),
            }  # fmt: skip
            sets = [("cv", y_tr, oof)]
            if len(ho):
                y_ho = ho["grokked"].to_numpy(bool)
                p_ho = model.probability(ho[model.features].to_numpy(np.float64))
                row.update(auc_heldout=_auc(y_ho, p_ho), runs_heldout=len(ho),
                           grokked_heldout=int(y_ho.sum()),
                           auc_heldout_late=_late_auc(ho, p_ho, n),
                           grokked_late_heldout=int((ho["grok_step"] >= 10 * n).sum()))  # fmt: skip
                for part in heldout:
                    m = (ho["part"] == part).to_numpy()
                    row[f"auc_{part}"] = _auc(y_ho[m], p_ho[m])
                sets.append(("heldout", y_ho, p_ho))
                pr = pruning(y_ho, p_ho, model.threshold, n)
                model = dataclasses.replace(
                    model, heldout={"auc": row["auc_heldout"], **pr, "parts": list(heldout)}
                )
                for t in np.unique(np.concatenate([[0.0], p_ho, [1.01]])):
                    prune_rows.append(
                        {"regime": regime, "N": n, "family": family, **pruning(y_ho, p_ho, t, n)}
                    )
            auc_rows.append(row)
            for name, y, p in sets:
                (tn, fp), (fn, tp) = confusion_matrix(y, p >= model.threshold, labels=[0, 1])
                conf_rows.append(
                    {"regime": regime, "N": n, "family": family, "set": name,
                     "threshold": model.threshold,
                     "tn": tn, "fp": fp, "fn": fn, "tp": tp}
                )  # fmt: skip
            if best is None or row["auc_cv"] > best[0]:
                best = (row["auc_cv"], model)
        assert best is not None
        batches = sorted({"minibatch" if is_minibatch(p) else "full-batch" for p in train})
        models[n] = dataclasses.replace(
            best[1],
            trained_on=(
                f"studies/prediction: {len(tr)} runs of {', '.join(train)} (1-layer "
                f"transformer d_model 32, {' and '.join(batches)} AdamW, {BUDGET}-step budget)"
            ),
            domain=_domain(train),
        )
    return Evaluation(pd.DataFrame(auc_rows), pd.DataFrame(conf_rows), pd.DataFrame(prune_rows),
                      models)  # fmt: skip


def _domain(train: Sequence[str]) -> dict[str, list[Any]]:
    """The setups of the study's parts ``train`` (:func:`domain_of`); empty for parts that
    are not the study's (a table built by hand)."""
    if not all(p in TRAIN_PARTS or p in HELDOUT_PARTS for p in train):
        return {}
    return domain_of([r.config for p in train for r in expand(part_spec(p))])


def spectra(out: Path, table: pd.DataFrame, n: int) -> pd.DataFrame:
    """Mean amplitude spectrum of the first ``n`` updates' loss (in units of log C) of the
    grokking and the other runs of ``table`` whose run directories are under ``out`` (the
    others are left out), per batch regime: of the raw curve (the paper's signal, ``raw``)
    and of the curve minus its monotone fit (our alternative, ``isotonic``)."""
    runs = table[table["N"] == n].drop_duplicates("name")
    d = out / "sweep"
    runs = runs[
        [(d / p / "runs" / r).is_dir() for p, r in zip(runs["part"], runs["name"], strict=True)]
    ]
    acc: dict[tuple[str, bool, str], list[np.ndarray]] = {}
    freqs = np.fft.rfftfreq(n)
    for _, r in runs.iterrows():
        d = out / "sweep" / r["part"] / "runs" / r["name"]
        loss = early_loss(d, n) / chance_loss(Run(d))
        regime = "minibatch" if is_minibatch(r["part"]) else "full_batch"
        for kind, x in (("raw", loss), ("isotonic", oscillation(loss))):
            acc.setdefault((regime, bool(r["grokked"]), kind), []).append(amplitude_spectrum(x)[1])
    cols = {"freq": freqs}
    for (regime, grokked, kind), amps in sorted(acc.items()):
        cols[f"{regime}_{'grokked' if grokked else 'not_grokked'}_{kind}"] = np.mean(amps, axis=0)
    return pd.DataFrame(cols)


# ---------------------------------------------------------------------------- the study
@dataclass(frozen=True)
class Params:
    """The prediction study's parameters (module doc)."""

    parts: tuple[str, ...] = param(
        (),
        f"only these sweeps, trained in this order (none given: all, in the order "
        f"{', '.join(ORDER)})",
    )
    ship: bool = param(False, "also write the package's predictor file (prediction_model.json)")
    features: Path | None = param(
        None,
        "evaluate this features.csv (e.g. the committed studies/prediction/features.csv) "
        "instead of training the sweeps: the tables, figures and report from existing runs' "
        "features, in seconds",
    )

    def __post_init__(self) -> None:
        if self.features is not None and not self.features.is_file():
            raise ConfigError(f"features: {self.features} is not a file; give a features.csv")
        known = [*TRAIN_PARTS, *HELDOUT_PARTS]
        unknown = [p for p in self.parts if p not in known]
        if unknown or len(set(self.parts)) != len(self.parts):
            raise ConfigError(f"parts: give distinct sweeps from {known}, got {list(self.parts)}")


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the study's sweeps (``params.parts``; default all, training parts first), read
    the early features of every finished part, evaluate, and write the tables, figures and
    report into ``out_dir``; with ``params.ship``, also the predictor file of the package.
    ``data`` is the :class:`Evaluation`, or None while no training sweep has finished.
    Resumable; a part not trained yet is simply left out of the tables (rerun to complete
    them)."""
    out = Path(out_dir)
    if params.features is not None:
        table = pd.read_csv(params.features)
        if params.parts:
            table = table[table["part"].isin(params.parts)]
        out.mkdir(parents=True, exist_ok=True)
        _write_csv(out / "features.csv", table)
        return collect(out, data=report(out, params.ship, static, runs_from=params.features.parent))
    todo = list(params.parts) or ORDER
    ev = None
    for part in todo:  # the tables after each part: a study cut short has them so far
        train_parts(out, [part], progress)
        features_table(out, [part])
        ev = report(out, params.ship, static) or ev
    if ev is None:
        atomic_write_text(
            out / "report.txt", "no training sweep finished yet; run again to continue\n"
        )
    return collect(out, data=ev)


def report(
    out: Path, ship: bool = False, static: bool | None = None, runs_from: Path | None = None
) -> Evaluation | None:
    """Evaluate the parts in ``out/features.csv`` and write the tables, figures and
    ``report.txt`` (and, with ``ship``, the package's predictor file); None while no
    training part is done. The early-loss spectra are computed from the run directories
    under ``runs_from`` (default ``out``) or, where those are absent (a committed study
    ships its tables, not its runs), read from ``runs_from/spectra.csv``."""
    table = features_table(out, [])
    if not len(table):
        return None
    train_all = [p for p in TRAIN_PARTS if p in set(table["part"])]
    if not train_all:
        return None
    heldout_all = [p for p in HELDOUT_PARTS if p in set(table["part"])]
    evs: dict[str, Evaluation] = {}
    for regime in REGIMES:
        train = regime_parts(train_all, regime)
        if train:
            evs[regime] = evaluate(table, train, regime_parts(heldout_all, regime), regime)
    tables = {
        k: pd.concat([getattr(e, k) for e in evs.values()], ignore_index=True)
        for k in ("auc", "confusion", "pruning")
    }
    ev = Evaluation(tables["auc"], tables["confusion"], tables["pruning"], evs["pooled"].models)
    _write_csv(out / "auc.csv", ev.auc)
    _write_csv(out / "confusion.csv", ev.confusion)
    _write_csv(out / "pruning.csv", ev.pruning)
    train, heldout = train_all, heldout_all
    n_max = max(STEPS_N)
    root = runs_from or out
    spec = spectra(root, table[table["part"].isin(train)], n_max)
    if len(spec.columns) == 1 and (root / "spectra.csv").is_file():
        spec = pd.read_csv(root / "spectra.csv")  # no run directory here: the committed one
        n_max = round(1 / spec["freq"].iloc[1])
    elif len(spec.columns) == 1:
        raise ConfigError(
            f"features: neither run directories ({root / 'sweep'}) nor a spectra.csv beside "
            f"{root}; the early-loss spectra need one of them"
        )
    _write_csv(out / "spectra.csv", spec)
    figs = {"early_loss_spectra": spectra_figure(spec, n_max)}
    for regime in ev.auc["regime"].unique():
        figs[f"auc_vs_n_{regime}"] = auc_figure(ev.auc[ev.auc["regime"] == regime], regime)
    write_figure_set(
        figs,
        out / "figures",
        title="Predicting grokking early",
        static=static,
    )
    atomic_write_text(out / "report.txt", report_text(ev, train, heldout))
    if ship:
        save_models(ev.models)
    return ev


def report_text(ev: Evaluation, train: Sequence[str], heldout: Sequence[str]) -> str:
    """``report.txt``: the sweeps evaluated and the ROC AUC of every family at every N, per
    regime (full batch, minibatch, pooled)."""
    cols = ["N", "family", "auc_cv", *(["auc_heldout"] if "auc_heldout" in ev.auc else [])]
    lines = [
        "Predicting grokking early (Notsawo et al. 2023, arXiv 2306.13253)",
        f"training sweeps: {', '.join(train)}; held-out sweeps: {', '.join(heldout) or 'none'}",
        f"grokked = test accuracy >= {GROK_THRESHOLD:g} at the end of the {BUDGET}-step "
        "budget; ROC AUC by feature family and N (auc_cv: grouped cross-validation on the "
        "training sweeps of the regime; auc_heldout: the model fitted on them, on its "
        "held-out sweeps)",
    ]
    for regime, rows in ev.auc.groupby("regime", sort=False):
        wide = rows.pivot_table(index="N", columns="family", values=cols[2:], sort=False)
        lines += ["", f"[{regime}]", wide.round(2).to_string() if len(wide) else "no N"]
    return "\n".join(lines) + "\n"


STUDY = Study(
    name="prediction",
    title="predicting grokking from the first N updates: early features, AUC, pruning",
    paper="Notsawo et al. 2023, arXiv 2306.13253",
    params=Params,
    run=run,
    committed="studies/prediction",
    # training even the smallest sweep takes minutes: the smoke evaluates the committed
    # features of two sweeps (the training path has its own tests)
    smoke={
        "features": str(Path(__file__).resolve().parents[2] / "studies/prediction/features.csv"),
        # a full-batch pair (what the card reads) and a minibatch pair
        "parts": ["add_p19", "heldout_add_p29", "mb_add_p19", "mb_heldout_add_p29"],
    },
    cards=notsawo2023.CARDS,
    runtime="about 75 min (8 sweeps, 340 runs; 2 shared cores)",
)
