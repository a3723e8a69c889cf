"""Key frequencies: which Fourier frequencies a trained model's output depends on.

Every Fourier progress measure (restricted and excluded loss, the generalizing share, the
logit cube, the neuron clusters' colouring) takes a set K of key frequencies. Four rules
choose it, by name (:data:`RULES`):

* ``causal`` (the default): a frequency is key when the model's output depends on it.
  For each frequency k = 1 .. n // 2 of the task's group (n = p for ``add`` / ``sub``,
  p - 1 for ``mul`` / ``div`` in Z_p*: :mod:`grokinterp.analysis.groups`), remove its
  directions ``u_k, v_k`` from the logits
  (:func:`grokinterp.analysis.measures.excluded_loss` with K = {k}, on the training set)
  and compare the training loss with that of the intact logits; k is key when removing it
  multiplies the training loss by at least ``factor`` (default :data:`EXCLUSION_FACTOR` = 10).
  Then check sufficiency: the training loss of the logits restricted to K (with the
  constant term, :func:`~grokinterp.analysis.measures.restricted_loss`) should stay within
  ``factor`` of the full training loss; the check is reported, not enforced. If no
  frequency passes (a model that has not formed a Fourier circuit: removing any one
  frequency leaves its memorized fit intact), the rule falls back to ``embed`` and says
  so. This is the excluded-loss ablation of Nanda et al. 2023 (arXiv 2301.05217, section
  5.1), used to decide membership instead of being computed after it.
* ``embed``: the largest gap of the sorted per-frequency norms of W_E
  (:func:`grokinterp.analysis.fourier.key_frequencies`). grokinterp's earlier default. The
  paper notes that W_E can carry a sizeable frequency that is not key, and so it can
  include a frequency that the output does not use.
* ``logit``: the same gap rule on the norms of W_logit = W_out W_U along the class axis. The
  paper's appendix reads key frequencies off the Fourier transform of this neuron-logit map
  W_L.
* ``neuron_argmax``: the released code of the paper (``calculate_key_freqs`` in
  ``transformers.py`` of mechanistic-interpretability-grokking/progress-measures-paper):
  each MLP neuron's best frequency, the one whose 8 Fourier components (const, cos k,
  sin k)² explain the largest fraction of its activation variance
  (:func:`~grokinterp.analysis.fourier.neuron_freq_fractions`), without a threshold; the
  key set is every frequency some neuron picks. Dead neurons (no variance) pick none here;
  the released loop also stops one short of (p-1)/2, which is searched here.

**The symmetric group.** For the ``perm`` task (x o y in S_n) the same rules run over the
irreducible representations of S_n instead of the frequencies (pass ``basis``, a
:class:`~grokinterp.analysis.groups.GroupBasis` of group ``symmetric``): the ``causal``
rule removes one representation's grid directions ``rho_ij(a o b)`` at a time, ``embed``
and ``logit`` cut the per-representation norms, and ``neuron_argmax`` (a cyclic notion)
does not apply. ``by_rule`` then also holds ``character``: Chughtai, Chan & Nanda 2023's
rule (their ``determine_key_reps``, rep-theory-mech-interp ``utils/metrics.py:L80-89``),
the representations whose character cube ``chi(a o b o c^-1)`` has a cosine similarity
above :data:`CHARACTER_THRESHOLD` with the class-centered logits
(:func:`grokinterp.analysis.symmetric.character_similarity`).

Measured on the paper's own saved models (docs/reference/key-frequencies.md): the causal rule
returns exactly the frequencies whose removal matters; ``embed`` includes a frequency the
output does not use on one of them, and ``neuron_argmax`` over-includes on two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from grokinterp.analysis import fourier, measures, symmetric
from grokinterp.analysis.groups import GroupBasis
from grokinterp.errors import ConfigError
from grokinterp.models import Params

RULES = ("causal", "embed", "logit", "neuron_argmax")
DEFAULT_RULE = "causal"
#: removing a key frequency multiplies the training loss by at least this much
EXCLUSION_FACTOR = 10.0
#: the sufficiency check: restricted training loss within this factor of the full one
RESTRICTED_FACTOR = 10.0
#: Chughtai et al. 2023's threshold on the logits' character similarity (metrics.py:L87)
CHARACTER_THRESHOLD = 0.005


def check_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`RULES`, else a one-line ConfigError."""
    if rule not in RULES:
        raise ConfigError(f"key-frequency rule {rule!r} is unknown; choose one of {list(RULES)}")
    return rule


