"""Muon and egalitarian gradient descent (grokinterp.training.spectral): the steps against
torch.optim.Muon and the EGD closed form, a member of an ensemble against its lone run,
and exact resume."""

from __future__ import annotations

from unittest.mock import patch

import pytest
import torch
from helpers import assert_runs_close, assert_same_run, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim._muon import _zeropower_via_newtonschulz

from grokinterp.config import ModelConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.training import spectral, train, train_ensemble
from grokinterp.training.spectral import (
    SpectralSettings,
    egalitarian,
    from_matrix,
    hidden_names,
    newton_schulz,
    spectral_step_,
    to_matrix,
)

SPECTRAL = {
    "muon": {"optimizer": "muon", "spectral_lr": 0.02, "spectral_weight_decay": 0.1},
    "egd": {"optimizer": "egd", "spectral_lr": 0.01, "spectral_weight_decay": 0.1},
}


@settings(max_examples=20, deadline=None)
@given(
    rows=st.integers(1, 12),
    cols=st.integers(1, 12),
    members=st.integers(1, 3),
    seed=st.integers(0, 99),
)
def test_newton_schulz_is_torchs_iteration_per_member(rows, cols, members, seed):
    # in torch's bfloat16 our batched iteration is torch's, member by member
    g = torch.randn(members, rows, cols, generator=torch.Generator().manual_seed(seed))
    with patch.object(spectral, "NS_DTYPE", torch.bfloat16):
        ours = newton_schulz(g)
    for i in range(members):
        theirs = _zeropower_via_newtonschulz(g[i], (3.4445, -4.775, 2.0315), 5, 1e-7).float()
        torch.testing.assert_close(ours[i], theirs, rtol=1e-2, atol=1e-2)


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(2, 40), cols=st.integers(2, 40), seed=st.integers(0, 99))
def test_newton_schulz_in_float32_nearly_orthogonalizes(rows, cols, seed):
    # singular values in [1, 2] map into Jordan et al.'s band around 1; vectors are kept
    gen = torch.Generator().manual_seed(seed)
    k = min(rows, cols)
    u, _ = torch.linalg.qr(torch.randn(rows, k, generator=gen))
    v, _ = torch.linalg.qr(torch.randn(cols, k, generator=gen))
    s = 1 + torch.rand(k, generator=gen)
    o = newton_schulz(((u * s) @ v.T)[None])[0]
    sv = torch.linalg.svdvals(o)
    assert sv.min() > 0.6 and sv.max() < 1.25, sv
    torch.testing.assert_close(o, (u * (u.T @ o @ v).diagonal()) @ v.T, atol=1e-4, rtol=1e-4)


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), seed=st.integers(0, 999))
def test_egd_direction_has_unit_singular_values_and_the_gradients_vectors(rows, cols, seed):
    # (G G^T)^(-1/2) G = U V^T: every singular value 1, the singular vectors of G
    g = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    e = egalitarian(g)
    k = min(rows, cols)
    torch.testing.assert_close(torch.linalg.svdvals(e), torch.ones(k, dtype=torch.float64))
    u, s, vh = torch.linalg.svd(g, full_matrices=False)
    torch.testing.assert_close(e, u @ vh)
    # and the paper's form, (G G^T)^(-1/2) G with the inverse square root by eigh
    w, q = torch.linalg.eigh(g @ g.T)
    inv_sqrt = q @ torch.diag(torch.where(w > 1e-9, w.clamp(min=1e-30).rsqrt(), 0.0)) @ q.T
    torch.testing.assert_close(e, inv_sqrt @ g, rtol=1e-6, atol=1e-6)


def test_egd_leaves_tiny_singular_values_scaled_down():
    # singular values below the floor eps are divided by eps, not by themselves
    u, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))
    g = u @ torch.diag(torch.tensor([2.0, 1.0, 1e-7, 0.0], dtype=torch.float64)) @ u.T
    torch.testing.assert_close(
        torch.linalg.svdvals(egalitarian(g, eps=1e-6)),
        torch.tensor([1.0, 1.0, 0.1, 0.0], dtype=torch.float64),
        atol=1e-9,
        rtol=1e-9,
    )


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("blocks.0.attn.W_Q", (3, 8, 4)),
        ("blocks.0.attn.W_O", (3, 4, 8)),
        ("blocks.0.mlp.W_in", (6, 5)),
    ],
)
def test_matrix_view_round_trips(name, shape):
    t = torch.randn(2, *shape)
    torch.testing.assert_close(from_matrix(name, to_matrix(name, t), shape), t)


