"""Flat keyword overrides of ``grokinterp.config.replace`` (issue 32, item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from grokinterp import config as C
from grokinterp.config import OptimConfig, TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.presets import PRESETS


def test_flat_name_finds_its_section() -> None:
    quick = PRESETS["quick"]
    cfg = replace(quick, max_steps=60)
    assert cfg.optim.max_steps == 60
    assert cfg == replace(quick, {"optim": {"max_steps": 60}})  # the same as the nested form
    assert quick.optim.max_steps != 60  # the preset itself is untouched (frozen)


def test_flat_names_across_sections_and_top_level() -> None:
    cfg = replace(TrainConfig(), p=23, d_model=32, lr=2e-3, ckpt_every=7, seed=5)
    assert (cfg.task.p, cfg.model.d_model, cfg.optim.lr) == (23, 32, 2e-3)
    assert (cfg.schedule.ckpt_every, cfg.seed) == (7, 5)


def test_flat_overrides_keep_the_exclusion_rules() -> None:
    sized = replace(TrainConfig(), train_size=100)
    assert sized.task.train_size == 100 and sized.task.train_fraction is None


def test_section_keywords() -> None:
    base = TrainConfig()
    assert replace(base, optim={"lr": 0.01}).optim.lr == 0.01
    whole = OptimConfig(lr=0.02, max_steps=9)
    assert replace(base, optim=whole).optim == whole
    assert replace(base, task="sub").task.name == "sub"


def test_keywords_update_the_dict() -> None:
    cfg = replace(TrainConfig(), {"optim": {"max_steps": 5, "lr": 0.01}}, max_steps=7)
    assert (cfg.optim.max_steps, cfg.optim.lr) == (7, 0.01)


def test_values_are_type_checked() -> None:
    with pytest.raises(ConfigError, match="max_steps"):
        replace(TrainConfig(), max_steps="many")


def test_unknown_name_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError, match="max_step=.*did you mean 'max_steps'"):
        replace(TrainConfig(), max_step=60)


def test_unknown_section_in_the_dict() -> None:
    with pytest.raises(ConfigError, match="unknown section.*'optimizer'"):
        replace(TrainConfig(), {"optimizer": {"lr": 1.0}})


def test_bad_section_value() -> None:
    with pytest.raises(ConfigError, match="optim=: expected OptimConfig or a dict"):
        replace(TrainConfig(), optim=3)


def test_ambiguous_name_names_both_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    # fields are unique across sections today (test_config checks it); make one shared
    real = C.field_types

    def shared(section: str) -> dict[str, Any]:
        types = dict(real(section))
        if section == "model":
            types["lr"] = float
        return types

    monkeypatch.setattr(C, "field_types", shared)
    with pytest.raises(ConfigError, match="lr=: ambiguous.*both model and optim"):
        replace(TrainConfig(), lr=0.5)
