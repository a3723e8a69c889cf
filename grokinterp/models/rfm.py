"""The recursive feature machine (RFM) of Mallinar et al. 2025, *Emergence in non-neural models:
grokking modular arithmetic via average gradient outer product* (ICML 2025, arXiv 2407.20199),
as the non-neural arch ``rfm``.

Inputs are the concatenated one-hot vectors of the two operands, ``x = [e_a, e_b]`` in
R^(2n) (:func:`onehot_pairs`); targets the one-hot answers in R^c. One RFM iteration (one
*step* of a run) with the feature matrix M (M_0 = I):

1. kernel ridge regression with the Mahalanobis Gaussian kernel
   ``K_M(x, z) = exp(-(x - z)^T M (x - z) / (2 L^2))`` (bandwidth L, :func:`gaussian_kernel`):
   ``alpha = (K_M(X, X) + ridge I)^-1 Y`` and ``f(x) = sum_i alpha_i K_M(x, x_i)``
   (:func:`solve_kernel_ridge`; ridge 0 interpolates the training set);
2. M is replaced by the average gradient outer product of ``f`` over the training inputs,
   raised to a power s (:func:`agop`)::

       J(x) = d f / d x  (c x 2n),   AGOP = (1/n) sum_j (J(x_j) - Jbar)^T (J(x_j) - Jbar),
       M <- AGOP^s

   where ``Jbar`` is the mean Jacobian (subtracted with ``centering``, else 0). For the
   Gaussian kernel ``d K_M(x, z) / d x = -K_M(x, z) M (x - z) / L^2``.

The authors' defaults (nmallinar/rfm-grokking@73181df, train_kernel.py:L113-123): Gaussian
kernel, L = 2.5, ridge 0, s = 1/2 (the matrix square root), centering on
(train_kernel.py:L176-178), float64 throughout (L18). The Jacobian and the centering follow
their ``get_grads`` (models/gaussian_kernel.py:L52-132); their overall sign of J is the
opposite of ours, which the outer product does not see. Their square root is
``scipy.linalg.sqrtm`` (real part); ours is the symmetric eigendecomposition with negative
round-off eigenvalues set to 0, which is the same matrix for a PSD AGOP.

A checkpoint holds ``{"M", "alpha"}``; the model of a checkpoint (:class:`RFMPredictor`)
needs the training inputs too, as the GP does (:func:`load_rfm`).
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models.params import Params


def onehot_pairs(a: Int[Tensor, " n"], b: Int[Tensor, " n"], size: int) -> Float[Tensor, "n d"]:
    """``[onehot(a), onehot(b)]`` in float64: the RFM's input (d = 2 ``size``)."""
    eye = torch.eye(size, dtype=torch.float64)
    return torch.cat([eye[a], eye[b]], dim=1)


def mahalanobis_sq(
    x: Float[Tensor, "n d"], z: Float[Tensor, "m d"], m: Float[Tensor, "d d"]
) -> Float[Tensor, "n m"]:
    """``(x_i - z_j)^T M (x_i - z_j)`` for every pair, clamped at 0 (round-off)."""
    xm, zm = x @ m, z @ m
    d = (xm * x).sum(1, keepdim=True) + (zm * z).sum(1)[None, :] - 2 * xm @ z.T
    return d.clamp_min(0)


def gaussian_kernel(
    x: Float[Tensor, "n d"], z: Float[Tensor, "m d"], m: Float[Tensor, "d d"], bandwidth: float
) -> Float[Tensor, "n m"]:
    """``K_M(x, z) = exp(-(x - z)^T M (x - z) / (2 L^2))`` (module docstring)."""
    return torch.exp(-mahalanobis_sq(x, z, m) / (2 * bandwidth**2))


def solve_kernel_ridge(
    k: Float[Tensor, "n n"], y: Float[Tensor, "n c"], ridge: float
) -> Float[Tensor, "n c"]:
    """``alpha = (K + ridge I)^-1 Y`` in float64; ConfigError when the system is singular
    (ridge 0 with two training inputs the current M cannot tell apart)."""
    a = k.double() + ridge * torch.eye(len(k), dtype=torch.float64)
    sol: Tensor
    sol, info = torch.linalg.solve_ex(a, y.double())
    if int(info) != 0:
        raise ConfigError(
            "config field model.rfm_ridge: the kernel matrix is singular (two training inputs "
            "are identical under the learned M); set rfm_ridge > 0, e.g. 1e-8"
        )
    return sol


