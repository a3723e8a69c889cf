"""The sparse-parity study (Barak et al. 2022; the PAIR explorable): its spec, its power-law
fit on known curves, and a tiny run read by its cards."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import replace
from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import read_card
from grokinterp.experiments.sparse_parity import STUDY, Params, parity_spec, power_fit, run
from grokinterp.sweeps.spec import expand
from grokinterp.training.ensemble import shape_key


def test_spec_is_the_pair_configuration_over_n():
    runs = expand(parity_spec(Params(n_bits=(12, 30), seeds=(0, 1))))
    assert sorted((r.config.task.n_bits, r.config.seed) for r in runs) == [
        (12, 0), (12, 1), (30, 0), (30, 1)
    ]  # fmt: skip
    cfg = runs[0].config
    assert cfg.task.name == "sparse_parity" and cfg.task.parity_bits == 3
    assert cfg.task.train_size == 1000 and cfg.task.n_samples == 2000
    assert cfg.model.mlp_input == "features" and cfg.model.d_mlp == 64
    o = cfg.optim
    assert (o.lr, o.beta1, o.beta2, o.weight_decay, o.max_steps) == (3e-3, 0.99, 0.98, 0.1, 20000)
    # runs of other inputs (n, or the generated strings) never share an ensemble batch
    keys = {shape_key(r.config) for r in runs}
    assert len(keys) == 2
    other_data = replace(cfg, {"task": {"data_seed": 1}})
    assert shape_key(other_data) != shape_key(cfg)


def test_bad_params_name_the_parameter():
    with pytest.raises(ConfigError, match="^n_bits"):
        Params(n_bits=(10, 12))  # 2^10 < 2000 distinct strings
    with pytest.raises(ConfigError, match="^parity_bits"):
        Params(n_bits=(12,), parity_bits=13)
    with pytest.raises(ConfigError, match="^weight_decay"):
        Params(weight_decay=-1.0)


@settings(max_examples=30, deadline=None)
@given(
    alpha=st.floats(-3, 6),
    c=st.floats(0.1, 1000),
    ns=st.lists(st.integers(2, 200), min_size=2, max_size=6, unique=True),
)
def test_power_fit_recovers_an_exact_power_law(alpha, c, ns):
    x = pd.Series(sorted(ns), dtype=float)
    got_alpha, got_c = power_fit(x, c * x**alpha)
    assert got_alpha == pytest.approx(alpha, abs=1e-6)
    assert got_c == pytest.approx(c, rel=1e-6)
    assert math.isnan(power_fit(x[:1], x[:1])[0])


@pytest.mark.slow
def test_tiny_study_writes_its_tables_and_its_cards_read_them(tmp_path):
    result = run(tmp_path, Params(**{**STUDY.smoke, "n_bits": (8, 10, 30)}), progress=False,
                 static=False)  # fmt: skip
    runs, table, fits = result.data
    assert set(result.tables) == {"runs", "scaling", "fits", "shares", "traces"}
    assert sorted(runs["n_bits"]) == [8, 10, 30]
    assert list(table["n_bits"]) == [8, 10, 30] and (table["runs"] == 1).all()
    # every checkpoint's share is a share, and at init near k / n
    shares = pd.read_csv(tmp_path / "shares.csv")
    assert shares["share"].between(0, 1).all()
    for name in ("report.txt", "figures/index.html"):
        assert (tmp_path / name).is_file(), name
    for card in STUDY.cards:
        reading = read_card(card, tmp_path)
        assert len(reading.values) == len(card.quantities)
