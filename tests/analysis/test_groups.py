"""The multiplicative group Z_p* as a Fourier basis (issue 30): discrete logarithms, the
basis of an even order, and the progress measures on models whose logits are exact
characters of the group, for several primes."""

import math

import pytest
import torch
from helpers import quadratic_mlp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grokinterp.analysis import fourier, keyfreqs, measures
from grokinterp.analysis.groups import GroupBasis, as_basis, task_basis, why_no_basis
from grokinterp.config import ModelConfig, TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.models import answer_forward_chunked
from grokinterp.tasks import is_prime, make_dataset
from grokinterp.tasks.modular import discrete_log, power_table, primitive_root

PRIMES = [p for p in range(5, 32) if is_prime(p)]  # orders 4 .. 30, odd and even halves


# ----------------------------------------------------------------------------- discrete log
@given(st.sampled_from([p for p in range(3, 400) if is_prime(p)]))
def test_primitive_root_generates_and_log_inverts(p):
    g = primitive_root(p)
    powers = power_table(p)
    assert sorted(powers.tolist()) == list(range(1, p))  # every nonzero residue once
    assert powers[0] == 1 and (p == 3 or powers[1] == g)
    log = discrete_log(p)
    assert log[0] == -1 and all(int(powers[log[x]]) == x for x in range(1, p))
    a, b = 2 % p or 1, p - 1
    assert (log[a] + log[b]) % (p - 1) == log[a * b % p]  # log turns products into sums


@pytest.mark.parametrize("p", [1, 4, 9, 15, 91, 100])
def test_non_prime_is_refused(p):
    with pytest.raises(ConfigError, match="prime p"):
        primitive_root(p)
    with pytest.raises(ConfigError, match="prime p"):
        discrete_log(p)
    with pytest.raises(ConfigError, match="prime"):
        GroupBasis("multiplicative", p)


def test_a_non_generator_is_refused():
    with pytest.raises(ConfigError, match="does not generate"):
        power_table(13, 3)  # 3^3 = 1 mod 13
    with pytest.raises(ConfigError, match="does not generate"):
        GroupBasis("multiplicative", 13, generator=4)


