"""Models: parameters in TransformerLens names, a fast exact forward, and hooked modules.

Weights of every model live in a flat ``dict[str, Tensor]`` (:data:`Params`) with
TransformerLens's names and shapes (:mod:`grokinterp.models.params`), which is also what
checkpoints store. Two forwards compute the same function: :func:`answer_logits` (plain
torch, answer position only; training and analysis use it) and :func:`build_model` (a
TransformerLens ``TransformerBridge``, a :class:`HookedPaperTransformer` for the papers'
other transformers, or a :class:`HookedMLP`, for hooks and caches). The
hooked models load on first use: training never imports TransformerLens. Each model type
is an :class:`Architecture` in the registry (:func:`get_arch`,
:mod:`grokinterp.models.registry`); :mod:`grokinterp.models.archs` registers the built-in
ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grokinterp._lazy import lazy_attributes
from grokinterp.models import archs  # noqa: F401  (registers the built-in architectures)
from grokinterp.models.dropout import Dropout
from grokinterp.models.forward import answer_forward, answer_forward_chunked, answer_logits
from grokinterp.models.loss import (
    REGRESSION_LOSSES,
    cross_entropy32,
    cross_entropy64,
    factual_mse64,
    loss_function,
    softmax_collapse,
    stablemax,
    stablemax_cross_entropy64,
)
from grokinterp.models.params import N_CTX, Params, init_params, param_shapes
from grokinterp.models.registry import ARCHS, Architecture, arch_names, get_arch, register

if TYPE_CHECKING:
    from grokinterp.models.hooked import HookedMLP, HookedPaperTransformer, build_model

__all__ = [
    "ARCHS",
    "N_CTX",
    "REGRESSION_LOSSES",
    "Architecture",
    "Dropout",
    "HookedMLP",
    "HookedPaperTransformer",
    "Params",
    "answer_forward",
    "answer_forward_chunked",
    "answer_logits",
    "arch_names",
    "build_model",
    "cross_entropy32",
    "cross_entropy64",
    "factual_mse64",
    "get_arch",
    "init_params",
    "loss_function",
    "param_shapes",
    "register",
    "softmax_collapse",
    "stablemax",
    "stablemax_cross_entropy64",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "HookedMLP": "grokinterp.models.hooked",
        "HookedPaperTransformer": "grokinterp.models.hooked",
        "build_model": "grokinterp.models.hooked",
    },
)