def test_attention_matrix_is_the_heads_concatenated_projection():
    w = torch.randn(1, 3, 8, 4)  # (members, heads, d_model, d_head)
    x = torch.randn(5, 8)
    per_head = torch.einsum("nd,hde->nhe", x, w[0]).reshape(5, 12)
    torch.testing.assert_close(x @ to_matrix("blocks.0.attn.W_Q", w)[0].T, per_head)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_muon_step_equals_torch_muon(dtype):
    # a (out, in) = (6, 10) weight as our W_in (in, out) = (10, 6): three steps of both; in
    # torch's bfloat16 the same numbers, in our float32 the same to bfloat16 precision
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(6, 10, generator=gen)
    grads = [torch.randn(6, 10, generator=gen) for _ in range(3)]
    ref = torch.nn.Parameter(w0.clone())
    opt = torch.optim.Muon([ref], lr=0.05, weight_decay=0.2, momentum=0.9)
    ours = w0.T.clone()[None]
    buf = torch.zeros_like(ours)
    s = SpectralSettings("muon", 0.05, 0.2, 0.9)
    with patch.object(spectral, "NS_DTYPE", dtype):
        for g in grads:
            ref.grad = g.clone()
            opt.step()
            spectral_step_("blocks.0.mlp.W_in", ours, g.T.clone()[None], buf, s)
    tol = 1e-6 if dtype == torch.bfloat16 else 5e-3
    torch.testing.assert_close(ours[0].T, ref.detach(), rtol=tol, atol=tol)
    assert not torch.allclose(ref.detach(), w0, atol=0.05)  # it moved


@pytest.mark.parametrize("kind", sorted(SPECTRAL))
def test_first_update_differs_from_adamw_in_the_hidden_matrices_only(tmp_path, kind):
    # from the same weights and gradients, the embeddings, unembedding and biases take
    # AdamW's step and the hidden matrices another
    cfg = replace(tiny_config(max_steps=1), {"optim": SPECTRAL[kind]})
    a = train(cfg, tmp_path / "s", progress=False)
    b = train(replace(cfg, {"optim": {"optimizer": "adamw"}}), tmp_path / "a", progress=False)
    wa = load_tensors(layout.checkpoint_path(a, 1))[0]
    wb = load_tensors(layout.checkpoint_path(b, 1))[0]
    hidden = set(hidden_names(cfg, [(n, tuple(t.shape)) for n, t in wa.items()]))
    assert hidden == {f"blocks.0.attn.W_{x}" for x in "QKVO"} | {
        "blocks.0.mlp.W_in",
        "blocks.0.mlp.W_out",
    }
    for name in wa:
        same = torch.equal(wa[name], wb[name])
        assert same == (name not in hidden), name


@pytest.mark.parametrize("kind", sorted(SPECTRAL))
def test_resume_equals_straight(tmp_path, kind):
    short = replace(tiny_config(max_steps=14), {"optim": SPECTRAL[kind]})
    long = replace(short, {"optim": {"max_steps": 30}})
    train(short, tmp_path / "resumed", progress=False)
    train(long, tmp_path / "resumed", resume=True, progress=False)
    train(long, tmp_path / "straight", progress=False)
    assert_same_run(tmp_path / "resumed", tmp_path / "straight")


