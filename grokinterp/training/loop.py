"""``train``: one run, full- or mini-batch AdamW, dense checkpoints, exact resume.

``train(cfg, run_dir)`` writes the run-directory format of :mod:`grokinterp.runs.layout`.
Training runs :func:`grokinterp.models.answer_logits` (a plain-torch forward that only
computes the answer position) with the loss in float64, as in Nanda et al. 2023.

Resume: at every checkpoint the optimizer moments, the step counters, the minibatch RNG
and the stopping-rule state are written to ``state/latest.safetensors`` (after the
checkpoint itself). ``train(..., resume=True)`` restores them, drops metrics lines from
that step on, and continues; the numbers it then produces are identical to those of an
uninterrupted run (tests/training/test_loop.py kills a run and checks this).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from grokinterp.config import TrainConfig
from grokinterp.models import (
    REGRESSION_LOSSES,
    Dropout,
    Params,
    answer_logits,
    cross_entropy32,
    loss_function,
    softmax_collapse,
)
from grokinterp.runs.lock import dir_lock
from grokinterp.runs.sinks import Sink, check_kinds, open_sinks
from grokinterp.tasks import Dataset
from grokinterp.training.adamw import AdamW
from grokinterp.training.allocator import keep_freed_memory
from grokinterp.training.batches import Minibatches
from grokinterp.training.constraints import apply_constraints_, make_constraints, single
from grokinterp.training.core import (
    EarlyLoss,
    RunWriter,
    begin,
    check_finite,
    initial_params,
    initial_weights,
    metrics_row,
    output_size,
)
from grokinterp.training.effects import EffectProbe
from grokinterp.training.interventions import coefficients, make_filter, orthogonalize_
from grokinterp.training.preflight import preflight
from grokinterp.training.schedule import Schedule, lr_at
from grokinterp.training.state import LoopState, SavedState


@torch.no_grad()
def evaluate(
    params: Params,
    cfg: TrainConfig,
    inputs: Tensor,
    labels: Tensor,
    chunk: int = 16384,
    base: Params | None = None,
) -> tuple[float, float, float, float]:
    """Over ``inputs``, in chunks: the mean loss (the run's loss, float64), the accuracy, the
    fraction in softmax collapse and the mean float32 cross-entropy. ``base``: the initial
    weights of a centered predictor (:func:`grokinterp.models.answer_logits`)."""
    loss_fn = loss_function(cfg.optim.loss)
    regression = cfg.optim.loss in REGRESSION_LOSSES  # no classes: accuracy etc. are NaN
    sums = [0.0, 0.0, 0.0, 0.0]
    for i in range(0, len(inputs), chunk):
        logits = answer_logits(params, inputs[i : i + chunk], cfg.model, base)
        y = labels[i : i + chunk]
        sums[0] += float(loss_fn(logits, y, reduction="sum"))
        if regression:
            continue
        sums[1] += int((logits.argmax(-1) == y).sum())
        sums[2] += int(softmax_collapse(logits).sum())
        sums[3] += float(cross_entropy32(logits, y, reduction="sum"))
    loss, acc, collapse, loss32 = (s / len(inputs) for s in sums)
    if regression:
        return loss, math.nan, math.nan, math.nan
    return loss, acc, collapse, loss32


def restore(saved: SavedState, params: Params, opt: AdamW) -> None:
    """Load a saved checkpoint's weights and AdamW moments into ``params`` and ``opt``."""
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(saved.params[name])
    opt.load(saved.moments, saved.adam_step)


class _SingleRun:
    """One run's weights, optimizer, data and loop state, and the steps of its loop."""

    def __init__(
        self, cfg: TrainConfig, ds: Dataset, saved: SavedState | None, device: str, run_dir: Path
    ):
        self.cfg = cfg
        d_out = output_size(cfg, ds)
        self.params = {
            k: v.to(device).requires_grad_(True)
            for k, v in initial_params(cfg, ds.d_vocab, d_out).items()
        }
        self.opt = AdamW(cfg, self.params)
        self.x_train, self.y_train = ds.train_inputs.to(device), ds.train_labels.to(device)
        self.x_test, self.y_test = ds.test_inputs.to(device), ds.test_labels.to(device)
        self.batches = Minibatches(cfg, len(self.x_train), saved)
        self.loop = LoopState()
        self.loss_fn = loss_function(cfg.optim.loss)
        self.grad_filter = make_filter(cfg.optim)
        self.alpha, self.lamb = (c.to(device) for c in coefficients([cfg.optim]))
        # projections after every step (fixed norm, ...); a fresh run starts projected
        self.constraints = make_constraints([cfg], [run_dir])
        if saved is not None:
            restore(saved, self.params, self.opt)
            self.loop = saved.loop
            if self.grad_filter is not None:
                self.grad_filter.load(*saved.grad_filter)
        else:
            apply_constraints_(self.constraints, single(self.params))
        # Kumar et al.'s centered predictor subtracts the network at these weights
        self.base = initial_weights(cfg, run_dir, self.params, saved)
        # (loss, logits) of this step's full-batch forward; no logits to log with dropout
        self._full: tuple[Tensor, Tensor | None] | None = None
        # the counterfactual task: PEHE and ATE error on every metrics line
        self.effects = EffectProbe(ds, device) if ds.potential is not None else None

    def forward_full_batch(self, grad: bool) -> None:
        """Full-batch training: the step's loss, whose forward also gives the logged train
        metrics (no gradient at the last step)."""
        self._full = None
        if self.batches.full:
            drop = self._dropout()
            with torch.set_grad_enabled(grad):
                logits = answer_logits(self.params, self.x_train, self.cfg.model, self.base, drop)
                # a forward with dropout is not the network the metrics describe
                self._full = (self.loss_fn(logits, self.y_train), logits if drop is None else None)

    def _dropout(self) -> Dropout | None:
        """This update's dropout (ModelConfig.dropout), None without."""
        rate = self.cfg.model.dropout
        return Dropout(rate, self.cfg.seed, self.loop.step, self.x_train.device) if rate else None

    def log(self, writer: RunWriter) -> tuple[float, float]:
        """Write this step's metrics line, apply the stopping rule; return the train and
        test accuracy."""
        full = self._full if self._full is not None and self._full[1] is not None else None
        if full is not None and self.cfg.optim.loss in REGRESSION_LOSSES:
            train_m, numerics = (float(full[0].detach()), math.nan), (math.nan, math.nan)
        elif full is not None and full[1] is not None:
            loss, logits = full[0], full[1]
            with torch.no_grad():
                n = len(self.y_train)  # counts over n, exact (a float32 mean can read 0.99999994)
                acc = int((logits.argmax(-1) == self.y_train).sum()) / n
                collapse = int(softmax_collapse(logits).sum()) / n
                loss32 = float(cross_entropy32(logits, self.y_train))
            train_m, numerics = (float(loss.detach()), acc), (collapse, loss32)
        else:
            train_loss, acc, collapse, loss32 = evaluate(
                self.params, self.cfg, self.x_train, self.y_train, base=self.base
            )
            train_m, numerics = (train_loss, acc), (collapse, loss32)
        test_loss, test_acc, _, _ = evaluate(
            self.params, self.cfg, self.x_test, self.y_test, base=self.base
        )
        with torch.no_grad():
            norms = {n: float(p.norm()) for n, p in self.params.items()}
        step, lr = self.loop.step, lr_at(self.cfg, self.loop.step)
        row = metrics_row(
            step, train_m, (test_loss, test_acc), norms, lr, writer.elapsed(), numerics
        )
        if self.effects is not None:
            row.update(self.effects(self.params, self.cfg.model, self.base))
        writer.log(row)
        check_finite(row, writer.run_dir)
        self.loop.observe(self.cfg, train_m[0], test_acc)
        return train_m[1], test_acc

    def checkpoint(self, writer: RunWriter) -> None:
        moments, adam_step = self.opt.moments()
        gen_state, perm = self.batches.state()
        grad_filter = (self.grad_filter.state, self.grad_filter.count) if self.grad_filter else None
        writer.checkpoint(self.params, moments, adam_step, self.loop, gen_state, perm, grad_filter)

    def _transform_gradients(self) -> None:
        """Grokfast's filter, then ⊥Grad, when the config asks for them."""
        grads = {n: p.grad for n, p in self.params.items() if p.grad is not None}
        if self.grad_filter is not None:
            self.grad_filter(grads, self.alpha, self.lamb)
        if self.cfg.optim.orthogonal_grad:
            for name, g in grads.items():
                orthogonalize_(g, self.params[name])

    def update(self) -> Tensor:
        """One AdamW update on the full batch or the next minibatch; returns the loss it
        descended (on the device: no host sync)."""
        if self._full is not None:
            loss = self._full[0]
        else:
            idx = self.batches.next(self.loop).to(self.x_train.device)
            logits = answer_logits(
                self.params, self.x_train[idx], self.cfg.model, self.base, self._dropout()
            )
            loss = self.loss_fn(logits, self.y_train[idx])
        for p in self.params.values():
            p.grad = None
        loss.backward()
        self._transform_gradients()
        self.opt.step(self.loop.step)
        apply_constraints_(self.constraints, single(self.params))
        descended = loss.detach()
        self.loop.step += 1
        return descended


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    force: bool = False,
    device: str = "cpu",
    progress: bool = True,
    log_to: Sequence[str] = (),
    wandb_project: str = "grokinterp",
) -> Path:
    """Train ``cfg`` into ``run_dir`` and return the run directory.

    Args:
        cfg: the run's config.
        run_dir: where the run directory is written.
        resume: continue the run already in ``run_dir`` (its config must match ``cfg`` except
            for the stopping rule, which may be extended). Starts afresh if there is none.
        force: delete whatever is in ``run_dir`` first.
        device: torch device to train on.
        progress: show a progress bar on stderr.
        log_to: also log every metrics line to ``tensorboard`` and / or ``wandb``
            (:mod:`grokinterp.runs.sinks`; the ``logging`` extra).
        wandb_project: the W&B project of ``log_to=["wandb"]``.
    """
    run_dir = Path(run_dir)
    check_kinds(log_to)
    ds = preflight(cfg, device)  # before anything on disk is touched
    keep_freed_memory()
    with dir_lock(run_dir, "run"):
        saved = begin(cfg, run_dir, resume=resume, force=force)
        run = _SingleRun(cfg, ds, saved, device, run_dir)
        sinks = open_sinks(log_to, run_dir, cfg.to_dict(), wandb_project)
        _loop(run, run_dir, cfg, progress, sinks)
    return run_dir