def neuron_argmax_frequencies(acts: Float[Tensor, "p p d_mlp"]) -> list[int]:
    """The released code's key frequencies: every frequency that is some neuron's best.

    For each neuron with variance over the grid, its best frequency is
    ``argmax_k frac[n, k]`` (:func:`grokinterp.analysis.fourier.neuron_freq_fractions`);
    the result is the sorted set of best frequencies (Nanda et al. 2023's released
    ``calculate_key_freqs``; no threshold, so one stray neuron adds a frequency).
    """
    frac = fourier.neuron_freq_fractions(acts)
    live = frac.sum(1) > 0
    best = frac[live].argmax(1) + 1
    return sorted({int(k) for k in best.tolist()})


def _grid_loss(L: Tensor, labels: Tensor, mask: Tensor | None) -> float:
    return measures.grid_cross_entropy(L, labels, mask)


@dataclass
class KeyFreqChoice:
    """The chosen key frequencies of a model and the evidence for every frequency.

    Args:
        rule: the rule that chose them (one of :data:`RULES`, or ``given``).
        key_freqs: the key frequencies, ascending.
        evidence: one row per frequency k = 1 .. n // 2 (see :func:`frequency_evidence`).
        train_loss: the intact logits' training loss.
        restricted_train_loss: training loss of the logits restricted to ``key_freqs``.
        sufficient: ``restricted_train_loss <= RESTRICTED_FACTOR * train_loss``.
        note: why the rule fell back to another, or None.
        by_rule: the key frequencies of every rule on the same model, to set side by side.
        factor: the causal rule's exclusion factor.
    """

    rule: str
    key_freqs: list[int]
    evidence: list[dict[str, Any]]
    train_loss: float
    restricted_train_loss: float
    sufficient: bool
    note: str | None = None
    by_rule: dict[str, list[int]] = field(default_factory=dict)
    factor: float = EXCLUSION_FACTOR

    def summary(self) -> dict[str, Any]:
        """The JSON-ready record that ``summary.json`` keeps (``key_freq_evidence`` etc.)."""
        return {
            "key_freq_rule": self.rule,
            "key_freqs_by_rule": self.by_rule,
            "key_freq_check": {
                "train_loss": self.train_loss,
                "restricted_train_loss": self.restricted_train_loss,
                "exclusion_factor": self.factor,
                "restricted_factor": RESTRICTED_FACTOR,
                "sufficient": self.sufficient,
                **({"note": self.note} if self.note else {}),
            },
            "key_freq_evidence": self.evidence,
        }


