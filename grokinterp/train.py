"""The training loop: full- or mini-batch AdamW, dense checkpoints, exact resume.

``train(cfg, run_dir)`` writes the run-directory format of :mod:`grokinterp.rundir`.
Training runs :func:`grokinterp.models.answer_logits` (a plain-torch forward that only
computes the answer position) with the loss in float64, as in Nanda et al. 2023.

Resume: at every checkpoint the optimizer moments, the step counters, the minibatch
RNG and the stopping-rule state are written to ``state/latest.safetensors`` (after the
checkpoint itself). ``train(..., resume=True)`` restores them, drops metrics lines from
that step on, and continues; the numbers it then produces are identical to those of an
uninterrupted run (tests/test_train.py kills a run and checks this).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from grokinterp import rundir
from grokinterp.config import ScheduleConfig, TrainConfig
from grokinterp.errors import RunDirError
from grokinterp.io import atomic_write_text, load_tensors, save_tensors
from grokinterp.models import Params, answer_logits, init_params
from grokinterp.tasks import make_dataset


def checkpoint_steps(schedule: ScheduleConfig, max_steps: int) -> list[int]:
    """Steps with a checkpoint: 0, ``ckpt_log_count`` log-spaced steps in
    [1, ckpt_log_until], every ``ckpt_every`` steps, and ``max_steps``."""
    steps = {0, max_steps}
    if schedule.ckpt_log_count:
        top = min(schedule.ckpt_log_until, max_steps)
        steps |= {int(round(x)) for x in np.geomspace(1, top, schedule.ckpt_log_count)}
    steps |= set(range(0, max_steps + 1, schedule.ckpt_every))
    return sorted(s for s in steps if s <= max_steps)


def cross_entropy64(
    logits: Float[Tensor, "batch vocab"], labels: Int[Tensor, " batch"]
) -> Tensor:
    """Mean cross-entropy computed in float64 (the paper's high-precision loss)."""
    return F.cross_entropy(logits.to(torch.float64), labels)


def stop_rule_met(cfg: TrainConfig, train_loss: float, test_acc: float) -> bool:
    """Whether a logged step meets the stopping rule (``stop_acc`` or ``stop_loss``)."""
    o = cfg.optim
    return ((o.stop_acc is not None and test_acc >= o.stop_acc)
            or (o.stop_loss is not None and train_loss <= o.stop_loss))


def initial_params(cfg: TrainConfig, d_vocab: int, d_out: int) -> Params:
    """The weights at step 0: seeded random ones, or those of ``cfg.init_from``."""
    if cfg.init_from is None:
        gen = torch.Generator()
        gen.manual_seed(cfg.seed)
        return init_params(cfg.model, d_vocab, d_out, gen)
    params, _ = load_tensors(cfg.init_from)
    from grokinterp.models import param_shapes

    want = param_shapes(cfg.model, d_vocab, d_out)
    got = {k: tuple(v.shape) for k, v in params.items()}
    if got != want:
        raise RunDirError(f"config field init_from: {cfg.init_from} holds a model of another "
                          f"shape ({sorted(set(got) ^ set(want)) or 'different sizes'}); it "
                          f"must match the run's model config")
    return {k: v.float() for k, v in params.items()}


def lr_at(cfg: TrainConfig, update: int) -> float:
    """Learning rate of update ``update`` (0-based): linear warm-up, then constant."""
    w = cfg.optim.warmup_steps
    return cfg.optim.lr * (min(1.0, (update + 1) / w) if w > 0 else 1.0)


@dataclass
class _Loop:
    """Mutable state of a training loop (what the state file stores besides tensors)."""

    step: int = 0
    wall_time: float = 0.0
    stop_at: int | None = None  # step at which the stopping rule ends the run
    batch_pos: int = 0  # position in the current minibatch epoch


def _prepare_dir(cfg: TrainConfig, run_dir: Path, resume: bool, force: bool) -> bool:
    """Create or check the run directory; return True when an existing run is resumed."""
    cfg_path = run_dir / rundir.CONFIG
    if cfg_path.exists():
        if resume and not force:
            stored = TrainConfig.load(cfg_path)
            diffs = _diff(stored.identity(), cfg.identity())
            if diffs:
                raise RunDirError(
                    f"{cfg_path}: --resume with a different config ({'; '.join(diffs[:3])}); "
                    f"use the stored config, another run directory, or --force to start over"
                )
            if (run_dir / rundir.STATE).exists():
                return True
            if any(s > 0 for s in rundir.checkpoint_steps_on_disk(run_dir)):
                raise RunDirError(
                    f"{run_dir}: has checkpoints but no {rundir.STATE} to resume from (a shipped, "
                    f"imported or copied run); train into another directory, or pass --force "
                    f"to delete it and start over"
                )
            return False  # killed before its first state file: start afresh
        if not force:
            stored = TrainConfig.load(cfg_path)
            what = "the same" if stored.identity() == cfg.identity() else "a different"
            raise RunDirError(
                f"{run_dir}: already holds a run with {what} config; pass --resume to continue "
                f"it, --force to delete it and start over, or choose another directory"
            )
    elif run_dir.exists() and any(run_dir.iterdir()) and not force:
        raise RunDirError(
            f"{run_dir}: exists, is not empty and holds no run (no {rundir.CONFIG}); "
            f"choose another directory or pass --force to overwrite it"
        )
    if force and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg_path, cfg.to_json())
    return False


