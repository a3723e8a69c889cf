"""The Omnigrok figures draw the study's tables."""

from __future__ import annotations

import pandas as pd
import pytest

from grokinterp.viz.omnigrok import init_figure, lu_figure


def test_lu_figure_draws_the_seed_means_against_the_norm():
    lu = pd.DataFrame(
        {
            "fixed_norm": [10.0, 10.0, 40.0, 40.0],
            "final_train_loss": [0.1, 0.3, 0.0, 0.0],
            "final_test_loss": [0.2, 0.4, 1.0, 3.0],
            "final_train_acc": [0.9, 0.9, 1.0, 1.0],
            "final_test_acc": [0.8, 0.6, 0.2, 0.4],
        }
    )
    fig = lu_figure(lu)
    lines = {(t.name, t.yaxis): t for t in fig.data if t.mode == "lines"}
    test_loss = lines[("test", "y")]
    assert list(test_loss.x) == [10.0, 40.0] and list(test_loss.y) == pytest.approx([0.3, 2.0])
    assert list(lines[("train", "y2")].y) == [0.9, 1.0]


def test_init_figure_draws_each_condition_at_the_largest_scale():
    curves = pd.DataFrame(
        [
            {"step": s, "alpha": a, "condition": c, "seed": 0, "train_acc": 1.0,
             "test_acc": 0.1 * s if c == "fixed" else 0.0}
            for s in (1, 2) for a in (1.0, 8.0) for c in ("decay", "free", "fixed")
        ]
    )  # fmt: skip
    init = pd.DataFrame(
        [
            {"alpha": a, "condition": c, "test_step": 100.0 * a if c == "decay" else None}
            for a in (1.0, 8.0) for c in ("decay", "free", "fixed")
        ]
    )  # fmt: skip
    fig = init_figure(init, curves)
    fixed_test = [t for t in fig.data if t.name and t.name.endswith("(test)") and "fixed" in t.name]
    assert list(fixed_test[0].y) == pytest.approx([0.1, 0.2])  # alpha 8, steps 1 and 2
    delays = [t for t in fig.data if t.yaxis == "y2" and len(t.x)]
    assert len(delays) == 1 and list(delays[0].y) == [100.0, 800.0]  # only decay reaches it
