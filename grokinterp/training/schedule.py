"""When things happen in a run: checkpoint steps, logged steps, the learning rate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from grokinterp.config import ScheduleConfig, TrainConfig


def _log_steps(schedule: ScheduleConfig, max_steps: int) -> frozenset[int]:
    """The log-spaced checkpoint steps (at most ``ckpt_log_count`` of them)."""
    if not schedule.ckpt_log_count:
        return frozenset()
    top = min(schedule.ckpt_log_until, max_steps)
    return frozenset(int(round(x)) for x in np.geomspace(1, top, schedule.ckpt_log_count))


def checkpoint_count(schedule: ScheduleConfig, max_steps: int) -> int:
    """An upper bound on the number of checkpoints of a run, in constant time (the bound of
    :func:`grokinterp.training.preflight.check_bounds`)."""
    return 2 + schedule.ckpt_log_count + max_steps // schedule.ckpt_every


def checkpoint_steps(schedule: ScheduleConfig, max_steps: int) -> list[int]:
    """Steps with a checkpoint: 0, ``ckpt_log_count`` log-spaced steps in
    [1, ckpt_log_until], every ``ckpt_every`` steps, and ``max_steps``."""
    return sorted(CheckpointSteps.of(schedule, max_steps))


@dataclass(frozen=True)
class CheckpointSteps:
    """The checkpoint steps of a run as a set that answers ``step in steps`` in constant
    time and memory, however long the run (the uniform part is never listed)."""

    log_steps: frozenset[int]
    every: int
    max_steps: int

    @classmethod
    def of(cls, schedule: ScheduleConfig, max_steps: int) -> CheckpointSteps:
        return cls(_log_steps(schedule, max_steps), schedule.ckpt_every, max_steps)

    def __contains__(self, step: object) -> bool:
        if not isinstance(step, int) or not 0 <= step <= self.max_steps:
            return False
        return step % self.every == 0 or step == self.max_steps or step in self.log_steps

    def __iter__(self) -> Iterator[int]:
        steps = {*range(0, self.max_steps + 1, self.every), *self.log_steps, self.max_steps}
        return iter(sorted(s for s in steps if s <= self.max_steps))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def lr_at(cfg: TrainConfig, update: int) -> float:
    """Learning rate of update ``update`` (0-based): linear warm-up, then constant; the
    warm-up's first update has ``lr / warmup_steps``, or 0 with ``warmup_from_zero``."""
    w = cfg.optim.warmup_steps
    t = update if cfg.optim.warmup_from_zero else update + 1
    return cfg.optim.lr * (min(1.0, t / w) if w > 0 else 1.0)


EMBEDDING = "embed.W_E"  # the parameter that optim.embed_lr and embed_weight_decay govern


def embed_settings(cfg: TrainConfig) -> tuple[float, float]:
    """The embedding's (learning-rate factor relative to ``lr``, weight decay): ``embed_lr /
    lr`` and ``embed_weight_decay``, each defaulting to the other parameters' (1, and
    ``weight_decay``). Liu et al. 2022 train the representation and the decoder apart."""
    o = cfg.optim
    scale = 1.0 if o.embed_lr is None else o.embed_lr / o.lr
    wd = o.weight_decay if o.embed_weight_decay is None else o.embed_weight_decay
    return scale, wd


@dataclass(frozen=True)
class Schedule:
    """The checkpoint and logging steps of a run (shared by every member of an ensemble)."""

    max_steps: int
    log_every: int
    checkpoints: CheckpointSteps

    @classmethod
    def of(cls, cfg: TrainConfig) -> Schedule:
        steps = CheckpointSteps.of(cfg.schedule, cfg.optim.max_steps)
        return cls(cfg.optim.max_steps, cfg.schedule.log_every, steps)

    def logs(self, step: int) -> bool:
        """Whether ``step`` writes a metrics line (a run's last step always does)."""
        return step % self.log_every == 0 or step in self.checkpoints