def _diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: stored {va!r}, given {vb!r}")
    return out


def write_state(
    run_dir: Path,
    moments: dict[str, tuple[Tensor, Tensor]],
    adam_step: int,
    loop: _Loop,
    batch_gen_state: Tensor,
    batch_perm: Tensor,
) -> None:
    """Write ``state/latest.safetensors``: AdamW moments by parameter name, its step
    counter, the loop state and the minibatch RNG (also used by the ensemble trainer)."""
    tensors: dict[str, Tensor] = {}
    for name, (exp_avg, exp_avg_sq) in moments.items():
        tensors[f"exp_avg.{name}"] = exp_avg
        tensors[f"exp_avg_sq.{name}"] = exp_avg_sq
    tensors["batch_gen_state"] = batch_gen_state
    tensors["batch_perm"] = batch_perm
    meta = {
        "loop": json.dumps(loop.__dict__),
        "adam_steps": json.dumps([float(adam_step)] * len(moments)),
    }
    save_tensors(run_dir / rundir.STATE, tensors, meta)


@dataclass
class SavedState:
    """What :func:`read_state` returns: everything needed to continue a run."""

    loop: _Loop
    params: Params  # the checkpoint at loop.step
    moments: dict[str, tuple[Tensor, Tensor]]  # empty before the first update
    adam_step: int
    batch_gen_state: Tensor
    batch_perm: Tensor


def read_state(run_dir: Path) -> SavedState:
    tensors, meta = load_tensors(run_dir / rundir.STATE)
    loop = _Loop(**json.loads(meta["loop"]))
    ckpt, _ = load_tensors(rundir.checkpoint_path(run_dir, loop.step))
    adam_steps = json.loads(meta["adam_steps"])
    moments = {n: (tensors[f"exp_avg.{n}"], tensors[f"exp_avg_sq.{n}"])
               for n in ckpt if f"exp_avg.{n}" in tensors}
    return SavedState(loop, ckpt, moments, int(adam_steps[0]) if adam_steps else 0,
                      tensors["batch_gen_state"], tensors["batch_perm"])


def _save_state(
    run_dir: Path, params: Params, opt: torch.optim.AdamW, names: list[str], loop: _Loop,
    batch_gen: torch.Generator, batch_perm: Tensor,
) -> None:
    moments, adam_step = {}, 0
    for name in names:
        st = opt.state.get(params[name], {})
        if st:
            moments[name] = (st["exp_avg"], st["exp_avg_sq"])
            adam_step = int(st["step"])
    write_state(run_dir, moments, adam_step, loop, batch_gen.get_state(), batch_perm)


def _load_state(
    run_dir: Path, params: Params, opt: torch.optim.AdamW, names: list[str],
    batch_gen: torch.Generator,
) -> tuple[_Loop, Tensor]:
    saved = read_state(run_dir)
    with torch.no_grad():
        for name in names:
            params[name].copy_(saved.params[name])
    device = params[names[0]].device
    for name, (exp_avg, exp_avg_sq) in saved.moments.items():
        opt.state[params[name]] = {
            "step": torch.tensor(float(saved.adam_step)),
            "exp_avg": exp_avg.to(device),
            "exp_avg_sq": exp_avg_sq.to(device),
        }
    batch_gen.set_state(saved.batch_gen_state)
    return saved.loop, saved.batch_perm


