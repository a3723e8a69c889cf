import math

import pytest
import torch
from helpers import _gen

from grokinterp.analysis import fourier as fourier_module
from grokinterp.analysis.fourier import (
    basis_names,
    check_key_freqs,
    const_norm,
    cos_row,
    embedding_freq_norms,
    fold_grid,
    fourier_1d,
    fourier_2d,
    fourier_basis,
    freq_norms,
    key_frequencies,
    logit_cube_similarity,
    logit_weight,
    logit_weight_freq_norms,
    n_freqs,
    neuron_clusters,
    neuron_freq_fractions,
    select_key_frequencies,
    sin_row,
)


def _wave(p: int, k: int, kind: str = "cos", dtype=torch.float64) -> torch.Tensor:
    x = torch.arange(p, dtype=torch.float64)
    f = torch.cos if kind == "cos" else torch.sin
    return f(2 * math.pi * k * x / p).to(dtype)


# ----------------------------------------------------------------------------- basis
@pytest.mark.parametrize("p", [3, 5, 7, 9, 11, 15, 23, 113])
def test_basis_orthonormal(p):
    F, names = fourier_basis(p)
    assert F.shape == (p, p) and F.dtype == torch.float32
    assert torch.allclose(F @ F.T, torch.eye(p), atol=1e-5)
    assert torch.allclose(F.T @ F, torch.eye(p), atol=1e-5)
    assert len(names) == p and names[0] == "const"


@pytest.mark.parametrize("p", [7, 9, 15])
def test_basis_row_order(p):
    F, names = fourier_basis(p, dtype=torch.float64)
    assert torch.allclose(F[0], torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64))
    for k in range(1, n_freqs(p) + 1):
        assert cos_row(k, p) == 2 * k - 1 and sin_row(k, p) == 2 * k
        c, s = _wave(p, k, "cos"), _wave(p, k, "sin")
        assert torch.allclose(F[2 * k - 1], c / c.norm(), atol=1e-12)
        assert torch.allclose(F[2 * k], s / s.norm(), atol=1e-12)
        assert names[2 * k - 1] == f"cos {k}" and names[2 * k] == f"sin {k}"
    assert basis_names(p)[-1] == f"sin {(p - 1) // 2}"


