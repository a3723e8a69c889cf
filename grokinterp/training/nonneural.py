"""The trainer of the non-neural models (Miller, O'Neill and Bui 2024, arXiv 2310.17247).

:func:`train_nonneural` fits ``arch="gp"`` (the variational GP classifier) or
``arch="linear"`` (the Bayesian linear model's MAP objective) of
:mod:`grokinterp.models.nonneural` by full-batch gradient steps on a task of generated
examples, and writes an ordinary run directory: ``config.json``, ``metrics.jsonl`` (one
line per logged step, the layout's fields plus the complexity terms below) and
``checkpoints/step_<N>.safetensors`` at the config's checkpoint schedule, so that
:class:`grokinterp.runs.Run` opens it (config, metrics, landmarks, ``Run.model``). It writes
no state file: such a run cannot be resumed; it takes seconds to minutes.

Every metrics line has ``step``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``,
``param_norm``, ``param_norms``, ``lr``, ``wall_time`` (as :mod:`grokinterp.runs.layout`
defines them), and:

* ``data_fit``, ``complexity``, ``objective``: the two terms of the training objective per
  training example and their sum, before the update of that step (GP: the expected
  negative log likelihood and KL(q(u) || p(u)) / n of the negative ELBO; linear: the squared
  error over sigma^2 and |w|^2 over sigma_p^2, both over n);
* GP: ``lengthscale_relevant`` (mean ARD length-scale of the features the label depends
  on), ``lengthscale_concealed`` (mean over the others; null when there are none),
  ``lengthscale_min``, ``lengthscale_max``, ``outputscale``. Losses are the mean negative
  log predictive probability of the labels (Bernoulli), accuracy that of the prediction
  p(y = 1) >= 1/2 (as in Miller et al.'s code);
* linear: ``weight_relevant`` and ``weight_other``, the L2 norms of the weights on the
  needed feature(s) and on the others. Losses are mean squared errors; accuracy is the
  fraction of examples whose prediction has the sign of the target (their measure).

Differences from Miller et al.'s code: the GP's linear algebra is exact (Cholesky) at every
size, where GPyTorch by default switches to iterative solvers above 800 points (their 1000
training points ran on those: about ten times slower here, with noisier objectives);
accuracies and losses are computed in eval mode after the step's metrics are logged, rather
than from the training-mode forward.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, arch_names, get_arch
from grokinterp.models.nonneural import (
    MAX_CHOLESKY,
    build_gp,
    gp_lengthscales,
    linear_initial_params,
    linear_objective_terms,
    require_gpytorch,
)
from grokinterp.runs import layout
from grokinterp.runs.io import save_tensors
from grokinterp.runs.lock import dir_lock
from grokinterp.tasks import Samples, make_samples
from grokinterp.training.core import RunWriter, check_finite
from grokinterp.training.rfm import train_rfm
from grokinterp.training.schedule import Schedule, lr_at
from grokinterp.training.state import LoopState


def _optimizer(cfg: TrainConfig, params: list[Tensor]) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.optimizer == "sgd":
        return torch.optim.SGD(params, lr=o.lr)
    # weight_decay is 0 for these archs (config), so AdamW is Adam
    return torch.optim.AdamW(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=0)


def _norms(params: Params) -> dict[str, float]:
    return {k: float(v.detach().double().norm()) for k, v in params.items()}


class _Linear:
    """The linear model's state and one full-batch step."""

    def __init__(self, cfg: TrainConfig, data: Samples):
        self.cfg, self.data = cfg, data
        gen = torch.Generator()
        gen.manual_seed(cfg.seed)
        init = linear_initial_params(cfg.model, data.x.shape[1], data.relevant, gen)
        self.w = init["W"].clone().requires_grad_(True)
        self.opt = _optimizer(cfg, [self.w])
        self.terms: tuple[Tensor, Tensor] = (torch.tensor(0.0), torch.tensor(0.0))

    def forward(self) -> Tensor:
        fit, complexity = linear_objective_terms(
            self.w, self.data.x_train, self.data.y_train, self.cfg.model
        )
        self.terms = (fit.detach(), complexity.detach())
        return fit + complexity

    def params(self) -> Params:
        return {"W": self.w.detach().clone()}

    def metrics(self) -> dict[str, Any]:
        d = self.data
        with torch.no_grad():
            pred = d.x @ self.w

        def loss_acc(mask: Tensor) -> tuple[float, float]:
            p, y = pred[mask].double(), d.y[mask].double()
            return float(((p - y) ** 2).mean()), int(((p > 0) == (y > 0)).sum()) / len(y)

        w = self.w.detach().double()
        other = [i for i in range(len(w)) if i not in d.relevant]
        return {
            "train": loss_acc(d.train_mask),
            "test": loss_acc(~d.train_mask),
            "weight_relevant": float(w[d.relevant].norm()),
            "weight_other": float(w[other].norm()),
        }


