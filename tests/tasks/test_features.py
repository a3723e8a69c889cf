"""The digits task (feature vectors), the MLP on features, and the MSE loss."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from grokinterp.config import ModelConfig, TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.models import answer_logits, init_params, loss_function, param_shapes
from grokinterp.runs import layout
from grokinterp.tasks import get_task, make_dataset
from grokinterp.training import train


def digits_config(**task) -> TrainConfig:
    return replace(
        TrainConfig(),
        {
            "task": {"name": "digits", "train_size": task.pop("train_size", 200), **task},
            "model": {"arch": "mlp", "n_layers": 2, "d_mlp": 32},
            "optim": {"loss": "mse", "weight_decay": 0.0, "max_steps": 60, "lr": 1e-2},
            "schedule": {"log_every": 20, "ckpt_every": 20, "ckpt_log_until": 5},
        },
    )


def test_digits_are_sklearns_images_scaled_to_the_unit_interval():
    cfg = digits_config()
    ds = make_dataset(cfg.task)
    ref = load_digits()
    assert ds.inputs.shape == (1797, 64) and ds.inputs.dtype == torch.float32
    assert torch.allclose(ds.inputs, torch.tensor(ref.data / 16.0, dtype=torch.float32))
    assert torch.equal(ds.labels, torch.tensor(ref.target))
    assert ds.d_vocab == 64 and ds.n_classes == 10
    assert int(ds.train_mask.sum()) == 200
    spec = get_task("digits")
    assert spec.n_pairs(cfg.task) == 1797 and spec.d_vocab(cfg.task) == 64


def test_digits_split_is_seeded_and_nested():
    small, big = (make_dataset(digits_config(train_size=d).task) for d in (100, 300))
    assert torch.equal(small.train_mask & big.train_mask, small.train_mask)
    other = make_dataset(digits_config(split_seed=1).task)
    assert not torch.equal(other.train_mask, make_dataset(digits_config().task).train_mask)
    shuffled = make_dataset(digits_config(random_labels=True).task)
    assert torch.equal(shuffled.labels.sort().values, small.labels.sort().values)
    assert (shuffled.labels != small.labels).float().mean() > 0.5


def test_digits_config_is_checked():
    cfg = digits_config()
    assert cfg.model.mlp_input == "features" and cfg.task.p is None
    with pytest.raises(ConfigError, match="arch"):
        replace(cfg, {"model": {"arch": "transformer"}})
    with pytest.raises(ConfigError, match="mlp_input"):
        replace(cfg, {"model": {"mlp_input": "tokens"}})
    with pytest.raises(ConfigError, match="task.p"):
        replace(cfg, {"task": {"p": 7}})
    with pytest.raises(ConfigError, match="train_size"):
        replace(cfg, {"task": {"train_size": 1797}})
    back = replace(cfg, {"task": {"name": "add", "p": 11, "train_fraction": 0.5}})
    assert back.model.mlp_input == "tokens"


def test_the_feature_mlp_is_a_plain_mlp_on_the_features():
    m = ModelConfig(arch="mlp", n_layers=2, d_mlp=5, mlp_input="features")
    assert param_shapes(m, 64, 10) == {
        "blocks.0.mlp.W_in": (64, 5),
        "blocks.0.mlp.b_in": (5,),
        "blocks.1.mlp.W_in": (5, 5),
        "blocks.1.mlp.b_in": (5,),
        "unembed.W_U": (5, 10),
    }
    p = init_params(m, 64, 10, torch.Generator().manual_seed(0))
    p = {k: v + 0.1 for k, v in p.items()}  # nonzero biases
    x = torch.rand(7, 64, generator=torch.Generator().manual_seed(1))
    h = torch.relu(x @ p["blocks.0.mlp.W_in"] + p["blocks.0.mlp.b_in"])
    h = torch.relu(h @ p["blocks.1.mlp.W_in"] + p["blocks.1.mlp.b_in"])
    assert torch.allclose(answer_logits(p, x, m), h @ p["unembed.W_U"], atol=1e-6)
    # with a leading members axis, each member on its own rows
    stacked = {k: torch.stack([v, 2 * v]) for k, v in p.items()}
    both = answer_logits(stacked, torch.stack([x, x]), m)
    assert torch.allclose(both[0], answer_logits(p, x, m), atol=1e-6)


def test_mse_is_torchs_mse_against_one_hot_labels():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 10, generator=g)
    y = torch.randint(0, 10, (6,), generator=g)
    want = torch.nn.MSELoss()(logits.double(), torch.nn.functional.one_hot(y, 10).double())
    mse = loss_function("mse")
    assert float(mse(logits, y)) == pytest.approx(float(want), rel=1e-12)
    assert mse(logits, y, reduction="none").shape == (6,)
    assert float(mse(torch.nn.functional.one_hot(y, 10).float(), y)) == 0.0


def test_an_mlp_learns_digits(tmp_path):
    run = train(digits_config(), tmp_path / "run", progress=False)
    rows = layout.read_metrics(run)
    assert rows[0]["test_acc"] < 0.3
    assert rows[-1]["train_acc"] > 0.9 and rows[-1]["test_acc"] > 0.6
