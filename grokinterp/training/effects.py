"""The effect metrics that a run on the ``counterfactual`` task logs beside its loss.

A two-headed outcome model (the MLP with outputs ``mu0_hat``, ``mu1_hat``, trained by the
factual loss :func:`grokinterp.models.factual_mse64`) estimates each unit's effect as
``tau_hat = mu1_hat - mu0_hat``; the task knows the true ``tau = mu1 - mu0``
(:mod:`grokinterp.tasks.counterfactual`). Every metrics line of such a run carries

* ``pehe_in`` / ``ate_error_in``: PEHE and the error of the average effect over the
  training units (within-sample: their counterfactual outcomes were never shown);
* ``pehe_out`` / ``ate_error_out``: the same over the held-out units (out-of-sample),

as :func:`grokinterp.tasks.counterfactual.effect_errors` defines them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from grokinterp.config import ModelConfig
from grokinterp.models import Params, answer_logits
from grokinterp.tasks import Dataset
from grokinterp.tasks.counterfactual import effect_errors

EFFECT_FIELDS = ("pehe_in", "ate_error_in", "pehe_out", "ate_error_out")


class EffectProbe:
    """The units of a counterfactual data set, held on the device, and their true effects."""

    def __init__(self, ds: Dataset, device: str | torch.device):
        if ds.potential is None:
            raise ValueError("effect metrics need a data set with potential outcomes")
        self.inputs: Tensor = ds.inputs.to(device)
        self.tau = (ds.potential[:, 1] - ds.potential[:, 0]).double().numpy()
        self.train = ds.train_mask.numpy()

    @torch.no_grad()
    def __call__(
        self, params: Params, cfg: ModelConfig, base: Params | None = None
    ) -> dict[str, float]:
        """The four effect metrics (module doc) of the model ``params`` (``base``: the
        initial weights of a centered predictor, :func:`grokinterp.models.answer_logits`)."""
        out = answer_logits(params, self.inputs, cfg, base).double().cpu().numpy()
        tau_hat: np.ndarray = out[:, 1] - out[:, 0]
        pehe_in, ate_in = effect_errors(tau_hat[self.train], self.tau[self.train])
        pehe_out, ate_out = effect_errors(tau_hat[~self.train], self.tau[~self.train])
        return dict(zip(EFFECT_FIELDS, (pehe_in, ate_in, pehe_out, ate_out), strict=True))
