"""RQI, the effective loss and the effective theory's ideal accuracy on known answers."""

import numpy as np
import pytest
import torch

from grokinterp.analysis.representation import (
    critical_fraction,
    effective_loss,
    ideal_accuracy,
    parallelograms,
    rqi,
)


def test_parallelograms_of_the_full_table():
    # p = 4: sums with several pairs: 2 {02,11}, 3 {03,12}, 4 {13,22} -> one each
    pg = parallelograms(4)
    assert len(pg) == 3
    assert all(row[0] + row[1] == row[2] + row[3] for row in pg)
    # count for p = 10 by brute force over unordered pairs
    pairs = [(a, b) for a in range(10) for b in range(a, 10)]
    brute = sum(1 for i, x in enumerate(pairs) for y in pairs[i + 1 :] if sum(x) == sum(y))
    assert len(parallelograms(10)) == brute
    # restricted to a training set, and modular
    assert len(parallelograms(4, [(0, 2), (1, 1), (0, 3)])) == 1
    assert len(parallelograms(5, modulus=5)) > len(parallelograms(5))


def test_rqi_is_one_for_linear_and_near_zero_for_random():
    v = torch.tensor([0.3, -1.2, 2.0])
    linear = torch.arange(10.0)[:, None] * v + torch.tensor([1.0, 2.0, 3.0])
    assert rqi(linear) == 1.0
    assert rqi(torch.arange(10.0) * 5.0 - 7.0) == 1.0  # 1-D, any scale and offset
    gen = torch.Generator().manual_seed(0)
    assert rqi(torch.randn(10, 8, generator=gen)) < 0.05
    assert rqi(torch.randn(10, 1, generator=gen)) < 0.3  # 1-D random: some by chance


def test_effective_loss_zero_for_linear_positive_otherwise():
    train = [(0, 3), (1, 2), (2, 5), (3, 4), (0, 5), (1, 4)]
    linear = torch.arange(6.0)[:, None] * torch.tensor([2.0, -1.0]) + 4.0
    assert effective_loss(linear, train) == pytest.approx(0.0, abs=1e-12)
    bent = linear.clone()
    bent[3] += 1.0
    assert effective_loss(bent, train) > 0.01
    # translation-invariant, scale-invariant
    assert effective_loss(bent + 10.0, train) == pytest.approx(effective_loss(bent, train))
    assert effective_loss(3.0 * bent, train) == pytest.approx(effective_loss(bent, train))
    with pytest.raises(ValueError, match="Z_0"):
        effective_loss(torch.ones(6, 2), train)


def test_ideal_accuracy_full_when_determined_and_zero_when_no_parallelograms():
    p = 6
    a, b = np.triu_indices(p)
    everything = np.stack([a, b], 1)
    # all pairs but the two with unique sums' neighbours: dof 0, every test pair answered
    train = [tuple(x) for x in everything if tuple(x) not in {(1, 4), (2, 2)}]
    res = ideal_accuracy(p, train)
    assert res["dof"] == 0 and res["test_acc"] == 1.0
    # a training set without any parallelogram determines nothing
    res = ideal_accuracy(p, [(0, 0), (0, 1), (1, 5)])
    assert res["test_acc"] == 0.0 and res["dof"] == p - 2
    # (0,0) only has itself: a test pair no parallelogram can reach
    train = [tuple(x) for x in everything if tuple(x) != (0, 0)]
    assert ideal_accuracy(p, train)["test_acc"] == 0.0


def test_critical_fraction_rises_with_the_training_set():
    table = critical_fraction(10, [0.2, 0.5, 0.8], n_splits=10)
    acc = table["ideal_test_acc"].to_numpy()
    assert acc[0] < acc[1] <= acc[2] and acc[2] > 0.8
    unique = table["p_unique"].to_numpy()
    assert unique[0] == 0.0 and unique[2] == 1.0
    assert 0.2 < table.attrs["r_c"] <= 0.5


def test_crossing_interpolates():
    from grokinterp.analysis.representation import crossing

    assert crossing([0.0, 1.0, 2.0], [0.0, 0.2, 0.6], 0.4) == pytest.approx(1.5)
    assert crossing([0.0, 1.0], [0.0, 0.1], 0.5) is None


def test_rqi_over_checkpoints_reads_the_transformer_embedding(tmp_path):
    from helpers import tiny_config

    from grokinterp.analysis.representation import rqi_over_checkpoints
    from grokinterp.runs import Run
    from grokinterp.training import train

    run = Run(train(tiny_config(max_steps=10), tmp_path / "t", progress=False))
    table = rqi_over_checkpoints(run)
    assert list(table["step"]) == run.steps and table["rqi"].between(0, 1).all()
    assert "effective_loss" not in table and "test_acc" in table  # a modular task
