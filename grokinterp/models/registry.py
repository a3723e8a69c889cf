"""The architecture registry: each model type is an :class:`Architecture`, registered once.

An entry says everything the rest of the package used to decide by comparing
``cfg.model.arch`` with a string: the parameters' names and shapes and their
initialization, the fast forward, the hooked model for analysis (or, for a non-neural
model, how a checkpoint becomes a module), the activation memory a training row holds,
which trainer fits it, which analysis measures apply, and a one-line description.
:mod:`grokinterp.models.archs` registers the built-in ones (``transformer``, ``mlp``,
``gp``, ``linear``) when :mod:`grokinterp.models` is imported. Adding a model type means
writing its functions in a module of its own and registering them there.

The config (:mod:`grokinterp.config`) sits below the models in the import layers, so it
cannot read this registry: its ``Arch`` literal is the config schema, the list of names a
config may hold, and a test checks that it and this registry agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import Tensor

from grokinterp.errors import ConfigError

# a model's weights by TransformerLens name (defined here, the lowest module of the models
# that names it, so that params.py imports the registry and not the other way round)
Params = dict[str, Tensor]

if TYPE_CHECKING:
    import torch
    from torch import nn

    from grokinterp.config import ModelConfig

    ShapesFn = Callable[[ModelConfig, int, int], dict[str, tuple[int, ...]]]
    InitFn = Callable[[ModelConfig, int, int, torch.Generator], Params]
    ForwardFn = Callable[[Params, Tensor, ModelConfig], tuple[Tensor, Tensor]]
    HookedFn = Callable[[ModelConfig, Params, str | torch.device], nn.Module]
    LoadFn = Callable[[ModelConfig, Params, Tensor], nn.Module]


@dataclass(frozen=True)
class Architecture:
    """One registered model type.

    Args:
        name: registry key, the value of ``ModelConfig.arch``.
        summary: ``cfg -> str``, the one line ``grokinterp info`` prints (:meth:`describe`).
        neural: trained by the neural trainer (``grokinterp train``, AdamW on the parameter
            dict); False for the non-neural models (``grokinterp nonneural``).
        shapes: ``(cfg, d_vocab, d_vocab_out) -> {name: shape}`` of a neural model's
            parameters, in initialization order (:meth:`param_shapes`).
        init: ``(cfg, d_vocab, d_vocab_out, generator) -> Params`` (:meth:`init_params`).
        forward: the fast forward ``(params, tokens, cfg) -> (logits, last hidden layer)``
            at the answer position (:meth:`answer_forward`).
        hooked: ``(cfg, params, device) -> nn.Module``, the hooked model for analysis
            (:meth:`build_hooked`); imports TransformerLens only when called.
        load: ``(cfg, params, x_train) -> nn.Module``, a non-neural model from its
            checkpoint and training inputs (:meth:`load_nonneural`).
        row_floats: ``cfg -> int``, the activations one row of a training batch keeps for
            the backward pass, in floats, the logits excepted (:meth:`floats_per_row`;
            :func:`grokinterp.training.preflight.memory_floor`).
        attention: has attention patterns (``blocks.0.attn.hook_pattern``).
        ntk: its forward is differentiable by ``torch.func`` (the empirical NTK).
        feature_rank: its hidden layers are ``blocks.{i}.mlp.hook_post`` of
            :func:`grokinterp.models.forward.mlp_forward` (Fan et al.'s feature rank).
        gromov: embeddings feed an MLP directly (Gromov's analytic form, one hidden layer).
        needs_gpytorch: needs the optional ``gp`` extra.
    """

    name: str
    summary: Callable[[ModelConfig], str]
    neural: bool
    shapes: ShapesFn | None = None
    init: InitFn | None = None
    forward: ForwardFn | None = None
    hooked: HookedFn | None = None
    load: LoadFn | None = None
    row_floats: Callable[[ModelConfig], int] | None = None
    attention: bool = False
    ntk: bool = False
    feature_rank: bool = False
    gromov: bool = False
    needs_gpytorch: bool = False

    def describe(self, cfg: ModelConfig) -> str:
        """One line on the model of ``cfg``, e.g. ``transformer: 1 layer(s), d_model=128,
        4 heads of 32, d_mlp=512, relu``."""
        return self.summary(cfg)

    def _neural_only(self, what: str) -> ConfigError:
        """The error for a neural-model operation asked of a non-neural arch."""
        return ConfigError(
            f"config field model.arch: {self.name!r} is a non-neural arch; it has no {what}"
        )

    def param_shapes(
        self, cfg: ModelConfig, d_vocab: int, d_vocab_out: int
    ) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the parameters (see :mod:`grokinterp.models.params`)."""
        if self.shapes is None:
            raise self._neural_only("parameter dict of TransformerLens names")
        return self.shapes(cfg, d_vocab, d_vocab_out)

    def init_params(
        self, cfg: ModelConfig, d_vocab: int, d_vocab_out: int, generator: torch.Generator
    ) -> Params:
        """Initial parameters drawn from ``generator``."""
        if self.init is None:
            raise self._neural_only("initialization of a parameter dict")
        return self.init(cfg, d_vocab, d_vocab_out, generator)

    def answer_forward(
        self, params: Params, tokens: Tensor, cfg: ModelConfig
    ) -> tuple[Tensor, Tensor]:
        """(answer-position logits, last MLP activations) of the fast forward."""
        if self.forward is None:
            raise self._neural_only("fast forward")
        return self.forward(params, tokens, cfg)

    def build_hooked(
        self, cfg: ModelConfig, params: Params, device: str | torch.device
    ) -> nn.Module:
        """The hooked model with ``params`` loaded, on ``device``."""
        if self.hooked is None:
            raise self._neural_only("hooked model")
        return self.hooked(cfg, params, device)

    def load_nonneural(self, cfg: ModelConfig, params: Params, x_train: Tensor) -> nn.Module:
        """A non-neural model from its checkpoint's ``params`` and its training inputs."""
        if self.load is None:
            raise ConfigError(f"config field model.arch: {self.name!r} is not a non-neural arch")
        return self.load(cfg, params, x_train)

    def floats_per_row(self, cfg: ModelConfig) -> int:
        """Activation floats one training row keeps for the backward pass, logits excepted."""
        if self.row_floats is None:
            raise self._neural_only("training activations")
        return self.row_floats(cfg)


ARCHS: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Add an architecture to the registry; a name can be registered only once."""
    if arch.name in ARCHS:
        raise ValueError(f"arch {arch.name!r} is already registered")
    ARCHS[arch.name] = arch
    return arch


def get_arch(name: str) -> Architecture:
    """The registered architecture ``name``; ConfigError naming the known ones otherwise."""
    try:
        return ARCHS[name]
    except KeyError:
        raise ConfigError(
            f"config field model.arch: unknown arch {name!r}; known archs: {sorted(ARCHS)}"
        ) from None


def arch_names(**flags: bool) -> list[str]:
    """Names of the registered architectures whose flags have the given values, in
    registration order: ``arch_names(neural=False)`` is ``["gp", "linear", "rfm"]``."""
    return [
        name
        for name, arch in ARCHS.items()
        if all(getattr(arch, flag) == value for flag, value in flags.items())
    ]
