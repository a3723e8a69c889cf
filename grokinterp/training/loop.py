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

from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from grokinterp.config import TrainConfig
from grokinterp.models import Params, answer_logits, cross_entropy64
from grokinterp.tasks import make_dataset
from grokinterp.training.core import (
    RunWriter,
    batch_stream,
    begin,
    initial_params,
    metrics_row,
    output_size,
)
from grokinterp.training.schedule import Schedule, lr_at
from grokinterp.training.state import LoopState, Moments, SavedState


@torch.no_grad()
def evaluate(
    params: Params, cfg: TrainConfig, inputs: Tensor, labels: Tensor, chunk: int = 16384
) -> tuple[float, float]:
    """Mean float64 cross-entropy and accuracy over ``inputs``, in chunks."""
    loss_sum, correct = 0.0, 0
    for i in range(0, len(inputs), chunk):
        logits = answer_logits(params, inputs[i : i + chunk], cfg.model)
        y = labels[i : i + chunk]
        loss_sum += float(cross_entropy64(logits, y, reduction="sum"))
        correct += int((logits.argmax(-1) == y).sum())
    return loss_sum / len(inputs), correct / len(inputs)


def make_optimizer(cfg: TrainConfig, params: Params) -> torch.optim.AdamW:
    """AdamW over ``params`` with the config's hyper-parameters."""
    o = cfg.optim
    return torch.optim.AdamW(
        list(params.values()),
        lr=o.lr,
        betas=(o.beta1, o.beta2),
        eps=o.eps,
        weight_decay=o.weight_decay,
        foreach=True,
    )


def optimizer_moments(opt: torch.optim.AdamW, params: Params) -> tuple[Moments, int]:
    """AdamW's moments by parameter name and its step counter (empty and 0 before the
    first update)."""
    moments, adam_step = {}, 0
    for name, p in params.items():
        st = opt.state.get(p, {})
        if st:
            moments[name] = (st["exp_avg"], st["exp_avg_sq"])
            adam_step = int(st["step"])
    return moments, adam_step


def restore(saved: SavedState, params: Params, opt: torch.optim.AdamW) -> None:
    """Load a saved checkpoint's weights and AdamW moments into ``params`` and ``opt``."""
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(saved.params[name])
    for name, (exp_avg, exp_avg_sq) in saved.moments.items():
        p = params[name]
        opt.state[p] = {
            "step": torch.tensor(float(saved.adam_step)),
            "exp_avg": exp_avg.to(p.device),
            "exp_avg_sq": exp_avg_sq.to(p.device),
        }


class _Minibatches:
    """The training rows of each update: all of them (full batch), or the next ``batch_size``
    of a seeded permutation, redrawn when an epoch runs out."""

    def __init__(self, cfg: TrainConfig, n_train: int, saved: SavedState | None):
        self.size = cfg.optim.batch_size
        self.n_train = n_train
        self.full = self.size is None or self.size >= n_train
        self.gen, self.perm = batch_stream(cfg, n_train)
        if saved is not None:
            self.gen.set_state(saved.batch_gen_state)
            self.perm = saved.batch_perm

    def next(self, loop: LoopState) -> Tensor:
        assert self.size is not None
        if loop.batch_pos + self.size > self.n_train:
            self.perm = torch.randperm(self.n_train, generator=self.gen)
            loop.batch_pos = 0
        idx = self.perm[loop.batch_pos : loop.batch_pos + self.size]
        loop.batch_pos += self.size
        return idx


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    force: bool = False,
    device: str = "cpu",
    progress: bool = True,
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
    """
    run_dir = Path(run_dir)
    saved = begin(cfg, run_dir, resume=resume, force=force)
    ds = make_dataset(cfg.task)
    params = {
        k: v.to(device).requires_grad_(True)
        for k, v in initial_params(cfg, ds.d_vocab, output_size(cfg, ds)).items()
    }
    opt = make_optimizer(cfg, params)
    x_train, y_train = ds.train_inputs.to(device), ds.train_labels.to(device)
    x_test, y_test = ds.test_inputs.to(device), ds.test_labels.to(device)
    batches = _Minibatches(cfg, len(x_train), saved)
    loop = LoopState()
    if saved is not None:
        restore(saved, params, opt)
        loop = saved.loop
    sched = Schedule.of(cfg)
    bar = tqdm(
        total=sched.max_steps,
        initial=loop.step,
        disable=not progress,
        unit="step",
        dynamic_ncols=True,
    )
    with RunWriter(run_dir, loop) as writer, bar:
        while True:
            last = loop.finished(sched.max_steps)
            loss: Tensor | None = None
            if batches.full:  # the logged train metrics come from this same forward
                with torch.set_grad_enabled(not last):
                    logits = answer_logits(params, x_train, cfg.model)
                    loss = cross_entropy64(logits, y_train)
            if last or sched.logs(loop.step):
                if loss is not None:
                    train_m = (
                        float(loss.detach()),
                        float((logits.argmax(-1) == y_train).float().mean()),
                    )
                else:
                    train_m = evaluate(params, cfg, x_train, y_train)
                test_m = evaluate(params, cfg, x_test, y_test)
                with torch.no_grad():
                    norms = {n: float(p.norm()) for n, p in params.items()}
                writer.log(
                    metrics_row(
                        loop.step, train_m, test_m, norms, lr_at(cfg, loop.step), writer.elapsed()
                    )
                )
                bar.set_postfix(
                    train_acc=f"{train_m[1]:.3f}", test_acc=f"{test_m[1]:.3f}", refresh=False
                )
                loop.observe(cfg, train_m[0], test_m[1])
                last = last or loop.finished(sched.max_steps)
            if last or loop.step in sched.checkpoints:
                writer.checkpoint(
                    params,
                    *optimizer_moments(opt, params),
                    loop,
                    batches.gen.get_state(),
                    batches.perm,
                )
            if last:
                break
            if not batches.full:
                idx = batches.next(loop).to(device)
                loss = cross_entropy64(answer_logits(params, x_train[idx], cfg.model), y_train[idx])
            assert loss is not None
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, loop.step)
            opt.step()
            loop.step += 1
            bar.update(1)
    return run_dir
