"""Per-neuron Fourier IPR (Doshi et al. 2024, arXiv 2310.13061) on closed-form cases, and
pruning by it on a hand-built network whose memorizing neurons are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.analysis.groups import GroupBasis
from grokinterp.analysis.ipr import (
    fourier_ipr,
    ipr_bounds,
    ipr_order,
    ipr_table,
    neuron_ipr,
    pruning_curve,
)
from grokinterp.config import TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.models.analytic import gromov_params
from grokinterp.tasks import make_dataset


def doshi_ipr(u: np.ndarray, r: int = 2) -> float:
    """Their code, transcribed: calculate_ipr(np.absolute(np.fft.rfft(u)), r)
    (d-doshi/Grokking@0b4335f utils/data_processing.py:L7-8)."""
    array = np.absolute(np.fft.rfft(u))
    return float(np.power(array / np.sqrt((array**2).sum()), 2 * r).sum())


PS = st.integers(3, 40)


@settings(max_examples=60, deadline=None)
@given(p=PS, data=st.data())
def test_a_single_fourier_mode_has_ipr_one(p, data):
    k = data.draw(st.integers(0, p // 2))
    phase = 0.0 if k in (0, p / 2) else data.draw(st.floats(-math.pi, math.pi))
    amp = data.draw(st.floats(0.1, 100))
    x = torch.arange(p, dtype=torch.float64)
    u = amp * torch.cos(2 * math.pi * k * x / p + phase)
    assert float(fourier_ipr(u, p)) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(p=PS, data=st.data())
def test_a_one_token_vector_has_the_minimum_ipr(p, data):
    t = data.draw(st.integers(0, p - 1))
    u = torch.zeros(p, dtype=torch.float64)
    u[t] = data.draw(st.floats(0.1, 10) | st.floats(-10, -0.1))
    lo, hi = ipr_bounds(p)
    assert lo == 1 / (p // 2 + 1) and hi == 1.0
    assert float(fourier_ipr(u, p)) == pytest.approx(lo, rel=1e-9)  # every |rfft| equal


@settings(max_examples=60, deadline=None)
@given(p=PS, seed=st.integers(0, 2**31), r=st.integers(1, 4), shift=st.integers(0, 40))
def test_any_vector_lies_between_the_bounds_is_doshis_number_and_shift_invariant(p, seed, r,
                                                                               shift):  # fmt: skip
    u = torch.randn(3, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    got = fourier_ipr(u, p, r=r)
    lo, _ = ipr_bounds(p, r)
    assert lo == pytest.approx((p // 2 + 1) ** (1 - r))
    assert bool(((got >= lo - 1e-12) & (got <= 1 + 1e-12)).all())
    for i in range(3):
        assert float(got[i]) == pytest.approx(doshi_ipr(u[i].numpy(), r), rel=1e-10)
    # a cyclic shift in the group (a phase) and a scale leave it unchanged
    assert torch.allclose(fourier_ipr(torch.roll(u, shift, -1) * 3.7, p, r=r), got)


@pytest.mark.parametrize("p", [7, 11, 13, 31])
def test_multiplicative_characters_are_one_mode_in_their_own_basis_only(p):
    basis = GroupBasis("multiplicative", p)
    log = basis.index_of().to(torch.float64)  # token -> discrete log (-1 for token 0)
    k = 1
    u = torch.cos(2 * math.pi * k * log / (p - 1))
    u[0] = 5.0  # token 0 is outside Z_p*: ignored by the multiplicative basis
    assert float(fourier_ipr(u, basis)) == pytest.approx(1.0, abs=1e-9)
    assert float(fourier_ipr(u, p)) < 0.9  # spread over the additive frequencies


def test_zero_vector_has_no_ipr_and_bad_r_is_refused():
    assert math.isnan(float(fourier_ipr(torch.zeros(7), 7)))
    with pytest.raises(ConfigError, match="r must be"):
        fourier_ipr(torch.ones(7), 7, r=0)


def _memorizing_network(p=11, width=40, noise=0.05):
    """Gromov's analytic network (every neuron one frequency) plus one lookup neuron per
    corrupted training example: U = c e_a, V = c e_b, W = M e_wrong, with c^2 M = 0.3 A, so
    the x^2 neuron adds 1.2 A to the wrong class on its own pair and 0.3 A on pairs that share
    one operand (A: the analytic network's logit margin)."""
    cfg, params = gromov_params(p, width, amplitude=10.0)
    ds = make_dataset(TaskConfig(name="add", p=p, train_fraction=0.5, label_noise=noise))
    rows = ds.corrupted.nonzero().flatten()
    n_mem, d = len(rows), cfg.d_model
    w_in, w_u = params["blocks.0.mlp.W_in"], params["unembed.W_U"]
    extra_in = torch.zeros(w_in.shape[0], n_mem)
    extra_u = torch.zeros(n_mem, w_u.shape[1])
    c, m = 1.0, 3.0  # c^2 m = 3 = 0.3 * amplitude
    for j, r in enumerate(rows.tolist()):
        a, b = int(ds.inputs[r, 0]), int(ds.inputs[r, 1])
        extra_in[a, j], extra_in[d + b, j] = c, c
        extra_u[j, int(ds.labels[r])] = m
    params = dict(params)
    params["blocks.0.mlp.W_in"] = torch.cat([w_in, extra_in], 1)
    params["blocks.0.mlp.b_in"] = torch.zeros(width + n_mem)
    params["unembed.W_U"] = torch.cat([w_u, extra_u], 0)
    cfg = cfg.__class__(**{**cfg.__dict__, "d_mlp": width + n_mem})
    return cfg, params, ds, width, n_mem


def test_ipr_tells_the_analytic_neurons_from_the_lookup_neurons():
    cfg, params, _, width, n_mem = _memorizing_network()
    table = neuron_ipr(params, cfg, GroupBasis("additive", 11))
    assert np.allclose(table["ipr"][:width], 1.0)  # Gromov's neurons: one mode each
    assert np.allclose(table["ipr"][width:], 1 / 6)  # one-hot weights: (11 // 2 + 1)^-1
    assert sorted(ipr_order(table)[:n_mem]) == list(range(width, width + n_mem))


def test_pruning_the_lowest_ipr_neurons_removes_exactly_the_memorization():
    cfg, params, ds, width, n_mem = _memorizing_network()
    assert n_mem >= 2
    order = ipr_order(neuron_ipr(params, cfg, 11))
    curve = pruning_curve(params, cfg, ds, order, [0, n_mem, width + n_mem])
    before, after, empty = (curve.iloc[i] for i in range(3))
    assert before["corrupted_acc"] == 1.0 and before["corrupted_true_acc"] == 0.0
    assert before["clean_train_acc"] == 1.0 and before["test_acc"] == 1.0
    assert after["corrupted_acc"] == 0.0 and after["corrupted_true_acc"] == 1.0
    assert after["clean_train_acc"] == 1.0 and after["test_acc"] == 1.0
    assert after["train_acc"] == pytest.approx(1 - n_mem / int(ds.train_mask.sum()))
    assert empty["fraction"] == 1.0 and empty["test_acc"] < 0.2  # nothing left: all logits 0
    with pytest.raises(ValueError, match="permutation"):
        pruning_curve(params, cfg, ds, order[:-1], [0])


def test_ipr_table_covers_every_checkpoint_of_a_run(tmp_path):
    from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TrainConfig
    from grokinterp.runs import Run
    from grokinterp.training import train

    cfg = TrainConfig(
        task=TaskConfig(name="add", p=7, train_fraction=0.5, label_noise=0.2),
        model=ModelConfig(
            arch="mlp",
            mlp_input="onehot",
            act_fn="quadratic",
            mlp_bias=False,
            d_mlp=12,
            mlp_init="doshi",
        ),  # fmt: skip
        optim=OptimConfig(lr=1e-2, weight_decay=0.0, warmup_steps=0, loss="mse", max_steps=10),
        schedule=ScheduleConfig(log_every=5, ckpt_log_until=5, ckpt_log_count=1, ckpt_every=5),
    )
    run = Run(train(cfg, tmp_path / "r", progress=False))
    table = ipr_table(run)
    assert sorted(set(table["step"])) == run.steps and len(table) == 12 * len(run.steps)
    last = table[table["step"] == run.steps[-1]].reset_index(drop=True)
    direct = neuron_ipr(run.params(run.steps[-1]), cfg.model, 7)
    assert np.allclose(last["ipr"], direct["ipr"])
    with pytest.raises(ConfigError, match="one-hidden-layer MLP"):
        neuron_ipr(run.params(0), ModelConfig(), 7)
