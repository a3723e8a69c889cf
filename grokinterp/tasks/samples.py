"""Tasks of generated examples (Miller, O'Neill and Bui 2024, arXiv 2310.17247; Barak et
al. 2022, arXiv 2207.08799).

Unlike the binary operations, these tasks are not tables of pairs: each draws
``n_samples`` examples (a feature vector and a target) from a seeded generator
(``data_seed``), and the seeded split takes ``train_size`` (or ``train_fraction``) of them.
They are the tasks of the non-neural models (``arch`` ``gp`` and ``linear``); a ``neural``
one (``sparse_parity``) is also a task of the neural trainer, whose data set
(:func:`grokinterp.tasks.make_dataset`) is the same generated examples and split.

``concealed_parity``
    Bit strings of length ``n_bits``, each bit uniform in {0, 1}; the label is the parity
    (sum mod 2) of the first ``parity_bits`` of them; the other ``n_bits - parity_bits``
    bits are noise. Miller et al. call appending such random bits to a task "concealment";
    their GP classification experiment uses 3 parity bits among 40, 1000 training and 100
    test examples. Differences from their code: their label is 1 for an *even* count of
    ones when 3 bits are used (the complement of ours: the same problem up to a relabelling),
    and their strings come from torch's global RNG. Like theirs, the strings are drawn with
    replacement, so for small ``n_bits`` a string can appear in both sets.

``sparse_parity``
    The (n, k)-sparse parity of Barak, Edelman, Goel, Kakade, Malach and Zhang 2022 ("Hidden
    progress in deep learning: SGD learns parities near the computational limit", arXiv
    2207.08799, Section 2): ``n_bits`` (n) bits, each uniform in {-1, +1} (their
    convention, Section 2), and a hidden set S of ``parity_bits`` (k) of them, a seeded
    choice (``data_seed``); the label is the parity of the bits of S, as a class: 1 where an
    odd number of them is -1 (their label prod_{i in S} x_i is -1), else 0. Unlike
    ``concealed_parity``, S is not the first k bits, and the ``n_samples`` strings are
    *distinct* (drawn without replacement), so the held-out strings are never training
    strings. The neural trainer trains on it (the MLP with ``mlp_input="features"``: the n
    signs are its input, 2 classes), as do the non-neural models (``arch`` ``gp``). The PAIR
    explorable "Do machine learning models memorize or generalize?" (Pearce, Ghandeharioun,
    Hussein, Thain, Wattenberg and Dixon 2023) trains a one-layer MLP on it with n = 30,
    k = 3 and weight decay, where it groks.

``linear_features``
    Miller et al.'s linear-regression experiment: x uniform in [-1/2, 1/2), target
    y = 0.3 x, features (x, x^2, x^3, sin(100 x)); "accuracy" is the fraction of examples
    whose prediction has the sign of the target. Only the first feature is needed; the
    others can fit a small training set (they use 2 examples) in many wrong ways.
"""

from __future__ import annotations

import numpy as np

from grokinterp.errors import ConfigError
from grokinterp.tasks.registry import TaskSettings, TaskSpec, register

FloatArray = np.ndarray

LINEAR_SLOPE = 0.3  # y = 0.3 x, as in Miller et al.'s code
SINE_FREQUENCY = 100.0  # the feature sin(100 x)


def concealed_parity(cfg: TaskSettings) -> tuple[FloatArray, FloatArray, list[int]]:
    """``(x, y, relevant)``: ``n_samples`` bit strings as float rows, their parity labels,
    and the indices of the bits the label depends on (``0 .. parity_bits - 1``)."""
    assert cfg.n_samples is not None and cfg.n_bits is not None and cfg.parity_bits is not None
    rng = np.random.default_rng(cfg.data_seed)
    x = rng.integers(0, 2, size=(cfg.n_samples, cfg.n_bits), dtype=np.int64)
    relevant = list(range(cfg.parity_bits))
    return x.astype(np.float64), parity_labels(x, relevant), relevant


