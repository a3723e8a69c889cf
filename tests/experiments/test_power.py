"""The training-fraction study's batch rule (Power et al. 2022's min(512, ceil(n / 2)))."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.errors import ConfigError
from grokinterp.experiments import power
from grokinterp.sweeps.spec import expand
from grokinterp.tasks.dataset import make_dataset


@given(st.integers(1, 100_000))
def test_batch_is_at_most_512_and_gives_every_epoch_two_updates(n):
    b = power.power_batch_size(n)
    assert 1 <= b <= 512
    assert math.ceil(n / b) >= 2 or n == 1  # at least two updates an epoch (one row: one)
    assert b == 512 or 2 * b in (n, n + 1)  # below the cap, half the set rounded up


def test_batch_of_an_empty_set_is_one_line():
    with pytest.raises(ConfigError, match="at least 1 example"):
        power.power_batch_size(0)


@settings(max_examples=10, deadline=None)
@given(
    st.sampled_from([11, 23, 47]),
    st.lists(st.sampled_from([0.2, 0.3, 0.5, 0.8]), min_size=1, max_size=3, unique=True),
    st.sampled_from(["div", "add"]),
)
def test_each_run_gets_the_rule_applied_to_its_own_training_set(p, fractions, task):
    params = power.Params(task=task, p=p, fractions=tuple(fractions), seeds=(0,))
    runs = expand(power.spec(params))
    assert len(runs) == len(fractions)
    for r in runs:
        n = len(make_dataset(r.config.task).train_labels)
        assert r.config.optim.batch_size == min(512, math.ceil(n / 2))
        assert r.config.optim.drop_last is False  # the power preset's shorter last batch
    kept = expand(power.spec(power.Params(task=task, p=p, fractions=tuple(fractions),
                                          seeds=(0,), batch_rule="preset")))  # fmt: skip
    assert {r.config.optim.batch_size for r in kept} == {512}
