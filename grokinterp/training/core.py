"""The one training core: what the single-run loop and the ensemble share.

Both trainers start a run the same way (:func:`begin`: prepare the directory, read the
state to resume from), draw the same initial weights (:func:`initial_params`) and minibatch
stream (:func:`batch_stream`), write the same metrics line (:func:`metrics_row`) and the
same checkpoint and state files (:class:`RunWriter`), and stop by the same rule
(:meth:`grokinterp.training.state.LoopState.observe`). So a run trained alone and the same
run trained as a member of an ensemble leave the same run directory.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from torch import Tensor

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError, DivergedError, RunDirError
from grokinterp.models import Params, init_params, param_shapes
from grokinterp.runs import layout
from grokinterp.runs.guard import check_no_links
from grokinterp.runs.io import atomic_write_text, load_tensors, save_tensors
from grokinterp.runs.labels import record_corruption
from grokinterp.runs.sinks import Sink
from grokinterp.tasks import Dataset, make_dataset
from grokinterp.training.state import (
    FilterState,
    LoopState,
    Moments,
    SavedState,
    read_state,
    write_state,
)

BATCH_SEED_OFFSET = 1_000_003  # the minibatch stream is seeded with cfg.seed + this


def begin(cfg: TrainConfig, run_dir: Path, *, resume: bool, force: bool) -> SavedState | None:
    """Prepare ``run_dir`` (:func:`grokinterp.runs.layout.prepare_run_dir`) and return the
    state to continue from, with the metrics from its step on dropped; None to start afresh.
    A run with corrupted labels records them (:mod:`grokinterp.runs.labels`).

    The caller holds the run directory's lock (:mod:`grokinterp.runs.lock`), so temporary
    files left in it by a killed write are stale and removed. A resumed run may change its
    stopping rule: ``config.json`` is rewritten with it, a run resumed without one goes on to
    ``max_steps`` even where the old rule had ended it, and a ``max_steps`` below the steps
    already trained is refused.
    """
    # no write (nor the clean-up of temporaries) follows a link out of the run directory
    check_no_links(run_dir, layout.CHECKPOINTS, "state", layout.METRICS, layout.ANALYSIS)
    layout.remove_stale_temporaries(run_dir, run_dir / layout.CHECKPOINTS, run_dir / "state")
    resumed = layout.prepare_run_dir(cfg, run_dir, resume=resume, force=force)
    if cfg.task.label_noise > 0:  # the corrupted labels, kept beside the config
        record_corruption(run_dir, make_dataset(cfg.task), resume=resumed)
    if not resumed:
        return None
    # the state and checkpoints were written under this config (a config.json edited in
    # place passes prepare_run_dir's comparison: it is both the stored and the given one)
    layout.check_consistency(run_dir, cfg)
    saved = read_state(run_dir)
    layout.check_shapes(cfg, saved.params, layout.checkpoint_path(run_dir, saved.loop.step))
    if cfg.optim.max_steps < saved.loop.step:
        raise ConfigError(
            f"config field optim.max_steps: {cfg.optim.max_steps} is below the "
            f"{saved.loop.step} steps {run_dir} has trained; a run cannot be shortened "
            f"(analyze --steps reads a part of it); give max_steps >= {saved.loop.step}"
        )
    if cfg.optim.stop_acc is None and cfg.optim.stop_loss is None:
        saved.loop.stop_at = None  # the rule removed: the run goes on to max_steps
    layout.truncate_metrics(run_dir, saved.loop.step)
    atomic_write_text(run_dir / layout.CONFIG, cfg.to_json())
    return saved


def output_size(cfg: TrainConfig, ds: Dataset) -> int:
    """Number of output logits: ``d_vocab_out``, or the task's number of classes."""
    d_out = cfg.model.d_vocab_out or ds.n_classes
    if d_out < ds.n_classes:
        raise RunDirError(
            f"config field model.d_vocab_out: {d_out} outputs cannot score {ds.n_classes} classes"
        )
    return d_out


def initial_params(cfg: TrainConfig, d_vocab: int, d_out: int) -> Params:
    """The weights at step 0: seeded random ones, or those of ``cfg.init_from``."""
    if cfg.init_from is None:
        gen = torch.Generator()
        gen.manual_seed(cfg.seed)
        return init_params(cfg.model, d_vocab, d_out, gen)
    params, _ = load_tensors(cfg.init_from)
    want = param_shapes(cfg.model, d_vocab, d_out)
    got = {k: tuple(v.shape) for k, v in params.items()}
    if got != want:
        raise RunDirError(
            f"config field init_from: {cfg.init_from} holds a model of another "
            f"shape ({sorted(set(got) ^ set(want)) or 'different sizes'}); it "
            f"must match the run's model config"
        )
    return {k: v.float() for k, v in params.items()}


def initial_weights(
    cfg: TrainConfig, run_dir: Path, params: Params, saved: SavedState | None
) -> Params | None:
    """theta_0 of a run whose predictor is centered (``model.center_output``, Kumar et al.
    2024's Eq. 7): the run's step-0 checkpoint when it resumes, else a copy of ``params``,
    the weights it starts from (constraints applied); None for any other run."""
    if not cfg.model.center_output:
        return None
    if saved is None:
        return {k: v.detach().clone() for k, v in params.items()}
    device = next(iter(params.values())).device
    weights, _ = load_tensors(layout.checkpoint_path(run_dir, 0))
    return {k: v.to(device) for k, v in weights.items()}


def batch_stream(cfg: TrainConfig, n_train: int) -> tuple[torch.Generator, Tensor]:
    """The minibatch RNG of a fresh run and its first permutation of the training rows."""
    gen = torch.Generator()
    gen.manual_seed(cfg.seed + BATCH_SEED_OFFSET)
    return gen, torch.randperm(n_train, generator=gen)


