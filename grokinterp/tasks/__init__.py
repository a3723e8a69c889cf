"""Tasks: binary operations ``a o b = c`` shown as ``[a, b, =]`` sequences, and their data.

Modular tasks (Power et al. 2022, arXiv 2201.02177) live on Z_p; tokens ``0 .. p-1`` are
the residues and token ``p`` is ``=``, so ``d_vocab = p + 1``. The symmetric-group tasks
use S_n (n <= 5). The tasks of generated examples (:mod:`grokinterp.tasks.samples`:
bit strings with a concealed parity, regression features) are for the non-neural models.
The registry (:data:`TASKS`) refuses duplicate names.

The registry needs only numpy, so validating a config does not import torch; the data set
names (:class:`Dataset`, :func:`make_dataset`, :func:`train_size`) load
:mod:`grokinterp.tasks.dataset`, and torch with it, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grokinterp._lazy import lazy_attributes
from grokinterp.tasks import (  # noqa: F401  (they register tasks)
    counterfactual,
    features,
    modular,
    permutation,
    samples,
)
from grokinterp.tasks.registry import TASKS, TaskSettings, TaskSpec, get_task, is_prime, register

if TYPE_CHECKING:
    from grokinterp.tasks.dataset import Dataset, Samples, make_dataset, make_samples, train_size

__all__ = [
    "TASKS",
    "Dataset",
    "Samples",
    "TaskSettings",
    "TaskSpec",
    "get_task",
    "is_prime",
    "make_dataset",
    "make_samples",
    "register",
    "train_size",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        name: "grokinterp.tasks.dataset"
        for name in ("Dataset", "Samples", "make_dataset", "make_samples", "train_size")
    },
)
