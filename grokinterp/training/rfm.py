"""The trainer of the recursive feature machine (arch ``rfm``; Mallinar et al. 2025, arXiv
2407.20199; :mod:`grokinterp.models.rfm`).

:func:`train_rfm` runs ``optim.max_steps`` RFM iterations on a pair task and writes an
ordinary run directory (``config.json``, ``metrics.jsonl``, ``checkpoints/step_<N>.
safetensors`` at the config's checkpoint schedule), so that :class:`grokinterp.runs.Run` and
the analysis tools open it as they open a neural run. Step t is the kernel machine solved with
the feature matrix M_t (M_0 = I); its metrics line is logged, its checkpoint ``{"M", "alpha"}``
saved, then M_(t+1) = AGOP^s of that predictor over the training inputs. This is the order of
the authors' loop (nmallinar/rfm-grokking@73181df train_kernel.py:L150-178: solve, log train
and test, update M). The optimizer and learning-rate fields of the config are not used.

Every metrics line has the layout's fields (``step``, ``train_loss``, ``train_acc``,
``test_loss``, ``test_acc``, ``param_norm`` (of M and alpha together), ``param_norms``,
``lr`` (0: there is none), ``wall_time``) and ``agop_trace`` (trace of M_t) and
``m_offdiag_share`` (the share of M_t's squared Frobenius norm off its diagonal: 0 at M_0 =
I). Losses are the mean squared error over every entry of the one-hot targets and accuracy
that of the argmax, as in the authors' ``eval`` (train_kernel.py:L23-43). A run is never
resumed: it takes seconds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.models.rfm import agop, gaussian_kernel, onehot_pairs, solve_kernel_ridge
from grokinterp.runs import layout
from grokinterp.runs.io import save_tensors
from grokinterp.runs.lock import dir_lock
from grokinterp.tasks import Dataset, make_dataset
from grokinterp.training.core import RunWriter, check_finite
from grokinterp.training.schedule import Schedule
from grokinterp.training.state import LoopState


def rfm_inputs(ds: Dataset) -> Tensor:
    """The RFM's input rows of every pair of ``ds``: ``[onehot(a), onehot(b)]`` (float64),
    in pair order (the training inputs are the rows of ``ds.train_mask``)."""
    return onehot_pairs(ds.a, ds.b, ds.size)


def _loss_acc(pred: Tensor, y: Tensor) -> tuple[float, float]:
    """(mean squared error over every target entry, argmax accuracy)."""
    mse = float(((pred - y) ** 2).mean())
    acc = float((pred.argmax(1) == y.argmax(1)).double().mean())
    return mse, acc


def train_rfm(
    cfg: TrainConfig, out: str | Path, *, force: bool = False, progress: bool = False
) -> Path:
    """Run ``cfg.optim.max_steps`` RFM iterations of ``cfg`` (arch ``rfm``) into ``out``
    (module docstring). A directory holding anything is refused unless ``force``."""
    if cfg.model.arch != "rfm":
        raise ConfigError(
            f"config field model.arch: train_rfm trains arch rfm, not {cfg.model.arch!r}"
        )
    m_cfg = cfg.model
    ds = make_dataset(cfg.task)
    x = rfm_inputs(ds)
    y = torch.eye(ds.n_classes, dtype=torch.float64)[ds.labels]
    tr = ds.train_mask
    x_tr, y_tr, x_te, y_te = x[tr], y[tr], x[~tr], y[~tr]
    m = torch.eye(x.shape[1], dtype=torch.float64)
    run_dir = Path(out)
    schedule = Schedule.of(cfg)
    with dir_lock(run_dir, "run"):
        layout.remove_stale_temporaries(run_dir, run_dir / layout.CHECKPOINTS)
        layout.prepare_run_dir(cfg, run_dir, resume=False, force=force)
        bar = tqdm(total=schedule.max_steps, disable=not progress, desc=str(run_dir))
        with RunWriter(run_dir, LoopState()) as writer, bar:
            for step in range(schedule.max_steps + 1):
                k_tr = gaussian_kernel(x_tr, x_tr, m, m_cfg.rfm_bandwidth)
                alpha = solve_kernel_ridge(k_tr, y_tr, m_cfg.rfm_ridge)
                if schedule.logs(step):
                    pred_te = gaussian_kernel(x_te, x_tr, m, m_cfg.rfm_bandwidth) @ alpha
                    row = _row(step, m, alpha, k_tr @ alpha, y_tr, pred_te, y_te)
                    writer.log({**row, "wall_time": writer.elapsed()})
                    check_finite(row, run_dir)
                if step in schedule.checkpoints:
                    save_tensors(
                        layout.checkpoint_path(run_dir, step),
                        {"M": m.clone(), "alpha": alpha.clone()},
                        {"step": str(step)},
                    )
                if step == schedule.max_steps:
                    break
                m = agop(
                    x_tr,
                    x_tr,
                    alpha,
                    m,
                    m_cfg.rfm_bandwidth,
                    centering=m_cfg.rfm_centering,
                    power=m_cfg.rfm_agop_power,
                )
                bar.update(1)
    return run_dir


def _row(
    step: int, m: Tensor, alpha: Tensor, pred_tr: Tensor, y_tr: Tensor, pred_te: Tensor,
    y_te: Tensor,
) -> dict[str, Any]:  # fmt: skip
    (train_loss, train_acc), (test_loss, test_acc) = (
        _loss_acc(pred_tr, y_tr),
        _loss_acc(pred_te, y_te),
    )
    norms = {"M": float(m.norm()), "alpha": float(alpha.norm())}
    total = float((m**2).sum())
    diag = float((torch.diagonal(m) ** 2).sum())
    return {
        "step": step,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "test_loss": test_loss,
        "test_acc": test_acc,
        "param_norm": math.sqrt(sum(v * v for v in norms.values())),
        "param_norms": norms,
        "lr": 0.0,
        "agop_trace": float(torch.trace(m)),
        "m_offdiag_share": (total - diag) / total if total > 0 else 0.0,
    }