def frequency_evidence(
    logits: Float[Tensor, "p p c"],
    labels: Int[Tensor, "..."],
    train_mask: Bool[Tensor, "..."],
    key_freqs: Sequence[int],
    structure: str = "sum",
    embed_norms: Sequence[float] | None = None,
    logit_norms: Sequence[float] | None = None,
    basis: GroupBasis | None = None,
) -> list[dict[str, Any]]:
    """Per frequency k = 1 .. n // 2, the evidence for (or against) it being key.

    Each row: ``k``; ``key`` (k in ``key_freqs``); ``embed_norm``, ``logit_norm`` (the
    spectra, when given); ``excluded_loss`` (training loss with only k's directions removed,
    Nanda et al. 2023) and ``excluded_ratio`` (that over the intact training loss);
    ``restricted_loss_with`` and ``restricted_loss_without``: training loss of the logits
    restricted to ``K ∪ {k}`` and to ``K \\ {k}`` (with the constant term), so that for a
    key k, ``without / with`` is what the restriction loses without it, and for another k,
    ``without / with`` is what adding it would gain. With a ``basis`` of S_n the rows are its
    representations (``k`` numbering them), each with its ``name`` (the partition) and
    ``dim``, and ``character_similarity`` (Chughtai et al. 2023's logit similarity).
    """
    p = logits.shape[0]
    keys = _check_keys(key_freqs, p, basis)
    L = logits.detach().to(torch.float64)
    full = _grid_loss(L, labels, train_mask)
    tiny = torch.finfo(torch.float64).tiny
    rows = []
    for k in _components(p, basis):
        excl = measures.excluded_loss(L, labels, [k], train_mask, structure, basis)
        with_k = sorted(set(keys) | {k})
        without_k = [j for j in keys if j != k]
        row: dict[str, Any] = {
            "k": k,
            "key": k in keys,
            "excluded_loss": excl,
            "excluded_ratio": excl / max(full, tiny),
            "restricted_loss_with": measures.restricted_loss(
                L, labels, with_k, train_mask, structure, basis=basis
            ),
            "restricted_loss_without": measures.restricted_loss(
                L, labels, without_k, train_mask, structure, basis=basis
            ),
        }
        if basis is not None and not basis.cyclic:
            shape = symmetric.partitions(basis.degree)[k]
            row["name"] = basis.component_name(k)
            row["dim"] = symmetric.dimension(shape)
            row["character_similarity"] = symmetric.character_similarity(L, basis.degree, k)
        if embed_norms is not None:
            row["embed_norm"] = float(embed_norms[k - 1])
        if logit_norms is not None:
            row["logit_norm"] = float(logit_norms[k - 1])
        rows.append(row)
    return rows


def _components(p: int, basis: GroupBasis | None) -> list[int]:
    """Every component of the group of a (p, p) grid: frequencies 1 .. p // 2 of Z_p, or the
    representations 1 .. m of a ``basis`` of S_n."""
    if basis is not None and not basis.cyclic:
        if basis.order != p:
            raise ValueError(
                f"the grid has side {p}, not the order {basis.order} of {basis.name()}"
            )
        return list(range(1, basis.n_components() + 1))
    return list(range(1, fourier.n_freqs(p) + 1))


def _check_keys(keys: Sequence[int], p: int, basis: GroupBasis | None) -> list[int]:
    if basis is not None and not basis.cyclic:
        return basis.check_components(keys)
    return fourier.check_key_freqs(keys, p)


def character_key_representations(
    logits: Float[Tensor, "n n n"], basis: GroupBasis, threshold: float = CHARACTER_THRESHOLD
) -> list[int]:
    """Chughtai et al. 2023's key representations: those whose character cube has a cosine
    similarity above ``threshold`` with the class-centered logits (module docstring)."""
    if basis.cyclic:
        raise ValueError("the character rule is for the symmetric group's basis")
    n = basis.degree
    return [
        k
        for k in range(1, basis.n_components() + 1)
        if symmetric.character_similarity(logits, n, k) > threshold
    ]


def causal_key_frequencies(
    logits: Float[Tensor, "p p c"],
    labels: Int[Tensor, "..."],
    train_mask: Bool[Tensor, "..."],
    structure: str = "sum",
    factor: float = EXCLUSION_FACTOR,
    basis: GroupBasis | None = None,
) -> list[int]:
    """The frequencies whose removal from the logits multiplies the training loss by at
    least ``factor`` (the ``causal`` rule; module docstring). May be empty.

    ``excluded_loss({k}) >= factor * train_loss`` with both losses cross-entropies (float64)
    over the training pairs in ``train_mask``; ``logits`` are ``L[a, b, c]`` over the full
    grid, ``structure`` is ``sum`` (a + b) or ``difference`` (a - b).

    Raises:
        ValueError: ``factor`` is not above 1 (every frequency would pass).
    """
    if not factor > 1:
        raise ValueError(f"factor must be above 1, got {factor}")
    p = logits.shape[0]
    L = logits.detach().to(torch.float64)
    full = max(_grid_loss(L, labels, train_mask), torch.finfo(torch.float64).tiny)
    every = _components(p, basis)
    excl = measures.excluded_loss_per_freq(L, labels, every, train_mask, structure, basis)
    return [k for k, e in zip(every, excl, strict=True) if e >= factor * full]


