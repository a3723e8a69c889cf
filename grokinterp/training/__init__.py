"""Training: one core shared by the single-run loop and the batched ensemble.

:func:`train` trains one run into a run directory; :func:`train_ensemble` and
:func:`train_groups` train many same-shape runs as one batched computation, each writing
the run directory :func:`train` would. What both share (directory preparation, initial
weights, the metrics line, checkpoint and state writing, the stopping rule) is
:mod:`grokinterp.training.core`, :mod:`grokinterp.training.state` and
:mod:`grokinterp.training.schedule`; both apply the same constraints after every update
(:mod:`grokinterp.training.constraints`: a fixed norm, a fixed pruning mask from
:mod:`grokinterp.training.masks`). :func:`repair` sets a run's damaged files aside and
leaves it resumable.
"""

from grokinterp.training.core import initial_params, metrics_row
from grokinterp.training.ensemble import (
    check_ensemble_configs,
    ensemble_batches,
    split_by_size,
    train_ensemble,
    train_groups,
)
from grokinterp.training.loop import train
from grokinterp.training.repair import RepairReport, repair
from grokinterp.training.schedule import checkpoint_steps, lr_at
from grokinterp.training.state import LoopState, SavedState, read_state

__all__ = [
    "LoopState",
    "RepairReport",
    "SavedState",
    "check_ensemble_configs",
    "checkpoint_steps",
    "ensemble_batches",
    "initial_params",
    "lr_at",
    "metrics_row",
    "read_state",
    "repair",
    "split_by_size",
    "train",
    "train_ensemble",
    "train_groups",
]
