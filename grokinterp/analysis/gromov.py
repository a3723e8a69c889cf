"""How close a one-hidden-layer MLP is to Gromov's analytic network (arXiv 2301.02679).

Gromov's solution (:mod:`grokinterp.models.analytic`) has a form, not fixed numbers: neuron
``j`` reads ``a`` through ``cos(w a + α_j)`` and ``b`` through ``cos(w b + β_j)`` at one
frequency ``w = 2π k_j / p``, and writes class ``q`` with ``cos(w q + α_j + β_j)``; which
neuron gets which frequency, and the phases, are free. Gromov shows (his Figs. 3-5) that
trained networks take this form: each neuron's weights are one Fourier mode, with
``φ_out = φ_a + φ_b``. A similarity to it must therefore be invariant to permuting neurons
and to the phases. Ours fits the form to every neuron and asks how much weight it explains.

For a one-hidden-layer MLP, the effective first-layer vectors of neuron ``j`` are
``u_j = W_E[:p] W_in[a block, j]`` and ``v_j = W_E[:p] W_in[b block, j]`` (both the same
block for ``mlp_combine="sum"``), with half the bias ``b_in[j]`` added to each (a constant
input, which the form does not have), and the output vector is ``o_j = W_U[j, :p]``. With
``x̂_k = Σ_n x_n e^{-i w_k n}`` (k = 1..(p-1)//2), a cosine ``A cos(w_k n + φ)`` has energy
``A² p / 2 = 2 |x̂_k|² / p`` and phase ``φ = arg x̂_k``. Per neuron:

* ``k_j = argmax_k (|û_k|² + |v̂_k|²)``; first-layer energy explained
  ``E_in,j = 2 (|û_{k_j}|² + |v̂_{k_j}|²) / p`` out of ``‖u_j‖² + ‖v_j‖²``;
* ``α_j = arg û_{k_j}``, ``β_j = arg v̂_{k_j}``; the output's projection on the form,
  ``c_j = ⟨o_j, cos(w_{k_j} q + α_j + β_j)⟩ / (p/2)``; energy explained
  ``E_out,j = max(c_j, 0)² p / 2`` out of ``‖o_j‖²`` (a negative ``c_j`` has the wrong sign: with
  ``z²`` hidden activations it lowers the correct logit);
* the phase error ``δ_j = arg ô_{k_j} − α_j − β_j``.

Measures: ``gromov_in = Σ_j E_in,j / Σ_j (‖u_j‖² + ‖v_j‖²)`` and ``gromov_out = Σ_j E_out,j /
Σ_j ‖o_j‖²`` (shares of each layer's energy in Gromov's form), ``gromov_similarity =
sqrt((gromov_in + gromov_out) / 2)`` (the cosine similarity between the network's weights,
each layer scaled to unit norm, and their best fit of Gromov's form: 1 for the analytic
network), ``gromov_phase = Σ_j |ô_{k_j}| cos δ_j / Σ_j |ô_{k_j}|`` (1 when every neuron obeys
``φ_out = φ_a + φ_b``), and ``gromov_freq_coverage``: the share of the ``(p-1)//2`` frequencies
that are some neuron's ``k_j`` among the neurons holding 90% of the first-layer energy.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, get_arch
from grokinterp.runs.run import Run


def first_layer_vectors(params: Params, cfg: ModelConfig, p: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(u, v, o)``: each neuron's effective input weights on ``a`` and on ``b`` (p, N),
    half its bias included in each, and its output weights on the p classes (N, p)."""
    if not get_arch(cfg.arch).gromov or cfg.n_layers != 1:
        raise ConfigError(
            "Gromov's form applies to one-hidden-layer MLPs (arch=mlp, n_layers=1); got "
            f"arch={cfg.arch}, n_layers={cfg.n_layers}"
        )
    w_e = params["embed.W_E"][:p].double()
    w_in = params["blocks.0.mlp.W_in"].double()
    half_bias = params["blocks.0.mlp.b_in"].double() / 2
    if cfg.mlp_combine == "concat":
        dm = w_e.shape[1]
        u, v = w_e @ w_in[:dm], w_e @ w_in[dm:]
    else:
        u = v = w_e @ w_in
    return u + half_bias, v + half_bias, params["unembed.W_U"][:, :p].double()


def gromov_similarity(params: Params, cfg: ModelConfig, p: int) -> dict[str, float]:
    """Shares of a one-hidden-layer MLP's weights in Gromov's analytic form (module doc)."""
    if p < 5:
        raise ConfigError(f"Gromov's form needs at least two frequencies: p >= 5, got {p}")
    u, v, o = first_layer_vectors(params, cfg, p)
    n_freq = (p - 1) // 2
    ks = torch.arange(1, n_freq + 1, dtype=torch.float64)
    grid = torch.arange(p, dtype=torch.float64)
    basis = torch.exp(-1j * 2 * math.pi * ks[:, None] * grid[None, :] / p)  # (K, p)
    u_hat, v_hat = basis @ u.to(basis.dtype), basis @ v.to(basis.dtype)  # (K, N)
    o_hat = basis @ o.T.to(basis.dtype)  # (K, N)
    energy_k = u_hat.abs() ** 2 + v_hat.abs() ** 2  # (K, N)
    k_idx = energy_k.argmax(0)  # (N,)
    cols = torch.arange(u.shape[1])
    e_in = 2 * energy_k[k_idx, cols] / p
    tot_in = (u**2).sum(0) + (v**2).sum(0)
    alpha, beta = u_hat[k_idx, cols].angle(), v_hat[k_idx, cols].angle()
    w = 2 * math.pi * ks[k_idx] / p  # (N,)
    form = torch.cos(grid[:, None] * w + alpha + beta)  # (p, N)
    c = (o.T * form).sum(0) / (p / 2)
    e_out = c.clamp(min=0) ** 2 * p / 2
    tot_out = (o**2).sum()
    o_k = o_hat[k_idx, cols]
    delta = o_k.angle() - alpha - beta
    g_in = float(e_in.sum() / tot_in.sum()) if float(tot_in.sum()) > 0 else 0.0
    g_out = float(e_out.sum() / tot_out) if float(tot_out) > 0 else 0.0
    weight = o_k.abs()
    phase = float((weight * torch.cos(delta)).sum() / weight.sum()) if weight.sum() > 0 else 0.0
    order = torch.argsort(tot_in, descending=True)
    cum = torch.cumsum(tot_in[order], 0)
    n_top = int((cum < 0.9 * cum[-1]).sum()) + 1
    coverage = len(set(k_idx[order[:n_top]].tolist())) / n_freq
    return {
        "gromov_similarity": math.sqrt((g_in + g_out) / 2),
        "gromov_in": g_in,
        "gromov_out": g_out,
        "gromov_phase": phase,
        "gromov_freq_coverage": coverage,
    }


def gromov_similarity_table(run: Run | str | Path, steps: list[int] | None = None) -> pd.DataFrame:
    """:func:`gromov_similarity` at every checkpoint of a run (or the given ``steps``),
    joined with the metrics logged at the same steps: one row per step."""
    run = run if isinstance(run, Run) else Run(run)
    cfg = run.config
    p = cfg.task.p
    if cfg.task.name != "add" or p is None:
        raise ConfigError(
            f"Gromov's form solves a + b mod p; run {run.path} has task {cfg.task.name!r}"
        )
    rows = []
    for step in steps if steps is not None else run.steps:
        rows.append({"step": step, **gromov_similarity(run.params(step), cfg.model, p)})
    return run.with_metrics(pd.DataFrame(rows))