def _loop(
    run: _SingleRun, run_dir: Path, cfg: TrainConfig, progress: bool, sinks: list[Sink]
) -> None:
    """Train ``run`` to its last step, logging and checkpointing on schedule."""
    sched = Schedule.of(cfg)
    early = EarlyLoss(cfg, [run_dir], [run.loop.step], str(run.x_train.device))
    bar = tqdm(
        total=sched.max_steps,
        initial=run.loop.step,
        disable=not progress,
        unit="step",
        dynamic_ncols=True,
    )
    with RunWriter(run_dir, run.loop, sinks) as writer, bar:
        while True:
            last = run.loop.finished(sched.max_steps)
            run.forward_full_batch(grad=not last)
            if last or sched.logs(run.loop.step):
                train_acc, test_acc = run.log(writer)
                bar.set_postfix(
                    train_acc=f"{train_acc:.3f}", test_acc=f"{test_acc:.3f}", refresh=False
                )
                last = last or run.loop.finished(sched.max_steps)
            checkpoint = last or run.loop.step in sched.checkpoints
            if checkpoint:
                run.checkpoint(writer)
            if early.due(run.loop.step, checkpoint):
                early.write(0, run.loop.step)
            if last:
                return
            step = run.loop.step
            early.record(step, run.update())
            bar.update(1)
