"""How much of an MLP's first layer reads the relevant bits of a sparse parity.

On the (n, k)-sparse parity (:mod:`grokinterp.tasks.samples`, ``sparse_parity``) a network
that generalizes reads only the k relevant inputs S; one that memorizes reads all n.
Barak et al. 2022 (arXiv 2207.08799, Appendix C, p. 41 and Figure 13) watch the first-layer
weights on the relevant coordinates grow while the loss is flat ("progress only becomes
visible in the loss once the relevant weights become larger than all of the irrelevant
weights"), and the PAIR explorable "Do machine learning models memorize or generalize?"
(Pearce et al. 2023) shows the weights on the distracting bits decaying to zero as the
model generalizes.

:func:`relevant_weight_share` is that picture as one number: the share of the first layer's
absolute weight on the rows of S,

    share = sum_{i in S} sum_j |W_in[i, j]| / sum_i sum_j |W_in[i, j]|,

k / n in expectation for weights that ignore which bits matter (any i.i.d. initialization),
1 for a layer that reads only S.
"""

from __future__ import annotations

from collections.abc import Sequence

from jaxtyping import Float
from torch import Tensor

from grokinterp.errors import ConfigError

FIRST_LAYER = "blocks.0.mlp.W_in"  # the MLP on features: (n_features, d_mlp)


def relevant_weight_share(w_in: Float[Tensor, "input hidden"], relevant: Sequence[int]) -> float:
    """The share of ``w_in``'s absolute weight (rows: inputs) on the rows ``relevant``
    (module doc): 1 when only those rows are nonzero, ``len(relevant) / n`` when every row
    has the same mass. Raises :class:`ConfigError` for indices outside the rows, repeated
    indices, or an all-zero matrix (the share is undefined)."""
    n = w_in.shape[0]
    rows = list(relevant)
    if not rows or len(set(rows)) != len(rows) or min(rows) < 0 or max(rows) >= n:
        raise ConfigError(
            f"relevant: give distinct input indices in [0, {n}) (the first layer has {n} "
            f"input rows), got {rows}"
        )
    mass = w_in.detach().abs().double().sum(dim=1)
    total = float(mass.sum())
    if total == 0.0:
        raise ConfigError("relevant_weight_share: the first layer is all zeros; no share")
    return float(mass[rows].sum()) / total
