"""Sparse parity (Barak et al. 2022) as a task of the neural trainer: its labels, its split,
its config, and a tiny run that trains, resumes exactly and trains in an ensemble."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_runs_close, assert_same_run
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.runs import layout
from grokinterp.tasks import get_task, make_dataset, make_samples
from grokinterp.training import train, train_ensemble


def parity_config(**task) -> TrainConfig:
    return replace(
        TrainConfig(),
        {
            "task": {
                "name": "sparse_parity",
                "n_bits": task.pop("n_bits", 10),
                "parity_bits": task.pop("parity_bits", 3),
                "n_samples": task.pop("n_samples", 400),
                "train_size": task.pop("train_size", 200),
                **task,
            },
            "model": {"arch": "mlp", "n_layers": 1, "d_mlp": 32},
            "optim": {"lr": 1e-2, "weight_decay": 0.1, "max_steps": 40, "warmup_steps": 0},
            "schedule": {"log_every": 10, "ckpt_every": 10, "ckpt_log_until": 3},
        },
    )


@settings(max_examples=25, deadline=None)
@given(
    n_bits=st.integers(4, 40),
    k=st.integers(1, 6),
    data_seed=st.integers(0, 2**31 - 1),
    n_samples=st.integers(4, 300),
)
def test_labels_are_the_parity_of_the_seeded_relevant_bits(n_bits, k, data_seed, n_samples):
    k = min(k, n_bits)
    n_samples = min(n_samples, 2**n_bits)

    def task(count):
        return parity_config(n_bits=n_bits, parity_bits=k, n_samples=count,
                             train_size=count // 2, data_seed=data_seed).task  # fmt: skip

    cfg = task(n_samples)
    samples, ds = make_samples(cfg), make_dataset(cfg)
    s = samples.relevant
    assert len(s) == k and s == sorted(set(s)) and 0 <= s[0] and s[-1] < n_bits
    x = samples.x.numpy()
    assert set(np.unique(x)) <= {-1.0, 1.0}
    # Barak et al.'s label prod_{i in S} x_i, as a class: 1 where it is -1
    want = (np.prod(x[:, s], axis=1) < 0).astype(np.int64)
    assert np.array_equal(samples.y.numpy().astype(np.int64), want)
    # the neural trainer's data set is the same examples, labels and split
    assert torch.equal(ds.inputs, samples.x) and torch.equal(ds.labels, torch.from_numpy(want))
    assert torch.equal(ds.train_mask, samples.train_mask)
    assert ds.d_vocab == n_bits and ds.n_classes == 2
    # the strings are distinct, and the relevant set does not depend on how many are drawn
    assert len(np.unique(x, axis=0)) == n_samples
    assert make_samples(task(min(n_samples + 3, 2**n_bits))).relevant == s


def test_the_split_is_seeded_disjoint_and_nested():
    base = parity_config(n_bits=12, n_samples=600, train_size=300)
    ds = make_dataset(base.task)
    train, test = ds.train_inputs, ds.test_inputs
    assert len(train) == 300 and len(test) == 300
    # disjoint as rows and as strings (the strings are distinct)
    train_set = {tuple(r) for r in train.int().tolist()}
    assert not train_set & {tuple(r) for r in test.int().tolist()}
    assert torch.equal(make_dataset(base.task).train_mask, ds.train_mask)  # seeded
    other = make_dataset(replace(base, {"task": {"split_seed": 1}}).task)
    assert torch.equal(other.inputs, ds.inputs) and not torch.equal(other.train_mask, ds.train_mask)
    smaller = make_dataset(replace(base, {"task": {"train_size": 100}}).task)
    assert torch.equal(smaller.train_mask & ds.train_mask, smaller.train_mask)  # nested
    relevant = {tuple(make_samples(replace(base, {"task": {"data_seed": d}}).task).relevant)
                for d in range(8)}  # fmt: skip
    assert len(relevant) > 1  # the data seed chooses the relevant set


def test_the_config_follows_the_task_and_refuses_what_cannot_exist():
    cfg = parity_config()
    assert cfg.model.mlp_input == "features" and cfg.task.p is None
    spec = get_task("sparse_parity")
    assert spec.d_vocab(cfg.task) == 10 and spec.n_classes(cfg.task) == 2
    with pytest.raises(ConfigError, match="n_samples"):  # 2^4 = 16 strings of 4 bits
        parity_config(n_bits=4, n_samples=17, train_size=8)
    with pytest.raises(ConfigError, match="parity_bits"):
        parity_config(parity_bits=11)
    with pytest.raises(ConfigError, match="arch"):
        replace(cfg, {"model": {"arch": "transformer"}})
    with pytest.raises(ConfigError, match="mlp_input"):
        replace(cfg, {"model": {"mlp_input": "tokens"}})


def test_a_tiny_run_trains_resumes_exactly_and_trains_in_an_ensemble(tmp_path):
    cfg = parity_config()
    straight = train(cfg, tmp_path / "straight", progress=False)
    rows = layout.read_metrics(straight)
    assert rows[-1]["step"] == 40 and rows[-1]["train_loss"] < rows[0]["train_loss"]
    half = train(replace(cfg, {"optim": {"max_steps": 20}}), tmp_path / "half", progress=False)
    train(cfg, half, resume=True, progress=False)
    assert_same_run(half, straight)
    # members of an ensemble (two seeds) leave the run directories single runs leave
    seeds = [cfg, replace(cfg, {"": {"seed": 1}})]
    dirs = train_ensemble(seeds, [tmp_path / "e0", tmp_path / "e1"], progress=False)
    alone = train(seeds[1], tmp_path / "alone1", progress=False)
    assert_runs_close(dirs[0], straight, rtol=1e-4)
    assert_runs_close(dirs[1], alone, rtol=1e-4)
