"""The first layer's weight share on the relevant bits of a sparse parity: known cases."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.analysis.parity import relevant_weight_share
from grokinterp.errors import ConfigError


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40),
    hidden=st.integers(1, 16),
    data=st.data(),
)
def test_share_of_known_layers(n, hidden, data):
    k = data.draw(st.integers(1, n))
    relevant = data.draw(st.permutations(range(n)))[:k]
    seed = data.draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, hidden, generator=g) + 0.01  # no row entirely zero
    # a layer that reads only S: share 1
    only = torch.zeros_like(w)
    only[relevant] = w[relevant]
    assert relevant_weight_share(only, relevant) == pytest.approx(1.0)
    # every row of equal mass (signs scrambled): k / n
    equal = torch.sign(w) * 0.5
    equal[equal == 0] = 0.5
    assert relevant_weight_share(equal, relevant) == pytest.approx(k / n)
    # the complement's share is the rest; the order of S does not matter
    rest = [i for i in range(n) if i not in relevant]
    if rest:
        total = relevant_weight_share(w, relevant) + relevant_weight_share(w, rest)
        assert total == pytest.approx(1.0)
    assert relevant_weight_share(w, relevant[::-1]) == pytest.approx(
        relevant_weight_share(w, relevant)
    )


def test_bad_relevant_sets_and_zero_layers_are_refused():
    w = torch.ones(5, 3)
    for bad in ([], [5], [-1], [1, 1]):
        with pytest.raises(ConfigError, match="relevant"):
            relevant_weight_share(w, bad)
    with pytest.raises(ConfigError, match="zeros"):
        relevant_weight_share(torch.zeros(5, 3), [0])
