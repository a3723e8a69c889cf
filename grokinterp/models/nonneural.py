"""The non-neural models of Miller, O'Neill and Bui 2024 (arXiv 2310.17247).

* ``arch="linear"``: y = w . x, no bias (:class:`LinearModel`). Its objective is the
  negative log posterior per training example of a Gaussian likelihood with variance
  sigma^2 (``noise_var``) and a zero-mean Gaussian prior with variance sigma_p^2
  (``prior_var``) on each weight::

      L(w) = (1/n) [ sum_i (y_i - w . x_i)^2 / sigma^2  +  |w|^2 / sigma_p^2 ]

  whose two terms Miller et al. call data fit and complexity; its minimum is the ridge
  solution ``w* = (X^T X / sigma^2 + I / sigma_p^2)^-1 X^T y / sigma^2``
  (:func:`linear_map_solution`).
* ``arch="gp"``: a variational Gaussian-process classifier (Hensman et al. 2015's
  variational bound, GPyTorch's ``VariationalELBO``): constant mean, a scaled RBF kernel
  with one length-scale per input dimension (automatic relevance determination), a
  Bernoulli likelihood (probit link), a full-rank Gaussian ``q(u)`` over the latent
  function at the training inputs, which are the fixed inducing points (GPyTorch's
  unwhitened strategy), as in Miller et al.'s code. The negative ELBO per example is
  the expected negative log likelihood (data fit) plus KL(q(u) || p(u)) / n (complexity).
  GPyTorch is the optional ``gp`` extra (``pip install "grokinterp[gp]"``).

Weights are stored as a flat :data:`~grokinterp.models.Params` dict, like every model's:
``W`` for the linear model; the GP's ``state_dict`` (kernel hyper-parameters in GPyTorch's
raw parametrization, the variational mean and Cholesky factor, the inducing points).
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models.params import Params
from grokinterp.models.registry import get_arch

HIGH_COMPLEXITY_RELEVANT = 0.0005  # Miller et al.'s start: the needed feature's weight
HIGH_COMPLEXITY_OTHER = 0.9  # ... and every other feature's
MAX_CHOLESKY = 100_000  # GPyTorch switches to iterative solves above 800 points by default


class LinearModel(nn.Module):
    """y = x . w (no bias), a hooked-free ``nn.Module`` over a :data:`Params` dict ``{"W"}``."""

    def __init__(self, params: Params):
        super().__init__()
        self.W = nn.Parameter(params["W"].detach().clone().float())

    def forward(self, x: Float[Tensor, "batch feature"]) -> Float[Tensor, " batch"]:
        return x @ self.W


def linear_initial_params(
    cfg: ModelConfig, n_features: int, relevant: list[int], gen: torch.Generator
) -> Params:
    """The linear model's weights at step 0 (``cfg.linear_init``, times ``init_scale``).

    ``high_complexity`` is Miller et al.'s start, chosen so that the model begins where the
    data can be fitted with large weights on the features the target does not need.
    """
    if cfg.linear_init == "high_complexity":
        w = torch.full((n_features,), HIGH_COMPLEXITY_OTHER)
        w[relevant] = HIGH_COMPLEXITY_RELEVANT
    elif cfg.linear_init == "xavier":
        bound = (6.0 / (n_features + 1)) ** 0.5  # Xavier-uniform of a 1 x n_features layer
        w = (torch.rand(n_features, generator=gen) * 2 - 1) * bound
    else:
        w = torch.zeros(n_features)
    return {"W": w * cfg.init_scale}


def linear_objective_terms(
    w: Float[Tensor, " feature"],
    x: Float[Tensor, "batch feature"],
    y: Float[Tensor, " batch"],
    cfg: ModelConfig,
) -> tuple[Tensor, Tensor]:
    """(data fit, complexity) of the linear model's objective on ``(x, y)``:
    ``sum (y - x w)^2 / (sigma^2 n)`` and ``|w|^2 / (sigma_p^2 n)`` (module docstring)."""
    n = len(y)
    fit = ((y - x @ w) ** 2).sum() / (cfg.noise_var * n)
    complexity = (w**2).sum() / (cfg.prior_var * n)
    return fit, complexity


def linear_map_solution(
    x: Float[Tensor, "batch feature"], y: Float[Tensor, " batch"], cfg: ModelConfig
) -> Float[Tensor, " feature"]:
    """The minimizer of the linear objective in closed form (ridge regression / the MAP
    estimate): ``(X^T X / sigma^2 + I / sigma_p^2)^-1 X^T y / sigma^2``, in float64."""
    x64, y64 = x.double(), y.double()
    a = x64.T @ x64 / cfg.noise_var + torch.eye(x.shape[1], dtype=torch.float64) / cfg.prior_var
    w: Tensor = torch.linalg.solve(a, x64.T @ y64 / cfg.noise_var)
    return w


def require_gpytorch() -> Any:
    """GPyTorch, or ConfigError naming the extra that installs it."""
    try:
        import gpytorch
    except ImportError:
        raise ConfigError(
            'config field model.arch: gp needs GPyTorch: pip install "grokinterp[gp]"'
        ) from None
    return gpytorch


def build_gp(x_train: Float[Tensor, "train feature"]) -> tuple[Any, Any]:
    """``(model, likelihood)``: the variational GP classifier of the module docstring with
    GPyTorch's initial hyper-parameters (length-scales and output scale softplus(0) = 0.69,
    constant mean 0, q(u) = N(0, I)), and its Bernoulli likelihood."""
    gpytorch = require_gpytorch()

    class VariationalGP(gpytorch.models.ApproximateGP):  # type: ignore[misc,name-defined]
        def __init__(self, z: Tensor):
            dist = gpytorch.variational.CholeskyVariationalDistribution(z.shape[0])
            strategy = gpytorch.variational.UnwhitenedVariationalStrategy(
                self, z, dist, learn_inducing_locations=False
            )
            super().__init__(strategy)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(
                gpytorch.kernels.RBFKernel(ard_num_dims=z.shape[1])
            )

        def forward(self, x: Tensor) -> Any:
            return gpytorch.distributions.MultivariateNormal(
                self.mean_module(x), self.covar_module(x)
            )

    return VariationalGP(x_train), gpytorch.likelihoods.BernoulliLikelihood()


def gp_lengthscales(model: Any) -> Float[Tensor, " feature"]:
    """The ARD length-scales of :func:`build_gp`'s kernel, one per input dimension."""
    return model.covar_module.base_kernel.lengthscale.detach().reshape(-1)  # type: ignore[no-any-return]


