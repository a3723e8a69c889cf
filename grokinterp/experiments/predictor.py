"""The shipped grokking predictor: a logistic regression on early features, as JSON.

``prediction_model.json`` (next to this module, in the wheel) holds, for each step N it was
trained at: the feature names, which of them enter as ``log10(x + 1e-12)``, the medians
that stand in for a feature that does not apply (NaN), the standardization (mean, scale),
the coefficients and intercept of a scikit-learn ``LogisticRegression``, the decision
threshold, the budget the probability is for, and what the model scored on held-out
sweeps, and its domain: the setups it was fitted on (task, p, model shape, full batch or
minibatches, budget). :func:`probability` evaluates it with numpy; no pickle, no
scikit-learn needed. :func:`outside_domain` says how a run differs from that domain
(``grokinterp predict`` prints it as a warning).
The file is written by :mod:`grokinterp.experiments.prediction` from the committed study
(``studies/prediction/``). :func:`pruner` makes it the sweep engine's
:class:`~grokinterp.sweeps.pruning.Pruner` (``grokinterp sweep --prune-after N``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grokinterp.analysis.early import early_features
from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs.run import Run
from grokinterp.sweeps.pruning import Pruner, Verdict
from grokinterp.sweeps.spec import SweepRun

MODEL_FILE = Path(__file__).with_name("prediction_model.json")
FORMAT = "grokinterp-grokking-predictor/1"
LOG_EPS = 1e-12


@dataclass(frozen=True)
class Predictor:
    """One logistic regression on early features at step ``n``.

    Args:
        n: the step at which the features are read (the run must have a checkpoint, a
            metrics line and its per-update losses up to it).
        budget: the probability is that of test accuracy reaching ``grok_threshold``
            within this many steps.
        grok_threshold: the test accuracy that counts as grokked.
        family: the feature family (:data:`grokinterp.analysis.early.FAMILIES`).
        features: feature names, in the order of ``coef``.
        log_features: those that enter as ``log10(x + 1e-12)``.
        impute: the value that replaces a NaN feature (the training median).
        mean, scale: the standardization (scikit-learn's StandardScaler).
        coef, intercept: the logistic regression.
        threshold: runs below this probability are predicted not to grok (``--prune-after``
            stops them).
        trained_on: what the model was fitted on, in words.
        heldout: its scores on sweeps it never saw (AUC, grokking runs kept, compute saved).
        domain: the setups of its training runs, field -> the values seen (:data:`DOMAIN`,
            :func:`setup`); a run outside them gets a warning (:func:`outside_domain`).
    """

    n: int
    budget: int
    grok_threshold: float
    family: str
    features: list[str]
    log_features: list[str]
    impute: list[float]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float
    trained_on: str = ""
    heldout: dict[str, Any] = field(default_factory=dict)
    domain: dict[str, list[Any]] = field(default_factory=dict)

    def transform(self, rows: np.ndarray) -> np.ndarray:
        """Raw feature rows (runs x features) to the standardized model inputs."""
        x = np.array(rows, dtype=np.float64, ndmin=2)
        logs = np.array([f in self.log_features for f in self.features])
        x[:, logs] = np.log10(np.maximum(x[:, logs], 0.0) + LOG_EPS)
        x = np.where(np.isnan(x), np.asarray(self.impute), x)
        z: np.ndarray = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """P(grokked within the budget) of each row: ``sigmoid(coef . z + intercept)``."""
        z = self.transform(rows) @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """Each feature's term ``coef_i * z_i`` in the log-odds of one run."""
        z = self.transform(row)[0]
        return {f: float(c * v) for f, c, v in zip(self.features, self.coef, z, strict=True)}


#: the setup fields a predictor's domain records: task family and size, the model's shape,
#: full batch or minibatches, and the step budget of the run
DOMAIN = ("task", "p", "arch", "n_layers", "d_model", "n_heads", "d_head", "d_mlp", "batch",
          "budget")  # fmt: skip


def setup(cfg: TrainConfig) -> dict[str, Any]:
    """A run's values of the :data:`DOMAIN` fields."""
    m = cfg.model
    return {
        "task": cfg.task.name, "p": cfg.task.p, "arch": m.arch, "n_layers": m.n_layers,
        "d_model": m.d_model, "n_heads": m.n_heads, "d_head": m.d_head, "d_mlp": m.d_mlp,
        "batch": "full" if cfg.optim.batch_size is None else "minibatch",
        "budget": cfg.optim.max_steps,
    }  # fmt: skip


def domain_of(configs: Sequence[TrainConfig]) -> dict[str, list[Any]]:
    """The domain of a predictor fitted on runs with these configs: every value each
    :data:`DOMAIN` field takes among them."""
    seen: dict[str, set[Any]] = {k: set() for k in DOMAIN}
    for cfg in configs:
        for k, v in setup(cfg).items():
            seen[k].add(v)
    return {k: sorted(v, key=str) for k, v in seen.items()}


def outside_domain(model: Predictor, cfg: TrainConfig) -> list[str]:
    """How a run's setup differs from the setups ``model`` was fitted on, one phrase per
    field (empty: inside; a model file without a domain: one phrase saying so)."""
    if not model.domain:
        return ["the predictor file records no training domain"]
    out = []
    for k, v in setup(cfg).items():
        seen = model.domain.get(k)
        if seen is not None and v not in seen:
            out.append(f"{k} {v} (trained on {', '.join(map(str, seen))})")
    return out


def save_models(models: dict[int, Predictor], path: str | Path = MODEL_FILE) -> None:
    doc = {"format": FORMAT, "models": {str(n): asdict(m) for n, m in sorted(models.items())}}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def load_models(path: str | Path | None = None) -> dict[int, Predictor]:
    """The predictors in ``path`` (default: the shipped file), by N."""
    path = Path(path) if path is not None else MODEL_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no predictor file") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"{path}: not a predictor file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a grokinterp predictor file (format {FORMAT!r})")
    try:
        return {int(n): Predictor(**m) for n, m in doc["models"].items()}
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{path}: malformed predictor ({type(e).__name__}: {e})") from None


def choose(
    models: dict[int, Predictor], n: int | None, usable: Collection[int] | None = None
) -> Predictor:
    """The predictor at ``n``; by default the one at the largest N in ``usable`` (the steps
    at which a run has its per-update losses, a checkpoint and a metrics line)."""
    if n is not None:
        if n not in models:
            raise ConfigError(
                f"--steps: the predictor was trained at N in {sorted(models)}, not {n}"
            )
        return models[n]
    fits = [m for m in sorted(models) if usable is None or m in usable]
    if not fits:
        raise RunDirError(
            f"the run has no step the predictor was trained at (N in {sorted(models)}) with "
            f"its per-update losses, a checkpoint and a metrics line; train it on, or keep "
            f"checkpoints there (schedule.ckpt_every)"
        )
    return models[fits[-1]]


@dataclass(frozen=True)
class Prediction:
    """A run's probability of grokking within ``model.budget`` steps, why, and how the run
    lies outside the model's domain (``outside``: empty when inside)."""

    probability: float
    model: Predictor
    features: dict[str, float]
    contributions: dict[str, float]
    outside: list[str] = field(default_factory=list)

    @property
    def groks(self) -> bool:
        return self.probability >= self.model.threshold


def predict_run(run_dir: str | Path, model: Predictor, device: str = "cpu") -> Prediction:
    """Read ``model.n``'s early features of a run and apply ``model``; the prediction
    records how the run lies outside the model's domain (:func:`outside_domain`)."""
    feats = early_features(run_dir, model.n, device)
    missing = [f for f in model.features if f not in feats]
    if missing:
        raise ConfigError(
            f"the predictor uses features this version does not compute ({', '.join(missing)}); "
            f"use the shipped predictor or retrain the file with `grokinterp prediction-study`"
        )
    row = np.array([[feats[f] for f in model.features]])
    prob = float(model.probability(row)[0])
    outside = outside_domain(model, Run(run_dir).config)
    return Prediction(
        prob, model, {f: feats[f] for f in model.features}, model.contributions(row), outside
    )


def pruner(after: int, model_file: str | Path | None = None, device: str = "cpu") -> Pruner:
    """``grokinterp sweep --prune-after N``: the predictor at step ``after`` (from
    ``model_file``, default the shipped one) as the sweep engine's pruner. It refuses a sweep
    whose runs keep the per-update losses of fewer than N updates (``early_loss_steps``),
    stops a run whose probability of grokking within the model's budget is below the
    model's threshold, and writes the model's N, threshold, budget, family and held-out
    scores into ``pruning.json``."""
    model = choose(load_models(model_file), after, None)

    def check(runs: Sequence[SweepRun]) -> None:
        for r in runs:
            if r.config.schedule.early_loss_steps < model.n:
                raise ConfigError(
                    f"--prune-after {model.n}: run {r.name} keeps the loss of only "
                    f"{r.config.schedule.early_loss_steps} updates (early_loss_steps); "
                    f"set early_loss_steps >= {model.n} in the spec's overrides"
                )

    def decide(run_dirs: Mapping[str, Path]) -> dict[str, Verdict]:
        verdicts = {}
        for name, run_dir in run_dirs.items():
            pred = predict_run(run_dir, model, device)
            p = pred.probability
            reason = f"predicted P(grok within {model.budget}) = {p:.3f}"
            if pred.outside:
                reason += f" (outside the predictor's domain: {'; '.join(pred.outside)})"
            verdicts[name] = Verdict(p, p < model.threshold, reason)
        return verdicts

    return Pruner(
        after=model.n,
        decide=decide,
        check=check,
        settings={"threshold": model.threshold, "budget": model.budget, "family": model.family},
        record={"heldout": model.heldout},
    )


__all__ = [
    "Prediction",
    "Predictor",
    "choose",
    "domain_of",
    "load_models",
    "outside_domain",
    "predict_run",
    "pruner",
    "save_models",
    "setup",
]
