"""Per-neuron inverse participation ratio (IPR) in the task's Fourier basis, and pruning by it.

Doshi, Das, He & Gromov 2024 (ICLR; arXiv 2310.13061, Sec. 2) tell generalizing from
memorizing neurons of a one-hidden-layer MLP on modular arithmetic by how localized each
neuron's weights are in Fourier space. For a weight vector ``u`` over the group's n elements,
with ``ν_k = |Σ_x u_x e^{-2πi k x / n}|``, k = 0 .. ⌊n/2⌋ (``numpy.fft.rfft``: one frequency of
each pair ±k, the constant and, for even n, the sign character):

    IPR_r(u) = Σ_k (ν_k / ‖ν‖_2)^{2r},   r = 2 (theirs),

exactly their ``calculate_ipr(np.absolute(np.fft.rfft(u)), r)``
(d-doshi/Grokking@0b4335f ``utils/data_processing.py:L7-8``; applied per neuron in
``Notebooks/Grokking_with_label_corruption.ipynb``, cell 32, lines 69-72). IPR is 1 for a
neuron that is one Fourier mode (a periodic, generalizing neuron: Gromov's analytic
solution) and at its minimum ``m^(1-r)``, m = ⌊n/2⌋ + 1 (``1 / m`` at r = 2; Hölder), when
every ν_k is equal, as for a weight vector on a single token (a one-hot lookup: a
memorizing neuron). A neuron's IPR is
the mean of the IPRs of its three weight vectors, ``U_j`` (on a), ``V_j`` (on b) and
``W_j`` (its output weights over the classes): theirs, ``ipr_k = (iprs['U'] + iprs['V'] +
iprs['W']) / 3`` (cell 33, line 6).

The group is a :class:`~grokinterp.analysis.groups.GroupBasis`: for the additive Z_p it is
their computation (the tokens in order 0 .. p-1); for the multiplicative Z_p* the weights
are read at the tokens ``g^i`` (the discrete-log order, n = p - 1; token 0 and class 0 left
out), so the same definition measures localization in the multiplicative characters.

Pruning (their cell 33): the neurons sorted by IPR, lowest first, are switched off one by
one (their input weights, bias and output weights set to 0), and the accuracy is measured on
the uncorrupted training examples, the corrupted ones (against the wrong labels they were
trained on: memorization; and against their true labels) and the test set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.analysis.groups import GroupBasis, as_basis
from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, answer_logits
from grokinterp.runs.run import Run
from grokinterp.tasks import Dataset

DOSHI_R = 2  # their r: d-doshi/Grokking@0b4335f Notebooks/Grokking_with_label_corruption.ipynb


def fourier_ipr(
    x: Float[Tensor, "*batch tokens"], basis: GroupBasis | int, r: int = DOSHI_R
) -> Float[Tensor, " *batch"]:
    """IPR_r of each vector along the last axis (indexed by token, at least p entries) in
    the group's Fourier basis (module doc), in float64. A zero vector has no IPR (NaN).

    Raises:
        ConfigError: ``r`` below 1.
    """
    if r < 1:
        raise ConfigError(f"r must be a positive integer (Doshi et al. use 2), got {r}")
    b = as_basis(basis)
    u = b.tokens(x.double(), dim=x.dim() - 1)  # (*batch, n), group order
    nu = torch.fft.rfft(u, dim=-1).abs()  # (*batch, n // 2 + 1)
    norm = nu.pow(2).sum(-1, keepdim=True).sqrt()
    out: Tensor = (nu / norm).pow(2 * r).sum(-1)
    return out


def ipr_bounds(basis: GroupBasis | int, r: int = DOSHI_R) -> tuple[float, float]:
    """The least and largest IPR_r over nonzero vectors: ``m^(1 - r)``, m = ⌊n/2⌋ + 1 (every
    rfft magnitude equal, e.g. a vector on one token; ``1 / m`` at r = 2) and 1 (one
    frequency)."""
    return float((as_basis(basis).order // 2 + 1) ** (1 - r)), 1.0


def neuron_weights(
    params: Params, cfg: ModelConfig, p: int
) -> tuple[Float[Tensor, "d_mlp p"], Float[Tensor, "d_mlp p"], Float[Tensor, "d_mlp p"]]:
    """``(U, V, W)``: each hidden neuron's weights on the operand a, on b (over the p
    tokens) and on the p classes, of a one-hidden-layer MLP (:mod:`grokinterp.models`'s
    ``mlp`` arch): on one-hot inputs the rows of ``W_in`` (Doshi et al.'s ``fc1`` split in
    two), on token inputs the effective ``W_E[:p] W_in`` (a's and b's blocks with
    ``mlp_combine="concat"``, the same one with ``sum``); ``W`` the rows of ``W_U``.

    Raises:
        ConfigError: not a one-hidden-layer MLP without ``mlp_out_proj`` on pair tokens.
    """
    if cfg.arch != "mlp" or cfg.n_layers != 1 or cfg.mlp_out_proj or cfg.mlp_input == "features":
        raise ConfigError(
            "per-neuron Fourier IPR is defined for a one-hidden-layer MLP on pairs (arch mlp, "
            f"n_layers 1, no mlp_out_proj, mlp_input onehot or tokens); got arch={cfg.arch}, "
            f"n_layers={cfg.n_layers}, mlp_out_proj={cfg.mlp_out_proj}, "
            f"mlp_input={cfg.mlp_input}"
        )
    w_in = params["blocks.0.mlp.W_in"].double()
    if cfg.mlp_input == "onehot":
        n = w_in.shape[0] // 2
        u, v = w_in[:n], w_in[n:]
    else:
        w_e = params["embed.W_E"].double()
        if cfg.mlp_combine == "concat":
            dm = w_e.shape[1]
            u, v = w_e @ w_in[:dm], w_e @ w_in[dm:]
        else:
            u = v = w_e @ w_in
    w_u = params["unembed.W_U"].double()
    if u.shape[0] < p or w_u.shape[1] < p:
        raise ConfigError(f"the model reads {u.shape[0]} tokens and scores {w_u.shape[1]} classes; "
                          f"p={p} needs at least p of each")  # fmt: skip
    return u[:p].T, v[:p].T, w_u[:, :p]


def neuron_ipr(
    params: Params, cfg: ModelConfig, basis: GroupBasis | int, r: int = DOSHI_R
) -> pd.DataFrame:
    """One row per hidden neuron: ``ipr_u``, ``ipr_v``, ``ipr_w`` (the IPR of its weights on
    a, on b and on the classes) and ``ipr``, their mean (Doshi et al.'s neuron IPR), with
    ``norm``, the L2 norm of all three (module doc)."""
    b = as_basis(basis)
    u, v, w = neuron_weights(params, cfg, b.p)
    iprs = {name: fourier_ipr(m, b, r) for name, m in (("ipr_u", u), ("ipr_v", v), ("ipr_w", w))}
    table = pd.DataFrame({"neuron": range(u.shape[0]), **{k: t.numpy() for k, t in iprs.items()}})
    table["ipr"] = (table["ipr_u"] + table["ipr_v"] + table["ipr_w"]) / 3
    table["norm"] = (u.pow(2).sum(1) + v.pow(2).sum(1) + w.pow(2).sum(1)).sqrt().numpy()
    return table


def ipr_table(
    run: Run | str | Path,
    basis: GroupBasis | None = None,
    steps: Sequence[int] | None = None,
    r: int = DOSHI_R,
) -> pd.DataFrame:
    """:func:`neuron_ipr` at every checkpoint of a run (or ``steps``): one row per (step,
    neuron). ``basis`` defaults to the additive group Z_p of the run's modulus."""
    run = run if isinstance(run, Run) else Run(run)
    p = run.config.task.p
    if p is None:
        raise ConfigError(f"run {run.path}: task {run.config.task.name!r} has no modulus p")
    b = basis if basis is not None else GroupBasis("additive", p)
    frames = []
    for step in steps if steps is not None else run.steps:
        t = neuron_ipr(run.params(step), run.config.model, b, r)
        t.insert(0, "step", step)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def prune_neurons(params: Params, cfg: ModelConfig, neurons: Sequence[int] | Tensor) -> Params:
    """A copy of a one-hidden-layer MLP's weights with the given hidden neurons switched off:
    their columns of ``W_in`` and entries of ``b_in``, and their rows of ``W_U``, set to 0
    (Doshi et al.'s pruning, cell 33 lines 21-24)."""
    neuron_weights(params, cfg, 1)  # the same model check
    idx = torch.as_tensor(list(neurons) if not isinstance(neurons, Tensor) else neurons,
                          dtype=torch.long)  # fmt: skip
    out = {k: v.detach().clone() for k, v in params.items()}
    out["blocks.0.mlp.W_in"][:, idx] = 0
    if "blocks.0.mlp.b_in" in out:
        out["blocks.0.mlp.b_in"][idx] = 0
    out["unembed.W_U"][idx, :] = 0
    return out


def _accuracy(logits: Tensor, labels: Tensor, mask: Tensor) -> float:
    n = int(mask.sum())
    if n == 0:
        return float("nan")
    return int((logits[mask].argmax(-1) == labels[mask]).sum()) / n


@torch.no_grad()
def pruning_curve(
    params: Params, cfg: ModelConfig, ds: Dataset, order: Sequence[int] | Tensor,
    counts: Sequence[int],
) -> pd.DataFrame:  # fmt: skip
    """Accuracies after switching off the first ``k`` neurons of ``order`` for each k in
    ``counts``: one row per k with ``pruned`` (k), ``fraction`` (k / width), ``train_acc``
    (against the labels trained on), ``clean_train_acc`` (the uncorrupted training
    examples), ``corrupted_acc`` (the corrupted ones against the wrong labels they were
    trained on: memorization), ``corrupted_true_acc`` (the corrupted ones against their true
    labels) and ``test_acc``; the corrupted columns are NaN when no label is corrupted."""
    order_t = torch.as_tensor(list(order) if not isinstance(order, Tensor) else order,
                              dtype=torch.long)  # fmt: skip
    width = params["blocks.0.mlp.W_in"].shape[-1]
    if sorted(order_t.tolist()) != list(range(width)):
        raise ValueError(f"order must be a permutation of the {width} hidden neurons")
    bad = [k for k in counts if not 0 <= k <= width]
    if bad:
        raise ValueError(f"counts must lie in [0, {width}], got {bad}")
    train, corrupted = ds.train_mask, ds.corrupted
    clean_train = train & ~corrupted
    rows = []
    for k in counts:
        logits = answer_logits(prune_neurons(params, cfg, order_t[:k]), ds.inputs, cfg)
        rows.append({
            "pruned": k,
            "fraction": k / width,
            "train_acc": _accuracy(logits, ds.labels, train),
            "clean_train_acc": _accuracy(logits, ds.labels, clean_train),
            "corrupted_acc": _accuracy(logits, ds.labels, corrupted),
            "corrupted_true_acc": _accuracy(logits, ds.true_labels, corrupted),
            "test_acc": _accuracy(logits, ds.labels, ~train),
        })  # fmt: skip
    return pd.DataFrame(rows)


def ipr_order(table: pd.DataFrame, lowest_first: bool = True) -> list[int]:
    """The neurons of a :func:`neuron_ipr` table sorted by IPR (lowest first, Doshi et al.'s
    ``np.argsort(ipr_k)``; or highest first, their reverse run), ties by neuron index."""
    t = table.sort_values(["ipr", "neuron"], ascending=[lowest_first, True], kind="stable")
    return [int(n) for n in t["neuron"]]
