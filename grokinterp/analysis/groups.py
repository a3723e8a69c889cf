"""The group behind a task, and how its tokens index it (the basis of the group measures).

The Fourier progress measures (Nanda et al. 2023, arXiv 2301.05217: key frequencies,
restricted and excluded loss, Gini, neuron clusters, the logit cube;
:mod:`grokinterp.analysis.fourier`, :mod:`grokinterp.analysis.measures`) are written for a
cyclic group Z_n and labels that depend on ``i + j`` or ``i - j`` mod n. A
:class:`GroupBasis` says which group a task is a sum or difference in, and which token is
its element number i:

* ``additive``: Z_p itself (``add``: a + b, ``sub``: a - b); element i is token i, n = p.
* ``multiplicative``: Z_p* = {1, ..., p - 1} under multiplication mod a prime p, cyclic of
  order n = p - 1 (the standard fact that a primitive root g exists; e.g. Ireland & Rosen,
  *A Classical Introduction to Modern Number Theory*, Thm. 4.1.1). Element i is the token
  ``g^i mod p``, so i is the discrete logarithm of the token, and
  ``log(a b) = log a + log b``, ``log(a / b) = log a - log b`` mod p - 1: ``mul`` is a sum
  and ``div`` a difference in Z_{p-1}. The characters of Z_p* are
  ``chi_j(x) = exp(2 pi i j log(x) / (p - 1))``, the Fourier basis of Z_{p-1} read through
  the logarithm. Chughtai, Chan & Nanda 2023 (arXiv 2302.03025) read networks trained on
  the composition of any finite group, cyclic groups among them, in that group's
  representations; Doshi, He, Das & Gromov 2024 ("Grokking modular polynomials", arXiv
  2406.03495) carry the analytic modular-addition network over to modular multiplication
  through this bijection of Z_p* onto Z_{p-1}, and find that trained networks learn it; and
  Nguyen 2026 ("The discrete-log clock", arXiv 2606.17399) reports that a transformer
  grokking multiplication is sparse in these characters where the additive Fourier basis
  of Z_p sees a dense spectrum. ``g`` is :func:`grokinterp.tasks.modular.primitive_root`
  (the smallest generator); another generator g' = g^m (m coprime to p - 1) relabels
  frequency k as k m^-1 mod p - 1 (up to sign), so which numbers the key frequencies
  carry depends on g, while their count, their norms and every loss do not.

* ``symmetric``: the symmetric group S_n (n <= 5) of the ``perm`` task (x o y); element i is
  token i (the ``perm`` tasks' numbering), n! of them (``p`` = n!). S_n is not abelian and
  has no frequencies: its components are its irreducible representations rho, one per
  partition of n (:mod:`grokinterp.analysis.symmetric`, Young's orthogonal form), numbered
  k = 1 .. (partitions - 1) in the order of :func:`~grokinterp.analysis.symmetric.
  partitions` after the trivial one (k = 0, the constant term). The grid directions of
  component k are the functions ``(a, b) -> rho_ij(a o b)`` (the real matrix elements), as
  those of frequency k of Z_n are ``cos, sin(w_k (a + b))``: Chughtai, Chan & Nanda 2023
  (arXiv 2302.03025) read networks trained on group composition in these, and the
  character ``tr rho`` plays the part of ``cos(w_k .)`` in the logit cube.

Every measure that takes a basis (restricted / excluded loss, the causal key components,
the embedding and logit-weight spectra, Gini, logit shares) runs on its components
(:meth:`GroupBasis.n_components`): frequencies 1 .. n // 2 for the cyclic groups,
irreducible representations for S_n. The names ``key_freqs`` / ``frequency`` of the cyclic
measures are kept; for S_n read them as key representations.

**The zero element.** 0 is not in Z_p*: ``0 * b = 0`` for every b, so no character sees
it. The measures run over the (p - 1)^2 pairs with a != 0 and b != 0 (:meth:`GroupBasis.
grid_index`); for ``mul`` the 2p - 1 pairs with a zero operand (label 0) are left out of
restricted / excluded loss, clusters and the logit cube (they stay in the plain train and
test loss), and for ``div`` (b != 0 already) the p - 1 pairs with a = 0 are. The token 0's
embedding row and the class 0 logit column are left out of the embedding and logit-weight
spectra; the class 0 logit does stay in the softmax of every loss (the model scores it), as
a class whose logit the projections treat like any other's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.analysis.symmetric import partitions
from grokinterp.errors import ConfigError
from grokinterp.tasks import get_task, is_prime
from grokinterp.tasks.modular import power_table, primitive_root

Group = Literal["additive", "multiplicative", "symmetric"]
GroupStructure = Literal["sum", "difference"]
GROUPS: tuple[Group, ...] = ("additive", "multiplicative", "symmetric")
#: the largest n of S_n with representations (grokinterp.analysis.symmetric.MAX_N)
MAX_DEGREE = 5
#: the perm tasks whose labels are a product x o y in S_n
SYMMETRIC_TASKS = ("perm",)


@dataclass(frozen=True)
class GroupBasis:
    """A group (cyclic Z_n, or the symmetric group S_n) and its labelling by the task's tokens.

    Args:
        group: ``additive`` (Z_p, n = p), ``multiplicative`` (Z_p*, n = p - 1, p prime) or
            ``symmetric`` (S_n, with p = n! tokens: :func:`symmetric_basis`).
        p: the task's number of tokens (its modulus; n! for S_n), tokens 0 .. p - 1.
        structure: ``sum`` (labels depend on i + j; i o j for S_n) or ``difference``
            (i - j; cyclic groups only), in the group's index coordinates.
        generator: the multiplicative group's generator g (default: the smallest primitive
            root); None for the additive group.
    """

    group: Group
    p: int
    structure: GroupStructure = "sum"
    generator: int | None = None
    _elements: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ConfigError(f"group must be one of {list(GROUPS)}, got {self.group!r}")
        if self.structure not in ("sum", "difference"):
            raise ConfigError(f"structure must be 'sum' or 'difference', got {self.structure!r}")
        p = self.p
        if isinstance(p, bool) or not isinstance(p, int):
            raise ConfigError(f"p must be an integer, got {p!r}")
        if self.group == "additive":
            if p < 2:
                raise ConfigError(f"the additive group Z_p needs p >= 2, got p={p}")
            if self.generator is not None:
                raise ConfigError("the additive group Z_p takes no generator")
            elements: tuple[int, ...] = tuple(range(p))
        elif self.group == "symmetric":
            degree = next((d for d in range(2, MAX_DEGREE + 1) if math.factorial(d) == p), None)
            if degree is None:
                raise ConfigError(
                    f"the symmetric group S_n has p = n! tokens for n = 2 .. {MAX_DEGREE}, got "
                    f"p={p}; build it with symmetric_basis(n)"
                )
            if self.structure != "sum" or self.generator is not None:
                raise ConfigError(
                    "the symmetric group's measures are for x o y (structure 'sum') and take "
                    "no generator"
                )
            elements = tuple(range(p))
        else:
            if not is_prime(p) or p < 3:
                raise ConfigError(
                    f"the multiplicative group Z_p* is cyclic (with at least one frequency) "
                    f"only for a prime p >= 3, got p={p}; use a prime modulus such as 97"
                )
            g = primitive_root(p) if self.generator is None else self.generator
            elements = tuple(int(x) for x in power_table(p, g))  # checks that g generates
            object.__setattr__(self, "generator", g)
        object.__setattr__(self, "_elements", elements)

    @property
    def order(self) -> int:
        """n: p (additive), p - 1 (multiplicative) or n! (symmetric)."""
        return len(self._elements)

    @property
    def cyclic(self) -> bool:
        """Whether the group is cyclic (Z_p or Z_p*: frequencies) rather than S_n."""
        return self.group != "symmetric"

    @property
    def degree(self) -> int:
        """n of S_n (symmetric group only)."""
        if self.cyclic:
            raise ValueError(f"{self.name()} is cyclic: it has no degree")
        return next(d for d in range(2, MAX_DEGREE + 1) if math.factorial(d) == self.p)

    def n_components(self) -> int:
        """How many components the measures run over: the frequencies 1 .. n // 2 of a
        cyclic group, the nontrivial irreducible representations of S_n."""
        if self.cyclic:
            return self.order // 2
        return len(partitions(self.degree)) - 1

    def component_name(self, k: int) -> str:
        """``k`` for a frequency; the partition, e.g. ``(4,1)``, for a representation of S_n."""
        if self.cyclic:
            return str(k)
        return "(" + ",".join(map(str, partitions(self.degree)[k])) + ")"

    def check_components(self, keys: Sequence[int]) -> list[int]:
        """``keys`` sorted and unique, each a component number 1 .. :meth:`n_components`.

        Raises:
            ConfigError: one is out of range (the constant term / trivial representation,
                number 0, is no component).
        """
        m = self.n_components()
        out = sorted({int(k) for k in keys})
        bad = [k for k in out if not 1 <= k <= m]
        if bad:
            what = "frequencies" if self.cyclic else "representations"
            raise ConfigError(
                f"key {what} {bad} are out of range for {self.name()}: they are 1 .. {m}; "
                f"the constant term (the trivial representation) is not one"
            )
        return out

    def elements(self, device: torch.device | str | None = None) -> Int[Tensor, " n"]:
        """Token of each group element: ``elements[i]`` is i (additive) or ``g^i mod p``."""
        return torch.tensor(self._elements, dtype=torch.int64, device=device)

    def index_of(self) -> Int[Tensor, " p"]:
        """Inverse of :meth:`elements` over the tokens 0 .. p-1: the group index of each
        token (its discrete logarithm, for the multiplicative group), -1 for a token not in
        the group (0, for the multiplicative group)."""
        out = torch.full((self.p,), -1, dtype=torch.int64)
        out[self.elements()] = torch.arange(self.order)
        return out

    def tokens(self, x: Tensor, dim: int = 0) -> Tensor:
        """The entries of ``x`` along ``dim`` (indexed by token, at least p long) at the
        group's elements, in group order: n entries, entry i that of ``elements[i]``."""
        if x.shape[dim] < self.p:
            raise ValueError(
                f"axis {dim} has {x.shape[dim]} entries, fewer than the p={self.p} tokens; "
                f"pass the p of the model's task"
            )
        return x.index_select(dim, self.elements(x.device))

    def grid_index(self, inputs: Int[Tensor, "N 2"]) -> Int[Tensor, "n n"]:
        """Row of ``inputs`` (a dataset's (a, b) pairs) holding the pair
        ``(elements[i], elements[j])``, for every i, j: ``values[grid_index]`` re-indexes
        per-pair values (logits, labels, masks, activations) onto the group's (n, n) grid.
        Pairs outside the group (an operand 0, for the multiplicative group) are left out.

        Raises:
            ValueError: a pair of the group is missing from ``inputs``.
        """
        if inputs.ndim != 2 or inputs.shape[1] < 2:
            raise ValueError(f"inputs must be (pairs, 2+) token rows, got {tuple(inputs.shape)}")
        a, b = inputs[:, 0].cpu(), inputs[:, 1].cpu()
        ok = (a >= 0) & (a < self.p) & (b >= 0) & (b < self.p)
        log = self.index_of()
        i = torch.where(ok, log[a.clamp(0, self.p - 1)], -1)
        j = torch.where(ok, log[b.clamp(0, self.p - 1)], -1)
        keep = (i >= 0) & (j >= 0)
        n = self.order
        out = torch.full((n * n,), -1, dtype=torch.int64)
        out[i[keep] * n + j[keep]] = torch.nonzero(keep).flatten()
        if bool((out < 0).any()):
            raise ValueError(
                f"the dataset lacks {int((out < 0).sum())} of the {n * n} pairs of "
                f"{self.name()}; the group measures need every pair of the group"
            )
        return out.reshape(n, n)

    def name(self) -> str:
        """E.g. ``Z_31 (additive)``, ``Z_31* (multiplicative, x = 3^i)`` or ``S_5 (symmetric)``."""
        if self.group == "additive":
            return f"Z_{self.p} (additive)"
        if self.group == "symmetric":
            return f"S_{self.degree} (symmetric)"
        return f"Z_{self.p}* (multiplicative, x = {self.generator}^i mod {self.p})"

    def record(self) -> dict[str, Any]:
        """What ``summary.json`` keeps under ``fourier_basis``."""
        n = self.order
        if self.group == "symmetric":
            m = self.n_components()
            return {
                "group": "symmetric",
                "name": self.name(),
                "order": n,
                "degree": self.degree,
                "structure": self.structure,
                "components": "irreducible representations",
                "n_components": m,
                "representations": {str(k): self.component_name(k) for k in range(1, m + 1)},
                "index": (
                    "token x is element x of S_n (the perm task's numbering); component k is "
                    "the irreducible representation of the k-th partition of n after the "
                    "trivial one (Young's orthogonal form); its grid directions are "
                    "rho_ij(a o b)"
                ),
                "pairs": f"all {n * n} pairs",
            }
        out: dict[str, Any] = {
            "group": self.group,
            "name": self.name(),
            "order": n,
            "structure": self.structure,
            "n_freqs": n // 2,
        }
        if self.group == "multiplicative":
            out["generator"] = self.generator
            out["index"] = (
                f"discrete logarithm: token x is element log_{self.generator}(x) of "
                f"Z_{n}; frequency k is the character exp(2 pi i k log(x) / {n})"
            )
            out["pairs"] = (
                f"the {n * n} pairs with a != 0 and b != 0 (0 is not in Z_{self.p}*); the "
                f"token 0 and class 0 are left out of the spectra"
            )
        else:
            out["index"] = f"token x is element x of Z_{n}; frequency k is exp(2 pi i k x / {n})"
            out["pairs"] = f"all {n * n} pairs"
        return out