@pytest.mark.parametrize("kind", sorted(SPECTRAL))
@settings(max_examples=10, deadline=None)
@given(members=st.integers(1, 4), seed=st.integers(0, 99))
def test_batched_step_is_each_members_step_exactly(kind, members, seed):
    # the ensemble's call over a members axis against one call per member (a lone run's)
    gen = torch.Generator().manual_seed(seed)
    for name, shape in (("blocks.0.attn.W_O", (4, 8, 32)), ("blocks.0.mlp.W_in", (32, 64))):
        p, g, b = (torch.randn(members, *shape, generator=gen) for _ in range(3))
        s = SpectralSettings(kind, 0.02, 0.1, 0.9)
        each = [(p[i : i + 1].clone(), b[i : i + 1].clone()) for i in range(members)]
        for i, (pi, bi) in enumerate(each):
            spectral_step_(name, pi, g[i : i + 1], bi, s)
        spectral_step_(name, p, g, b, s)
        for i, (pi, bi) in enumerate(each):
            assert torch.equal(p[i : i + 1], pi) and torch.equal(b[i : i + 1], bi)


# EGD sets every singular value of the step to 1, the smallest ones too, so the rounding
# differences between the ensemble's batched forward and a lone run's (~1e-7) grow, in the
# gradient's weakest directions, to ~1e-5 after 5 updates and ~1e-4 after 20: its run-level
# comparison is over 2 updates (the step itself is exact: the test above).
STEPS = {"muon": 20, "egd": 2}


@pytest.mark.parametrize("kind", sorted(SPECTRAL))
def test_ensemble_members_equal_their_lone_runs(tmp_path, kind):
    base = replace(tiny_config(max_steps=STEPS[kind]), {"optim": SPECTRAL[kind]})
    cfgs = [
        base,
        replace(base, {"": {"seed": 1}, "optim": {"spectral_lr": 0.005, "spectral_momentum": 0.8}}),
        replace(base, {"": {"seed": 2}}),  # shares member 0's settings: a batched group of 2
    ]
    dirs = [tmp_path / f"e{i}" for i in range(len(cfgs))]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        assert_runs_close(dirs[i], train(cfg, tmp_path / f"s{i}", progress=False), rtol=1e-4)
    if kind != "muon":  # EGD keeps no state (its exact resume: test_resume_equals_straight)
        return
    # a member continues alone from the ensemble's state file (Muon's momentum in it)
    longer = replace(cfgs[1], {"optim": {"max_steps": 30}})
    train(longer, dirs[1], resume=True, progress=False)
    assert_runs_close(dirs[1], train(longer, tmp_path / "straight", progress=False), rtol=1e-4)


@pytest.mark.parametrize("kind", sorted(SPECTRAL))
def test_ensemble_of_one_setting_equals_lone_runs_and_stops_members(tmp_path, kind):
    # every member shares the settings (the in-place path over the whole members axis),
    # and one member stops early (then the others are updated through an index)
    base = replace(tiny_config(max_steps=STEPS[kind]), {"optim": SPECTRAL[kind]})
    cfgs = [base, replace(base, {"": {"seed": 1}, "optim": {"max_steps": 1}})]
    cfgs[1] = replace(cfgs[1], {"optim": {"max_steps": base.optim.max_steps, "stop_loss": 1e9}})
    dirs = [tmp_path / "e0", tmp_path / "e1"]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        assert_runs_close(dirs[i], train(cfg, tmp_path / f"s{i}", progress=False), rtol=1e-4)
    assert layout.read_metrics(dirs[1])[-1]["step"] == 0  # stopped at once


def test_spectral_optimizer_without_hidden_matrices_is_one_clear_error():
    cfg = replace(tiny_config(), {"optim": {"optimizer": "muon"}})
    assert hidden_names(cfg, [("embed.W_E", (4, 3)), ("blocks.0.mlp.W_in", (3, 5))])
    with pytest.raises(ConfigError, match="optim.optimizer: muon updates hidden weight"):
        hidden_names(cfg, [("embed.W_E", (4, 3)), ("unembed.W_U", (3, 4))])
    with pytest.raises(ConfigError, match="spectral_momentum"):
        replace(tiny_config(), {"optim": {"spectral_momentum": 1.0}})
    with pytest.raises(ConfigError, match="spectral_lr"):
        replace(tiny_config(), {"optim": {"spectral_lr": 0.0}})
    assert ModelConfig().arch == "transformer"