def choose_key_frequencies(
    params: Params,
    logits: Float[Tensor, "p p c"],
    acts: Float[Tensor, "p p d_mlp"] | None,
    labels: Int[Tensor, "..."],
    train_mask: Bool[Tensor, "..."],
    structure: str = "sum",
    rule: str = DEFAULT_RULE,
    given: Sequence[int] | None = None,
    factor: float = EXCLUSION_FACTOR,
    basis: GroupBasis | None = None,
) -> KeyFreqChoice:
    """Key frequencies of one (trained) model by ``rule``, or ``given``, with the evidence.

    Args:
        params: the model's weights (for the ``embed`` / ``logit`` spectra).
        logits: its answer logits over the full grid, ``L[a, b, c]``, c over the p classes;
            for a ``basis`` other than Z_p, the grid of its elements (``L[i, j, c]`` for the
            pair ``(elements[i], elements[j])``, every class c).
        acts: its last MLP's activations over the grid (for ``neuron_argmax``); None for a
            model without neurons (that rule is then skipped in ``by_rule``).
        labels, train_mask: per pair, (p, p) or (p * p,), of the run's training split.
        structure: ``sum`` or ``difference`` (the task's cyclic structure).
        rule: one of :data:`RULES`.
        given: key frequencies chosen by the user; ``rule`` is then recorded as ``given``.
        factor: the causal rule's exclusion factor.
        basis: the group whose tokens index the grid (default: Z_p with p the grid's side),
            for the ``embed`` / ``logit`` spectra.
    """
    check_rule(rule)
    p = logits.shape[0]
    group = basis if basis is not None else p
    if basis is not None and basis.order != p:
        raise ValueError(f"the logits' grid has side {p}, not the order {basis.order} of the basis")
    by_rule: dict[str, list[int]] = {
        "causal": causal_key_frequencies(logits, labels, train_mask, structure, factor, basis),
        "embed": fourier.key_frequencies(params, group, "embed"),
        "logit": fourier.key_frequencies(params, group, "logit"),
    }
    if basis is not None and not basis.cyclic:
        by_rule["character"] = character_key_representations(logits, basis)
        if rule == "neuron_argmax":
            raise ConfigError(
                "key-frequency rule 'neuron_argmax' is for cyclic groups (neurons' Fourier "
                "frequencies); S_n's key representations take 'causal', 'embed' or 'logit'"
            )
        acts = None  # neurons' frequencies are a cyclic notion
    if acts is not None:
        by_rule["neuron_argmax"] = neuron_argmax_frequencies(acts)
    elif rule == "neuron_argmax":
        raise ConfigError("key-frequency rule 'neuron_argmax' needs a model with MLP neurons")
    note = None
    if given is not None:
        keys, chosen = _check_keys(given, p, basis), "given"
    else:
        keys, chosen = by_rule[rule], rule
        if rule == "causal" and not keys:
            keys = by_rule["embed"]
            note = (
                f"no frequency's removal multiplied the training loss by {factor:g} (no "
                f"Fourier circuit carries the output yet); fell back to the embed rule"
            )
    L = logits.detach().to(torch.float64)
    full = _grid_loss(L, labels, train_mask)
    restricted = measures.restricted_loss(L, labels, keys, train_mask, structure, basis=basis)
    evidence = frequency_evidence(
        L,
        labels,
        train_mask,
        keys,
        structure,
        fourier.embedding_freq_norms(params, group).tolist(),
        fourier.logit_weight_freq_norms(params, group).tolist(),
        basis,
    )
    return KeyFreqChoice(
        rule=chosen,
        key_freqs=keys,
        evidence=evidence,
        train_loss=full,
        restricted_train_loss=restricted,
        sufficient=bool(restricted <= RESTRICTED_FACTOR * full or math.isclose(restricted, full)),
        note=note,
        by_rule=by_rule,
        factor=factor,
    )
