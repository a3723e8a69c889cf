"""Gradient symmetricity and distance irrelevance (Zhong et al. 2023) on models whose answer is
known in closed form: a hand-built clock (logits a product of E_a and E_b), a hand-built
pizza (logits a function of E_a + E_b, their Q^pizza), logits depending only on a + b or
only on a - b, and a trained-shape MLP that sums its embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.analysis.clock_pizza import (
    all_triples,
    authors_triples,
    distance_irrelevance,
    gradient_symmetricity,
    model_distance_irrelevance,
    model_gradient_symmetricity,
)
from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import init_params

odd = st.integers(1, 30).map(lambda k: 2 * k + 1)


def _circle(p: int, k: int, idx: torch.Tensor) -> torch.Tensor:
    w = 2 * math.pi * k / p
    x = idx.double()
    return torch.stack([torch.cos(w * x), torch.sin(w * x)], -1)


def _clock(p: int, k: int):
    """Q_abc = Re(e^{iwa} e^{iwb} e^{-iwc}) = cos(w (a + b - c)), as a product of E_a, E_b."""
    u = _circle(p, k, torch.arange(p))  # unembedding: (cos wc, sin wc)

    def logits_of(ea: torch.Tensor, eb: torch.Tensor) -> torch.Tensor:
        re = ea[:, 0] * eb[:, 0] - ea[:, 1] * eb[:, 1]  # cos w(a + b)
        im = ea[:, 1] * eb[:, 0] + ea[:, 0] * eb[:, 1]  # sin w(a + b)
        return re[:, None] * u[:, 0] + im[:, None] * u[:, 1]

    return logits_of


def _pizza(p: int, k: int):
    """Their Q^pizza (_Z code/eval-main.ipynb, "Logit FVE"): with s = E_a + E_b and u_c at
    angle w c / 2, Q_abc = |s . u_c| - |s . u_c^perp|: a function of E_a + E_b."""
    w = 2 * math.pi * k / p
    c = torch.arange(p).double()
    co, si = torch.cos(w * c / 2), torch.sin(w * c / 2)

    def logits_of(ea: torch.Tensor, eb: torch.Tensor) -> torch.Tensor:
        s = ea + eb
        along = s[:, :1] * co + s[:, 1:] * si
        across = -s[:, :1] * si + s[:, 1:] * co
        return along.abs() - across.abs()

    return logits_of


def _inputs(p: int, k: int, triples):
    a, b, c = (torch.tensor(x) for x in zip(*triples, strict=True))
    return _circle(p, k, a), _circle(p, k, b), c


@settings(max_examples=15, deadline=None)
@given(p=st.sampled_from([5, 7, 11, 13]), k=st.integers(1, 6))
def test_clock_symmetricity_is_mean_cos_w_a_minus_b(p, k):
    """The clock's gradients are unit vectors at angles w (c - b) and w (c - a): cosine
    cos(w (a - b)), which averages to 0 over all triples (k not a multiple of p)."""
    k = k % p or 1
    trip = authors_triples(p, n=50, seed=k)
    got = gradient_symmetricity(_clock(p, k), *_inputs(p, k, trip))
    w = 2 * math.pi * k / p
    assert got == pytest.approx(np.mean([math.cos(w * (a - b)) for a, b, _ in trip]), abs=1e-9)
    assert gradient_symmetricity(_clock(p, k), *_inputs(p, k, all_triples(p))) == pytest.approx(
        0.0, abs=1e-9
    )


@settings(max_examples=15, deadline=None)
@given(p=st.sampled_from([5, 7, 11, 13, 59]), k=st.integers(1, 6))
def test_pizza_is_gradient_symmetric_and_distance_relevant(p, k):
    k = k % p or 1
    trip = [t for t in authors_triples(p, n=60, seed=k)]
    ea, eb, c = _inputs(p, k, trip)
    # rows where s is perpendicular to or along u_c exactly have a kink; none in the sample
    assert gradient_symmetricity(_pizza(p, k), ea, eb, c) == pytest.approx(1.0, abs=1e-12)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    logits = _pizza(p, k)(_circle(p, k, a.flatten()), _circle(p, k, b.flatten()))
    correct = logits.gather(1, ((a + b) % p).flatten()[:, None]).view(p, p)
    # Q_ab(a+b) = 2 |cos(w (a - b) / 2)|: a function of the distance only
    w = 2 * math.pi * k / p
    torch.testing.assert_close(correct, 2 * torch.cos(w * (a - b).double() / 2).abs())
    assert distance_irrelevance(correct) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(p=odd, seed=st.integers(0, 2**16))
def test_logits_of_the_sum_only_give_distance_irrelevance_one(p, seed):
    """At each distance d, s = a + b runs over every residue when p is odd: each std equals
    the overall one."""
    f = np.random.default_rng(seed).normal(size=p)
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    assert distance_irrelevance(f[(a + b) % p]) == pytest.approx(1.0, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(p=odd, seed=st.integers(0, 2**16))
def test_logits_of_the_distance_only_give_zero(p, seed):
    g = np.random.default_rng(seed).normal(size=p)
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    assert distance_irrelevance(g[(a - b) % p]) == pytest.approx(0.0, abs=1e-9)


def test_even_p_is_refused():
    """p even: (a, b) -> (a + b, a - b) is two-to-one, half the (s, d) grid empty."""
    with pytest.raises(ConfigError, match="odd p"):
        distance_irrelevance(np.random.default_rng(0).normal(size=(6, 6)))


def test_mlp_summing_its_embeddings_is_symmetric():
    """An MLP that reads E_a + E_b has equal gradients for a and b: symmetricity 1."""
    cfg = ModelConfig(arch="mlp", d_model=8, d_mlp=16, n_layers=1, act_fn="gelu")
    p = 7
    params = init_params(cfg, p + 1, p, torch.Generator().manual_seed(0))
    assert model_gradient_symmetricity(params, cfg, p) == pytest.approx(1.0, abs=1e-9)
    assert 0.0 <= model_distance_irrelevance(params, cfg, p) < 2.0


def test_transformer_gradient_is_per_row():
    """Each row's embeddings are their own leaves: the batched value equals the one-triple
    values averaged, for a transformer at any attention rate."""
    cfg = ModelConfig(d_model=16, n_heads=2, d_head=8, d_mlp=32, attention_rate=0.4)
    p = 7
    params = init_params(cfg, p + 1, p, torch.Generator().manual_seed(1))
    trip = authors_triples(p, n=8)
    one_by_one = [model_gradient_symmetricity(params, cfg, p, [t]) for t in trip]
    assert model_gradient_symmetricity(params, cfg, p, trip) == pytest.approx(
        np.mean(one_by_one), abs=1e-9
    )


def test_authors_sample_is_their_first_hundred():
    trip = authors_triples(59)
    assert len(trip) == 100 and len(set(trip)) == 100
    assert all(0 <= x < 59 for t in trip for x in t)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="all equal"):
        distance_irrelevance(np.ones((5, 5)))
    with pytest.raises(ConfigError, match=r"\(p, p\)"):
        distance_irrelevance(np.ones((5, 4)))
    with pytest.raises(ConfigError, match="p must be"):
        authors_triples(1)
    with pytest.raises(ConfigError, match="input embeddings"):
        cfg = ModelConfig(arch="mlp", mlp_input="onehot", d_mlp=8)
        model_gradient_symmetricity(
            init_params(cfg, 6, 5, torch.Generator().manual_seed(0)), cfg, 5
        )
    zero = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="vanishes"):
        gradient_symmetricity(lambda ea, eb: (ea * eb).sum(1, keepdim=True).repeat(1, 3),
                              zero, zero, [0, 1, 2])  # fmt: skip
