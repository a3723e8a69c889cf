"""The read side of a run directory: ``Run(path)``.

>>> run = Run("runs/quick")
>>> run.metrics.tail()                 # pandas DataFrame, one row per logged step
>>> run.steps[:5]                      # checkpoint steps on disk
>>> model = run.model(step=run.steps[-1])   # TransformerBridge (or HookedMLP), weights loaded
>>> logits, cache = model.run_with_cache(run.dataset.inputs)
>>> run.landmarks()                    # steps where train / test accuracy first pass 99%

Nothing is loaded until it is asked for; checkpoints are read with safetensors (no
pickle) and verified against their checksum.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from grokinterp.config import TrainConfig
from grokinterp.errors import RunDirError
from grokinterp.models import Params, get_arch
from grokinterp.models.hooked import build_model
from grokinterp.models.nonneural import build_nonneural
from grokinterp.models.rfm import onehot_pairs
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.runs.metrics import Landmarks, landmarks
from grokinterp.tasks import Dataset, Samples, make_dataset, make_samples


class Run:
    """A run directory written by ``grokinterp train``.

    Args:
        path: the run directory.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: no such run directory")
        if not (self.path / layout.CONFIG).exists():
            raise RunDirError(
                f"{self.path}: not a run directory (no {layout.CONFIG}); "
                f"create one with `grokinterp train --out {self.path}`"
            )

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {len(self.steps)} checkpoints)"

    @cached_property
    def config(self) -> TrainConfig:
        """The run's config.json, checked against the run's own files (the config stamp of
        its latest checkpoint and state files, the checkpoint's shapes and dtypes:
        :func:`grokinterp.runs.layout.check_consistency`): an edited config is refused."""
        cfg = TrainConfig.load(self.path / layout.CONFIG)
        layout.check_consistency(self.path, cfg)
        return cfg

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per logged step; ``param_norms`` flattened into ``norm.<param>`` columns."""
        rows = layout.read_metrics(self.path)
        flat = []
        for r in rows:
            r = dict(r)
            for name, v in r.pop("param_norms", {}).items():
                r[f"norm.{name}"] = v
            flat.append(r)
        return pd.DataFrame(flat)

    @property
    def steps(self) -> list[int]:
        """Steps that have a checkpoint on disk, ascending."""
        return layout.checkpoint_steps_on_disk(self.path)

    @cached_property
    def dataset(self) -> Dataset:
        """Every input pair, its label and the train/test split of this run (a non-neural
        run has :attr:`samples` instead)."""
        return make_dataset(self.config.task)

    @cached_property
    def samples(self) -> Samples:
        """The generated examples and their split, of a run on a task of generated examples
        (the non-neural archs gp and linear)."""
        return make_samples(self.config.task)

    def landmarks(self, threshold: float = 0.99) -> Landmarks:
        return landmarks(self.metrics, threshold)

    def _resolve(self, step: int | None) -> int:
        steps = self.steps
        if not steps:
            raise RunDirError(f"{self.path}: the run has no checkpoints yet")
        if step is None or step == -1:
            return steps[-1]
        if step not in steps:
            near = min(steps, key=lambda s: abs(s - step))
            raise RunDirError(
                f"{self.path}: no checkpoint at step {step}; the nearest is {near} "
                f"({len(steps)} checkpoints from {steps[0]} to {steps[-1]}; see Run.steps)"
            )
        return step

    def params(self, step: int | None = None) -> Params:
        """Parameters at ``step`` (None or -1: the latest), by TransformerLens name."""
        s = self._resolve(step)
        tensors, meta = load_tensors(layout.checkpoint_path(self.path, s))
        layout.check_stamp(self.config, meta, layout.checkpoint_path(self.path, s))
        if meta.get("step") != str(s):
            raise RunDirError(
                f"{layout.checkpoint_path(self.path, s)}: metadata says step {meta.get('step')}, "
                f"file name says {s}; the file was renamed or copied by hand"
            )
        if not get_arch(self.config.model.arch).neural:
            # the names and shapes of a GPyTorch state dict are GPyTorch's; build_nonneural's
            # load_state_dict checks them against the config
            return tensors
        layout.check_shapes(self.config, tensors, layout.checkpoint_path(self.path, s))
        return tensors

    def with_metrics(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` (one row per checkpoint ``step``) with the train / test accuracy and
        loss and the parameter norm logged at the same steps beside it."""
        metrics = self.metrics
        if not len(metrics):
            return table
        keep = ["step", "train_acc", "test_acc", "train_loss", "test_loss", "param_norm"]
        return table.merge(metrics[keep], on="step", how="left")

    def model(self, step: int | None = None, device: str | torch.device = "cpu") -> nn.Module:
        """A hooked model at ``step``: a TransformerBridge, or a HookedMLP for arch=mlp; for
        the non-neural archs, the linear model or the GPyTorch GP classifier (eval mode; its
        likelihood is Bernoulli), see :mod:`grokinterp.models.nonneural`."""
        cfg = self.config.model
        if cfg.arch == "rfm":  # its inputs: the one-hot rows of the training pairs
            x_train = onehot_pairs(self.dataset.a, self.dataset.b, self.dataset.size)
            x_tr = x_train[self.dataset.train_mask]
            return build_nonneural(cfg, self.params(step), x_tr).to(device)
        if not get_arch(cfg.arch).neural:
            return build_nonneural(cfg, self.params(step), self.samples.x_train).to(device)
        return build_model(cfg, self.params(step), device=device)
