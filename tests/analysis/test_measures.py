import math

import pytest
import torch
from helpers import _gen

from grokinterp.analysis.fourier import cos_row, fourier_basis, n_freqs, sin_row
from grokinterp.analysis.measures import (
    all_pairs_forward,
    all_pairs_logits,
    check_fourier_task,
    excluded_logits,
    excluded_loss,
    excluded_loss_per_freq,
    frequency_ginis,
    gini,
    grid_cross_entropy,
    grid_directions,
    restricted_logits,
    restricted_loss,
    sum_directions,
    sum_squared_weights,
    trig_logit_share,
)
from grokinterp.config import ModelConfig, TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.tasks import make_dataset


def _cube(p: int, keys: list[int], structure: str = "sum", scale: float = 1.0) -> torch.Tensor:
    """scale * sum_k cos(w_k(a +- b - c)) in float64, shape (p, p, p)."""
    a = torch.arange(p).view(p, 1, 1)
    b = torch.arange(p).view(1, p, 1)
    c = torch.arange(p).view(1, 1, p)
    s = a + b if structure == "sum" else a - b
    L = sum(torch.cos(2 * math.pi * torch.remainder(k * (s - c), p).double() / p) for k in keys)
    return scale * L


def _labels(p: int, structure: str = "sum") -> torch.Tensor:
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    return (a + b) % p if structure == "sum" else (a - b) % p


# ----------------------------------------------------------------------------- directions
@pytest.mark.parametrize("p", [7, 9, 13])
@pytest.mark.parametrize("structure", ["sum", "difference"])
def test_grid_directions_orthonormal_and_orthogonal_to_const(p, structure):
    D = grid_directions(p, structure, dtype=torch.float64)
    n = n_freqs(p)
    assert D.shape == (2 * n, p, p)
    flat = D.flatten(1)
    assert torch.allclose(flat @ flat.T, torch.eye(2 * n, dtype=torch.float64), atol=1e-12)
    assert flat.sum(1).abs().max() < 1e-12  # zero grid mean: orthogonal to the constant


