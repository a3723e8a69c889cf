"""The RFM study (Mallinar et al. 2025): its parameters, a tiny run end to end, and the card
read from its tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments.cards import mallinar2025
from grokinterp.experiments.rfm import Params, run


def test_params_name_the_bad_parameter() -> None:
    with pytest.raises(ConfigError, match="tasks"):
        Params(tasks=("pow",))
    with pytest.raises(ConfigError, match="p must be a prime"):
        Params(p=15)
    with pytest.raises(ConfigError, match="train_fraction"):
        Params(train_fraction=1.0)
    with pytest.raises(ConfigError, match="iters"):
        Params(iters=0)
    with pytest.raises(ConfigError, match="bandwidth"):
        Params(bandwidth=0.0)


@pytest.mark.slow
def test_tiny_study_and_its_card(tmp_path: Path) -> None:
    params = Params(tasks=("add", "sub"), seeds=(0,), p=13, train_fraction=0.7, iters=12)
    result = run(tmp_path, params, progress=False, static=False)
    s = result.data
    assert s["run"].tolist() == ["add_seed=0", "sub_seed=0"]
    assert set(result.tables) == {"curves", "summary"}
    assert (s["max_train_loss"] < 1e-20).all() and (s["test_acc_0"] <= 1 / 13).all()
    # the features become circulant (a random block: 1/14) and the test set follows
    assert (s["final_circulant_share"] > 0.5).all() and (s["final_test_acc"] > 0.3).all()
    assert "circulant share" in result.report
    assert (tmp_path / "figures" / "index.html").is_file()
    (card,) = mallinar2025.CARDS
    values = {q.name: q.read(tmp_path) for q in card.quantities}
    assert values["largest training MSE over every iteration and run"] < 1e-20
    assert values["test accuracy at iteration 0 (M = I), a + b, median over seeds"] == 0.0
    # a rerun finds its runs complete and writes the same summary
    again = run(tmp_path, params, progress=False, static=False)
    assert again.data.equals(s)
