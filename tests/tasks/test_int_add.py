"""Liu et al. 2022's addition table: unordered pairs, integer sums, 2p - 1 classes."""

import pytest

from grokinterp.config import TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.tasks import get_task, make_dataset


def test_int_add_pairs_labels_and_classes():
    cfg = TaskConfig(name="int_add", p=10, train_fraction=None, train_size=45)
    ds = make_dataset(cfg)
    pairs = [(a, b) for a in range(10) for b in range(a, 10)]
    assert ds.inputs[:, :2].tolist() == [list(x) for x in pairs]
    assert ds.labels.tolist() == [a + b for a, b in pairs]
    assert ds.n_classes == 19 and get_task("int_add").n_classes(cfg) == 19
    assert len(ds.inputs) == 55 and int(ds.train_mask.sum()) == 45
    assert ds.d_vocab == 11 and (ds.inputs[:, 2] == 10).all()


def test_int_add_train_size_bounds():
    with pytest.raises(ConfigError, match="55 pairs"):
        TaskConfig(name="int_add", p=10, train_fraction=None, train_size=55)
