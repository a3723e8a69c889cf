"""Every pair of a task, its labels, and the seeded, nested train/test split.

The split is a seeded permutation of all pairs; the training set is its first D entries,
so training sets of one ``split_seed`` are nested (D' < D gives a subset).

Label corruption (``TaskConfig.label_noise``, Doshi et al. 2024, arXiv 2310.13061): of the D
training examples, ``int(label_noise * D)`` (their count, d-doshi/Grokking@0b4335f
utils/datasets.py:L37) are chosen by a permutation seeded with ``label_seed + 2`` (a stream
of its own, apart from ``random_labels``' and ``random_table``'s), and each gets the label
``(y + k) mod C``, k uniform in 1 .. C - 1 from the same stream (C the task's classes): a
label that is always wrong, uniform over the other classes. (Doshi et al. draw it uniformly
over all p classes, L42, so about 1 in p of their corrupted labels is the true one.) Test
labels are never corrupted. :attr:`Dataset.labels` holds what the network is trained on,
:attr:`Dataset.clean_labels` the true labels.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.counterfactual import counterfactual
from grokinterp.tasks.features import load_features
from grokinterp.tasks.registry import TaskSettings, get_task
from grokinterp.tasks.samples import GENERATORS


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
        n_classes: number of possible answers (``size``; ``2 size - 1`` for ``int_add``).
        clean_labels: the true answers where ``labels`` has corrupted training labels
            (``TaskConfig.label_noise``); None when no label is corrupted.
        potential: for the ``counterfactual`` task, every unit's noise-free potential
            outcomes ``(mu0, mu1)`` (its ``labels`` are then float rows ``(t, y)``: the arm
            and the factual outcome; :mod:`grokinterp.tasks.counterfactual`); else None.
    """

    inputs: Int[Tensor, "pair 3"]
    labels: Int[Tensor, " pair"]
    train_mask: Bool[Tensor, " pair"]
    order: Int[Tensor, " pair"]
    size: int
    eq_token: int
    n_classes: int
    clean_labels: Int[Tensor, " pair"] | None = None
    potential: Float[Tensor, "pair 2"] | None = None

    @property
    def true_labels(self) -> Int[Tensor, " pair"]:
        """The uncorrupted answer of every pair (``labels`` when none is corrupted)."""
        return self.labels if self.clean_labels is None else self.clean_labels

    @property
    def corrupted(self) -> Bool[Tensor, " pair"]:
        """True for the training pairs whose label is corrupted (none without
        ``label_noise``; a corrupted label always differs from the true one)."""
        return self.labels != self.true_labels

    @property
    def d_vocab(self) -> int:
        """The model's input width: the tokens (``=`` included), or for a feature task
        (float ``inputs``) the number of features."""
        if self.inputs.is_floating_point():
            return int(self.inputs.shape[-1])
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


def train_size(cfg: TaskSettings) -> int:
    """The number of training pairs of a task config (``train_size``, or ``train_fraction``
    of all pairs, rounded down); raises ConfigError unless it leaves both sets non-empty."""
    n_pairs = get_task(cfg.name).n_pairs(cfg)
    if cfg.train_size is not None:
        d = cfg.train_size
    elif cfg.train_fraction is not None:
        d = int(cfg.train_fraction * n_pairs)
    else:
        raise ConfigError("config field task.train_fraction: set train_fraction or train_size")
    if not 1 <= d < n_pairs:
        raise ConfigError(
            f"config field task.train_fraction: {cfg.train_fraction} of {n_pairs} pairs gives "
            f"a training set of {d}; it must have between 1 and {n_pairs - 1} pairs"
        )
    return d


def _split_order(cfg: TaskSettings, n: int) -> Tensor:
    """The seeded permutation of the ``n`` examples whose first D are the training set."""
    if cfg.split_method == "python_random":
        perm = list(range(n))
        random.Random(cfg.split_seed).shuffle(perm)
        return torch.tensor(perm, dtype=torch.long)
    return torch.randperm(n, generator=_generator(cfg.split_seed))