class _GP:
    """The variational GP classifier's state and one full-batch step of the negative ELBO."""

    def __init__(self, cfg: TrainConfig, data: Samples):
        gpytorch = require_gpytorch()
        self.cfg, self.data = cfg, data
        torch.manual_seed(cfg.seed)  # GPyTorch draws nothing at init today; in case it does
        self.model, self.likelihood = build_gp(data.x_train)
        self.mll = gpytorch.mlls.VariationalELBO(
            self.likelihood, self.model, num_data=len(data.y_train), combine_terms=False
        )
        self.opt = _optimizer(cfg, list(self.model.parameters()))
        self.terms: tuple[Tensor, Tensor] = (torch.tensor(0.0), torch.tensor(0.0))

    def forward(self) -> Tensor:
        self.model.train()
        out = self.model(self.data.x_train)
        # (expected log likelihood / n, KL / n, log prior, ...); no priors are set here
        terms = self.mll(out, self.data.y_train)
        fit, kl = -terms[0], terms[1]
        self.terms = (fit.detach(), kl.detach())
        return fit + kl  # type: ignore[no-any-return]

    def params(self) -> Params:
        # scalars stored with shape (1,): the checksum of runs.io views tensors as bytes,
        # which a 0-dimensional tensor cannot be; build_nonneural restores the shapes
        return {
            k: v.detach().clone().reshape(v.shape or (1,))
            for k, v in self.model.state_dict().items()
        }

    def metrics(self) -> dict[str, Any]:
        d = self.data
        self.model.eval()
        with torch.no_grad():
            prob = self.likelihood(self.model(d.x)).probs.double().clamp(1e-12, 1 - 1e-12)

        def loss_acc(mask: Tensor) -> tuple[float, float]:
            p, y = prob[mask], d.y[mask].double()
            nll = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
            return float(nll), int(((p >= 0.5).double() == y).sum()) / len(y)

        ls = gp_lengthscales(self.model).double()
        concealed = [i for i in range(len(ls)) if i not in d.relevant]
        kernel = self.model.covar_module
        return {
            "train": loss_acc(d.train_mask),
            "test": loss_acc(~d.train_mask),
            "lengthscale_relevant": float(ls[d.relevant].mean()),
            "lengthscale_concealed": float(ls[concealed].mean()) if concealed else None,
            "lengthscale_min": float(ls.min()),
            "lengthscale_max": float(ls.max()),
            "outputscale": float(kernel.outputscale.detach()),
        }


# the trainer's model of each non-neural arch (the ``neural=False`` entries of
# grokinterp.models.registry): a new non-neural arch adds its trainer class here
_TRAINED: dict[str, Callable[[TrainConfig, Samples], _GP | _Linear]] = {
    "gp": _GP,
    "linear": _Linear,
}


@contextlib.contextmanager
def _exact_linear_algebra(gpytorch_model: bool) -> Iterator[None]:
    """GPyTorch's Cholesky solves at every size (up to :data:`MAX_CHOLESKY` points) while a
    GPyTorch model trains; nothing for the other models."""
    if not gpytorch_model:
        yield
        return
    gpytorch = require_gpytorch()
    with gpytorch.settings.max_cholesky_size(MAX_CHOLESKY):
        yield


def train_nonneural(
    cfg: TrainConfig, out: str | Path, *, force: bool = False, progress: bool = False
) -> Path:
    """Train ``cfg`` (``arch`` ``gp``, ``linear`` or ``rfm``) into the run directory ``out``
    (``rfm``: :func:`grokinterp.training.rfm.train_rfm`).

    A directory holding anything is refused unless ``force`` (which empties it first);
    every check of the config (and GPyTorch's presence, for the GP) comes before the disk is
    touched. Raises ConfigError for a neural arch (``grokinterp train`` trains those).
    """
    arch = cfg.model.arch
    spec = get_arch(arch)
    if spec.neural:
        raise ConfigError(
            f"config field model.arch: {arch!r} is a neural arch; train it with `grokinterp "
            f"train` (the non-neural trainer takes {', '.join(arch_names(neural=False))})"
        )
    if arch == "rfm":  # no gradient steps: its own loop (grokinterp.training.rfm)
        return train_rfm(cfg, out, force=force, progress=progress)
    data = make_samples(cfg.task)
    if spec.needs_gpytorch:
        require_gpytorch()
    run_dir = Path(out)
    schedule = Schedule.of(cfg)
    with dir_lock(run_dir, "run"):
        layout.remove_stale_temporaries(run_dir, run_dir / layout.CHECKPOINTS)
        layout.prepare_run_dir(cfg, run_dir, resume=False, force=force)
        with _exact_linear_algebra(spec.needs_gpytorch):
            model = _TRAINED[arch](cfg, data)
            bar = tqdm(total=schedule.max_steps, disable=not progress, desc=str(run_dir))
            with RunWriter(run_dir, LoopState()) as writer, bar:
                for step in range(schedule.max_steps + 1):
                    loss = model.forward()
                    if schedule.logs(step):
                        row = _row(step, model, lr_at(cfg, step), writer.elapsed())
                        writer.log(row)
                        check_finite(row, run_dir)
                    if step in schedule.checkpoints:
                        save_tensors(
                            layout.checkpoint_path(run_dir, step),
                            model.params(),
                            {"step": str(step)},
                        )
                    if step == schedule.max_steps:
                        break
                    for group in model.opt.param_groups:
                        group["lr"] = lr_at(cfg, step)
                    model.opt.zero_grad()
                    loss.backward()
                    model.opt.step()
                    bar.update(1)
    return run_dir


def _row(step: int, model: _GP | _Linear, lr: float, wall_time: float) -> dict[str, Any]:
    m = model.metrics()
    fit, complexity = (float(t) for t in model.terms)
    norms = _norms(model.params())
    (train_loss, train_acc), (test_loss, test_acc) = m.pop("train"), m.pop("test")
    return {
        "step": step,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "test_loss": test_loss,
        "test_acc": test_acc,
        "param_norm": math.sqrt(sum(v * v for v in norms.values())),
        "param_norms": norms,
        "lr": lr,
        "wall_time": wall_time,
        "data_fit": fit,
        "complexity": complexity,
        "objective": fit + complexity,
        **m,
    }