def symmetric_basis(n: int) -> GroupBasis:
    """The basis of S_n (``perm``: x o y), n = 2 .. 5: tokens 0 .. n! - 1, components the
    nontrivial irreducible representations."""
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_DEGREE:
        raise ConfigError(f"S_n's representations are built for n = 2 .. {MAX_DEGREE}, got n={n!r}")
    return GroupBasis("symmetric", math.factorial(n), "sum")


def why_no_basis(
    task_name: str, p: int | None, random_labels: bool = False, n: int | None = None
) -> str | None:
    """Why the task has no group basis for the group measures, or None if it has one (then
    :func:`task_basis` returns it). ``n``: the degree of a ``perm`` task."""
    spec = get_task(task_name)
    if random_labels:
        return "the labels are randomly permuted, so there is no Fourier circuit to measure"
    if spec.kind == "perm":
        if task_name not in SYMMETRIC_TASKS:
            return (
                f"task {task_name!r} ({spec.description}) is no product x o y in S_n; the "
                f"representation measures are for the task 'perm' (x o y) only"
            )
        if n is None or not 2 <= n <= MAX_DEGREE:
            return f"task {task_name!r} needs its degree n (2 .. {MAX_DEGREE}) for S_n's measures"
        return None
    if spec.fourier is None or spec.kind != "modular" or p is None:
        return (
            f"task {task_name!r} ({spec.description}) has no cyclic structure (it is no sum "
            f"or difference in Z_p or Z_p*); the Fourier measures (restricted / excluded "
            f"loss, Gini, logit shares, clusters) do not apply"
        )
    if spec.group == "additive" and p % 2 == 0:
        return (
            f"the additive analysis here is for odd p only (p={p}): the figures and "
            f"studies number the frequencies 1 .. (p-1)/2"
        )
    if spec.group == "multiplicative" and (not is_prime(p) or p < 3):
        return (
            f"task {task_name!r} is a {spec.fourier} in the multiplicative group Z_p*, which "
            f"is cyclic for a prime p >= 3 only (got p={p}); train on a prime p for its "
            f"Fourier measures"
        )
    return None


def task_basis(
    task_name: str,
    p: int | None,
    random_labels: bool = False,
    generator: int | None = None,
    n: int | None = None,
) -> GroupBasis:
    """The basis of a registered task's group measures (its registry ``group`` and
    ``fourier`` structure), with tokens 0 .. p - 1; for ``perm``, S_n (``n`` its degree).

    Raises:
        ConfigError: the task has none (:func:`why_no_basis` says why, in one line).
    """
    why = why_no_basis(task_name, p, random_labels, n)
    if why is not None:
        raise ConfigError(why)
    spec = get_task(task_name)
    if spec.kind == "perm":
        assert n is not None
        return symmetric_basis(n)
    assert spec.fourier is not None and p is not None
    gen = generator if spec.group == "multiplicative" else None
    return GroupBasis(spec.group, p, spec.fourier, gen)


def as_basis(p: int | GroupBasis) -> GroupBasis:
    """``p`` if it is a basis, else the additive group Z_p (the toolkit's default)."""
    return p if isinstance(p, GroupBasis) else GroupBasis("additive", p)
