"""The task registry: each task is a :class:`TaskSpec`, registered once by name.

A binary operation ``a o b = c`` is shown to the model as the sequence ``[a, b, =]``;
the spec says how big its set is, which pairs exist, and which Fourier structure (if any)
its labels have. :mod:`grokinterp.tasks.modular` and :mod:`grokinterp.tasks.permutation`
register the built-in tasks when the package is imported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from grokinterp.errors import ConfigError

IntArray = np.ndarray


class TaskSettings(Protocol):
    """The task fields a spec reads: :class:`grokinterp.config.TaskConfig` has them all.

    (A protocol rather than the config class itself, so the tasks stay below the config in
    the import layers: the config validates itself against this registry.)
    """

    @property
    def name(self) -> str: ...
    @property
    def p(self) -> int | None: ...
    @property
    def n(self) -> int | None: ...
    @property
    def train_fraction(self) -> float | None: ...
    @property
    def train_size(self) -> int | None: ...
    @property
    def split_seed(self) -> int: ...
    @property
    def split_method(self) -> Literal["seeded", "python_random"]: ...
    @property
    def random_labels(self) -> bool: ...
    @property
    def label_seed(self) -> int: ...
    @property
    def label_noise(self) -> float: ...
    @property
    def n_bits(self) -> int | None: ...
    @property
    def parity_bits(self) -> int | None: ...
    @property
    def n_samples(self) -> int | None: ...
    @property
    def data_seed(self) -> int: ...


def is_prime(n: int) -> bool:
    """Whether ``n`` is prime: the Miller-Rabin test with the first twelve primes as bases,
    which is deterministic for every n < 3.3e24 (Sorenson and Webster 2015), and for
    larger n wrong with probability below 4^-12. Instant even for p = 2^61 - 1, where trial
    division would take minutes."""
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    if n < 2:
        return False
    for q in small:
        if n % q == 0:
            return n == q
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@dataclass(frozen=True)
class TaskSpec:
    """One registered task.

    Args:
        name: registry key.
        description: the operation in words, e.g. ``a + b mod p``.
        kind: ``modular`` (sizes from ``p``), ``perm`` (sizes from ``n``), or ``samples``: a
            task of ``n_samples`` generated examples (feature vectors and targets, not pairs
            of tokens; :mod:`grokinterp.tasks.samples`), for the non-neural models; or
            ``features``: a fixed data set of ``n_examples`` feature vectors of length
            ``n_features`` with ``classes`` labels (:mod:`grokinterp.tasks.features`), for
            the MLP with ``mlp_input="features"``.
        op: vectorized ``(a, b, size) -> c`` on int64 arrays (size is p or n); None for the
            sample tasks.
        needs_prime: the operation needs Z_p to be a field (reject composite p).
        b_nonzero: pairs with ``b = 0`` are excluded (division).
        fourier: the cyclic structure that the Fourier measures assume: ``sum`` (labels
            depend on a + b), ``difference`` (on a - b), or None (no such structure:
            the Fourier progress measures do not apply). The sum or difference is that of
            ``group``'s cyclic group.
        group: the cyclic group whose characters the Fourier measures use: ``additive``
            (Z_p, the residues themselves) or ``multiplicative`` (Z_p* = the nonzero
            residues, cyclic of order p - 1 for prime p, indexed by the discrete logarithm:
            a * b is a sum, a / b a difference of logarithms;
            :mod:`grokinterp.analysis.groups`).
        target: ``class`` (labels are classes; for the sample tasks, 0 or 1) or ``real``
            (a regression target, for the sample tasks).
        uses_bits: the examples are bit strings of length ``n_bits`` whose label depends on
            ``parity_bits`` of them (the sample tasks ``concealed_parity``, ``sparse_parity``).
        distinct: the ``n_samples`` generated strings are distinct (so ``n_samples`` is at
            most ``2 ** n_bits``), so no held-out string is also a training string.
        neural: a task of generated examples that the neural trainer also trains on: the MLP
            with ``mlp_input="features"`` reads the ``n_bits`` features of an example and
            scores its 2 classes (``sparse_parity``).
        unordered: the pairs are ``a <= b`` only, ``p (p + 1) / 2`` of them (an operation
            that is symmetric by construction and that the data set lists once per unordered
            pair, as Liu et al. 2022 do for their addition table).
        integer: the labels are the operation's value over the integers, not reduced mod p:
            ``op(p - 1, p - 1, p) + 1`` classes (``2p - 1`` for ``a + b``) instead of ``p``.
    """

    name: str
    description: str
    kind: str
    op: Callable[[IntArray, IntArray, int], IntArray] | None
    needs_prime: bool = False
    b_nonzero: bool = False
    fourier: Literal["sum", "difference"] | None = None
    group: Literal["additive", "multiplicative"] = "additive"
    target: Literal["class", "real"] = "class"
    uses_bits: bool = False
    distinct: bool = False
    neural: bool = False
    unordered: bool = False
    integer: bool = False
    n_features: int = 0
    n_examples: int = 0
    classes: int = 0

    @property
    def is_samples(self) -> bool:
        """Whether the task is one of generated examples (not pairs of tokens)."""
        return self.kind == "samples"

    @property
    def is_features(self) -> bool:
        """Whether the task is a data set of feature vectors (``kind="features"``,
        :mod:`grokinterp.tasks.features`), trained by the neural trainer."""
        return self.kind == "features"

    @property
    def is_vectors(self) -> bool:
        """Whether the neural trainer reads the examples as float feature vectors (the MLP
        with ``mlp_input="features"``): a feature task, or a ``neural`` sample task."""
        return self.is_features or (self.is_samples and self.neural)

    def d_vocab(self, cfg: TaskSettings) -> int:
        """The model's input width: tokens (size + 1, the ``=`` token included) for a pair
        task, ``n_features`` for a feature task, ``n_bits`` for a ``neural`` sample task."""
        if self.is_samples and self.neural:
            if self.n_features:  # a fixed number of covariates (``counterfactual``)
                return self.n_features
            assert cfg.n_bits is not None
            return cfg.n_bits
        return self.n_features if self.is_features else self.size(cfg) + 1

    def size(self, cfg: TaskSettings) -> int:
        """Number of group/ring elements: p for modular tasks, n! for S_n; the number of
        classes (2) of a ``neural`` sample task."""
        if self.is_samples and self.neural:
            return 2
        if self.is_samples:
            raise ConfigError(
                f"config field task.name: {self.name!r} is a task of generated examples, "
                f"not of pairs of tokens; it has no vocabulary size"
            )
        if self.is_features:  # no tokens: the labels' range
            return self.classes
        if self.kind == "perm":
            assert cfg.n is not None
            return math.factorial(cfg.n)
        assert cfg.p is not None
        return cfg.p

    def n_pairs(self, cfg: TaskSettings) -> int:
        """Number of examples: pairs of a binary operation, or ``n_samples``."""
        if self.is_samples:
            assert cfg.n_samples is not None
            return cfg.n_samples
        if self.is_features:
            return self.n_examples
        s = self.size(cfg)
        if self.unordered:
            return s * (s + 1) // 2
        return s * (s - 1) if self.b_nonzero else s * s

    def n_classes(self, cfg: TaskSettings) -> int:
        """Number of possible labels: the size, or for an ``integer`` task the largest value
        of the operation plus one."""
        s = self.size(cfg)
        if not self.integer:
            return s
        assert self.op is not None  # every integer task has one
        top = np.array([s - 1], dtype=np.int64)
        return int(self.op(top, top, s)[0]) + 1

    def validate(self, cfg: TaskSettings) -> None:
        if self.is_samples:
            self._validate_samples(cfg)
            return
        if self.is_features:
            for name in ("p", "n", "n_bits", "parity_bits", "n_samples"):
                if getattr(cfg, name) is not None:
                    raise ConfigError(
                        f"config field task.{name}: task {self.name!r} is a fixed data set of "
                        f"{self.n_examples} feature vectors; set {name} to null"
                    )
            return
        for name in ("n_bits", "parity_bits", "n_samples"):
            if getattr(cfg, name) is not None:
                raise ConfigError(
                    f"config field task.{name}: only the tasks of generated examples "
                    f"({', '.join(n for n, t in TASKS.items() if t.is_samples)}) use it; "
                    f"task {self.name!r} takes every pair; set it to null"
                )
        if self.kind == "perm":
            if cfg.n is None or not 2 <= cfg.n <= 5:
                raise ConfigError(
                    f"config field task.n: task {self.name!r} needs the degree n of S_n "
                    f"with 2 <= n <= 5, got {cfg.n}"
                )
            if cfg.p is not None:
                raise ConfigError(
                    f"config field task.p: task {self.name!r} is on S_n; set p to null"
                )
            return
        if cfg.n is not None:
            raise ConfigError(
                f"config field task.n: only the S_n tasks use n; task {self.name!r} uses p"
            )
        if cfg.p is None or cfg.p < 2:
            raise ConfigError(f"config field task.p: must be an integer >= 2, got {cfg.p}")
        if self.needs_prime and not is_prime(cfg.p):
            raise ConfigError(
                f"config field task.p: task {self.name!r} needs a field, so p must be prime; "
                f"got p={cfg.p} (try {next(q for q in itertools.count(cfg.p) if is_prime(q))})"
            )

    def _validate_samples(self, cfg: TaskSettings) -> None:
        for name in ("p", "n"):
            if getattr(cfg, name) is not None:
                raise ConfigError(
                    f"config field task.{name}: task {self.name!r} is a task of generated "
                    f"examples (set n_samples); set {name} to null"
                )
        if cfg.n_samples is None or not 2 <= cfg.n_samples <= 1_000_000:
            raise ConfigError(
                f"config field task.n_samples: task {self.name!r} needs the number of examples "
                f"to generate (train + test), 2 <= n_samples <= 1000000, got {cfg.n_samples}"
            )
        if self.uses_bits:
            if cfg.n_bits is None or not 1 <= cfg.n_bits <= 4096:
                raise ConfigError(
                    f"config field task.n_bits: task {self.name!r} needs the length of its bit "
                    f"strings, 1 <= n_bits <= 4096, got {cfg.n_bits}"
                )
            if cfg.parity_bits is None or not 1 <= cfg.parity_bits <= cfg.n_bits:
                raise ConfigError(
                    f"config field task.parity_bits: task {self.name!r} needs the number of "
                    f"bits whose parity is the label, 1 <= parity_bits <= n_bits "
                    f"({cfg.n_bits}), got {cfg.parity_bits}"
                )
            if self.distinct and cfg.n_samples > 2**cfg.n_bits:
                raise ConfigError(
                    f"config field task.n_samples: task {self.name!r} draws distinct strings "
                    f"and there are only 2^{cfg.n_bits} = {2**cfg.n_bits} of {cfg.n_bits} "
                    f"bits, got n_samples={cfg.n_samples}; lower it or raise n_bits"
                )
            return
        for name in ("n_bits", "parity_bits"):
            if getattr(cfg, name) is not None:
                raise ConfigError(
                    f"config field task.{name}: only the bit-string tasks use it "
                    f"({', '.join(n for n, t in TASKS.items() if t.uses_bits)}); set it to null"
                )


TASKS: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task to the registry; a name can be registered only once."""
    if spec.name in TASKS:
        raise ValueError(f"task {spec.name!r} is already registered")
    TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(
            f"config field task.name: unknown task {name!r}; known tasks: {sorted(TASKS)}"
        ) from None