def jacobians(
    x: Float[Tensor, "n d"],
    centers: Float[Tensor, "m d"],
    alpha: Float[Tensor, "m c"],
    m: Float[Tensor, "d d"],
    bandwidth: float,
) -> Float[Tensor, "n c d"]:
    """``J(x_j) = d f / d x`` at every row of ``x`` of ``f(x) = sum_i alpha_i K_M(x, c_i)``:
    ``J(x)[c] = (1/L^2) sum_i alpha_ic K_M(x, c_i) M (c_i - x)``."""
    k = gaussian_kernel(x, centers, m, bandwidth)  # (n, m)
    # sum_i alpha_ic k(x, c_i) M c_i = (sum_i k(x, c_i) alpha_ic c_i)^T M; the inner sum one
    # input coordinate at a time over the centers where it is not 0 (one-hot rows: 2 each)
    kt = k.T.contiguous()  # rows: one center each
    parts = []
    for col in range(centers.shape[1]):
        rows = torch.nonzero(centers[:, col]).squeeze(1)
        parts.append((kt[rows] * centers[rows, col, None]).T @ alpha[rows])  # (n, c)
    inner = torch.stack(parts, dim=2)  # (n, c, d)
    f = k @ alpha  # (n, c)
    return (inner @ m - f[:, :, None] * (x @ m)[:, None, :]) / bandwidth**2


def matrix_power_psd(a: Float[Tensor, "d d"], power: float) -> Float[Tensor, "d d"]:
    """``a^power`` of a symmetric PSD matrix through its eigendecomposition, negative
    round-off eigenvalues set to 0."""
    a = (a + a.T) / 2
    vals, vecs = torch.linalg.eigh(a)
    vals = vals.clamp_min(0) ** power
    out: Tensor = (vecs * vals) @ vecs.T
    return out


def agop(
    x: Float[Tensor, "n d"],
    centers: Float[Tensor, "m d"],
    alpha: Float[Tensor, "m c"],
    m: Float[Tensor, "d d"],
    bandwidth: float,
    *,
    centering: bool = True,
    power: float = 1.0,
) -> Float[Tensor, "d d"]:
    """The average gradient outer product of ``f`` over the rows of ``x``,
    ``(1/n) sum_j (J_j - Jbar)^T (J_j - Jbar)`` (``Jbar`` = 0 without ``centering``), raised
    to ``power`` (1: the AGOP itself; 1/2: the RFM's update, module docstring)."""
    j = jacobians(x, centers, alpha, m, bandwidth)
    if centering:
        j = j - j.mean(0)
    flat = j.reshape(-1, j.shape[-1])
    g = flat.T @ flat / len(x)
    return g if power == 1.0 else matrix_power_psd(g, power)


class RFMPredictor(nn.Module):
    """``f(x) = K_M(x, X_train) alpha``: the RFM of a checkpoint ``{"M", "alpha"}`` on its
    training inputs; ``forward`` takes :func:`onehot_pairs` rows and returns the c scores."""

    def __init__(self, params: Params, x_train: Float[Tensor, "n d"], bandwidth: float):
        super().__init__()
        self.M: Tensor
        self.alpha: Tensor
        self.centers: Tensor
        self.register_buffer("M", params["M"].double())
        self.register_buffer("alpha", params["alpha"].double())
        self.register_buffer("centers", x_train.double())
        self.bandwidth = bandwidth

    def forward(self, x: Float[Tensor, "batch d"]) -> Float[Tensor, "batch c"]:
        k = gaussian_kernel(x.double(), self.centers, self.M, self.bandwidth)
        out: Tensor = k @ self.alpha
        return out


def load_rfm(cfg: ModelConfig, params: Params, x_train: Float[Tensor, "n d"]) -> nn.Module:
    """The RFM of a checkpoint on its training inputs (:func:`onehot_pairs` of the training
    pairs, in the dataset's pair order); ConfigError when the shapes disagree."""
    if set(params) != {"M", "alpha"}:
        raise ConfigError(
            f"config field model.arch: the checkpoint is not an RFM's (tensors {sorted(params)}, "
            f"expected ['M', 'alpha'])"
        )
    d, n = params["M"].shape[0], params["alpha"].shape[0]
    if tuple(params["M"].shape) != (d, d) or tuple(x_train.shape) != (n, d):
        raise ConfigError(
            f"config field model.arch: the RFM checkpoint (M {tuple(params['M'].shape)}, alpha "
            f"{tuple(params['alpha'].shape)}) does not fit training inputs {tuple(x_train.shape)}"
        )
    return RFMPredictor(params, x_train, cfg.rfm_bandwidth)


def describe_rfm(m: ModelConfig) -> str:
    """``rfm: Gaussian kernel ridge regression with AGOP features, L=2.5, ridge=0, ...``."""
    return (
        f"rfm: kernel ridge regression, Gaussian Mahalanobis kernel, M <- AGOP^s; "
        f"bandwidth={m.rfm_bandwidth}, ridge={m.rfm_ridge}, s={m.rfm_agop_power}, "
        f"centering={m.rfm_centering}"
    )
