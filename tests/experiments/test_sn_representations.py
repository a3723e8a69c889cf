"""The S_n representations study (Chughtai et al. 2023): parameters, their published key
representations, and a smoke run read by its card."""

from __future__ import annotations

import pandas as pd
import pytest

from grokinterp.errors import ConfigError
from grokinterp.experiments import sn_representations as sr
from grokinterp.experiments.cards import chughtai2023, read_card
from grokinterp.experiments.contract import params_from


@pytest.mark.parametrize(
    ("field", "value"), [("train_fraction", 1.0), ("n", 6), ("n", 2), ("seeds", ()),
                         ("patience", -1)],
)  # fmt: skip
def test_bad_params_name_the_parameter(field, value):
    with pytest.raises(ConfigError, match=field):
        params_from(sr.Params, {field: value}, "sn-representations")


def test_their_key_representations_as_published():
    """Every one of their 16 seeds names the standard and the sign; the readers count as
    the card's docstring says (6 with standard x sign, 9 with a 5-dimensional one)."""
    theirs = sr.authors_table()
    assert len(theirs) == 16
    assert sr.share_with(theirs, "key_reps_character", "(4,1)") == 1.0
    assert sr.share_with(theirs, "key_reps_character", "(1,1,1,1,1)") == 1.0
    assert sr.share_with(theirs, "key_reps_character", "(2,1,1,1)") == 6 / 16
    five = theirs["key_reps_character"].map(lambda v: "(2,2,1)" in v or "(3,2)" in v)
    assert int(five.sum()) == 9
    counts = theirs["key_reps_character"].map(lambda v: len(v.split()))
    assert float(counts.median()) == chughtai2023.CARDS[0].quantities[3].paper


@pytest.mark.slow
def test_smoke_run_is_read_by_the_card(tmp_path):
    params = params_from(sr.Params, dict(sr.STUDY.smoke), "sn-representations")
    result = sr.run(tmp_path, params, progress=False, static=False)
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert list(runs["status"]) == ["done"]
    reps = pd.read_csv(tmp_path / "representations.csv")
    assert list(reps["name"]) == ["(3)", "(2,1)", "(1,1,1)"]
    assert reps["embed_fraction"].sum() == pytest.approx(1.0, abs=1e-6)
    reading = read_card(chughtai2023.CARDS[0], tmp_path)
    files = [q.files for q in chughtai2023.CARDS[0].quantities]
    pairs = list(zip(reading.values, files, strict=True))
    assert all(v is not None for v, f in pairs if f == ("runs.csv",))
    assert all(v is None for v, f in pairs if f != ("runs.csv",))  # authors' models: not read
    assert "key representations, causal rule" in result.report


def test_their_model_in_our_layout_gives_their_logits_in_our_numbering():
    """Their OneLayerMLP (relu([W_x[x], W_y[y]] W) W_U, rep-theory-mech-interp
    utils/models.py:L84-92) on random weights, written on their layout, against our forward
    of :func:`authors_params`; and their element numbering maps onto ours as a group
    isomorphism (:func:`their_element_map` raises otherwise)."""
    import torch

    from grokinterp.models import answer_forward

    g = torch.Generator().manual_seed(0)
    state = {
        "W_x": torch.randn(120, 16, generator=g), "W_y": torch.randn(120, 16, generator=g),
        "W": torch.randn(32, 8, generator=g) / 4, "W_U": torch.randn(8, 120, generator=g),
    }  # fmt: skip
    params, cfg = sr.authors_params(state)
    x, y = torch.randint(0, 120, (50,), generator=g), torch.randint(0, 120, (50,), generator=g)
    hidden = torch.relu(torch.cat([state["W_x"][x], state["W_y"][y]], 1) @ state["W"])
    theirs = hidden @ state["W_U"]
    tokens = torch.stack([x, y, torch.full((50,), 120)], 1)
    torch.testing.assert_close(answer_forward(params, tokens, cfg)[0][:, :120], theirs)
    phi = sr.their_element_map(5)
    assert sorted(phi.tolist()) == list(range(120))