LABEL_NOISE_SEED_OFFSET = 2  # the corruption's stream: label_seed + this


def corrupt_labels(
    labels: Int[Tensor, " pair"],
    train_rows: Int[Tensor, " train"],
    fraction: float,
    n_classes: int,
    seed: int,
) -> Int[Tensor, " pair"]:
    """``labels`` with ``int(fraction * len(train_rows))`` of the training rows (a choice
    seeded by ``seed``) given a wrong label, ``(y + k) mod n_classes``, k uniform in
    1 .. n_classes - 1 (module doc); the other rows untouched."""
    n_noise = int(fraction * len(train_rows))
    if n_noise == 0:
        return labels
    if n_classes < 2:
        raise ConfigError("config field task.label_noise: a task of one class has no wrong label")
    gen = _generator(seed)
    rows = train_rows[torch.randperm(len(train_rows), generator=gen)[:n_noise]]
    shift = torch.randint(1, n_classes, (n_noise,), generator=gen)
    out = labels.clone()
    out[rows] = (labels[rows] + shift) % n_classes
    return out


def _with_noise(ds: Dataset, cfg: TaskSettings) -> Dataset:
    """``ds`` with its training labels corrupted as ``cfg.label_noise`` says (module doc)."""
    if cfg.label_noise == 0.0:
        return ds
    seed = cfg.label_seed + LABEL_NOISE_SEED_OFFSET
    noisy = corrupt_labels(ds.labels, ds.order[: int(ds.train_mask.sum())], cfg.label_noise,
                           ds.n_classes, seed)  # fmt: skip
    return dataclasses.replace(ds, labels=noisy, clean_labels=ds.labels)


def make_dataset(cfg: TaskSettings) -> Dataset:
    """Build every pair, its label and the seeded split of a task config (for a feature
    task, every example: ``inputs`` are then float feature rows, ``eq_token`` is -1)."""
    spec = get_task(cfg.name)
    if spec.is_vectors:
        return _feature_dataset(cfg)
    if spec.is_samples:
        raise ConfigError(
            f"config field task.name: {cfg.name!r} is a task of generated examples for the "
            f"non-neural models (arch gp or linear, `grokinterp nonneural`); it has no pairs"
        )
    size = spec.size(cfg)
    grid = np.arange(size, dtype=np.int64)
    a = np.repeat(grid, size)
    b = np.tile(grid, size)
    if spec.unordered:  # a <= b, row-major
        keep = a <= b
        a, b = a[keep], b[keep]
    if spec.b_nonzero:
        keep = b != 0
        a, b = a[keep], b[keep]
    if spec.name == "random_table":
        table = torch.randint(0, size, (size, size), generator=_generator(cfg.label_seed))
        labels = table[torch.from_numpy(a), torch.from_numpy(b)]
    else:
        assert spec.op is not None  # every pair task has one
        labels = torch.from_numpy(spec.op(a, b, size))
    if cfg.random_labels:
        # a separate stream from the table's, so random_table + random_labels is well defined
        labels = labels[torch.randperm(len(labels), generator=_generator(cfg.label_seed + 1))]
    n_pairs = len(a)
    d = train_size(cfg)
    order = _split_order(cfg, n_pairs)
    train_mask = torch.zeros(n_pairs, dtype=torch.bool)
    train_mask[order[:d]] = True
    eq = torch.full((n_pairs,), size, dtype=torch.long)
    inputs = torch.stack([torch.from_numpy(a), torch.from_numpy(b), eq], dim=1)
    ds = Dataset(
        inputs=inputs,
        labels=labels.long(),
        train_mask=train_mask,
        order=order,
        size=size,
        eq_token=size,
        n_classes=spec.n_classes(cfg),
    )
    return _with_noise(ds, cfg)


