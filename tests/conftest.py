from __future__ import annotations

import pytest

from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig


def tiny_config(**optim) -> TrainConfig:
    """A config that trains in well under a second: p=11, a 1-layer d_model=32 model."""
    return TrainConfig(
        task=TaskConfig(name="add", p=11, train_fraction=0.5),
        model=ModelConfig(d_model=32, n_heads=4, d_head=8, d_mlp=64),
        optim=OptimConfig(lr=3e-3, max_steps=optim.pop("max_steps", 40), **optim),
        schedule=ScheduleConfig(log_every=5, ckpt_log_until=10, ckpt_log_count=4, ckpt_every=10),
    )


@pytest.fixture
def tiny() -> TrainConfig:
    return tiny_config()
