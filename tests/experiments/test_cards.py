"""Reproduction cards: the verdict follows from the numbers read from a study's files, and a
card may say "not reproduced" only when it lists no difference from the authors' setup."""

from __future__ import annotations

import ast
import importlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokinterp.experiments import registry
from grokinterp.experiments.cards import (
    NOT_REPRODUCED,
    NOT_YET_RUN,
    PARTLY,
    REPRODUCED,
    Card,
    Quantity,
    Setting,
    describe,
    markdown_table,
    read_card,
)


def _quantity(i: int, lo: float, hi: float) -> Quantity:
    """Reads line ``i`` of ``values.txt`` ("none": no value)."""

    def read(folder: Path) -> float | None:
        text = (folder / "values.txt").read_text().splitlines()[i]
        return None if text == "none" else float(text)

    return Quantity(f"q{i}", (lo + hi) / 2, (lo, hi), "test", read, ("values.txt",))


def _card(n: int, setup: tuple[Setting, ...] = (), not_run: tuple[str, ...] = ()) -> Card:
    return Card(
        name="c", paper="A et al.", arxiv="0000.00000", claim="x",
        quantities=tuple(_quantity(i, 0.0, 1.0) for i in range(n)),
        setup=setup, study="s", not_run=not_run,
    )  # fmt: skip


values = st.lists(
    st.one_of(st.none(), st.floats(min_value=-2, max_value=3, allow_nan=False)),
    min_size=1,
    max_size=5,
)


@given(values)
def test_verdict_follows_from_the_values(tmp_path_factory, vals):
    folder = tmp_path_factory.mktemp("study")
    (folder / "values.txt").write_text("\n".join("none" if v is None else repr(v) for v in vals))
    r = read_card(_card(len(vals)), folder)
    inside = [0.0 <= v <= 1.0 for v in vals if v is not None]
    assert r.values == tuple(vals)
    if not inside:
        assert r.verdict == NOT_YET_RUN
    elif all(inside) and len(inside) == len(vals):
        assert r.verdict == REPRODUCED
    elif any(inside):
        assert r.verdict == PARTLY
    else:
        assert r.verdict == NOT_REPRODUCED


def test_missing_files_mean_not_yet_run(tmp_path):
    assert read_card(_card(2), tmp_path).verdict == NOT_YET_RUN


def test_a_different_setup_qualifies_every_verdict(tmp_path):
    (tmp_path / "values.txt").write_text("5\n")
    differs = Setting("batch size", "512", "their train.py:10", ours="full", why="2 cores")
    r = read_card(_card(1, (differs,)), tmp_path)
    assert r.verdict == "not reproduced on our setup"
    assert r.card.differences == ["batch size: full (theirs 512): 2 cores"]
    r = read_card(_card(1, not_run=("100k steps: 2 cores",)), tmp_path)
    assert r.verdict == "not reproduced on our setup"
    text = describe(r, "studies/s")
    assert "100k steps: 2 cores" in text and "verdict: not reproduced on our setup" in text
    assert "(+1 not run)" in markdown_table([(r, "s", "1 min")])


def test_a_difference_needs_its_reason():
    with pytest.raises(ValueError, match="reason"):
        Setting("steps", "1e5", "paper, Sec. 3", ours="1e4")
    with pytest.raises(ValueError, match="at least one quantity"):
        _card(0)


CARDS_DIR = Path(registry.__file__).parent / "cards"


def test_a_card_module_imports_no_study():
    # a study imports its paper's cards; the other way round would be a cycle
    imported = {
        (path.name, node.module)
        for path in sorted(CARDS_DIR.glob("[!_]*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    bad = [
        f"{name} imports {module}"
        for name, module in sorted(imported)
        if module.startswith("grokinterp.experiments") and module != "grokinterp.experiments.cards"
    ]
    assert not bad, "; ".join(bad)


def test_every_card_module_gives_its_cards_to_its_studies():
    given = {c.name for name in registry.STUDIES for c in registry.load(name).cards}
    declared = set()
    for path in sorted(CARDS_DIR.glob("[!_]*.py")):
        module = importlib.import_module(f"grokinterp.experiments.cards.{path.stem}")
        assert module.CARDS, path.name
        assert all(c.name.startswith(path.stem) for c in module.CARDS), path.name
        declared |= {c.name for c in module.CARDS}
    assert declared == given


def test_what_the_card_modules_repeat_from_their_studies_agree():
    from grokinterp.experiments import deep_grokking, efficiency_study, prediction, semi_grokking
    from grokinterp.experiments.cards import fan2024, liu2022, notsawo2023, varma2023
    from grokinterp.viz.phases import PHASES

    assert varma2023.GENERALIZED_ACC == efficiency_study.GENERALIZED_ACC
    assert varma2023.NEAR_FACTOR == semi_grokking.NEAR_FACTOR
    assert liu2022.PHASES == PHASES
    y, p = np.array([0, 1, 1, 0, 1]), np.array([0.1, 0.8, 0.4, 0.5, 0.9])
    assert notsawo2023._auc(y, p) == prediction._auc(y, p)
    assert math.isnan(notsawo2023._auc(y[1:3], p[1:3])) and math.isnan(
        prediction._auc(y[1:3], p[1:3])
    )
    a, b = pd.Series([1.0, 3.0, 2.0, 5.0]), pd.Series([0.2, 0.1, 0.4, 0.9])
    assert fan2024._spearman(a, b) == deep_grokking._spearman(a, b)
    assert math.isnan(fan2024._spearman(a[:2], b[:2])) and math.isnan(
        deep_grokking._spearman(a[:2], b[:2])
    )
