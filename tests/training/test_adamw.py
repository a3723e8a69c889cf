"""AdamW (grokinterp.training.adamw): the formula, and one update for a run alone and for the
same run as an ensemble member."""

from __future__ import annotations

import torch

from grokinterp.config import replace
from grokinterp.presets import PRESETS
from grokinterp.training.adamw import AdamW, Settings, adamw_
from grokinterp.training.ensemble import _Ensemble, _Member
from grokinterp.training.preflight import preflight


def reference_adamw(p, grads, s: Settings):
    """Loshchilov & Hutter's AdamW as torch.optim.AdamW defines it, in float64."""
    p, m, v = p.double(), torch.zeros_like(p, dtype=torch.float64), torch.zeros_like(p).double()
    for t, g in enumerate(grads, start=1):
        g = g.double()
        p = p * (1 - s.lr * s.weight_decay)
        m = s.beta1 * m + (1 - s.beta1) * g
        v = s.beta2 * v + (1 - s.beta2) * g * g
        denom = v.sqrt() / (1 - s.beta2**t) ** 0.5 + s.eps
        p = p - s.lr / (1 - s.beta1**t) * m / denom
    return p


def test_fused_update_follows_the_formula():
    g = torch.Generator().manual_seed(0)
    p0 = torch.randn(37, 5, generator=g)
    grads = [torch.randn(37, 5, generator=g) for _ in range(6)]
    s = Settings(lr=3e-2, beta1=0.9, beta2=0.98, weight_decay=0.7, eps=1e-8)
    p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    for t, grad in enumerate(grads, start=1):
        adamw_([p], [grad], [m], [v], t, s)
    want = reference_adamw(p0, grads, s)
    torch.testing.assert_close(p.double(), want, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(p, p0, atol=1e-3)  # it moved


def reference_adam_l2(p, grads, s: Settings):
    """Kingma & Ba's Adam with an L2 term, as torch.optim.Adam(weight_decay) defines it:
    g <- g + wd p before the moments; no decoupled decay. In float64."""
    p, m, v = p.double(), torch.zeros_like(p, dtype=torch.float64), torch.zeros_like(p).double()
    for t, g in enumerate(grads, start=1):
        g = g.double() + s.weight_decay * p
        m = s.beta1 * m + (1 - s.beta1) * g
        v = s.beta2 * v + (1 - s.beta2) * g * g
        denom = v.sqrt() / (1 - s.beta2**t) ** 0.5 + s.eps
        p = p - s.lr / (1 - s.beta1**t) * m / denom
    return p


def test_adam_with_an_l2_term_follows_its_formula_and_differs_from_adamw():
    g = torch.Generator().manual_seed(0)
    p0 = torch.randn(37, 5, generator=g)
    grads = [torch.randn(37, 5, generator=g) for _ in range(6)]
    s = Settings(lr=3e-2, beta1=0.9, beta2=0.98, weight_decay=0.7, eps=1e-8, decoupled=False)
    p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    kept = [gr.clone() for gr in grads]
    for t, grad in enumerate(grads, start=1):
        adamw_([p], [grad], [m], [v], t, s)
    assert all(torch.equal(a, b) for a, b in zip(grads, kept, strict=True))  # grads untouched
    torch.testing.assert_close(p.double(), reference_adam_l2(p0, grads, s), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(p.double(), reference_adamw(p0, grads, s), atol=1e-3)


def test_the_adam_option_reaches_the_kernel():
    from grokinterp.training.adamw import settings_of

    cfg = replace(PRESETS["quick"], {"optim": {"optimizer": "adam", "weight_decay": 0.005}})
    rest, embed = settings_of(cfg, 20)
    assert not rest.decoupled and not embed.decoupled
    assert all(s.decoupled for s in settings_of(PRESETS["quick"], 20))


def test_member_update_is_bit_identical_to_the_run_alone(tmp_path):
    """From the same weights and gradients, each member's update (own lr, weight decay and
    embedding settings, one fused call per setting) equals AdamW.step of the run alone."""
    base = replace(PRESETS["quick"], {"task": {"p": 11}, "model": {"d_model": 16, "d_mlp": 32}})
    cfgs = [
        base,
        replace(base, {"optim": {"lr": 3e-3, "weight_decay": 0.3}}),
        replace(base, {"optim": {"embed_lr": 1e-2, "embed_weight_decay": 0.0}}),
        replace(base, {"optim": {"optimizer": "adam", "weight_decay": 0.05}}),
    ]
    members = [_Member(c, preflight(c, "cpu"), tmp_path / str(i), None) for i, c in enumerate(cfgs)]
    ens = _Ensemble(members, "cpu")
    g = torch.Generator().manual_seed(1)
    alone = []
    start = {n: v.detach().clone() for n, v in ens.views(ens.params).items()}
    for i, c in enumerate(cfgs):
        params = {n: v[i].clone().requires_grad_(True) for n, v in start.items()}
        alone.append((AdamW(c, params), params))
    for update in range(3):
        grad = torch.randn(ens.grad.shape, generator=g)
        ens.grad.copy_(grad)
        ens._adamw(update)
        grads = ens.views(grad)
        for i, (opt, params) in enumerate(alone):
            for n, p in params.items():
                p.grad = grads[n][i].clone()
            opt.step(update)
    weights = ens.views(ens.params.detach())
    for i, (_, params) in enumerate(alone):
        for n, p in params.items():
            assert torch.equal(weights[n][i], p.detach()), (i, n)
            assert not torch.equal(p.detach(), start[n][i]), (i, n)
    # the members' settings differ, so their updates do too
    assert not torch.equal(
        weights["unembed.W_U"][0] - start["unembed.W_U"][0],
        weights["unembed.W_U"][1] - start["unembed.W_U"][1],
    )
