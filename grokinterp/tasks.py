"""Task registry and datasets: binary operations ``a o b = c`` as ``[a, b, =]`` sequences.

Modular tasks (Power et al. 2022, arXiv 2201.02177) live on Z_p; the pairs are the full
grid ``a, b in [0, p)`` in row-major order (index ``a * p + b``), except where the
operation is undefined (``div`` drops ``b = 0``, leaving ``a * (p - 1) + (b - 1)``).
Tokens ``0 .. p-1`` are the residues and token ``p`` is ``=``, so ``d_vocab = p + 1``.

The symmetric-group tasks use S_n (n <= 5); its n! elements are numbered in the
lexicographic order of their one-line notation (``itertools.permutations``), and
composition is ``(x o y)(i) = x(y(i))``.

The split is a seeded permutation of all pairs; the training set is its first D
entries, so training sets of one ``split_seed`` are nested (D' < D gives a subset).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import torch
from jaxtyping import Bool, Int
from torch import Tensor

from grokinterp.errors import ConfigError

if TYPE_CHECKING:
    from grokinterp.config import TaskConfig

IntArray = np.ndarray


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


@dataclass(frozen=True)
class TaskSpec:
    """One registered task.

    Args:
        name: registry key.
        description: the operation in words, e.g. ``a + b mod p``.
        kind: ``modular`` (sizes from ``p``) or ``perm`` (sizes from ``n``).
        op: vectorized ``(a, b, size) -> c`` on int64 arrays (size is p or n).
        needs_prime: the operation needs Z_p to be a field (reject composite p).
        b_nonzero: pairs with ``b = 0`` are excluded (division).
        fourier: the cyclic structure that the Fourier measures assume: ``sum`` (labels
            depend on a + b), ``difference`` (on a - b), or None (no such structure:
            the Fourier progress measures do not apply).
    """

    name: str
    description: str
    kind: str
    op: Callable[[IntArray, IntArray, int], IntArray]
    needs_prime: bool = False
    b_nonzero: bool = False
    fourier: str | None = None

    def size(self, cfg: TaskConfig) -> int:
        """Number of group/ring elements: p for modular tasks, n! for S_n."""
        if self.kind == "perm":
            assert cfg.n is not None
            return math.factorial(cfg.n)
        assert cfg.p is not None
        return cfg.p

    def n_pairs(self, cfg: TaskConfig) -> int:
        s = self.size(cfg)
        return s * (s - 1) if self.b_nonzero else s * s

    def validate(self, cfg: TaskConfig) -> None:
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


def _mod_inverse(b: IntArray, p: int) -> IntArray:
    return np.array([pow(int(x), -1, p) for x in b], dtype=np.int64)


def _random_table_op(a: IntArray, b: IntArray, p: int) -> IntArray:
    raise AssertionError("random_table labels are drawn in make_dataset")  # pragma: no cover


for _spec in [
    TaskSpec("add", "a + b mod p", "modular", lambda a, b, p: (a + b) % p, fourier="sum"),
    TaskSpec("sub", "a - b mod p", "modular", lambda a, b, p: (a - b) % p,
             fourier="difference"),
    TaskSpec("mul", "a * b mod p", "modular", lambda a, b, p: (a * b) % p),
    TaskSpec("div", "a * b^-1 mod p (b != 0)", "modular",
             lambda a, b, p: (a * _mod_inverse(b, p)) % p, needs_prime=True, b_nonzero=True),
    TaskSpec("x2_y2", "a^2 + b^2 mod p", "modular", lambda a, b, p: (a * a + b * b) % p),
    TaskSpec("x2_xy_y2", "a^2 + ab + b^2 mod p", "modular",
             lambda a, b, p: (a * a + a * b + b * b) % p),
    TaskSpec("x2_xy_y2_x", "a^2 + ab + b^2 + a mod p", "modular",
             lambda a, b, p: (a * a + a * b + b * b + a) % p),
    TaskSpec("x3_xy", "a^3 + ab mod p", "modular", lambda a, b, p: (a * a * a + a * b) % p),
    TaskSpec("x3_xy2_y", "a^3 + ab^2 + b mod p", "modular",
             lambda a, b, p: (a * a * a + a * b * b + b) % p),
    TaskSpec("random_table", "a uniformly random table T[a, b] in Z_p (seeded by label_seed)",
             "modular", _random_table_op),
]:
    register(_spec)


@cache
def _perm_tables(n: int) -> tuple[IntArray, IntArray, IntArray]:
    """Composition table, inverse table and element list of S_n (lexicographic order)."""
    elems = list(itertools.permutations(range(n)))
    index = {e: i for i, e in enumerate(elems)}
    m = len(elems)
    comp = np.empty((m, m), dtype=np.int64)
    for i, x in enumerate(elems):
        for j, y in enumerate(elems):
            comp[i, j] = index[tuple(x[y[k]] for k in range(n))]
    inv = np.array([index[tuple(np.argsort(x))] for x in elems], dtype=np.int64)
    return comp, inv, np.array(elems, dtype=np.int64)


def _n_from_size(size: int) -> int:
    return next(n for n in range(1, 7) if math.factorial(n) == size)


def _perm_compose(a: IntArray, b: IntArray, size: int) -> IntArray:
    comp, _, _ = _perm_tables(_n_from_size(size))
    return comp[a, b]


def _perm_conjugate(a: IntArray, b: IntArray, size: int) -> IntArray:
    comp, inv, _ = _perm_tables(_n_from_size(size))
    return comp[comp[a, b], inv[a]]


def _perm_xyx(a: IntArray, b: IntArray, size: int) -> IntArray:
    comp, _, _ = _perm_tables(_n_from_size(size))
    return comp[comp[a, b], a]


register(TaskSpec("perm", "x o y in S_n", "perm", _perm_compose))
register(TaskSpec("perm_conj", "x o y o x^-1 in S_n", "perm", _perm_conjugate))
register(TaskSpec("perm_xyx", "x o y o x in S_n", "perm", _perm_xyx))


@dataclass(frozen=True)
class Dataset:
    """All pairs of a task with labels and the train/test split.

    Args:
        inputs: ``[a, b, =]`` token sequences of every pair, in the task's pair order.
        labels: the answer token of every pair.
        train_mask: True for pairs in the training set.
        order: the seeded permutation of pair indices; ``order[:D]`` is the training set
            of size D (so subsets of one split seed are nested).
        size: number of elements (p, or n! for S_n); tokens ``0 .. size-1``.
        eq_token: the ``=`` token (equal to ``size``).
        n_classes: number of possible answers (``size``).
    """

    inputs: Int[Tensor, "pair 3"]
    labels: Int[Tensor, " pair"]
    train_mask: Bool[Tensor, " pair"]
    order: Int[Tensor, " pair"]
    size: int
    eq_token: int
    n_classes: int

    @property
    def d_vocab(self) -> int:
        return self.size + 1

    @property
    def a(self) -> Int[Tensor, " pair"]:
        return self.inputs[:, 0]

    @property
    def b(self) -> Int[Tensor, " pair"]:
        return self.inputs[:, 1]

    @property
    def train_inputs(self) -> Int[Tensor, "train 3"]:
        return self.inputs[self.train_mask]

    @property
    def train_labels(self) -> Int[Tensor, " train"]:
        return self.labels[self.train_mask]

    @property
    def test_inputs(self) -> Int[Tensor, "test 3"]:
        return self.inputs[~self.train_mask]

    @property
    def test_labels(self) -> Int[Tensor, " test"]:
        return self.labels[~self.train_mask]

    def nested_train_mask(self, d: int) -> Bool[Tensor, " pair"]:
        """Training mask of the nested subset of size d (the first d of ``order``)."""
        if not 1 <= d <= len(self.order):
            raise ConfigError(f"train_size: subset size must be in [1, {len(self.order)}], got {d}")
        mask = torch.zeros(len(self.order), dtype=torch.bool)
        mask[self.order[:d]] = True
        return mask


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def train_size(cfg: TaskConfig) -> int:
    """The number of training pairs of a task config (``train_size``, or ``train_fraction``
    of all pairs, rounded down); raises ConfigError unless it leaves both sets non-empty."""
    n_pairs = get_task(cfg.name).n_pairs(cfg)
    d = cfg.train_size if cfg.train_size is not None else int(cfg.train_fraction * n_pairs)  # type: ignore[operator]
    if not 1 <= d < n_pairs:
        raise ConfigError(
            f"config field task.train_fraction: {cfg.train_fraction} of {n_pairs} pairs gives "
            f"a training set of {d}; it must have between 1 and {n_pairs - 1} pairs"
        )
    return d


def make_dataset(cfg: TaskConfig) -> Dataset:
    """Build every pair, its label and the seeded split of a task config."""
    spec = get_task(cfg.name)
    size = spec.size(cfg)
    grid = np.arange(size, dtype=np.int64)
    a = np.repeat(grid, size)
    b = np.tile(grid, size)
    if spec.b_nonzero:
        keep = b != 0
        a, b = a[keep], b[keep]
    if spec.name == "random_table":
        table = torch.randint(0, size, (size, size), generator=_generator(cfg.label_seed))
        labels = table[torch.from_numpy(a), torch.from_numpy(b)]
    else:
        labels = torch.from_numpy(spec.op(a, b, size))
    if cfg.random_labels:
        # a separate stream from the table's, so random_table + random_labels is well defined
        labels = labels[torch.randperm(len(labels), generator=_generator(cfg.label_seed + 1))]
    n_pairs = len(a)
    d = train_size(cfg)
    if cfg.split_method == "python_random":
        perm = list(range(n_pairs))
        random.Random(cfg.split_seed).shuffle(perm)
        order = torch.tensor(perm, dtype=torch.long)
    else:
        order = torch.randperm(n_pairs, generator=_generator(cfg.split_seed))
    train_mask = torch.zeros(n_pairs, dtype=torch.bool)
    train_mask[order[:d]] = True
    eq = torch.full((n_pairs,), size, dtype=torch.long)
    inputs = torch.stack([torch.from_numpy(a), torch.from_numpy(b), eq], dim=1)
    return Dataset(
        inputs=inputs,
        labels=labels.long(),
        train_mask=train_mask,
        order=order,
        size=size,
        eq_token=size,
        n_classes=size,
    )
