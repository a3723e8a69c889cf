"""Liu et al. 2022's toy initialization (mlp_init="uniform")."""

import math

import pytest
import torch

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import init_params


def test_uniform_init_bounds_and_scale():
    cfg = ModelConfig(arch="mlp", n_layers=2, d_model=3, d_mlp=50, mlp_init="uniform")
    gen = torch.Generator().manual_seed(0)
    p = init_params(cfg, 11, 19, gen)
    assert p["embed.W_E"].abs().max() <= 0.5 and p["embed.W_E"].abs().max() > 0.4
    for name, fan in (("blocks.0.mlp", 3), ("blocks.1.mlp", 50)):
        bound = 1 / math.sqrt(fan)
        for leaf in ("W_in", "b_in"):
            t = p[f"{name}.{leaf}"]
            assert t.abs().max() <= bound and t.abs().max() > 0.8 * bound
            # uniform on [-b, b] has std b / sqrt(3)
            assert t.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.3)
    assert p["unembed.W_U"].abs().max() <= 1 / math.sqrt(50)
    scaled = init_params(
        ModelConfig(arch="mlp", n_layers=2, d_model=3, d_mlp=50, mlp_init="uniform", init_scale=4),
        11,
        19,
        torch.Generator().manual_seed(0),
    )
    assert torch.allclose(scaled["embed.W_E"], 4 * p["embed.W_E"])


def test_uniform_init_is_for_the_mlp():
    with pytest.raises(ConfigError, match="mlp_init"):
        ModelConfig(mlp_init="uniform")
