"""``add_unordered``: a + b mod p over the pairs a <= b, split as Minegishi et al.'s
``gen_train_test`` (gouki510/Grokking-Tickets@8cee814 data_module.py:L12-21)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import TaskConfig
from grokinterp.tasks import get_task, make_dataset


def _their_split(frac: float, num: int, seed: int) -> tuple[list, list]:
    """Their gen_train_test with is_symmetric_input=True, written out."""
    pairs = [(i, j) for i in range(num) for j in range(num) if i <= j]
    random.seed(seed)
    random.shuffle(pairs)
    div = int(frac * len(pairs))
    return pairs[:div], pairs[div:]


@settings(max_examples=25, deadline=None)
@given(p=st.integers(3, 40), seed=st.integers(0, 10**6), frac=st.sampled_from([0.3, 0.4, 0.7]))
def test_pairs_labels_and_split_are_theirs(p: int, seed: int, frac: float) -> None:
    cfg = TaskConfig(name="add_unordered", p=p, train_fraction=frac, split_seed=seed,
                     split_method="python_random")  # fmt: skip
    ds = make_dataset(cfg)
    n = p * (p + 1) // 2
    assert len(ds.labels) == n == get_task("add_unordered").n_pairs(cfg)
    assert bool((ds.a <= ds.b).all()) and torch_labels_ok(ds, p)
    train, test = _their_split(frac, p, seed)
    ours_train = {(int(a), int(b)) for a, b in ds.train_inputs[:, :2]}
    ours_test = {(int(a), int(b)) for a, b in ds.test_inputs[:, :2]}
    assert ours_train == set(train) and ours_test == set(test)


def torch_labels_ok(ds, p: int) -> bool:  # type: ignore[no-untyped-def]
    return bool((ds.labels == (ds.a + ds.b) % p).all())