def _truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop the lines from ``step`` on: the resumed loop logs them again."""
    rows = [r for r in rundir.read_metrics(run_dir) if r["step"] < step]
    atomic_write_text(run_dir / rundir.METRICS, "".join(json.dumps(r) + "\n" for r in rows))


@torch.no_grad()
def _evaluate(
    params: Params, cfg: TrainConfig, inputs: Tensor, labels: Tensor,
    chunk: int = 16384,
) -> tuple[float, float]:
    loss_sum, correct = 0.0, 0
    for i in range(0, len(inputs), chunk):
        logits = answer_logits(params, inputs[i : i + chunk], cfg.model)
        y = labels[i : i + chunk]
        loss_sum += float(F.cross_entropy(logits.double(), y, reduction="sum"))
        correct += int((logits.argmax(-1) == y).sum())
    return loss_sum / len(inputs), correct / len(inputs)


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
    resuming = _prepare_dir(cfg, run_dir, resume, force)
    ds = make_dataset(cfg.task)
    d_out = cfg.model.d_vocab_out or ds.n_classes
    if d_out < ds.n_classes:
        raise RunDirError(
            f"config field model.d_vocab_out: {d_out} outputs cannot score {ds.n_classes} classes"
        )
    params = {
        k: v.to(device).requires_grad_(True)
        for k, v in initial_params(cfg, ds.d_vocab, d_out).items()
    }
    names = list(params)
    opt = torch.optim.AdamW(
        [params[n] for n in names],
        lr=cfg.optim.lr,
        betas=(cfg.optim.beta1, cfg.optim.beta2),
        eps=cfg.optim.eps,
        weight_decay=cfg.optim.weight_decay,
        foreach=True,
    )
    x_train = ds.train_inputs.to(device)
    y_train = ds.train_labels.to(device)
    x_test = ds.test_inputs.to(device)
    y_test = ds.test_labels.to(device)
    n_train = len(x_train)
    batch = cfg.optim.batch_size
    full_batch = batch is None or batch >= n_train
    batch_gen = torch.Generator()
    batch_gen.manual_seed(cfg.seed + 1_000_003)
    batch_perm = torch.randperm(n_train, generator=batch_gen)

    loop = _Loop()
    if resuming:
        loop, batch_perm = _load_state(run_dir, params, opt, names, batch_gen)
        _truncate_metrics(run_dir, loop.step)
    elif (run_dir / rundir.METRICS).exists():
        (run_dir / rundir.METRICS).unlink()  # a run killed before its first state file

    max_steps = cfg.optim.max_steps
    ckpts = set(checkpoint_steps(cfg.schedule, max_steps))
    bar = tqdm(total=max_steps, initial=loop.step, disable=not progress, unit="step",
               dynamic_ncols=True)
    metrics_file = (run_dir / rundir.METRICS).open("a")
    t_start = time.perf_counter() - loop.wall_time
    try:
        while True:
            step = loop.step
            last = step >= max_steps or (loop.stop_at is not None and step >= loop.stop_at)
            log = last or step % cfg.schedule.log_every == 0 or step in ckpts
            loss: Tensor | None = None
            if full_batch:
                # the logged train metrics come from this same forward, at every step
                with torch.set_grad_enabled(not last):
                    logits = answer_logits(params, x_train, cfg.model)
                    loss = cross_entropy64(logits, y_train)
            if log:
                if loss is not None:
                    train_loss = float(loss.detach())
                    train_acc = float((logits.argmax(-1) == y_train).float().mean())
                else:
                    train_loss, train_acc = _evaluate(params, cfg, x_train, y_train)
                test_loss, test_acc = _evaluate(params, cfg, x_test, y_test)
                with torch.no_grad():
                    norms = {n: float(params[n].norm()) for n in names}
                row = {
                    "step": step,
                    "train_loss": train_loss,
                    "train_acc": train_acc,
                    "test_loss": test_loss,
                    "test_acc": test_acc,
                    "param_norm": float(np.sqrt(sum(v * v for v in norms.values()))),
                    "param_norms": norms,
                    "lr": lr_at(cfg, step),
                    "wall_time": time.perf_counter() - t_start,
                }
                metrics_file.write(json.dumps(row) + "\n")
                metrics_file.flush()
                bar.set_postfix(train_acc=f"{train_acc:.3f}", test_acc=f"{test_acc:.3f}",
                                refresh=False)
                if loop.stop_at is None and stop_rule_met(cfg, train_loss, test_acc):
                    loop.stop_at = step + cfg.optim.stop_patience
                    last = last or step >= loop.stop_at
            if step in ckpts or last:
                loop.wall_time = time.perf_counter() - t_start
                save_tensors(
                    rundir.checkpoint_path(run_dir, step),
                    {n: params[n] for n in names},
                    {"step": str(step)},
                )
                _save_state(run_dir, params, opt, names, loop, batch_gen, batch_perm)
            if last:
                break
            if not full_batch:
                assert batch is not None
                if loop.batch_pos + batch > n_train:
                    batch_perm = torch.randperm(n_train, generator=batch_gen)
                    loop.batch_pos = 0
                idx = batch_perm[loop.batch_pos : loop.batch_pos + batch].to(device)
                loop.batch_pos += batch
                loss = cross_entropy64(answer_logits(params, x_train[idx], cfg.model),
                                       y_train[idx])
            assert loss is not None
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, step)
            opt.step()
            loop.step += 1
            bar.update(1)
    finally:
        metrics_file.close()
        bar.close()
    return run_dir