def _feature_dataset(cfg: TaskSettings) -> Dataset:
    """A feature task's examples (:mod:`grokinterp.tasks.features`), or the generated
    examples of a ``neural`` sample task (:mod:`grokinterp.tasks.samples`, the same
    generator as :func:`make_samples`), and their seeded split."""
    spec = get_task(cfg.name)
    if cfg.name == "counterfactual":
        return _effect_dataset(cfg)
    x, y = load_features(cfg.name) if spec.is_features else GENERATORS[cfg.name](cfg)[:2]
    labels = torch.from_numpy(y).long()
    if cfg.random_labels:  # as for the pair tasks
        labels = labels[torch.randperm(len(labels), generator=_generator(cfg.label_seed + 1))]
    order = _split_order(cfg, len(labels))
    train_mask = torch.zeros(len(labels), dtype=torch.bool)
    train_mask[order[: train_size(cfg)]] = True
    ds = Dataset(
        inputs=torch.from_numpy(x).float(),
        labels=labels,
        train_mask=train_mask,
        order=order,
        size=spec.size(cfg),
        eq_token=-1,
        n_classes=spec.n_classes(cfg),
    )
    return _with_noise(ds, cfg)


def _effect_dataset(cfg: TaskSettings) -> Dataset:
    """The ``counterfactual`` task's units (:mod:`grokinterp.tasks.counterfactual`): the
    covariates as inputs, ``(t, y)`` as float labels, ``(mu0, mu1)`` as ``potential``, and
    the seeded split of the units."""
    if cfg.random_labels or cfg.label_noise > 0:
        raise ConfigError(
            "config field task.random_labels / task.label_noise: the counterfactual task's "
            "labels are outcomes, not classes; leave them at false / 0"
        )
    data = counterfactual(cfg)
    labels = torch.from_numpy(np.stack([data.t.astype(np.float64), data.y], axis=1)).float()
    order = _split_order(cfg, len(labels))
    train_mask = torch.zeros(len(labels), dtype=torch.bool)
    train_mask[order[: train_size(cfg)]] = True
    return Dataset(
        inputs=torch.from_numpy(data.x).float(),
        labels=labels,
        train_mask=train_mask,
        order=order,
        size=2,
        eq_token=-1,
        n_classes=2,
        potential=torch.from_numpy(np.stack([data.mu0, data.mu1], axis=1)),
    )


@dataclass(frozen=True)
class Samples:
    """The generated examples of a sample task (:mod:`grokinterp.tasks.samples`) and their
    seeded split.

    Args:
        x: feature vectors (float32), one row per example.
        y: targets (float32): 0 or 1 for a classification task, reals for a regression.
        train_mask: True for the examples in the training set.
        order: the seeded permutation of examples; ``order[:D]`` is the training set.
        relevant: indices of the features the target depends on.
        target: ``class`` or ``real`` (the task's :attr:`TaskSpec.target`).
    """

    x: Float[Tensor, "example feature"]
    y: Float[Tensor, " example"]
    train_mask: Bool[Tensor, " example"]
    order: Int[Tensor, " example"]
    relevant: list[int]
    target: str

    @property
    def x_train(self) -> Float[Tensor, "train feature"]:
        return self.x[self.train_mask]

    @property
    def y_train(self) -> Float[Tensor, " train"]:
        return self.y[self.train_mask]

    @property
    def x_test(self) -> Float[Tensor, "test feature"]:
        return self.x[~self.train_mask]

    @property
    def y_test(self) -> Float[Tensor, " test"]:
        return self.y[~self.train_mask]


def make_samples(cfg: TaskSettings) -> Samples:
    """Generate the examples of a sample task (seeded by ``data_seed``) and split them
    (seeded by ``split_seed``) as :func:`make_dataset` splits pairs."""
    spec = get_task(cfg.name)
    if not spec.is_samples:
        raise ConfigError(
            f"config field task.name: {cfg.name!r} is a task of pairs; use make_dataset"
        )
    x, y, relevant = GENERATORS[cfg.name](cfg)
    order = _split_order(cfg, len(y))
    train_mask = torch.zeros(len(y), dtype=torch.bool)
    train_mask[order[: train_size(cfg)]] = True
    return Samples(
        x=torch.from_numpy(x).float(),
        y=torch.from_numpy(y).float(),
        train_mask=train_mask,
        order=order,
        relevant=relevant,
        target=spec.target,
    )