def build_nonneural(
    cfg: ModelConfig, params: Params, x_train: Float[Tensor, "train feature"]
) -> nn.Module:
    """The model of a checkpoint: a :class:`LinearModel`, or the GP of :func:`build_gp` (in
    eval mode; its likelihood is ``gpytorch.likelihoods.BernoulliLikelihood()``), as the
    config's architecture says (:func:`load_linear`, :func:`load_gp`)."""
    return get_arch(cfg.arch).load_nonneural(cfg, params, x_train)


def load_linear(
    cfg: ModelConfig, params: Params, x_train: Float[Tensor, "train feature"]
) -> nn.Module:
    """The linear model of a checkpoint (``{"W"}``); ``x_train`` is not needed."""
    return LinearModel(params)


def load_gp(cfg: ModelConfig, params: Params, x_train: Float[Tensor, "train feature"]) -> nn.Module:
    """The GP classifier of a checkpoint (its ``state_dict``) on the inducing points
    ``x_train``, in eval mode; ConfigError when the checkpoint is not this GP's."""
    model, _ = build_gp(x_train)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    if set(shapes) != set(params):
        raise ConfigError(
            f"config field model.arch: the checkpoint is not the GP of this config (parameters "
            f"{sorted(set(shapes) ^ set(params))[:3]} differ)"
        )
    # scalars are stored with shape (1,)
    model.load_state_dict({k: v.reshape(shapes[k]) for k, v in params.items()})
    model.eval()
    return model  # type: ignore[no-any-return]
