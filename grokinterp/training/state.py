"""The state of a training loop, and the state file that lets a run resume exactly.

At every checkpoint ``state/latest.safetensors`` stores the AdamW moments by parameter
name, AdamW's step counter, the minibatch RNG and permutation, and the :class:`LoopState`
(in the metadata). A resumed run restores them and produces the same numbers as an
uninterrupted one. The single-run loop and the ensemble write the same file, so a member
of an ensemble can be continued alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import Tensor

from grokinterp.config import TrainConfig
from grokinterp.errors import RunDirError
from grokinterp.models import Params
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors, save_tensors

Moments = dict[str, tuple[Tensor, Tensor]]  # parameter name -> (exp_avg, exp_avg_sq)
FilterState = tuple[dict[str, Tensor], int]  # Grokfast's state by parameter name, its count
FILTER_PREFIX = "grokfast."  # keys of the filter state in the state file


@dataclass
class LoopState:
    """Where a run is: what the state file stores besides tensors.

    Args:
        step: updates done.
        wall_time: seconds of training so far, summed over resumed sessions.
        stop_at: the step at which the stopping rule ends the run (set when it is first met).
        batch_pos: position in the current minibatch epoch.
    """

    step: int = 0
    wall_time: float = 0.0
    stop_at: int | None = None
    batch_pos: int = 0

    def finished(self, max_steps: int) -> bool:
        """Whether the current step is the run's last."""
        return self.step >= max_steps or (self.stop_at is not None and self.step >= self.stop_at)

    def observe(self, cfg: TrainConfig, train_loss: float, test_acc: float) -> None:
        """Apply the stopping rule to a logged step: the first time test accuracy reaches
        ``stop_acc`` or the training loss falls to ``stop_loss``, the run is set to end
        ``stop_patience`` steps later."""
        o = cfg.optim
        met = (o.stop_acc is not None and test_acc >= o.stop_acc) or (
            o.stop_loss is not None and train_loss <= o.stop_loss
        )
        if self.stop_at is None and met:
            self.stop_at = self.step + o.stop_patience


def write_state(
    run_dir: Path,
    moments: Moments,
    adam_step: int,
    loop: LoopState,
    batch_gen_state: Tensor,
    batch_perm: Tensor,
    grad_filter: FilterState | None = None,
    stamp: dict[str, str] | None = None,
) -> None:
    """Write ``state/latest.safetensors`` (``moments`` empty before the first update;
    ``grad_filter`` the Grokfast filter's state by parameter name and its count; ``stamp``
    the config it belongs to, :func:`grokinterp.runs.layout.config_stamp`)."""
    filter_state, filter_count = grad_filter if grad_filter is not None else ({}, 0)
    tensors: dict[str, Tensor] = {f"{FILTER_PREFIX}{n}": t for n, t in filter_state.items()}
    for name, (exp_avg, exp_avg_sq) in moments.items():
        tensors[f"exp_avg.{name}"] = exp_avg
        tensors[f"exp_avg_sq.{name}"] = exp_avg_sq
    tensors["batch_gen_state"] = batch_gen_state
    tensors["batch_perm"] = batch_perm
    meta = {
        "loop": json.dumps(asdict(loop)),
        "adam_steps": json.dumps([float(adam_step)] * len(moments)),
        "grokfast_count": str(filter_count),
        **(stamp or {}),
    }
    latest = run_dir / layout.STATE
    if latest.exists():  # keep one step back: the way out when a checkpoint is damaged
        os.replace(latest, run_dir / layout.PREVIOUS_STATE)
    save_tensors(latest, tensors, meta)


@dataclass
class SavedState:
    """What :func:`read_state` returns: everything needed to continue a run."""

    loop: LoopState
    params: Params  # the checkpoint at loop.step
    moments: Moments  # empty before the first update
    adam_step: int
    batch_gen_state: Tensor
    batch_perm: Tensor
    grad_filter: FilterState  # ({}, 0) without Grokfast


def read_state(run_dir: Path, which: str = layout.STATE) -> SavedState:
    """Read a run's state file and the checkpoint it belongs to.

    ``which`` is ``layout.STATE`` (the latest; when it is missing, because a kill fell
    between the two renames of :func:`write_state`, the previous one is read) or
    ``layout.PREVIOUS_STATE``. A damaged file raises RunDirError naming it.
    """
    path = run_dir / which
    if which == layout.STATE and not path.exists():
        path = run_dir / layout.PREVIOUS_STATE
    tensors, meta = load_tensors(path)
    try:
        loop = LoopState(**json.loads(meta["loop"]))
        adam_steps = json.loads(meta["adam_steps"])
        filter_count = int(meta.get("grokfast_count", "0"))
        gen_state, perm = tensors["batch_gen_state"], tensors["batch_perm"]
    except (KeyError, TypeError, ValueError):
        raise RunDirError(
            f"{path}: not a state file of this grokinterp (its metadata lacks fields); "
            f"`grokinterp repair {run_dir}` sets it aside"
        ) from None
    ckpt, _ = load_tensors(layout.checkpoint_path(run_dir, loop.step))
    moments = {
        n: (tensors[f"exp_avg.{n}"], tensors[f"exp_avg_sq.{n}"])
        for n in ckpt
        if f"exp_avg.{n}" in tensors
    }
    grad_filter = {
        k[len(FILTER_PREFIX) :]: t for k, t in tensors.items() if k.startswith(FILTER_PREFIX)
    }
    return SavedState(
        loop,
        ckpt,
        moments,
        int(adam_steps[0]) if adam_steps else 0,
        gen_state,
        perm,
        (grad_filter, filter_count),
    )
