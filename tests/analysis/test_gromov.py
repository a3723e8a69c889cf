"""The similarity to Gromov's analytic form: 1 on the analytic network, invariant to what
the form leaves free (neuron order, phases, scale), low at initialization."""

from __future__ import annotations

import pytest
import torch

from grokinterp.analysis.gromov import gromov_similarity, gromov_similarity_table
from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import init_params
from grokinterp.models.analytic import gromov_params
from grokinterp.training.analytic import write_analytic_run


@pytest.mark.parametrize("phases", ["balanced", "random"])
def test_analytic_network_has_similarity_one(phases: str) -> None:
    cfg, params = gromov_params(31, 150, phases=phases)  # type: ignore[arg-type]
    sim = gromov_similarity(params, cfg, 31)
    for key in ("gromov_similarity", "gromov_in", "gromov_out", "gromov_phase"):
        assert sim[key] == pytest.approx(1.0, abs=1e-6), key
    assert sim["gromov_freq_coverage"] == 1.0


def test_invariant_to_neuron_order_scale_and_embedding_basis() -> None:
    cfg, params = gromov_params(23, 120, seed=3)
    perm = torch.randperm(120, generator=torch.Generator().manual_seed(0))
    q, _ = torch.linalg.qr(torch.randn(24, 24, generator=torch.Generator().manual_seed(1)))
    w_in = params["blocks.0.mlp.W_in"][:, perm] * 2.5
    moved = {
        # another embedding basis: W_E Q with Q orthogonal, undone by Qᵀ in W_in
        "embed.W_E": params["embed.W_E"] @ q,
        "blocks.0.mlp.W_in": torch.cat([q.T @ w_in[:24], q.T @ w_in[24:]]),
        "blocks.0.mlp.b_in": params["blocks.0.mlp.b_in"],
        "unembed.W_U": params["unembed.W_U"][perm] * 0.1,
    }
    sim = gromov_similarity(moved, cfg, 23)
    assert sim["gromov_similarity"] == pytest.approx(1.0, abs=1e-5)


def test_wrong_phase_relation_or_sign_lowers_it() -> None:
    cfg, params = gromov_params(23, 120)
    flipped = {**params, "unembed.W_U": -params["unembed.W_U"]}
    sim = gromov_similarity(flipped, cfg, 23)
    assert sim["gromov_in"] == pytest.approx(1.0, abs=1e-6)
    assert sim["gromov_out"] == pytest.approx(0.0, abs=1e-9)
    assert sim["gromov_phase"] == pytest.approx(-1.0, abs=1e-6)


def test_random_initialization_is_far_from_the_form() -> None:
    cfg = ModelConfig(arch="mlp", d_model=32, d_mlp=256, act_fn="quadratic", mlp_combine="concat")
    params = init_params(cfg, 32, 31, torch.Generator().manual_seed(0))
    sim = gromov_similarity(params, cfg, 31)
    assert sim["gromov_similarity"] < 0.4
    assert sim["gromov_out"] < 0.05
    assert abs(sim["gromov_phase"]) < 0.2


def test_refuses_what_the_form_does_not_cover() -> None:
    tf = ModelConfig(d_model=32, n_heads=4, d_head=8, d_mlp=64)
    params = init_params(tf, 24, 23, torch.Generator().manual_seed(0))
    with pytest.raises(ConfigError, match="one-hidden-layer MLPs"):
        gromov_similarity(params, tf, 23)
    cfg, analytic = gromov_params(5, 16)
    with pytest.raises(ConfigError, match="p >= 5"):
        gromov_similarity(analytic, cfg, 3)


def test_table_over_an_analytic_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run_dir = write_analytic_run(tmp_path / "g", 23, 100)
    table = gromov_similarity_table(run_dir)
    assert list(table["step"]) == [0]
    assert float(table["gromov_similarity"].iloc[0]) == pytest.approx(1.0, abs=1e-6)
    assert float(table["test_acc"].iloc[0]) == 1.0
