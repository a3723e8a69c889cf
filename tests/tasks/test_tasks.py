import itertools
import math

import pytest
import torch

from grokinterp.config import TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.tasks import TASKS, TaskSpec, get_task, make_dataset, register

BRUTE = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
    "div": lambda a, b, p: next(c for c in range(p) if (c * b) % p == a),
    # Power et al. 2022: a / b if b is odd, otherwise a - b (b in 1 .. p-1)
    "div_or_sub": lambda a, b, p: (
        next(c for c in range(p) if (c * b) % p == a) if b % 2 else (a - b) % p
    ),
    "x2_y2": lambda a, b, p: (a**2 + b**2) % p,
    "x2_xy_y2": lambda a, b, p: (a**2 + a * b + b**2) % p,
    "x2_xy_y2_x": lambda a, b, p: (a**2 + a * b + b**2 + a) % p,
    "x3_xy": lambda a, b, p: (a**3 + a * b) % p,
    "x3_xy2_y": lambda a, b, p: (a**3 + a * b**2 + b) % p,
}


@pytest.mark.parametrize("name", sorted(BRUTE))
@pytest.mark.parametrize("p", [7, 13])
def test_modular_labels_match_brute_force(name, p):
    ds = make_dataset(TaskConfig(name=name, p=p, train_fraction=0.5))
    pairs = [(a, b) for a in range(p) for b in range(p) if not name.startswith("div") or b != 0]
    assert ds.inputs[:, :2].tolist() == [list(x) for x in pairs]
    assert ds.labels.tolist() == [BRUTE[name](a, b, p) for a, b in pairs]
    assert (ds.inputs[:, 2] == p).all() and ds.eq_token == p and ds.d_vocab == p + 1


def _perm_brute(n, op):
    elems = list(itertools.permutations(range(n)))

    def comp(x, y):
        return tuple(x[y[i]] for i in range(n))

    def inv(x):
        out = [0] * n
        for i, xi in enumerate(x):
            out[xi] = i
        return tuple(out)

    f = {
        "perm": lambda x, y: comp(x, y),
        "perm_conj": lambda x, y: comp(comp(x, y), inv(x)),
        "perm_xyx": lambda x, y: comp(comp(x, y), x),
    }[op]
    return [elems.index(f(x, y)) for x in elems for y in elems]


@pytest.mark.parametrize("op", ["perm", "perm_conj", "perm_xyx"])
@pytest.mark.parametrize("n", [3, 4])
def test_permutation_labels_match_brute_force(op, n):
    ds = make_dataset(TaskConfig(name=op, p=None, n=n, train_fraction=0.5))
    assert ds.size == math.factorial(n)
    assert ds.labels.tolist() == _perm_brute(n, op)


def test_s5_has_120_elements_and_identity_is_element_0():
    ds = make_dataset(TaskConfig(name="perm", p=None, n=5, train_fraction=0.3))
    assert ds.size == 120 and len(ds.labels) == 120 * 120
    grid = ds.labels.view(120, 120)
    assert (grid[0] == torch.arange(120)).all() and (grid[:, 0] == torch.arange(120)).all()


def test_every_registered_task_is_tested():
    # the tasks of generated examples are tested in tests/tasks/test_samples.py (sparse_parity
    # in tests/tasks/test_sparse_parity.py), int_add in tests/tasks/test_int_add.py, digits in
    # tests/tasks/test_features.py, mnist in tests/experiments/test_deep_grokking.py (the
    # mnist extra)
    samples = {"concealed_parity", "linear_features", "sparse_parity"}
    others = {
        "perm",
        "perm_conj",
        "perm_xyx",
        "random_table",
        "int_add",
        "digits",
        "mnist",
        "add_unordered",  # tests/tasks/test_add_unordered.py
        "counterfactual",  # tests/tasks/test_counterfactual.py
    }
    assert set(TASKS) == set(BRUTE) | others | samples


def test_nanda_split_size():
    ds = make_dataset(TaskConfig(p=113, train_fraction=0.3))
    assert int(ds.train_mask.sum()) == 3830 and int((~ds.train_mask).sum()) == 8939


def test_split_is_seeded_and_sizes_are_exact():
    a = make_dataset(TaskConfig(p=31, train_fraction=None, train_size=200, split_seed=4))
    b = make_dataset(TaskConfig(p=31, train_fraction=None, train_size=200, split_seed=4))
    c = make_dataset(TaskConfig(p=31, train_fraction=None, train_size=200, split_seed=5))
    assert torch.equal(a.train_mask, b.train_mask) and not torch.equal(a.train_mask, c.train_mask)
    assert int(a.train_mask.sum()) == 200


def test_training_sets_are_nested():
    sizes = [50, 120, 300, 700]
    masks = [
        make_dataset(TaskConfig(p=31, train_fraction=None, train_size=d)).train_mask for d in sizes
    ]
    for small, big in itertools.pairwise(masks):
        assert not (small & ~big).any()
    ds = make_dataset(TaskConfig(p=31, train_fraction=None, train_size=700))
    assert torch.equal(ds.nested_train_mask(120), masks[1])


def test_random_labels_permute_the_true_labels():
    true = make_dataset(TaskConfig(p=23, train_fraction=0.5))
    rand = make_dataset(TaskConfig(p=23, train_fraction=0.5, random_labels=True, label_seed=3))
    assert sorted(rand.labels.tolist()) == sorted(true.labels.tolist())
    assert (rand.labels != true.labels).float().mean() > 0.8
    assert torch.equal(rand.train_mask, true.train_mask)


def test_random_table_is_seeded_and_covers_the_range():
    a = make_dataset(TaskConfig(name="random_table", p=23, train_fraction=0.5, label_seed=1))
    b = make_dataset(TaskConfig(name="random_table", p=23, train_fraction=0.5, label_seed=1))
    c = make_dataset(TaskConfig(name="random_table", p=23, train_fraction=0.5, label_seed=2))
    assert torch.equal(a.labels, b.labels) and not torch.equal(a.labels, c.labels)
    assert set(a.labels.tolist()) == set(range(23))


def test_field_tasks_reject_composite_p_with_a_suggestion():
    with pytest.raises(ConfigError, match="prime.*try 13"):
        TaskConfig(name="div", p=12)
    TaskConfig(name="mul", p=12)  # a ring is enough for multiplication


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register(TaskSpec("add", "again", "modular", lambda a, b, p: a))
    with pytest.raises(ConfigError, match="unknown task"):
        get_task("nope")


def test_python_random_split_reproduces_the_progress_measures_split():
    # the progress-measures code: shuffle the row-major list of (a, b) with random.seed(0)
    import random

    p, frac = 13, 0.3
    pairs = [(a, b) for a in range(p) for b in range(p)]
    random.seed(0)
    random.shuffle(pairs)
    expected = set(pairs[: int(frac * len(pairs))])
    ds = make_dataset(TaskConfig(p=p, train_fraction=frac, split_method="python_random"))
    got = {(int(a), int(b)) for a, b in ds.train_inputs[:, :2]}
    assert got == expected