# ----------------------------------------------------------------------------- the basis
@pytest.mark.parametrize("n", [2, 4, 6, 10, 30, 96])
def test_even_order_basis_is_orthonormal_with_a_nyquist_row(n):
    F, names = fourier.fourier_basis(n, dtype=torch.float64)
    assert F.shape == (n, n) and len(names) == n and names[-1] == f"cos {n // 2}"
    assert torch.allclose(F @ F.T, torch.eye(n, dtype=torch.float64), atol=1e-12)
    x = torch.arange(n)
    assert torch.allclose(F[n - 1] * math.sqrt(n), (1 - 2 * (x % 2)).double())
    assert fourier.n_freqs(n) == n // 2 and fourier.has_nyquist(n)
    with pytest.raises(ValueError, match="no sine"):
        fourier.sin_row(n // 2, n)
    # Parseval, frequency by frequency: the norms hold every non-constant energy
    w = torch.randn(n, 3, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    norms = fourier.freq_norms(w, include_const=True)
    assert norms.shape == (n // 2 + 1,)
    assert float(norms.pow(2).sum()) == pytest.approx(float(w.pow(2).sum()), rel=1e-12)


@pytest.mark.parametrize("n", [6, 10])
@pytest.mark.parametrize("structure", ["sum", "difference"])
def test_even_order_grid_directions_are_orthonormal(n, structure):
    D = measures.grid_directions(n, structure, dtype=torch.float64)
    assert D.shape == (2 * (n // 2) - 1, n, n)  # no sine direction for n/2
    flat = D.flatten(1)
    assert torch.allclose(flat @ flat.T, torch.eye(len(flat), dtype=torch.float64), atol=1e-12)
    assert flat.sum(1).abs().max() < 1e-12


def test_grid_index_of_mul_and_div():
    for name, pairs in (("mul", 13 * 13), ("div", 13 * 12)):
        ds = make_dataset(TaskConfig(name=name, p=13, train_fraction=0.5))
        assert len(ds.inputs) == pairs
        basis = task_basis(name, 13)
        idx = basis.grid_index(ds.inputs)
        assert idx.shape == (12, 12) and len(set(idx.flatten().tolist())) == 144
        el = basis.elements()
        a, b = ds.inputs[idx, 0], ds.inputs[idx, 1]
        assert torch.equal(a, el[:, None].expand(12, 12))
        assert torch.equal(b, el[None, :].expand(12, 12))
        # the labels on the grid are g^(i + j) (mul) and g^(i - j) (div)
        i = torch.arange(12)
        s = (i[:, None] + i[None, :]) if name == "mul" else (i[:, None] - i[None, :])
        assert torch.equal(ds.labels[idx], el[s % 12])
    with pytest.raises(ValueError, match="lacks"):
        task_basis("mul", 13).grid_index(ds.inputs[:-1])


def test_task_bases_and_why_not():
    assert task_basis("add", 31) == GroupBasis("additive", 31, "sum") == as_basis(31)
    assert task_basis("sub", 31).structure == "difference"
    mul, div = task_basis("mul", 31), task_basis("div", 31)
    assert (mul.group, mul.structure, mul.order, mul.generator) == ("multiplicative", "sum", 30, 3)
    assert div.structure == "difference" and div.record()["n_freqs"] == 15
    assert "no cyclic structure" in (why_no_basis("x2_y2", 31) or "")
    assert "prime" in (why_no_basis("mul", 15) or "")
    assert "randomly permuted" in (why_no_basis("div", 31, random_labels=True) or "")
    with pytest.raises(ConfigError, match="degree n"):  # perm: S_n, given its degree
        task_basis("perm", None)
    with pytest.raises(ConfigError, match="no product x o y"):
        task_basis("perm_xyx", None, n=4)


# ----------------------------------------------------------------------------- a model
def confident_scale(n: int, used: list[int], margin: float = 8.0) -> float:
    """The scale at which the right class beats every other class of Z_n by ``margin``:
    ``margin / min_{d != 0} sum_k (1 - cos(2 pi k d / n))`` (finite when gcd(n, K) = 1)."""
    d = torch.arange(1, n, dtype=torch.float64)
    gap = sum(1 - torch.cos(2 * math.pi * k * d / n) for k in used)
    return margin / float(gap.min())  # type: ignore[union-attr]


def character_model(
    basis: GroupBasis, used: list[int], scale: float | None = None
) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """A one-hidden-layer MLP (quadratic activation, the embeddings of a and b
    concatenated) whose logit for class c of the group is exactly
    ``scale * sum_{k in used} cos(w_k (i + j - l))`` (``sum``) or ``cos(w_k(i - j - l))``
    (``difference``), with ``i, j, l`` the group indices (discrete logarithms) of a, b and c
    and ``w_k = 2 pi k / n``: a sum of characters of the group, read through the tokens.
    Tokens outside the group (0 for Z_p*) embed to zero and class 0 has logit 0. The
    default scale is :func:`confident_scale` (the model answers with a margin of 8).

    Per frequency the embedding has the dims (cos w_k i, sin w_k i); 8 neurons form
    ``4 cos(w_k(i + j))`` and ``4 sin(w_k(i + j))`` as differences of squares (the b half
    reads ``-sin`` for a difference), and W_U multiplies them by cos(w_k l), sin(w_k l).
    """
    p, n = basis.p, basis.order
    scale = confident_scale(n, used) if scale is None else scale
    idx = basis.index_of().double()  # -1 outside the group
    inside = (idx >= 0).double()
    d_model, d_mlp = 2 * len(used), 8 * len(used)
    W_E = torch.zeros(p + 1, d_model, dtype=torch.float64)
    W_in = torch.zeros(2 * d_model, d_mlp, dtype=torch.float64)
    W_U = torch.zeros(d_mlp, p, dtype=torch.float64)
    sign_b = 1.0 if basis.structure == "sum" else -1.0
    for i, k in enumerate(used):
        w = 2 * math.pi * k * idx / n
        W_E[:p, 2 * i] = torch.cos(w) * inside
        W_E[:p, 2 * i + 1] = torch.sin(w) * inside
        cos_a, sin_a, cos_b, sin_b = 2 * i, 2 * i + 1, d_model + 2 * i, d_model + 2 * i + 1
        neurons = [
            (cos_a, cos_b, 1, 1, 0), (sin_a, sin_b, 1, -1, 0),
            (cos_a, cos_b, -1, -1, 0), (sin_a, sin_b, -1, 1, 0),
            (cos_a, sin_b, 1, 1, 1), (cos_a, sin_b, -1, -1, 1),
            (sin_a, cos_b, 1, 1, 1), (sin_a, cos_b, -1, -1, 1),
        ]  # fmt: skip
        for m, (u, v, inner, outer, out) in enumerate(neurons):
            col = 8 * i + m
            W_in[u, col] = 1.0
            W_in[v, col] = float(inner) * (sign_b if v == sin_b else 1.0)
            wave = torch.cos(w) if out == 0 else torch.sin(w)
            W_U[col] = outer * scale / 4 * wave * inside
    return quadratic_mlp(W_E, W_in, W_U)


def _on_grid(task: str, p: int, used: list[int], scale: float | None = None):
    """The task's character model on its data set, re-indexed onto the group's grid:
    (params, grid logits, grid activations, labels, train mask, ds)."""
    true = task_basis(task, p)
    ds = make_dataset(TaskConfig(name=task, p=p, train_fraction=0.5))
    params, cfg = character_model(true, used, scale)
    logits, acts = answer_forward_chunked(params, ds.inputs, cfg, p)
    idx = true.grid_index(ds.inputs)
    return params, logits[idx].double(), acts[idx], ds.labels[idx], ds.train_mask[idx], ds


@st.composite
def _case(draw):
    p = draw(st.sampled_from(PRIMES))
    n = p - 1
    k = draw(st.lists(st.integers(1, n // 2), min_size=1, max_size=3, unique=True))
    assume(math.gcd(n, *k) == 1)  # the characters tell every class apart: the model answers
    # ... and each is needed: without any one of them two classes tie (so the causal rule,
    # which asks whether removing a frequency multiplies the loss by 10, must find them all)
    assume(all(math.gcd(n, *(j for j in k if j != i)) > 1 for i in k))
    assume(len(k) < n // 2)  # some frequency unused, so the spectral gap rules have a cut
    return draw(st.sampled_from(["mul", "div"])), p, sorted(k)


@settings(max_examples=6, deadline=None)
@given(_case())
def test_character_logits_recover_key_frequencies_and_losses(case):
    """Logits that are exact characters of Z_p* at frequencies K: the causal rule returns K
    exactly; restricted to K the logits are unchanged (restricted loss = the model's test
    loss, low), and with K removed every class of the group scores 0 (excluded loss =
    log p exactly, as on ``add``)."""
    task, p, keys = case
    basis = task_basis(task, p)
    params, L, acts, labels, train, _ = _on_grid(task, p, keys)
    s = basis.structure
    assert keyfreqs.causal_key_frequencies(L, labels, train, s) == keys
    full_test = measures.grid_cross_entropy(L, labels, ~train)
    restricted = measures.restricted_loss(L, labels, keys, ~train, s)
    assert restricted == pytest.approx(full_test, rel=1e-2, abs=1e-4)
    assert restricted < 0.01  # the model answers
    excluded = measures.excluded_loss(L, labels, keys, train, s)
    assert excluded == pytest.approx(math.log(p), abs=1e-3)
    share = measures.trig_logit_share(L, keys, s)
    assert share.generalizing == pytest.approx(1.0, abs=1e-6)
    cube = fourier.logit_cube_similarity(basis.tokens(L, 2), keys, s)
    assert cube.cos_sim == pytest.approx(1.0, abs=1e-6)
    # the weights say the same in this basis: spectra, Gini, neurons
    assert fourier.key_frequencies(params, basis, "embed") == keys
    assert fourier.key_frequencies(params, basis, "logit") == keys
    assert keyfreqs.neuron_argmax_frequencies(acts) == keys
    ginis = measures.frequency_ginis(params, basis)
    assert min(ginis.values()) >= 1 - len(keys) / (p // 2) - 1e-6


def test_choose_key_frequencies_in_the_multiplicative_basis():
    p, keys = 23, [2, 5]
    basis = task_basis("div", p)
    params, L, acts, labels, train, _ = _on_grid("div", p, keys)
    choice = keyfreqs.choose_key_frequencies(
        params, L, acts, labels, train, "difference", basis=basis
    )
    assert choice.key_freqs == keys and choice.sufficient and len(choice.evidence) == p // 2
    assert choice.by_rule == {"causal": keys, "embed": keys, "logit": keys, "neuron_argmax": keys}
    with pytest.raises(ValueError, match="order"):
        keyfreqs.choose_key_frequencies(params, L, acts, labels, train, basis=task_basis("div", 29))


@settings(max_examples=4, deadline=None)
@given(_case(), st.data())
def test_another_generator_relabels_frequencies(case, data):
    """With the generator g' = g^m the character k of g is the character k m mod (p - 1)
    of g' (folded into 1 .. (p-1)/2): the measures in the g' basis find exactly that set."""
    task, p, keys = case
    n = p - 1
    m = data.draw(st.sampled_from([m for m in range(2, n) if math.gcd(m, n) == 1] or [1]))
    g2 = pow(primitive_root(p), m, p)
    other = GroupBasis("multiplicative", p, task_basis(task, p).structure, generator=g2)
    want = sorted({min(k * m % n, n - k * m % n) for k in keys})
    params, cfg = character_model(task_basis(task, p), keys)
    ds = make_dataset(TaskConfig(name=task, p=p, train_fraction=0.5))
    logits, _ = answer_forward_chunked(params, ds.inputs, cfg, p)
    idx = other.grid_index(ds.inputs)
    L, labels, train = logits[idx].double(), ds.labels[idx], ds.train_mask[idx]
    assert keyfreqs.causal_key_frequencies(L, labels, train, other.structure) == want
    assert fourier.key_frequencies(params, other, "embed") == want


@pytest.mark.parametrize("p", [23, 31])
def test_the_additive_basis_misreads_a_multiplicative_circuit(p):
    """The wrong basis gives the wrong answer: read in Z_p (the token grid, as for ``add``),
    the same mul model's logits are not in the span of any few frequencies. Restricting
    them to the frequencies the causal rule picks there loses the answer, and removing
    them does not destroy it; the embedding spectrum is spread (low Gini)."""
    keys = [3, 7]
    basis = task_basis("mul", p)
    params, cfg = character_model(basis, keys)
    ds = make_dataset(TaskConfig(name="mul", p=p, train_fraction=0.5))
    logits, _ = answer_forward_chunked(params, ds.inputs, cfg, p)
    L = logits.reshape(p, p, p).double()  # the token grid a, b in Z_p (zeros included)
    labels, train = ds.labels.reshape(p, p), ds.train_mask.reshape(p, p)
    wrong = keyfreqs.causal_key_frequencies(L, labels, train, "sum")
    assert wrong != keys
    full = measures.grid_cross_entropy(L, labels, ~train)
    for K in (keys, wrong or keys):
        assert measures.restricted_loss(L, labels, K, ~train, "sum") > full + 1.0
        assert (
            measures.excluded_loss(L, labels, K, train, "sum")
            < 2 * measures.grid_cross_entropy(L, labels, train) + 0.5
        )
    additive = measures.frequency_ginis(params, p)["embed"]
    assert additive < 0.5 < measures.frequency_ginis(params, basis)["embed"]


def test_the_nyquist_character_alone():
    """The Legendre symbol (-1)^(log x), frequency (p-1)/2: the basis of even order keeps it
    as one direction; the causal rule finds it and the logit cube explains everything."""
    p = 13
    basis = task_basis("mul", p)
    params, L, acts, labels, train, _ = _on_grid("mul", p, [1, 6], scale=50.0)
    assert keyfreqs.causal_key_frequencies(L, labels, train, "sum") == [1, 6]
    cube = fourier.logit_cube_similarity(basis.tokens(L, 2), [1, 6], "sum")
    assert cube.cos_sim == pytest.approx(1.0, abs=1e-6)
    assert cube.amplitudes[[0, 5]].tolist() == pytest.approx([50.0, 50.0], rel=1e-4)
    frac = fourier.neuron_freq_fractions(acts, dtype=torch.float64)
    assert torch.all(frac.sum(1) <= 1 + 1e-9)
