"""The architecture registry: duplicates refused, unknown names, descriptions, and each
entry's functions fitting together."""

from __future__ import annotations

from typing import get_args

import pytest
import torch

from grokinterp.config import NONNEURAL_ARCHS, Arch, ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import (
    ARCHS,
    Architecture,
    answer_forward,
    arch_names,
    get_arch,
    init_params,
    param_shapes,
    register,
)

TINY = {
    "transformer": ModelConfig(n_layers=2, d_model=8, n_heads=2, d_head=4, d_mlp=16),
    "mlp": ModelConfig(arch="mlp", n_layers=2, d_model=6, d_mlp=10, act_fn="tanh"),
    "mlp_concat": ModelConfig(arch="mlp", d_model=6, d_mlp=10, mlp_combine="concat"),
    "mlp_uniform": ModelConfig(arch="mlp", d_model=6, d_mlp=10, mlp_init="uniform"),
}


def test_registry_matches_the_config_schema():
    # config.py sits below the models and keeps the names as its Arch literal
    assert list(ARCHS) == list(get_args(Arch))
    assert tuple(arch_names(neural=False)) == NONNEURAL_ARCHS


def test_duplicate_registration_is_refused():
    before = dict(ARCHS)
    with pytest.raises(ValueError, match="'mlp' is already registered"):
        register(Architecture(name="mlp", summary=lambda m: "mlp", neural=True))
    assert ARCHS == before and ARCHS["mlp"] is before["mlp"]


def test_unknown_name_is_a_config_error_naming_the_known_ones():
    with pytest.raises(ConfigError) as e:
        get_arch("rnn")
    msg = str(e.value)
    assert "unknown arch 'rnn'" in msg
    for name in ("gp", "linear", "mlp", "transformer"):
        assert repr(name) in msg


@pytest.mark.parametrize(
    ("cfg", "text"),
    [
        (ModelConfig(), "transformer: 1 layer(s), d_model=128, 4 heads of 32, d_mlp=512, relu"),
        (
            ModelConfig(arch="mlp", n_layers=2, d_model=1, d_mlp=200, act_fn="tanh"),
            "mlp: 2 hidden layer(s) of 200, embed 1, tanh",
        ),
        (
            ModelConfig(arch="mlp", n_layers=2, d_mlp=200, mlp_input="features"),
            "mlp: 2 hidden layer(s) of 200, on the features, relu",
        ),
        (
            ModelConfig(arch="gp"),
            "gp: variational GP classifier, scaled RBF kernel with ARD, Bernoulli likelihood",
        ),
        (
            ModelConfig(arch="linear"),
            "linear: y = w . x, linear_init=high_complexity, noise_var=0.002, prior_var=0.5",
        ),
    ],
)
def test_describe(cfg, text):
    assert get_arch(cfg.arch).describe(cfg) == text


def test_every_architecture_has_a_description():
    for name, arch in ARCHS.items():
        assert arch.describe(ModelConfig(arch=name)).startswith(f"{name}: ")


@pytest.mark.parametrize("key", list(TINY))
def test_init_gives_params_the_forward_accepts(key):
    cfg = TINY[key]
    arch = get_arch(cfg.arch)
    d_vocab, d_out = 8, 7
    g = torch.Generator().manual_seed(0)
    params = init_params(cfg, d_vocab, d_out, g)
    assert {k: tuple(v.shape) for k, v in params.items()} == param_shapes(cfg, d_vocab, d_out)
    tokens = torch.randint(0, d_vocab - 1, (5, 3))
    tokens[:, 2] = d_vocab - 1
    logits, hidden = answer_forward(params, tokens, cfg)
    assert logits.shape == (5, d_out) and hidden.shape == (5, cfg.d_mlp)
    assert torch.isfinite(logits).all()
    # the entry's own functions are what the package-level ones dispatch to
    again = arch.init_params(cfg, d_vocab, d_out, torch.Generator().manual_seed(0))
    assert all(torch.equal(again[k], params[k]) for k in params)
    assert torch.equal(arch.answer_forward(params, tokens, cfg)[0], logits)
    assert arch.floats_per_row(cfg) >= 2 * cfg.n_layers * cfg.d_mlp


def test_hooked_model_matches_the_fast_forward():
    cfg = TINY["mlp"]
    params = init_params(cfg, 8, 7, torch.Generator().manual_seed(1))
    tokens = torch.randint(0, 7, (5, 3))
    model = get_arch("mlp").build_hooked(cfg, params, "cpu")
    with torch.no_grad():
        assert torch.allclose(model(tokens)[:, -1], answer_forward(params, tokens, cfg)[0])


@pytest.mark.parametrize("name", NONNEURAL_ARCHS)
def test_non_neural_archs_have_no_parameter_dict(name):
    arch = get_arch(name)
    assert not arch.neural and not arch.ntk and not arch.attention
    with pytest.raises(ConfigError, match=f"'{name}' is a non-neural arch"):
        param_shapes(ModelConfig(arch=name), 8, 2)
    with pytest.raises(ConfigError, match="is not a non-neural arch"):
        get_arch("mlp").load_nonneural(ModelConfig(arch="mlp"), {}, torch.zeros(2, 3))


def test_capabilities():
    assert arch_names(attention=True) == ["transformer"]
    assert sorted(arch_names(ntk=True)) == ["mlp", "transformer"]
    assert arch_names(feature_rank=True) == arch_names(gromov=True) == ["mlp"]
    assert arch_names(needs_gpytorch=True) == ["gp"]
