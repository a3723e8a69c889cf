"""What is checked before a run touches the disk.

``train`` with ``--force`` deletes the run directory it is given; so every check that can
fail on the config alone (the memory the run needs, the split, the output size, the weights
of ``init_from``) runs first, in :func:`preflight`, and a bad config leaves the directory
as it was.
"""

from __future__ import annotations

import os
import sys

import torch

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models import get_arch, param_shapes
from grokinterp.tasks import Dataset, get_task, make_dataset, train_size
from grokinterp.training.core import initial_params, output_size
from grokinterp.training.masks import load_mask
from grokinterp.training.schedule import checkpoint_count
from grokinterp.training.spectral import hidden_names

EVAL_CHUNK = 16384  # rows per forward when evaluating (see loop.evaluate)
_GIB = 2**30
_noted: set[str] = set()  # notes already printed by this process


def memory_floor(cfg: TrainConfig) -> int:
    """A lower bound, in bytes, on the memory one run of ``cfg`` holds at its peak.

    Counted: the dataset (every pair's three tokens and label as int64, the split mask and
    the construction's temporaries, 48 bytes a pair); the weights with their gradients and
    AdamW's two moments (4 float32 copies); and the widest activations of one training step,
    which the backward pass keeps: per row of the batch, each MLP layer's pre- and
    post-activation (the forward computes the answer position only), the transformer's
    residual stream at three positions (6 vectors of d_model each) and the logits in float32
    and float64 with their gradient; and the per-update loss buffer (8 bytes per update of
    ``min(early_loss_steps, max_steps)``). The true peak is higher (allocator slack, temporaries),
    so a run above this bound cannot fit.
    """
    spec = get_task(cfg.task.name)
    n_pairs = spec.n_pairs(cfg.task)
    d_in = spec.d_vocab(cfg.task)
    d_out = cfg.model.d_vocab_out or spec.n_classes(cfg.task)
    m = cfg.model
    n_params = sum(int(torch.Size(s).numel()) for s in param_shapes(m, d_in, d_out).values())
    n_train = train_size(cfg.task)
    rows = max(
        min(cfg.optim.batch_size or n_train, n_train),
        min(EVAL_CHUNK, n_pairs - n_train),
    )
    per_row = get_arch(m.arch).floats_per_row(m) + 5 * d_out
    early = 8 * min(cfg.schedule.early_loss_steps, cfg.optim.max_steps)  # EarlyLoss's buffer
    return 48 * n_pairs + 16 * n_params + 4 * rows * per_row + early


def memory_available(device: str) -> int:
    """The memory a run may use, in bytes: the GPU's for a CUDA device, else the machine's
    physical memory."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return int(torch.cuda.get_device_properties(dev).total_memory)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(cfg: TrainConfig, device: str = "cpu", copies: int = 1) -> int:
    """Refuse a run whose :func:`memory_floor` (times ``copies``: the members of an ensemble
    held at once) exceeds :func:`memory_available`, and note on stderr one that needs more
    than a quarter of it; return the floor."""
    need, have = copies * memory_floor(cfg), memory_available(device)
    what = (
        f"p={cfg.task.p}" if cfg.task.p is not None else f"n={cfg.task.n}"
    ) + f", d_mlp={cfg.model.d_mlp}, d_model={cfg.model.d_model}"
    if need > have:
        raise ConfigError(
            f"config ({what}): this run needs at least {need / _GIB:.1f} GiB of memory and "
            f"{device} has {have / _GIB:.1f} GiB; use a smaller p, d_mlp or batch_size"
        )
    note = (
        f"grokinterp: note: {'these runs need' if copies > 1 else 'this run needs'} at least "
        f"{need / _GIB:.1f} GiB of the {have / _GIB:.1f} GiB of memory of {device}"
    )
    if need > have / 4 and note not in _noted:
        _noted.add(note)
        print(note, file=sys.stderr)
    return need


MAX_CHECKPOINTS = 100_000  # checkpoint files of one run (schedule.checkpoint_count)
MAX_LOG_LINES = 10_000_000  # metrics.jsonl lines of one run (max_steps / log_every)


def check_bounds(cfg: TrainConfig) -> None:
    """The bounds of a run that span fields, checked in constant time before any work
    (docs/reliability.md): at most ``MAX_CHECKPOINTS`` checkpoints (``max_steps /
    ckpt_every`` plus the log-spaced ones) and ``MAX_LOG_LINES`` metrics lines (``max_steps /
    log_every``). The per-field bounds (``max_steps``, ``ckpt_log_count``,
    ``early_loss_steps``, the seeds) are the config's own (:mod:`grokinterp.config`)."""
    o, s = cfg.optim, cfg.schedule
    n = checkpoint_count(s, o.max_steps)
    if n > MAX_CHECKPOINTS:
        raise ConfigError(
            f"config fields optim.max_steps / schedule.ckpt_every: {o.max_steps} steps with a "
            f"checkpoint every {s.ckpt_every} would write up to {n} checkpoints, more than "
            f"{MAX_CHECKPOINTS}; raise ckpt_every to at least "
            f"{o.max_steps // (MAX_CHECKPOINTS - 2 - s.ckpt_log_count) + 1} or lower max_steps"
        )
    if o.max_steps // s.log_every > MAX_LOG_LINES:
        raise ConfigError(
            f"config fields optim.max_steps / schedule.log_every: {o.max_steps} steps logged "
            f"every {s.log_every} would write more than {MAX_LOG_LINES} metrics lines; raise "
            f"log_every to at least {o.max_steps // MAX_LOG_LINES + 1} or lower max_steps"
        )


def preflight(cfg: TrainConfig, device: str = "cpu", copies: int = 1) -> Dataset:
    """Every check of a run that needs no run directory; returns the run's dataset.

    Raises ConfigError (one line) when the run exceeds a bound (:func:`check_bounds`),
    cannot fit in memory, its split leaves a set empty, ``d_vocab_out`` is too small for the
    task, or ``init_from`` is missing, damaged or of another shape.
    """
    check_bounds(cfg)
    check_memory(cfg, device, copies)
    ds = make_dataset(cfg.task)
    d_out = output_size(cfg, ds)
    if cfg.init_from is not None:
        initial_params(cfg, ds.d_vocab, d_out)  # loads and checks the file
    if cfg.mask_from is not None:  # loads and checks the mask against the model's shapes
        load_mask(cfg.mask_from, param_shapes(cfg.model, ds.d_vocab, d_out))
    # muon / egd need hidden weight matrices
    hidden_names(cfg, param_shapes(cfg.model, ds.d_vocab, d_out).items())
    return ds
