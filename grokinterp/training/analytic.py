"""Gromov's analytic network written as a run directory (one checkpoint, at step 0).

The weights are :func:`grokinterp.models.analytic.gromov_params`; the directory is an ordinary
run directory (``config.json``, one metrics line, ``checkpoints/step_0.safetensors``), so
``grokinterp analyze``, ``grokinterp info`` and :class:`grokinterp.runs.Run` open it, and
``grokinterp train --config DIR/config.json --init-from DIR/checkpoints/step_0.safetensors``
continues training from it. It has no state file: it was built, not trained, so there is
nothing to ``--resume``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from grokinterp.config import OptimConfig, TaskConfig, TrainConfig
from grokinterp.models import answer_logits, cross_entropy32, cross_entropy64, softmax_collapse
from grokinterp.models.analytic import PhaseKind, gromov_params
from grokinterp.runs import layout
from grokinterp.runs.io import save_tensors
from grokinterp.tasks import make_dataset
from grokinterp.training.core import RunWriter, metrics_row
from grokinterp.training.state import LoopState


def write_analytic_run(
    out: str | Path,
    p: int,
    width: int,
    *,
    freqs: list[int] | None = None,
    phases: PhaseKind = "balanced",
    seed: int = 0,
    amplitude: float = 10.0,
    train_fraction: float = 0.3,
    split_seed: int = 0,
    force: bool = False,
) -> Path:
    """Build Gromov's network for ``a + b mod p`` and write it as the run directory ``out``.

    The task config (``add``, ``p``, ``train_fraction``, ``split_seed``) only defines which
    pairs the metrics line calls train and test: the network was not fitted to either.
    An existing non-empty ``out`` is refused unless ``force`` (which deletes it).
    """
    model_cfg, params = gromov_params(
        p, width, freqs=freqs, phases=phases, seed=seed, amplitude=amplitude
    )
    cfg = TrainConfig(
        task=TaskConfig(name="add", p=p, train_fraction=train_fraction, split_seed=split_seed),
        model=model_cfg,
        optim=OptimConfig(max_steps=1),
        seed=seed,
    )
    run_dir = Path(out)
    layout.prepare_run_dir(cfg, run_dir, resume=False, force=force)
    ds = make_dataset(cfg.task)
    with torch.no_grad():
        logits = answer_logits(params, ds.inputs, cfg.model)

    def loss_acc(mask: torch.Tensor) -> tuple[float, float]:
        lg, y = logits[mask], ds.labels[mask]
        return float(cross_entropy64(lg, y)), int((lg.argmax(-1) == y).sum()) / len(y)

    train_logits, train_y = logits[ds.train_mask], ds.labels[ds.train_mask]
    numerics = (
        int(softmax_collapse(train_logits).sum()) / len(train_y),
        float(cross_entropy32(train_logits, train_y)),
    )
    save_tensors(layout.checkpoint_path(run_dir, 0), params, {"step": "0"})
    norms = {n: float(v.norm()) for n, v in params.items()}
    with RunWriter(run_dir, LoopState()) as writer:
        writer.log(
            metrics_row(
                0, loss_acc(ds.train_mask), loss_acc(~ds.train_mask), norms, 0.0, 0.0, numerics
            )
        )
    return run_dir