def metrics_row(
    step: int,
    train: tuple[float, float],
    test: tuple[float, float],
    norms: dict[str, float],
    lr: float,
    wall_time: float,
    numerics: tuple[float, float],
) -> dict[str, Any]:
    """One line of ``metrics.jsonl`` (fields in :mod:`grokinterp.runs.layout`).

    ``train`` and ``test`` are (loss, accuracy) with the run's loss; ``norms`` the L2 norm
    of each parameter; ``numerics`` the training set's softmax collapse and float32
    cross-entropy (:func:`grokinterp.models.softmax_collapse`,
    :func:`grokinterp.models.cross_entropy32`).
    """
    return {
        "step": step,
        "train_loss": train[0],
        "train_acc": train[1],
        "test_loss": test[0],
        "test_acc": test[1],
        "param_norm": math.sqrt(sum(v * v for v in norms.values())),
        "param_norms": norms,
        "lr": lr,
        "wall_time": wall_time,
        "softmax_collapse": numerics[0],
        "train_loss32": numerics[1],
    }


def check_finite(row: dict[str, Any], run_dir: Path) -> None:
    """Raise DivergedError when a logged metrics line has a non-finite training loss (the
    line is written first, so the run directory records where it diverged)."""
    loss = row["train_loss"]
    if not math.isfinite(loss):
        raise DivergedError(
            f"{run_dir}: training diverged at step {row['step']} (train loss {loss}); "
            f"metrics.jsonl records it; lower the learning rate or init scale and start "
            f"over with --force"
        )


class EarlyLoss:
    """The training loss of each of the first ``schedule.early_loss_steps`` updates of one
    or more runs (an ensemble's members), kept in a device tensor (no host sync per step)
    and written to each run's ``early_loss.safetensors`` at the checkpoints up to that step
    and at that step itself: ``loss[t]`` is the loss update t descends (float64).

    A run resumed from step s keeps the first s losses of its file (written at or after its
    state); a run whose file is missing or short (trained before the file existed) records
    none, rather than a curve with a hole.
    """

    def __init__(
        self, cfg: TrainConfig, run_dirs: Sequence[Path], starts: Sequence[int], device: str
    ):
        self.n = cfg.schedule.early_loss_steps
        self.dirs = list(run_dirs)
        # no run records more losses than it has updates: a huge early_loss_steps costs
        # nothing in a short run
        width = min(self.n, cfg.optim.max_steps)
        self.buf = torch.full((len(self.dirs), width), math.nan, dtype=torch.float64)
        self.buf = self.buf.to(device)
        self.ok = [self.n > 0] * len(self.dirs)
        for i, (d, start) in enumerate(zip(self.dirs, starts, strict=True)):
            keep = min(start, self.n)
            if keep == 0 or not self.ok[i]:
                continue
            try:
                old, _ = load_tensors(d / layout.EARLY_LOSS)
                losses = old["loss"]
            except (RunDirError, KeyError):
                self.ok[i] = False
                continue
            if len(losses) < keep:
                self.ok[i] = False
                continue
            self.buf[i, :keep] = losses[:keep].to(self.buf)

    def record(self, step: int, loss: Tensor) -> None:
        """The loss (a scalar, or one per run) of update ``step``."""
        if step < self.n:
            self.buf[:, step] = loss.detach().to(self.buf)

    def due(self, step: int, checkpoint: bool) -> bool:
        """Whether the files are written at ``step`` (after ``step`` updates)."""
        return 0 < step <= self.n and (checkpoint or step == self.n)

    def write(self, i: int, step: int) -> None:
        """Run i's file with the losses of its first ``min(step, n)`` updates."""
        if self.ok[i] and 0 < step:
            save_tensors(
                self.dirs[i] / layout.EARLY_LOSS,
                {"loss": self.buf[i, : min(step, self.n)]},
                {"step": str(min(step, self.n)), "early_loss_steps": str(self.n)},
            )


class RunWriter:
    """Writes one run's metrics lines, checkpoints and state file while it trains, and
    passes each metrics line on to the run's ``sinks`` (TensorBoard, W&B), if any."""

    def __init__(self, run_dir: Path, loop: LoopState, sinks: Sequence[Sink] = ()):
        self.run_dir = run_dir
        # every checkpoint and state file records the config it was trained under
        self._stamp = layout.config_stamp(TrainConfig.load(run_dir / layout.CONFIG))
        self._t_start = time.perf_counter() - loop.wall_time
        self._metrics = (run_dir / layout.METRICS).open("a")
        self._sinks = list(sinks)

    def elapsed(self) -> float:
        """Seconds of training, summed over resumed sessions."""
        return time.perf_counter() - self._t_start

    def log(self, row: dict[str, Any]) -> None:
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        for sink in self._sinks:
            sink.log(row)

    def checkpoint(
        self,
        params: Params,
        moments: Moments,
        adam_step: int,
        loop: LoopState,
        batch_gen_state: Tensor,
        batch_perm: Tensor,
        grad_filter: FilterState | None = None,
    ) -> None:
        """The weights at ``loop.step``, then the state to resume from them."""
        loop.wall_time = self.elapsed()
        save_tensors(
            layout.checkpoint_path(self.run_dir, loop.step),
            params,
            {"step": str(loop.step), **self._stamp},
        )
        write_state(
            self.run_dir,
            moments,
            adam_step,
            loop,
            batch_gen_state,
            batch_perm,
            grad_filter,
            stamp=self._stamp,
        )

    def close(self) -> None:
        self._metrics.close()
        for sink in self._sinks:
            sink.close()
        self._sinks = []

    @property
    def closed(self) -> bool:
        return self._metrics.closed

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
