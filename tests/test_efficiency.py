import math

import numpy as np
import pytest

from grokinterp.efficiency import estimate_dcrit


def test_known_crossing_in_log_d():
    sizes = np.geomspace(100, 10_000, 9)
    # memorization norm grows like sqrt(D); generalization norm is flat at sqrt(2000)
    mem = [np.sqrt(sizes) * s for s in (0.9, 1.0, 1.1)]
    gen = [np.full_like(sizes, np.sqrt(2000.0))] * 3
    est = estimate_dcrit(sizes, mem, gen)
    # log-linear interpolation of sqrt(D) between grid points: within a few percent of 2000
    assert est.d_crit == pytest.approx(2000, rel=0.03)
    assert est.per_seed[0] > est.per_seed[1] > est.per_seed[2]  # weaker memorizer, later
    assert est.per_seed[0] == pytest.approx(2000 / 0.81, rel=0.03)
    assert est.spread == (est.per_seed[2], est.per_seed[0])


def test_exact_when_the_difference_is_linear_in_log_d():
    sizes = [10, 100, 1000]
    mem = [[math.log(10), math.log(100), math.log(1000)]]
    gen = [[math.log(316.2277660168379)] * 3]
    assert estimate_dcrit(sizes, mem, gen).d_crit == pytest.approx(316.2277660168379)


def test_no_crossing_and_bad_input():
    est = estimate_dcrit([1, 2, 3], [[1, 1, 1]], [[2, 2, 2]])
    assert est.d_crit is None and est.per_seed == [None] and est.spread is None
    with pytest.raises(ValueError, match="increasing"):
        estimate_dcrit([3, 2], [[1, 1]], [[1, 1]])
    with pytest.raises(ValueError, match=r"\(seeds, 3\)"):
        estimate_dcrit([1, 2, 3], [[1, 1]], [[1, 1]])