@pytest.mark.parametrize("p", [4, 8, 114])
def test_even_p_additive_is_refused_but_even_orders_have_a_basis(p):
    """An even order has a basis (the Nyquist row; the multiplicative group Z_q* has order
    q - 1: tests/analysis/test_groups.py); the additive analysis of an even p is refused."""
    assert fourier_basis(p)[0].shape == (p, p) and n_freqs(p) == p // 2
    assert freq_norms(torch.randn(p, 3)).shape == (p // 2,)
    params = {"embed.W_E": torch.randn(p + 1, 4), "unembed.W_U": torch.randn(4, p)}
    with pytest.raises(ValueError, match="odd p"):
        embedding_freq_norms(params, p)


@pytest.mark.parametrize("n", [0, 1, -3])
def test_order_below_two_raises(n):
    with pytest.raises(ValueError, match="n >= 2"):
        fourier_basis(n)
    with pytest.raises(ValueError, match="n >= 2"):
        n_freqs(n)


def test_row_index_range():
    assert n_freqs(113) == 56 and cos_row(56, 113) == 111 and sin_row(56, 113) == 112
    with pytest.raises(ValueError, match="out of range"):
        cos_row(57, 113)
    with pytest.raises(ValueError, match="out of range"):
        sin_row(0)


def test_basis_returns_a_copy():
    F, _ = fourier_basis(7, dtype=torch.float64)
    F.zero_()
    assert fourier_basis(7, dtype=torch.float64)[0].abs().sum() > 0


def test_transforms_match_matrix_products():
    p = 11
    F, _ = fourier_basis(p, dtype=torch.float64)
    x = torch.randn(p, p, 4, generator=_gen(0), dtype=torch.float64)
    y = fourier_2d(x)
    assert torch.allclose(y, torch.einsum("ia,jb,abn->ijn", F, F, x), atol=1e-12)
    assert torch.allclose(fourier_2d(y, inverse=True), x, atol=1e-12)
    w = torch.randn(5, p, generator=_gen(1), dtype=torch.float64)
    assert torch.allclose(fourier_1d(w, dim=1), w @ F.T, atol=1e-12)
    assert torch.allclose(fourier_1d(fourier_1d(w, 1), 1, inverse=True), w, atol=1e-12)


# ----------------------------------------------------------------------------- norms
@pytest.mark.parametrize("p,k", [(7, 3), (9, 4), (23, 11), (23, 5), (113, 56)])
def test_freq_norms_single_frequency(p, k):
    g = _gen(k)
    r1, r2 = (
        torch.randn(8, generator=g, dtype=torch.float64),
        torch.randn(8, generator=g, dtype=torch.float64),
    )
    W = torch.outer(_wave(p, k, "cos"), r1) + torch.outer(_wave(p, k, "sin"), r2)
    norms = freq_norms(W)
    assert norms.shape == (n_freqs(p),)
    assert torch.allclose(norms[k - 1], W.norm(), atol=1e-9)
    others = torch.cat([norms[: k - 1], norms[k:]])
    assert others.abs().max() < 1e-9
    full = freq_norms(W, include_const=True)
    assert full.shape == (n_freqs(p) + 1,) and abs(float(full[0])) < 1e-9
    assert abs(const_norm(W + 1.0) - math.sqrt(p * 8)) < 1e-9


def _params_with(W_E: torch.Tensor, d_mlp: int = 16, d_out: int | None = None) -> dict:
    p1, d = W_E.shape
    g = _gen(99)
    return {
        "embed.W_E": W_E,
        "blocks.0.mlp.W_out": torch.randn(d_mlp, d, generator=g, dtype=W_E.dtype),
        "unembed.W_U": torch.randn(d, d_out or p1 - 1, generator=g, dtype=W_E.dtype),
    }


def _embedding(p: int, keys: list[int], d: int = 32, noise: float = 0.05, seed: int = 0):
    """W_E (p+1, d): rows [:p] are cos/sin of the key frequencies with random unequal mixing."""
    g = _gen(seed)
    W = noise * torch.randn(p + 1, d, generator=g, dtype=torch.float64)
    for i, k in enumerate(keys):
        amp = 1.0 + 0.5 * i  # unequal norms, factor up to ~2.5
        W[:p] += amp * torch.outer(
            _wave(p, k, "cos"), torch.randn(d, generator=g, dtype=torch.float64)
        )
        W[:p] += amp * torch.outer(
            _wave(p, k, "sin"), torch.randn(d, generator=g, dtype=torch.float64)
        )
    W[p] = 100.0  # the "=" token: must be ignored
    return W


def test_embedding_norms_ignore_eq_row():
    p = 11
    W = _embedding(p, [5], noise=0.0)
    norms = embedding_freq_norms(_params_with(W), p)
    assert int(norms.argmax()) == 4
    assert torch.allclose(norms[4], W[:p].norm(), atol=1e-9)


@pytest.mark.parametrize("p,keys", [(23, [3, 7, 11]), (31, [2, 15]), (15, [1, 4, 7]), (7, [1, 3])])
def test_key_frequencies_recovers_hand_picked_set(p, keys):
    for seed in range(3):
        W = _embedding(p, keys, seed=seed)
        params = _params_with(W)
        assert key_frequencies(params, p) == keys
        # W_U whose class axis carries the same frequencies: W_logit does too
        params["unembed.W_U"] = W[:p].T.clone()
        assert key_frequencies(params, p, source="logit") == keys
        assert key_frequencies(params, p, source="both") == keys


@pytest.mark.parametrize("p", [7, 13, 23, 113])
def test_key_frequency_top_only(p):
    k = (p - 1) // 2
    W = _embedding(p, [k], seed=1)
    assert key_frequencies(_params_with(W), p) == [k]


def test_select_rule_energy_floor_and_edges():
    # one dominant frequency, three weaker key ones, then noise: all four are found
    norms = torch.tensor([10.0, 0.05, 3.0, 0.04, 2.5, 0.06, 2.0, 0.05])
    assert select_key_frequencies(norms) == [1, 3, 5, 7]
    assert select_key_frequencies(torch.tensor([1.0, 0.0, 0.0])) == [1]
    assert select_key_frequencies(torch.tensor([0.0, 0.0, 2.0])) == [3]
    assert select_key_frequencies(torch.tensor([4.0])) == [1]
    with pytest.raises(ValueError, match="zero"):
        select_key_frequencies(torch.zeros(5))


def test_check_key_freqs():
    assert check_key_freqs([5, 1, 5], 11) == [1, 5]
    with pytest.raises(ValueError, match="out of range"):
        check_key_freqs([6], 11)
    with pytest.raises(ValueError, match="out of range"):
        check_key_freqs([0], 11)


def test_logit_weight_norms_class_axis_and_legacy_columns():
    p, d, d_mlp, k = 13, 16, 24, 6
    g = _gen(3)
    W_U = torch.randn(d, p + 1, generator=g, dtype=torch.float64)  # legacy: p + 1 columns
    W_U[:, :p] = torch.outer(torch.randn(d, generator=g, dtype=torch.float64), _wave(p, k, "cos"))
    params = _params_with(torch.randn(p + 1, d, generator=g, dtype=torch.float64), d_mlp)
    params["unembed.W_U"] = W_U
    W_logit = logit_weight(params, p)
    assert W_logit.shape == (d_mlp, p)
    assert torch.allclose(W_logit, params["blocks.0.mlp.W_out"] @ W_U[:, :p])
    norms = logit_weight_freq_norms(params, p)
    assert int(norms.argmax()) == k - 1
    assert torch.allclose(norms[k - 1], W_logit.norm(), atol=1e-9)
    # MLP arch: no W_out, W_U maps the last hidden layer straight to the logits
    del params["blocks.0.mlp.W_out"]
    assert torch.equal(logit_weight(params, p), W_U[:, :p])


# ----------------------------------------------------------------------------- neurons
def test_neuron_freq_fractions_and_clusters():
    p, k = 17, 8
    g = _gen(4)
    a = torch.arange(p, dtype=torch.float64)
    w = 2 * math.pi * k / p
    ca, sa = torch.cos(w * a), torch.sin(w * a)
    acts = torch.randn(p, p, 5, generator=g, dtype=torch.float64)  # neuron 1: random
    acts[:, :, 0] = torch.outer(ca, ca) + 3.0
    acts[:, :, 2] = 2 * torch.outer(sa, torch.ones(p)) + torch.outer(ca, sa) - 1.0
    acts[:, :, 3] = 0.7  # dead (constant) neuron
    frac32 = neuron_freq_fractions(acts)  # float32 by default: ratios to ~1e-6
    frac = neuron_freq_fractions(acts, dtype=torch.float64)
    assert frac.shape == frac32.shape == (5, n_freqs(p))
    assert float((frac - frac32.double()).abs().max()) < 1e-6
    assert abs(float(frac[0, k - 1]) - 1) < 1e-9 and abs(float(frac[2, k - 1]) - 1) < 1e-9
    assert float(frac[1].max()) < 0.85 and float(frac[4].max()) < 0.85
    assert float(frac[3].abs().max()) == 0.0  # no variance: fractions 0, not rounding noise
    assert bool((frac.sum(1) <= 1 + 1e-9).all())
    clusters = neuron_clusters(frac)
    assert clusters.cluster.tolist() == [k, -1, k, -1, -1]
    assert clusters.fraction_clustered == pytest.approx(0.4)
    ids, fraction = clusters  # a named pair
    assert fraction == clusters[1] and clusters.sizes() == {k: 2}


def test_neuron_fraction_split_between_frequencies():
    p = 9  # not prime
    F, _ = fourier_basis(p, dtype=torch.float64)
    # 60% of the energy in (cos 1, sin 1), 40% in (cos 4, const): no cluster at 0.85
    acts = (
        math.sqrt(0.6) * torch.outer(F[cos_row(1)], F[sin_row(1)])
        + math.sqrt(0.4) * torch.outer(F[cos_row(4)], F[0])
    )[:, :, None]
    frac = neuron_freq_fractions(acts.float())
    assert frac.dtype == torch.float32  # the default; float64 on request
    assert neuron_freq_fractions(acts, dtype=torch.float64).dtype == torch.float64
    assert frac[0].tolist() == pytest.approx([0.6, 0.0, 0.0, 0.4], abs=1e-6)
    assert neuron_clusters(frac).cluster.tolist() == [-1]
    assert neuron_clusters(frac, threshold=0.55).cluster.tolist() == [1]


# ----------------------------------------------------------------------------- logit cube
def _brute_cube(L, keys, structure, center):
    p = L.shape[0]
    a = torch.arange(p).view(p, 1, 1)
    b = torch.arange(p).view(1, p, 1)
    c = torch.arange(p).view(1, 1, p)
    s = a + b if structure == "sum" else a - b
    D = torch.stack(
        [
            torch.cos(2 * math.pi * k * (s - c) / p).to(torch.float64)
            for k in range(1, n_freqs(p) + 1)
        ]
    )  # (n, p, p, p): materialized
    L = L.to(torch.float64)
    if center:
        L = L - L.mean(-1, keepdim=True)
    coefs = torch.einsum("nabc,abc->n", D, L) / D.flatten(1).norm(dim=1)
    Dk = D[[k - 1 for k in keys]]
    Q, _ = torch.linalg.qr(Dk.flatten(1).T)
    proj = Q @ (Q.T @ L.flatten())
    return coefs, float(proj.norm() / L.norm()), float((L.flatten() - proj).norm() / L.norm())


@pytest.mark.parametrize("p", [7, 11])
@pytest.mark.parametrize("structure", ["sum", "difference"])
@pytest.mark.parametrize("center", [True, False])
def test_logit_cube_matches_brute_force(p, structure, center):
    L = torch.randn(p, p, p, generator=_gen(p))
    keys = [1, (p - 1) // 2]
    cube = logit_cube_similarity(L, keys, structure, center=center)
    coefs, cos_sim, resid = _brute_cube(L, keys, structure, center)
    assert torch.allclose(cube.coefs, coefs, atol=1e-5)
    assert cube.cos_sim == pytest.approx(cos_sim, abs=1e-6)
    assert cube.residual_fraction == pytest.approx(resid, abs=1e-6)
    assert cube.cos_sim**2 + cube.residual_fraction**2 == pytest.approx(1.0)


def test_logit_cube_recovers_amplitudes():
    p, keys, amps = 13, [2, 6], [3.0, -1.5]
    a = torch.arange(p).view(p, 1, 1)
    b = torch.arange(p).view(1, p, 1)
    c = torch.arange(p).view(1, 1, p)
    L = sum(
        A * torch.cos(2 * math.pi * k * (a + b - c) / p) for k, A in zip(keys, amps, strict=True)
    )
    cube = logit_cube_similarity(L + 4.0, keys)  # a constant shift is centered away
    assert cube.amplitudes[1] == pytest.approx(3.0, abs=1e-5)
    assert cube.amplitudes[5] == pytest.approx(-1.5, abs=1e-5)
    assert cube.cos_sim == pytest.approx(1.0, abs=1e-6)
    assert cube.residual_fraction < 1e-3


@pytest.mark.parametrize("chunk", [1 << 22, 30])  # all rows at once; two rows at a time
@pytest.mark.parametrize("structure", ["sum", "difference"])
def test_fold_grid(structure, chunk, monkeypatch):
    monkeypatch.setattr(fourier_module, "FOLD_CHUNK", chunk)
    p = 7
    L = torch.randn(p, p, 3, generator=_gen(6))
    S = fold_grid(L, structure)
    ref = torch.zeros(p, 3, dtype=torch.float64)
    for x in range(p):
        for y in range(p):
            ref[(x + y if structure == "sum" else x - y) % p] += L[x, y].double()
    assert torch.allclose(S, ref, atol=1e-9)
    with pytest.raises(ValueError, match="structure"):
        logit_cube_similarity(torch.zeros(p, p, p), [1], structure="product")
    with pytest.raises(ValueError, match=r"\(p, p, p\)"):
        logit_cube_similarity(torch.zeros(p, p, p + 1), [1])


def test_cluster_threshold_is_strict_as_its_description_says():
    """frac_clustered counts neurons with *more than* 85% in one frequency (code: > 0.85)."""
    from grokinterp.analysis.fourier import neuron_clusters
    from grokinterp.analysis.table import COLUMNS

    frac = torch.tensor([[0.85, 0.0], [0.8501, 0.0], [0.0, 0.9]], dtype=torch.float64)
    clusters = neuron_clusters(frac)
    assert clusters.cluster.tolist() == [-1, 1, 2]
    assert "more than 85%" in COLUMNS["frac_clustered"]


def test_logit_weight_folds_the_final_layernorm():
    # with the residual exactly h W_out and no LayerNorm bias, LN(h W_out) W_U is
    # h (W_out C diag(g) W_U) / sigma: logit_weight up to one positive factor per example
    import torch.nn.functional as F

    from grokinterp.analysis.fourier import logit_weight

    g = torch.Generator().manual_seed(0)
    d_mlp, d, p = 12, 8, 7
    w_out, w_u = torch.randn(d_mlp, d, generator=g), torch.randn(d, p, generator=g)
    gain = torch.rand(d, generator=g) + 0.5
    h = torch.randn(5, d_mlp, generator=g)
    for key in ("ln_final.w", "blocks.1.ln2.w"):  # pre-LN / Grokfast, and post-LN
        params = {
            "blocks.0.mlp.W_out": torch.randn(d_mlp, d, generator=g),
            "blocks.1.mlp.W_out": w_out,
            "unembed.W_U": w_u,
            "embed.W_E": torch.randn(p + 1, d, generator=g),
            key: gain,
        }
        if key == "ln_final.w":  # a pre-LN model's last ln2 sits before its MLP: not folded
            params["blocks.1.ln2.w"] = torch.full((d,), 100.0)
        logits = F.layer_norm(h @ w_out, (d,), weight=gain) @ w_u
        folded = h @ logit_weight(params, p)
        ratio = logits / folded
        torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-4, atol=1e-5)
        assert (ratio > 0).all()
    plain = {"blocks.0.mlp.W_out": w_out, "unembed.W_U": w_u, "embed.W_E": torch.zeros(p + 1, d)}
    torch.testing.assert_close(logit_weight(plain, p), w_out @ w_u)  # no LayerNorm: unchanged


def test_a_one_hot_mlp_is_analyzed_through_its_first_layer(tmp_path):
    # Prieto et al.'s MLP reads [onehot(a), onehot(b)]: its embedding of a is the first
    # layer's block of rows for a; analyze used to fail with KeyError 'embed.W_E'
    from grokinterp.analysis.fourier import token_embedding
    from grokinterp.cli import main

    w_in = torch.randn(22, 5)
    assert torch.equal(token_embedding({"blocks.0.mlp.W_in": w_in}), w_in[:11])
    with pytest.raises(ValueError, match="no token embedding"):
        token_embedding({"blocks.0.mlp.W_in": torch.randn(7, 5)})
    out = tmp_path / "run"
    args = ["--arch", "mlp", "--mlp-input", "onehot", "--p", "11", "--train-fraction", "0.5"]
    assert main(["train", "--out", str(out), *args, "--d-mlp", "16", "--max-steps", "6",
                 "--no-progress"]) == 0  # fmt: skip
    assert main(["analyze", str(out), "--no-figures", "--no-progress"]) == 0
    assert (out / "analysis" / "measures.csv").exists()