@pytest.mark.parametrize("p", [7, 15])
def test_sum_directions_match_fourier_products(p):
    F, _ = fourier_basis(p, dtype=torch.float64)
    for k in (1, (p - 1) // 2):
        c, s = F[cos_row(k)], F[sin_row(k)]
        u, v = sum_directions(p, k, dtype=torch.float64)
        assert torch.allclose(u, (torch.outer(c, c) - torch.outer(s, s)) / math.sqrt(2), atol=1e-6)
        assert torch.allclose(v, (torch.outer(s, c) + torch.outer(c, s)) / math.sqrt(2), atol=1e-6)
        u, v = sum_directions(p, k, "difference", dtype=torch.float64)
        assert torch.allclose(u, (torch.outer(c, c) + torch.outer(s, s)) / math.sqrt(2), atol=1e-6)
        assert torch.allclose(v, (torch.outer(s, c) - torch.outer(c, s)) / math.sqrt(2), atol=1e-6)
    D = grid_directions(p, dtype=torch.float64)
    u, v = sum_directions(p, 2)
    assert u.dtype == torch.float32
    assert torch.allclose(D[2].float(), u) and torch.allclose(D[3].float(), v)


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("p,keys", [(11, [2, 5]), (13, [1, 4, 6]), (15, [3, 7])])
@pytest.mark.parametrize("structure", ["sum", "difference"])
def test_hand_built_cosine_logits(p, keys, structure):
    L = _cube(p, keys, structure, scale=4.0)
    y = _labels(p, structure)
    full = grid_cross_entropy(L, y)
    assert full < math.log(p)  # the correct class has the largest logit
    for add_mean in (True, False):
        assert restricted_loss(L, y, keys, structure=structure, add_mean=add_mean) == pytest.approx(
            full, abs=1e-6
        )
    # every logit lies in the key subspace, so excluded logits are 0 up to float64 rounding
    # (~1e-15): the softmax is exactly uniform and the loss is log p to ~1e-12
    assert excluded_loss(L, y, keys, structure=structure) == pytest.approx(math.log(p), abs=1e-9)
    assert excluded_logits(L, keys, structure).abs().max() < 1e-12
    gen, mem = trig_logit_share(L, keys, structure)
    assert gen == pytest.approx(1.0, abs=1e-9) and mem == pytest.approx(0.0, abs=1e-9)
    # one key frequency removed at a time: between the full and the fully excluded loss
    per = excluded_loss_per_freq(L, y, keys, structure=structure)
    assert len(per) == len(keys)
    assert all(full < x < math.log(p) + 1e-9 for x in per)
    # the other structure sees none of it
    other = "difference" if structure == "sum" else "sum"
    assert trig_logit_share(L, keys, other).generalizing < 1e-9


def test_float32_logits_and_masks():
    p, keys = 13, [3, 6]
    L = _cube(p, keys, scale=5.0).float()
    y = _labels(p)
    mask = torch.rand(p * p, generator=_gen(0)) < 0.3
    full = grid_cross_entropy(L, y, mask)
    assert restricted_loss(L, y, keys, mask=mask) == pytest.approx(full, abs=1e-5)
    assert restricted_loss(L, y.view(p, p), keys, mask=mask.view(p, p)) == pytest.approx(
        full, abs=1e-5
    )
    assert restricted_logits(L, keys).dtype == torch.float32
    with pytest.raises(ValueError, match="no pairs"):
        grid_cross_entropy(L, y, torch.zeros(p * p, dtype=torch.bool))
    with pytest.raises(ValueError, match="one entry per pair"):
        grid_cross_entropy(L, y[:-1])


def test_restricted_keeps_constant_term_and_decomposition():
    p, keys = 11, [2, 5]
    L = torch.randn(p, p, p, generator=_gen(1), dtype=torch.float64)
    bias = torch.linspace(-3, 3, p, dtype=torch.float64)  # a per-class bias
    L = L + bias
    trig = restricted_logits(L, keys, add_mean=False)
    with_mean = restricted_logits(L, keys, add_mean=True)
    assert torch.allclose(with_mean - trig, L.mean(dim=(0, 1)).expand(p, p, p), atol=1e-12)
    # L = trigonometric part + excluded part; projections are idempotent
    assert torch.allclose(trig + excluded_logits(L, keys), L, atol=1e-12)
    assert torch.allclose(restricted_logits(with_mean, keys), with_mean, atol=1e-12)
    assert torch.allclose(
        excluded_logits(excluded_logits(L, keys), keys), excluded_logits(L, keys), atol=1e-12
    )
    # all frequencies + constant span every function of (a + b) mod p: for such logits
    # restricting to every frequency is the identity
    a = torch.arange(p)
    f = torch.randn(p, p, generator=_gen(2), dtype=torch.float64)[(a[:, None] + a) % p]
    assert torch.allclose(restricted_logits(f, range(1, n_freqs(p) + 1)), f, atol=1e-10)
    # no key frequency: only the constant term is left
    assert torch.allclose(restricted_logits(L, []), L.mean(dim=(0, 1)).expand(p, p, p))


@pytest.mark.parametrize("p,keys", [(17, [3, 8]), (23, [1, 5, 11])])
def test_random_lookup_table_has_no_generalizing_share(p, keys):
    table = torch.randint(0, p, (p * p,), generator=_gen(p))
    L = 20.0 * torch.nn.functional.one_hot(table, p).double().view(p, p, p)
    gen, mem = trig_logit_share(L, keys)
    assert gen + mem == pytest.approx(1.0, abs=1e-12)
    # a structureless table spreads its energy evenly over the p^2 - 1 centered grid
    # directions per class; the key subspace has 2|K| of them (expected share ~ 2|K|/p^2,
    # relative spread ~ 1/sqrt(|K| p), so 1.5x the dimension fraction is > 3 sd above it)
    assert gen <= 1.5 * 2 * len(keys) / p**2
    y = table
    assert excluded_loss(L, y, keys) < 1e-3  # memorized: removing key freqs changes little


def test_bad_inputs():
    L = torch.zeros(7, 7, 7)
    with pytest.raises(ValueError, match="structure"):
        restricted_logits(L, [1], structure="product")
    with pytest.raises(ValueError, match="out of range"):
        excluded_logits(L, [4])
    with pytest.raises(ValueError, match=r"\(p, p, classes\)"):
        restricted_logits(torch.zeros(49, 7), [1])
    with pytest.raises(ValueError, match="n >= 2"):
        grid_directions(1)
    assert all(math.isnan(x) for x in trig_logit_share(L, [1]))


# ----------------------------------------------------------------------------- gini, weights
@pytest.mark.parametrize("n", [1, 2, 5, 56])
def test_gini_known_values(n):
    one_hot = torch.zeros(n)
    one_hot[n // 2] = 3.0
    assert float(gini(one_hot)) == pytest.approx(1 - 1 / n, abs=1e-12)
    assert float(gini(torch.full((n,), 0.7))) == pytest.approx(0.0, abs=1e-12)


def test_gini_scale_invariant_batched_and_errors():
    x = torch.rand(4, 10, generator=_gen(2))
    g = gini(x)
    assert g.shape == (4,)
    assert torch.allclose(gini(123.0 * x), g, atol=1e-12)
    assert torch.allclose(gini(x[:, torch.randperm(10, generator=_gen(3))]), g, atol=1e-12)
    assert float(gini(torch.tensor([0.0, 1.0, 1.0, 2.0]))) > 0
    with pytest.raises(ValueError, match="nonnegative"):
        gini(torch.tensor([1.0, -0.1]))
    assert math.isnan(float(gini(torch.zeros(3))))


def test_sum_squared_weights():
    params = {"a.W": torch.ones(2, 3), "b.b": torch.tensor([1.0, -2.0])}
    sq = sum_squared_weights(params)
    assert sq == {"total": 11.0, "a.W": 6.0, "b.b": 5.0}


# ----------------------------------------------------------------------------- tasks, model
def test_check_fourier_task():
    assert check_fourier_task("add") == "sum"
    assert check_fourier_task("sub") == "difference"
    # in Z_p* through the discrete logarithm (grokinterp.analysis.groups)
    assert check_fourier_task("mul") == "sum"
    assert check_fourier_task("div") == "difference"
    for name in ("x2_y2", "div_or_sub", "random_table", "perm"):
        with pytest.raises(ValueError, match="no cyclic"):
            check_fourier_task(name)
    with pytest.raises(ConfigError, match="unknown task"):
        check_fourier_task("nope")


@pytest.mark.parametrize("d_vocab_out_extra", [0, 1])
def test_all_pairs_logits_match_answer_logits(d_vocab_out_extra):
    from grokinterp.models import answer_forward, answer_logits, init_params

    p = 13
    ds = make_dataset(TaskConfig(name="add", p=p, train_fraction=0.5))
    cfg = ModelConfig(d_model=32, n_heads=4, d_head=8, d_mlp=64)
    params = init_params(cfg, p + 1, p + d_vocab_out_extra, _gen(0))
    grid = all_pairs_logits(params, cfg, ds, chunk_size=50)  # several uneven chunks
    assert grid.shape == (p, p, p)
    with torch.no_grad():
        ref = answer_logits(params, ds.inputs, cfg)[:, :p].reshape(p, p, p)
        acts_ref = answer_forward(params, ds.inputs, cfg)[1].reshape(p, p, -1)
    assert torch.allclose(grid, ref, atol=1e-6)
    a, b = 3, 7
    assert torch.allclose(
        grid[a, b],
        answer_logits(params, ds.inputs[a * p + b : a * p + b + 1], cfg)[0, :p].detach(),
        atol=1e-6,
    )
    logits, acts = all_pairs_forward(params, cfg, ds)
    assert torch.allclose(acts, acts_ref, atol=1e-6) and acts.shape == (p, p, 64)
    # the measures run on a real model's outputs
    y = ds.labels
    keys = [1, 6]
    assert math.isfinite(restricted_loss(grid, y, keys, mask=~ds.train_mask))
    assert math.isfinite(excluded_loss(grid, y, keys, mask=ds.train_mask))
    gen, mem = trig_logit_share(grid, keys)
    assert 0 <= gen <= 1 and gen + mem == pytest.approx(1.0)
    ginis = frequency_ginis(params, p)
    assert set(ginis) == {"embed", "logit"} and all(0 <= v < 1 for v in ginis.values())


def test_all_pairs_rejects_partial_grid():
    ds = make_dataset(TaskConfig(name="div", p=7, train_fraction=0.5))
    cfg = ModelConfig(d_model=32, n_heads=4, d_head=8, d_mlp=64)
    with pytest.raises(ValueError, match="full p x p grid"):
        all_pairs_logits({"embed.W_E": torch.zeros(8, 32)}, cfg, ds)
