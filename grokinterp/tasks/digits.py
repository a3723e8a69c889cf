"""scikit-learn's 8x8 handwritten digits as feature vectors (the ``digits`` task).

Imported on first use by :func:`grokinterp.tasks.features.load_features`, so that
importing the tasks (the CLI, a config) does not import scikit-learn.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from sklearn.datasets import load_digits

DIGITS_EXAMPLES, DIGITS_FEATURES, DIGITS_CLASSES = 1797, 64, 10
DIGITS_MAX_INTENSITY = 16.0


@cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: the 1,797 digit images as float64 rows of 64 intensities in [0, 1] (the
    0..16 counts divided by 16), and their labels 0..9 (int64), in scikit-learn's order."""
    data = load_digits()
    x = np.asarray(data.data, dtype=np.float64) / DIGITS_MAX_INTENSITY
    y = np.asarray(data.target, dtype=np.int64)
    if x.shape != (DIGITS_EXAMPLES, DIGITS_FEATURES):  # a changed upstream data set
        raise RuntimeError(f"sklearn's digits data set has shape {x.shape}, expected (1797, 64)")
    return x, y