def parity_labels(bits: np.ndarray, relevant: list[int], *, signs: bool = False) -> FloatArray:
    """The parity (0 or 1, as floats) of the bits ``relevant`` of every row of ``bits``: the
    count of ones among them mod 2, each bit in {0, 1} (``concealed_parity``); with
    ``signs``, each entry in {-1, +1} (``sparse_parity``), the count of -1s (a -1 is the bit
    1 of x = 1 - 2 b, so the label is 1 exactly where prod_{i in S} x_i = -1)."""
    chosen = np.asarray(bits)[:, relevant]
    ones = chosen < 0 if signs else chosen > 0
    labels: FloatArray = (ones.sum(axis=1) % 2).astype(np.float64)
    return labels


def distinct_strings(rng: np.random.Generator, count: int, n_bits: int) -> np.ndarray:
    """``count`` distinct rows of ``n_bits`` uniform bits in {0, 1} (int64), in the order
    drawn: rows are drawn uniformly, repeats of an earlier row dropped, and more drawn until
    there are ``count`` (uniform over the sets of ``count`` distinct strings). Raises
    :class:`ConfigError` when there are fewer than ``count`` strings of ``n_bits`` bits."""
    if count > 2**n_bits:
        raise ConfigError(
            f"config field task.n_samples: {count} distinct strings of {n_bits} bits do not "
            f"exist (there are {2**n_bits}); lower n_samples or raise n_bits"
        )
    rows = np.zeros((0, n_bits), dtype=np.int64)
    while len(rows) < count:
        more = rng.integers(0, 2, size=(count - len(rows), n_bits), dtype=np.int64)
        both = np.concatenate([rows, more])
        _, first = np.unique(both, axis=0, return_index=True)
        rows = both[np.sort(first)]
    return rows


def sparse_parity(cfg: TaskSettings) -> tuple[FloatArray, FloatArray, list[int]]:
    """``(x, y, relevant)``: ``n_samples`` distinct strings of ``n_bits`` signs in {-1, +1}
    (float rows), the parity class of their bits ``relevant`` (Barak et al. 2022's S), and
    S itself: ``parity_bits`` indices, a seeded choice (``data_seed``), ascending. S is drawn
    before the strings, so it does not depend on ``n_samples``."""
    assert cfg.n_samples is not None and cfg.n_bits is not None and cfg.parity_bits is not None
    rng = np.random.default_rng(cfg.data_seed)
    relevant = sorted(int(i) for i in rng.choice(cfg.n_bits, cfg.parity_bits, replace=False))
    signs = 1 - 2 * distinct_strings(rng, cfg.n_samples, cfg.n_bits)
    return signs.astype(np.float64), parity_labels(signs, relevant, signs=True), relevant


def linear_features(cfg: TaskSettings) -> tuple[FloatArray, FloatArray, list[int]]:
    """``(x, y, relevant)``: rows (x, x^2, x^3, sin(100 x)) for x uniform in [-1/2, 1/2),
    targets 0.3 x, and ``[0]`` (the one feature the target needs)."""
    assert cfg.n_samples is not None
    rng = np.random.default_rng(cfg.data_seed)
    x = rng.random(cfg.n_samples) - 0.5
    features = np.stack([x, x**2, x**3, np.sin(SINE_FREQUENCY * x)], axis=1)
    return features, LINEAR_SLOPE * x, [0]


GENERATORS = {
    "concealed_parity": concealed_parity,
    "sparse_parity": sparse_parity,
    "linear_features": linear_features,
}

register(
    TaskSpec(
        "concealed_parity",
        "parity of the first parity_bits of n_bits random bits (Miller et al. 2024)",
        "samples",
        None,
        target="class",
        uses_bits=True,
    )
)
register(
    TaskSpec(
        "sparse_parity",
        "parity of a seeded set of parity_bits of n_bits random signs (Barak et al. 2022)",
        "samples",
        None,
        target="class",
        uses_bits=True,
        distinct=True,
        neural=True,
    )
)
register(
    TaskSpec(
        "linear_features",
        "y = 0.3 x from the features (x, x^2, x^3, sin(100 x)) (Miller et al. 2024)",
        "samples",
        None,
        target="real",
    )
)
