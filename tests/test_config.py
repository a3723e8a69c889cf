import json

import pytest

from grokinterp.cli import config_flags
from grokinterp.config import ModelConfig, OptimConfig, TaskConfig, TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.presets import PRESETS


def test_round_trip_through_json(tmp_path):
    for cfg in PRESETS.values():
        path = tmp_path / "c.json"
        path.write_text(cfg.to_json())
        assert TrainConfig.load(path) == cfg


def test_stored_json_records_version():
    assert "grokinterp_version" in json.loads(TrainConfig().to_json())


def test_nanda_defaults_match_the_paper():
    cfg = PRESETS["nanda"]
    assert (cfg.task.name, cfg.task.p, cfg.task.train_fraction) == ("add", 113, 0.3)
    m = cfg.model
    assert (m.n_layers, m.d_model, m.n_heads, m.d_head, m.d_mlp, m.act_fn) == (
        1,
        128,
        4,
        32,
        512,
        "relu",
    )
    o = cfg.optim
    assert (o.lr, o.weight_decay, o.beta1, o.beta2, o.warmup_steps, o.batch_size) == (
        1e-3,
        1.0,
        0.9,
        0.98,
        10,
        None,
    )


@pytest.mark.parametrize(
    "d, fragment",
    [
        ({"task": {"p": 113, "bogus": 1}}, "bogus"),
        ({"optimizer": {}}, "optimizer"),
        ({"task": {"train_fraction": 1.5}}, "train_fraction"),
        ({"task": {"train_fraction": 0.0}}, "train_fraction"),
        ({"task": {"name": "div", "p": 12}}, "prime"),
        ({"task": {"name": "nope"}}, "unknown task"),
        ({"model": {"d_model": "big"}}, "d_model"),
        ({"model": {"arch": "rnn"}}, "arch"),
        ({"optim": {"lr": -1}}, "lr"),
        ({"task": {"train_fraction": None, "train_size": 10**6}}, "train_size"),
        ({"task": {"train_fraction": 0.3, "train_size": 100}}, "exactly one"),
        ({"task": {"name": "perm", "p": None, "n": 7}}, "n"),
        ({"task": {"name": "add", "p": 7, "n": 3}}, "task.n"),
    ],
)
def test_bad_configs_raise_one_clear_error(d, fragment):
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict(d)
    msg = str(e.value)
    assert fragment in msg and "\n" not in msg


def test_int_is_accepted_for_float_and_not_bool_for_int():
    cfg = TrainConfig.from_dict({"optim": {"lr": 1}})
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({"model": {"d_model": True}})


def test_identity_ignores_only_the_stopping_rule():
    a = TrainConfig()
    assert replace(a, {"optim": {"max_steps": 5, "stop_acc": 0.9}}).identity() == a.identity()
    assert replace(a, {"optim": {"lr": 0.01}}).identity() != a.identity()
    assert replace(a, {"": {"seed": 3}}).identity() != a.identity()


def test_every_field_has_a_unique_flag_with_help():
    flags = config_flags()
    n_fields = (
        sum(len(TaskConfig.__dataclass_fields__) for _ in [0])
        + len(ModelConfig.__dataclass_fields__)
        + len(OptimConfig.__dataclass_fields__)
    )
    assert len(flags) >= n_fields
    assert len({(s, n) for s, n, _ in flags.values()}) == len(flags)


def test_replace_clears_the_field_an_override_excludes():
    base = TrainConfig()
    sized = replace(base, {"task": {"train_size": 100}})
    assert sized.task.train_size == 100 and sized.task.train_fraction is None
    back = replace(sized, {"task": {"train_fraction": 0.5}})
    assert back.task.train_fraction == 0.5 and back.task.train_size is None
    perm = replace(base, {"task": {"name": "perm", "n": 4}})
    assert perm.task.p is None and perm.task.n == 4
