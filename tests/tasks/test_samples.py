"""The tasks of generated examples (Miller et al. 2024): labels against brute force, seeds,
splits, and the config's validation of their fields."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from grokinterp.config import TaskConfig, TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.tasks import make_dataset, make_samples

ROOT = Path(__file__).resolve().parents[2]


def parity_task(**kw: object) -> TaskConfig:
    base: dict[str, object] = dict(
        name="concealed_parity", p=None, n_bits=12, parity_bits=3, n_samples=300,
        train_fraction=None, train_size=200,
    )  # fmt: skip
    base.update(kw)
    return TaskConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 2, 3, 5, 12])
def test_concealed_parity_labels_are_the_parity_of_the_first_k_bits(k):
    s = make_samples(parity_task(parity_bits=k))
    for row, label in zip(s.x.tolist(), s.y.tolist(), strict=True):
        ones = 0
        for bit in row[:k]:  # brute force: count the ones one by one
            assert bit in (0.0, 1.0)
            ones += int(bit)
        assert label == (1.0 if ones % 2 == 1 else 0.0)
    assert s.relevant == list(range(k)) and s.target == "class"


def test_concealed_bits_are_independent_of_the_label():
    s = make_samples(parity_task(n_samples=20000, train_size=100))
    for j in range(12):
        # each bit alone carries no information about a parity of 3 bits (nor do the others)
        agree = float((s.x[:, j] == s.y).float().mean())
        assert abs(agree - 0.5) < 0.02, j
    # both classes appear about equally often
    assert abs(float(s.y.mean()) - 0.5) < 0.02


def test_samples_are_seeded_and_split_like_pairs():
    a, b = make_samples(parity_task()), make_samples(parity_task())
    assert torch.equal(a.x, b.x) and torch.equal(a.train_mask, b.train_mask)
    c = make_samples(parity_task(data_seed=1))
    assert not torch.equal(a.x, c.x)
    d = make_samples(parity_task(split_seed=1))
    assert torch.equal(a.x, d.x) and not torch.equal(a.train_mask, d.train_mask)
    assert int(a.train_mask.sum()) == 200 and len(a.y_test) == 100
    # nested: the training set of 150 is the first 150 of the same permutation
    small = make_samples(parity_task(train_size=150))
    assert bool((small.train_mask <= a.train_mask).all())


def test_linear_features_are_miller_et_al_s():
    t = TaskConfig(name="linear_features", p=None, n_samples=100, train_fraction=None,
                   train_size=2)  # fmt: skip
    s = make_samples(t)
    x = s.x[:, 0].double()
    assert bool(((x >= -0.5) & (x < 0.5)).all())
    expect = torch.stack([x, x**2, x**3, torch.sin(100 * x)], dim=1)
    assert torch.allclose(s.x.double(), expect, atol=1e-6)
    assert torch.allclose(s.y.double(), 0.3 * x, atol=1e-7)
    assert s.relevant == [0] and s.target == "real" and len(s.y_train) == 2


@pytest.mark.parametrize(
    "kw, field",
    [
        (dict(n_bits=None), "task.n_bits"),
        (dict(n_bits=0), "task.n_bits"),
        (dict(parity_bits=13), "task.parity_bits"),
        (dict(parity_bits=0), "task.parity_bits"),
        (dict(n_samples=None), "task.n_samples"),
        (dict(n_samples=1), "task.n_samples"),
        (dict(p=7), "task.p"),
        (dict(n=3), "task.n"),
        (dict(train_size=300), "task.train_size"),
    ],
)
def test_bad_sample_task_fields_are_one_line(kw, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as e:
        parity_task(**kw)
    assert "\n" not in str(e.value)


def test_pair_tasks_refuse_the_sample_fields_and_the_reverse():
    for name in ("n_bits", "parity_bits", "n_samples"):
        with pytest.raises(ConfigError, match=f"task.{name}"):
            TaskConfig(name="add", p=7, **{name: 5})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="task.n_bits"):
        TaskConfig(name="linear_features", p=None, n_samples=10, n_bits=4)
    with pytest.raises(ConfigError, match="generated examples"):
        make_dataset(parity_task())
    with pytest.raises(ConfigError, match="task of pairs"):
        make_samples(TaskConfig(name="add", p=7))


def test_every_existing_config_json_loads_unchanged():
    """Backward compatibility: configs written before the sample tasks existed load, and
    their fields keep their values (the new ones take their defaults)."""
    paths = sorted(ROOT.glob("checkpoints/*/config.json"))
    paths += sorted(ROOT.glob("studies/*/sweep/runs/*/config.json"))[:5]
    assert paths
    for path in paths:
        stored = json.loads(path.read_text())
        cfg = TrainConfig.load(path)
        d = cfg.to_dict()
        for section in ("task", "model", "optim", "schedule"):
            for k, v in stored.get(section, {}).items():
                got = d[section][k]
                assert got == v or (isinstance(v, float) and math.isclose(got, v)), (path, k)
        assert d["task"]["n_bits"] is None and d["model"]["arch"] in ("transformer", "mlp")
