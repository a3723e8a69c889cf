"""The rows of each training update: the full training set, or a run's minibatch stream.

One class, :class:`Minibatches`, used by the single-run loop and by every member of an
ensemble, so a member draws exactly the batches it would draw trained alone.

A run with ``optim.batch_size = B`` (and ``B`` below its training-set size ``n``) trains on
consecutive slices of a seeded permutation of its training rows: update ``t`` uses the next
``B`` rows of the current permutation; when fewer than ``B`` rows are left, the rest of the
epoch is dropped and a new permutation is drawn (``torch.utils.data.DataLoader``'s
``drop_last``), or, with ``optim.drop_last`` false, they make a shorter last batch (what
``torch.split`` of a shuffled training set gives, as in the released code of Power et al.
2022 and of Grokfast). The generator is seeded with ``seed + BATCH_SEED_OFFSET``
(:func:`grokinterp.training.core.batch_stream`); its state, the current permutation and
the position in it (``LoopState.batch_pos``) are saved at every checkpoint, so a run resumed
in the middle of an epoch continues with the same batches.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokinterp.config import TrainConfig
from grokinterp.training.core import batch_stream
from grokinterp.training.state import LoopState, SavedState


class Minibatches:
    """The training rows of each update of one run (indices into its training set).

    Args:
        cfg: the run's config (``optim.batch_size``, ``seed``).
        n_train: the size of its training set.
        saved: the state it resumes from, if any (generator state and permutation).

    Attributes:
        full: True when the run trains on its whole training set at every update
            (``batch_size`` null or at least ``n_train``).
        rows: the number of rows of every update (``n_train`` when full).
    """

    def __init__(self, cfg: TrainConfig, n_train: int, saved: SavedState | None):
        self.size = cfg.optim.batch_size
        self.n_train = n_train
        self.full = self.size is None or self.size >= n_train
        self.drop_last = cfg.optim.drop_last
        self.rows = n_train if self.full or self.size is None else self.size
        self.gen, self.perm = batch_stream(cfg, n_train)
        if saved is not None:
            self.gen.set_state(saved.batch_gen_state)
            self.perm = saved.batch_perm

    def next(self, loop: LoopState) -> Tensor:
        """The indices of the next minibatch; advances ``loop.batch_pos`` (and draws a new
        permutation when the epoch has fewer than ``batch_size`` rows left, or none left
        without ``drop_last``)."""
        if self.full:
            raise ValueError("a full-batch run draws no minibatches")
        need = self.rows if self.drop_last else 1
        if loop.batch_pos + need > self.n_train:
            self.perm = torch.randperm(self.n_train, generator=self.gen)
            loop.batch_pos = 0
        idx = self.perm[loop.batch_pos : loop.batch_pos + self.rows]
        loop.batch_pos += len(idx)
        return idx

    def state(self) -> tuple[Tensor, Tensor]:
        """(generator state, current permutation): what the state file keeps."""
        return self.gen.get_state(), self.perm
