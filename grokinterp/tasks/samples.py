"""Tasks of generated examples (Miller, O'Neill and Bui 2024, arXiv 2310.17247).

Unlike the binary operations, these tasks are not tables of pairs: each draws
``n_samples`` examples (a feature vector and a target) from a seeded generator
(``data_seed``), and the seeded split takes ``train_size`` (or ``train_fraction``) of them.
They are the tasks of the non-neural models (``arch`` ``gp`` and ``linear``).

``concealed_parity``
    Bit strings of length ``n_bits``, each bit uniform in {0, 1}; the label is the parity
    (sum mod 2) of the first ``parity_bits`` of them; the other ``n_bits - parity_bits``
    bits are noise. Miller et al. call appending such random bits to a task "concealment";
    their GP classification experiment uses 3 parity bits among 40, 1000 training and 100
    test examples. Differences from their code: their label is 1 for an *even* count of
    ones when 3 bits are used (the complement of ours: the same problem up to a relabelling),
    and their strings come from torch's global RNG. Like theirs, the strings are drawn with
    replacement, so for small ``n_bits`` a string can appear in both sets.

``linear_features``
    Miller et al.'s linear-regression experiment: x uniform in [-1/2, 1/2), target
    y = 0.3 x, features (x, x^2, x^3, sin(100 x)); "accuracy" is the fraction of examples
    whose prediction has the sign of the target. Only the first feature is needed; the
    others can fit a small training set (they use 2 examples) in many wrong ways.
"""

from __future__ import annotations

import numpy as np

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
    y = x[:, : cfg.parity_bits].sum(axis=1) % 2
    return x.astype(np.float64), y.astype(np.float64), list(range(cfg.parity_bits))


def linear_features(cfg: TaskSettings) -> tuple[FloatArray, FloatArray, list[int]]:
    """``(x, y, relevant)``: rows (x, x^2, x^3, sin(100 x)) for x uniform in [-1/2, 1/2),
    targets 0.3 x, and ``[0]`` (the one feature the target needs)."""
    assert cfg.n_samples is not None
    rng = np.random.default_rng(cfg.data_seed)
    x = rng.random(cfg.n_samples) - 0.5
    features = np.stack([x, x**2, x**3, np.sin(SINE_FREQUENCY * x)], axis=1)
    return features, LINEAR_SLOPE * x, [0]


GENERATORS = {"concealed_parity": concealed_parity, "linear_features": linear_features}

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
        "linear_features",
        "y = 0.3 x from the features (x, x^2, x^3, sin(100 x)) (Miller et al. 2024)",
        "samples",
        None,
        target="real",
    )
)
