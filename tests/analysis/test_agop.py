"""The circulant share of a feature matrix (Mallinar et al. 2025's block-circulant AGOP) on
closed-form cases: exact circulants give 1, i.i.d. Gaussian blocks 1/(p+1) on average."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.analysis.agop import (
    agop_alignment,
    agop_circulant_deviation,
    agop_circulant_share,
    circulant_pattern,
    pattern_deviation,
    pattern_share,
    task_pattern,
)
from grokinterp.errors import ConfigError
from grokinterp.tasks.modular import discrete_log


def _circulant(col: torch.Tensor, sign: int) -> torch.Tensor:
    n = len(col)
    i = torch.arange(n)
    return col[(i[:, None] - sign * i[None, :]) % n]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 17),
    sign=st.sampled_from([1, -1]),
    seed=st.integers(0, 10**6),
    shift=st.floats(-5, 5),
    scale=st.floats(0.01, 100),
)
def test_an_exact_circulant_scores_one(
    n: int, sign: int, seed: int, shift: float, scale: float
) -> None:
    col = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    block = _circulant(col, sign) * scale + shift
    assert pattern_share(block, circulant_pattern(n, sign)) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 13), seed=st.integers(0, 10**6), shift=st.floats(-5, 5))
def test_the_share_is_a_fraction_blind_to_offset_and_scale(n: int, seed: int, shift: float) -> None:
    b = torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    s = pattern_share(b, circulant_pattern(n))
    assert 0.0 <= s <= 1.0
    assert pattern_share(3.0 * b + shift, circulant_pattern(n)) == pytest.approx(s, abs=1e-9)


@pytest.mark.parametrize("p", [5, 11, 31])
def test_a_gaussian_block_scores_one_over_p_plus_one(p: int) -> None:
    # isotropic noise: Beta((k-1)/2, (N-k)/2), k = p classes of N = p^2 entries; mean
    # (k-1)/(N-1) = 1/(p+1)
    gen = torch.Generator().manual_seed(p)
    draws = 400
    shares = [
        pattern_share(torch.randn(p, p, generator=gen, dtype=torch.float64), circulant_pattern(p))
        for _ in range(draws)
    ]
    a, b = (p - 1) / 2, (p * p - p) / 2
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert np.mean(shares) == pytest.approx(1 / (p + 1), abs=4 * sd / math.sqrt(draws))


def test_the_sign_tells_circulant_from_reflected() -> None:
    col = torch.randn(7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = _circulant(col, -1)
    assert pattern_share(ref, circulant_pattern(7, -1)) == pytest.approx(1.0)
    assert pattern_share(ref, circulant_pattern(7, 1)) < 0.5


@pytest.mark.parametrize(("task", "sign"), [("mul", 1), ("div", -1)])
def test_mul_and_div_are_circulant_in_discrete_logs(task: str, sign: int) -> None:
    p = 11
    logs = torch.as_tensor(discrete_log(p))
    col = torch.randn(p - 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    i, j = logs[:, None], logs[None, :]
    block = col[(i - sign * j) % (p - 1)]
    block[0, :] = 7.0  # the 0 row and column are outside Z_p*: ignored
    block[:, 0] = -3.0
    m = torch.zeros(2 * p, 2 * p, dtype=torch.float64)
    m[:p, p:] = block
    assert agop_circulant_share(m, task, p) == pytest.approx(1.0, abs=1e-9)
    classes, keep = task_pattern(task, p)
    assert keep is not None and int(keep.sum()) == (p - 1) ** 2


def test_add_reads_the_operand_block() -> None:
    p = 7
    col = torch.arange(p, dtype=torch.float64) ** 2
    m = torch.randn(2 * p, 2 * p, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    m[:p, p:] = _circulant(col, 1)
    assert agop_circulant_share(m, "add", p) == pytest.approx(1.0)
    assert agop_circulant_share(m, "sub", p) < 0.5


def test_bad_input_is_one_clear_line() -> None:
    with pytest.raises(ConfigError, match="expected shape"):
        agop_circulant_share(torch.eye(5), "add", 3)
    with pytest.raises(ConfigError, match="circulant pattern is defined"):
        task_pattern("perm_compose", 5)
    with pytest.raises(ConfigError, match="sign"):
        circulant_pattern(5, 2)
    assert math.isnan(pattern_share(torch.ones(3, 3), circulant_pattern(3)))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 15), sign=st.sampled_from([1, -1]), seed=st.integers(0, 10**6))
def test_circulant_deviation_is_zero_on_circulants_and_their_variance_otherwise(
    n: int, sign: int, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    col = torch.randn(n, generator=gen, dtype=torch.float64)
    classes = circulant_pattern(n, sign)
    assert pattern_deviation(_circulant(col, sign), classes) == pytest.approx(0.0, abs=1e-12)
    # their definition: the summed variance of each wrapped diagonal over |B|_F^2
    b = torch.randn(n, n, generator=gen, dtype=torch.float64)
    i = torch.arange(n)
    diagonals = [b[i, (k + sign * i) % n] for k in range(n)]  # entries with i - sign*j = -k
    want = sum(float(((d - d.mean()) ** 2).sum()) for d in diagonals) / float((b**2).sum())
    assert pattern_deviation(b, classes) == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("p", [5, 13])
def test_a_gaussian_block_deviates_by_one_minus_one_over_p(p: int) -> None:
    # zero-mean isotropic noise: |B - P B|^2 / |B|^2 ~ Beta((N - k)/2, k/2), mean 1 - k/N
    gen = torch.Generator().manual_seed(p + 100)
    draws = 400
    devs = [
        pattern_deviation(torch.randn(p, p, generator=gen, dtype=torch.float64),
                          circulant_pattern(p))
        for _ in range(draws)
    ]  # fmt: skip
    a, b = (p * p - p) / 2, p / 2
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert np.mean(devs) == pytest.approx(1 - 1 / p, abs=4 * sd / math.sqrt(draws))


def test_the_deviation_reads_the_bottom_left_block() -> None:
    p = 7
    col = torch.randn(p, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    m = torch.zeros(2 * p, 2 * p, dtype=torch.float64)
    m[p:, :p] = _circulant(col, 1).T  # M_ba of a symmetric M whose M_ab is circulant
    m[:p, p:] = torch.randn(p, p, generator=torch.Generator().manual_seed(4))
    assert agop_circulant_deviation(m, "add", p) == pytest.approx(0.0, abs=1e-12)
    assert agop_circulant_deviation(m, "sub", p) > 0.3


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), scale=st.floats(0.01, 100))
def test_alignment_is_the_cosine_of_the_vectorized_matrices(seed: int, scale: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randn(2, 6, 6, generator=gen, dtype=torch.float64)
    assert agop_alignment(a, scale * a) == pytest.approx(1.0)
    assert agop_alignment(a, -a) == pytest.approx(-1.0)
    want = float((a * b).sum() / (a.norm() * b.norm()))
    assert agop_alignment(a, b) == pytest.approx(want) == pytest.approx(agop_alignment(b, a))
