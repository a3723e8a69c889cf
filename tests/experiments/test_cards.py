"""Reproduction cards: the verdict follows from the numbers read from a study's files, and a
card says "not reproduced" only when every quantity was read and it lists no difference from
the authors' setup."""

from __future__ import annotations

import ast
import importlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokinterp.errors import RunDirError
from grokinterp.experiments import registry
from grokinterp.experiments.cards import (
    DISAGREES_ON_OUR_SETUP,
    NOT_REPRODUCED,
    NOT_YET_RUN,
    PARTLY,
    REPRODUCED,
    Card,
    Quantity,
    Reading,
    Setting,
    describe,
    markdown_table,
    read_card,
    verdict,
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


@pytest.mark.parametrize(
    ("agree", "differs", "expected"),
    [
        ([True, True], False, REPRODUCED),
        ([True, True], True, "reproduced on our setup"),
        ([True, None], False, PARTLY),  # all that was read agrees, not all was read
        ([True, False], False, PARTLY),
        ([True, False], True, "partly, on our setup"),
        ([False, False], False, NOT_REPRODUCED),
        ([False, False], True, DISAGREES_ON_OUR_SETUP),
        ([False, None], False, "disagrees where read (1 of 2)"),
        ([False, None], True, "disagrees where read (1 of 2), on our setup"),
        ([None, None], True, NOT_YET_RUN),
    ],
)
def test_verdicts(agree, differs, expected):
    assert verdict(agree, differs) == expected


@given(values, st.booleans())
def test_verdict_follows_from_the_values(tmp_path_factory, vals, differs):
    folder = tmp_path_factory.mktemp("study")
    (folder / "values.txt").write_text("\n".join("none" if v is None else repr(v) for v in vals))
    setup = (Setting("b", "512", "x.py:1", ours="full", why="cost"),) if differs else ()
    r = read_card(_card(len(vals), setup), folder)
    assert r.values == tuple(vals)
    assert r.agree == tuple(None if v is None else 0.0 <= v <= 1.0 for v in vals)
    read = [v for v in vals if v is not None]
    # "reproduced" needs every quantity read and inside; "not reproduced" needs every
    # quantity read and outside, and the authors' setup
    assert r.verdict.startswith(REPRODUCED) == (
        len(read) == len(vals) and all(0.0 <= v <= 1.0 for v in read)
    )
    assert (r.verdict == NOT_REPRODUCED) == (
        not differs and len(read) == len(vals) and not any(0.0 <= v <= 1.0 for v in read)
    )
    assert "not reproduced" not in r.verdict or not differs
    assert (r.verdict == NOT_YET_RUN) == (not read)


def test_infinite_values_are_bounds(tmp_path):
    (tmp_path / "values.txt").write_text("inf\n")
    never = Quantity("q", None, (10.0, math.inf), "t", _quantity(0, 0, 1).read, ("values.txt",))
    bounded = Quantity("q", None, (0.0, 5.0), "t", _quantity(0, 0, 1).read, ("values.txt",))
    base = _card(1)
    for q, ok in ((never, True), (bounded, False)):
        card = Card(base.name, base.paper, base.arxiv, base.claim, (q,), (), "s")
        assert read_card(card, tmp_path).agree == (ok,)


def test_a_reader_returning_a_non_number_is_a_bug(tmp_path):
    (tmp_path / "values.txt").write_text("x")
    q = Quantity("q", 1.0, (0.0, 2.0), "t", lambda f: "1.0", ("values.txt",))  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="not a number"):
        read_card(Card("c", "A", "0", "x", (q,), (), "s"), tmp_path)


def test_missing_files_mean_not_yet_run(tmp_path):
    assert read_card(_card(2), tmp_path).verdict == NOT_YET_RUN


def test_a_different_setup_qualifies_every_verdict(tmp_path):
    (tmp_path / "values.txt").write_text("5\n")
    differs = Setting("batch size", "512", "their train.py:10", ours="full", why="2 cores")
    r = read_card(_card(1, (differs,)), tmp_path)
    assert r.verdict == DISAGREES_ON_OUR_SETUP
    assert r.card.differences == ["batch size: full (theirs 512): 2 cores"]
    r = read_card(_card(1, not_run=("100k steps: 2 cores",)), tmp_path)
    assert r.verdict == DISAGREES_ON_OUR_SETUP
    text = describe(r, "studies/s")
    assert "100k steps: 2 cores" in text and f"verdict: {DISAGREES_ON_OUR_SETUP}" in text
    assert "1 item(s) not run or not known" in markdown_table([(r, "s", "1 min")])


@given(
    long_p=st.sampled_from([47, 113]),
    study=st.sampled_from(["s", "other"]),
    record=st.sampled_from(["ok", "missing", "broken"]),
)
def test_a_subfolder_quantity_reads_only_the_run_it_describes(
    tmp_path_factory, long_p, study, record
):
    """A quantity read from a subfolder: its value where the subfolder's study.json records
    the card's study with the expected parameters; one clear refusal for any other record;
    not yet run without files; reproduce check reads the folder itself (in_folder)."""
    folder = tmp_path_factory.mktemp("study")
    q = Quantity("q", 1.0, (0.0, 2.0), "t", _quantity(0, 0, 1).read, ("values.txt",),
                 sub="p113", sub_params={"long_p": 113})  # fmt: skip
    card = Card("c", "A", "0", "x", (q,), (), "s")
    (folder / "values.txt").write_text("0.25\n")  # the folder's own value: not this one's
    assert read_card(card, folder).values == (None,)  # the subfolder not run
    (folder / "p113").mkdir()
    (folder / "p113" / "values.txt").write_text("1.5\n")
    doc = {"study": study, "params": {"long_p": long_p, "steps": 10}}
    if record == "ok":
        (folder / "p113" / "study.json").write_text(json.dumps(doc))
    elif record == "broken":
        (folder / "p113" / "study.json").write_text("{")
    if record == "ok" and study == "s" and long_p == 113:
        assert read_card(card, folder).values == (1.5,)
    else:
        with pytest.raises(RunDirError, match=r"p113/study.json: .*rerun"):
            read_card(card, folder)
    assert "from p113/values.txt" in describe(Reading(card, (None,), (None,), NOT_YET_RUN), "s")
    own = Card("c", "A", "0", "x", (q.in_folder(),), (), "s")
    assert read_card(own, folder).values == (0.25,)


def test_a_subfolder_needs_its_parameters():
    read = _quantity(0, 0, 1).read
    with pytest.raises(ValueError, match="sub_params"):
        Quantity("q", 1.0, (0.0, 2.0), "t", read, ("v",), sub="p113")
    with pytest.raises(ValueError, match="sub_params"):
        Quantity("q", 1.0, (0.0, 2.0), "t", read, ("v",), sub_params={"p": 1})
    with pytest.raises(ValueError, match="inside the folder"):
        Quantity("q", 1.0, (0.0, 2.0), "t", read, ("v",), sub="../x", sub_params={"p": 1})
    with pytest.raises(ValueError, match="sub_smoke runs a subfolder"):
        Quantity("q", 1.0, (0.0, 2.0), "t", read, ("v",), sub_smoke={"p": 1})


def test_the_table_escapes_its_cells(tmp_path):
    card = Card("c", "A | B", "0", "a claim with | a bar\nand a line", (_quantity(0, 0, 1),),
                (), "s")  # fmt: skip
    table = markdown_table([(read_card(card, tmp_path), "s", "")])
    rows = table.strip().splitlines()
    assert len(rows) == 3
    assert all(row.replace("\\|", "").count("|") == 8 for row in rows)


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


# the readers of single cards, on tiny tables where the reviewed fault shows


def test_omnigrok_u_ignores_norms_that_never_fit_the_training_set(tmp_path):
    from grokinterp.experiments.cards.liu2023 import _u_ratio

    def write(acc: list[float], loss: list[float]) -> None:
        rows = [
            (n, s, a, t) for n, a, t in zip(range(1, 6), acc, loss, strict=True) for s in (0, 1)
        ]
        cols = ["fixed_norm", "seed", "final_train_acc", "min_test_loss"]
        pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "lu.csv", index=False)

    # the two largest norms never fit: their huge test loss is no memorization arm, so the
    # U is cut at norm 3: min(5, 1.2) / 1, where the whole sweep would read min(5, 900) / 1
    write([0.5, 1.0, 1.0, 0.3, 0.2], [5.0, 1.0, 1.2, 300.0, 900.0])
    assert _u_ratio(tmp_path) == pytest.approx(1.2)
    # a norm that fits counts, however high its test loss (memorization)
    write([0.5, 1.0, 1.0, 1.0, 0.2], [5.0, 1.0, 1.2, 300.0, 900.0])
    assert _u_ratio(tmp_path) == pytest.approx(5.0)
    # the lowest test loss at the largest norm that fits: no U
    write([0.5, 1.0, 1.0, 0.3, 0.2], [5.0, 2.0, 1.0, 300.0, 900.0])
    assert _u_ratio(tmp_path) is None


def test_tickets_speedup_counts_runs_that_never_got_there_as_the_budget(tmp_path):
    from grokinterp.experiments.cards.minegishi2024 import _speedup_at

    pd.DataFrame({"step": [0, 8000]}).to_csv(tmp_path / "traces.csv", index=False)

    def speedup(dense: list[float], ticket: list[float]) -> float | None:
        rows = [("dense", 0.0, s) for s in dense] + [("ticket", 0.6, s) for s in ticket]
        arms = pd.DataFrame(rows, columns=["arm", "sparsity", "test_95_step"])
        arms.to_csv(tmp_path / "arms.csv", index=False)
        # the study's summary: medians of the runs that got there only
        summary = arms.groupby(["arm", "sparsity"], as_index=False).agg(
            median_test_95_step=("test_95_step", "median")
        )
        summary.to_csv(tmp_path / "summary.csv", index=False)
        return _speedup_at(0.6)(tmp_path)  # type: ignore[no-any-return]

    nan = math.nan
    # one ticket of three never got there: median(1000, 2000, 8000), not median(1000, 2000)
    assert speedup([4000, 4000, 4000], [1000, 2000, nan]) == pytest.approx(2.0)
    # the dense runs never got there: a lower bound 8000 / 2000, not None
    assert speedup([nan, nan], [2000, 2000]) == pytest.approx(4.0)
    assert speedup([nan, nan], [nan, 2000]) is None  # both censored: no bound either way


def test_power_growth_counts_runs_that_never_generalized_as_the_budget(tmp_path):
    from grokinterp.experiments.cards.power2022 import _growth_per_percent

    nan = math.nan
    runs = pd.DataFrame(
        {
            "train_fraction": [0.3] * 3 + [0.4] * 3,
            "seed": [0, 1, 2] * 2,
            "steps_to_generalize": [2000.0, 6000.0, nan, 1000.0, 1000.0, 1000.0],
            "steps": [10000] * 6,
        }
    )
    runs.to_csv(tmp_path / "runs.csv", index=False)
    # the study's curve: medians of the runs that generalized only
    g = runs.groupby("train_fraction")["steps_to_generalize"]
    curve = pd.DataFrame({"runs": g.size(), "generalized": g.count(), "median_steps": g.median()})
    curve.reset_index().to_csv(tmp_path / "curve.csv", index=False)
    # the medians: 6000 at 0.3 (the third run counted as 10000), 1000 at 0.4; leaving the
    # third run out would give 4000
    assert _growth_per_percent(tmp_path) == pytest.approx(6.0**0.1 - 1.0)


def test_power_smallest_fraction_needs_a_lower_edge(tmp_path):
    from grokinterp.experiments.cards.power2022 import _smallest_generalizing

    def smallest(generalized: list[int], budget: int = 100_000) -> float | None:
        curve = pd.DataFrame(
            {"train_fraction": [0.2, 0.3, 0.4], "runs": [3, 3, 3], "generalized": generalized}
        )
        curve.to_csv(tmp_path / "curve.csv", index=False)
        pd.DataFrame({"steps": [budget]}).to_csv(tmp_path / "runs.csv", index=False)
        return _smallest_generalizing(tmp_path)

    assert smallest([0, 2, 3]) == pytest.approx(0.3)
    assert smallest([3, 3, 3]) is None  # it may generalize below the grid as well
    assert smallest([0, 0, 1]) == math.inf  # at the authors' 10^5 updates
    assert smallest([0, 0, 1], budget=2000) is None  # cut short: unknown, not inf


def test_semi_grokking_counts_read_the_other_runs_once(tmp_path):
    from grokinterp.experiments.cards.varma2023 import (
        EARLIER_RUN,
        LONGER_RUN,
        _semi_anywhere,
        _semi_near,
    )

    def write(where: Path, d: list[int], classes: list[str], steps: int = 100, wd=1.0) -> None:
        where.mkdir(parents=True, exist_ok=True)
        runs = pd.DataFrame({"D": d, "D_over_dcrit": [x / 100 for x in d], "seed": 0,
                             "steps": steps, "plateau_class": classes})  # fmt: skip
        if wd is not None:
            runs["weight_decay"] = wd
        runs.to_csv(where / "runs.csv", index=False)

    write(tmp_path, [150, 200, 320], ["semi-grokked", "semi-grokked", "grokked"])
    # the window is closed: 1.5 D_crit is near, 2.0 is not
    assert _semi_near(tmp_path) == 1.0 and _semi_anywhere(tmp_path) == 2.0
    # the earlier run (no weight-decay column) adds its own runs
    write(tmp_path / EARLIER_RUN, [80, 120], ["semi-grokked", "memorized"], wd=None)
    assert _semi_near(tmp_path) == 2.0 and _semi_anywhere(tmp_path) == 3.0
    # a run trained longer replaces the shorter one of the same D, weight decay and seed
    write(tmp_path / LONGER_RUN, [200, 320], ["grokked", "semi-grokked"], steps=300)
    assert _semi_near(tmp_path) == 2.0 and _semi_anywhere(tmp_path) == 3.0
    write(tmp_path / LONGER_RUN, [200], ["semi-grokked"], steps=300, wd=2.0)  # another cell
    assert _semi_anywhere(tmp_path) == 4.0
    # no D_crit given: nothing is near, but the phenomenon still counts
    (tmp_path / LONGER_RUN / "runs.csv").unlink()
    (tmp_path / EARLIER_RUN / "runs.csv").unlink()
    pd.DataFrame({"D": [1, 2], "D_over_dcrit": [math.nan] * 2, "seed": 0, "steps": 1,
                  "plateau_class": ["semi-grokked", "memorized"]}).to_csv(
        tmp_path / "runs.csv", index=False)  # fmt: skip
    assert _semi_near(tmp_path) is None and _semi_anywhere(tmp_path) == 1.0


def test_fan_card_reads_only_runs_that_generalized_within_the_budget(tmp_path):
    """A run cut off before 80% test accuracy neither confirms nor refutes deep grokking:
    the delay is not read when the deepest depth never got there, and the surges are counted
    only in runs that did."""
    from grokinterp.experiments.cards import fan2024

    rows = [
        # depth, seed, train_99_step, test_80_step, stages
        (4, 0, 100, 400, 1),
        (4, 1, 120, 500, 3),
        (12, 0, 900, None, 5),  # never generalized: its 5 "surges" must not count
        (12, 1, 950, None, 4),
    ]
    pd.DataFrame(rows, columns=["depth", "seed", "train_99_step", "test_80_step", "stages"]).to_csv(
        tmp_path / "runs.csv", index=False
    )
    assert fan2024._delay_growth(tmp_path) is None
    surges = fan2024._surges_deepest
    assert surges(tmp_path) is None  # no stages_all column: an older runs.csv
    cols = ["depth", "seed", "train_99_step", "test_80_step", "stages", "stages_all"]
    pd.DataFrame([r + (r[4] + 1,) for r in rows], columns=cols).to_csv(
        tmp_path / "runs.csv", index=False
    )
    assert surges(tmp_path) is None  # the deepest depth's seed 0 never reached 80%

    generalized = [r[:3] + (r[2] + 1000, r[4]) if r[3] is None else r for r in rows]
    pd.DataFrame([r + (r[4] + 1,) for r in generalized], columns=cols).to_csv(
        tmp_path / "runs.csv", index=False
    )
    # deepest median delay 1000, shallowest median (300 + 380) / 2 = 340
    assert fan2024._delay_growth(tmp_path) == 660.0
    # the deepest depth's first seed: its surges from step 0 (5 + 1), not its seed 1's
    assert surges(tmp_path) == 6.0
    # a run with no surge after memorization shows no stages of grokking
    pd.DataFrame(
        [r[:4] + (0, 1) if r[:2] == (12, 0) else r + (r[4] + 1,) for r in generalized],
        columns=cols,
    ).to_csv(tmp_path / "runs.csv", index=False)
    assert surges(tmp_path) is None
    # the weight-decay-0.05 quantity reads the same runs from its own folder, the study run
    # again at weight decay 0.05
    (card,) = [c for c in fan2024.CARDS if any(q.sub for q in c.quantities)]
    i = next(i for i, q in enumerate(card.quantities) if q.sub == fan2024.WD_05)
    wd05 = tmp_path / fan2024.WD_05
    wd05.mkdir()
    pd.DataFrame([r + (r[4] + 1,) for r in generalized], columns=cols).to_csv(
        wd05 / "runs.csv", index=False
    )
    params = {**card.quantities[i].sub_params, "depths": [12, 4], "seeds": [0]}
    (wd05 / "study.json").write_text(json.dumps({"study": card.study, "params": params}))
    assert read_card(card, tmp_path).values[i] == 6.0
    (wd05 / "study.json").write_text(
        json.dumps({"study": card.study, "params": {**params, "weight_decay": 0.01}})
    )
    with pytest.raises(RunDirError, match="weight_decay 0.01, not 0.05"):
        read_card(card, tmp_path)


def test_notsawo_readers_take_the_full_batch_runs(tmp_path):
    """The card reads the full-batch sweeps (the paper's setting): here they separate
    perfectly (AUC 1) while the minibatch ones are reversed (AUC 0), at the largest N only."""
    from grokinterp.experiments.cards import notsawo2023

    rows = []
    for part, sign in (("add_p19", 1.0), ("mb_add_p19", -1.0)):
        for i, grokked in enumerate([True, True, False, False]):
            activity = sign * (10.0 if grokked else 1.0) + i * 0.01
            rows += [
                {"part": part, "N": 400, "grokked": grokked, "hjorth_activity": activity},
                {"part": part, "N": 50, "grokked": grokked, "hjorth_activity": -activity},
            ]
    pd.DataFrame(rows).to_csv(tmp_path / "features.csv", index=False)
    pd.DataFrame([
        {"family": "spectral", "regime": "full_batch", "N": 400, "auc_cv": 0.9},
        {"family": "spectral", "regime": "full_batch", "N": 50, "auc_cv": 0.1},
        {"family": "spectral", "regime": "minibatch", "N": 400, "auc_cv": 0.2},
    ]).to_csv(tmp_path / "auc.csv", index=False)  # fmt: skip
    assert notsawo2023._hjorth_auc(tmp_path) == 1.0
    assert notsawo2023._spectral_auc_cv(tmp_path) == 0.9


@pytest.mark.slow
def test_reproduce_check_runs_a_subfolders_own_setting(tmp_path, monkeypatch):
    """Prieto et al.'s transformer quantities are read from a smoke run of the transformer
    setting (sub_smoke): its runs train the transformer with their dropout, which the MLP
    never uses; a subfolder whose smoke run fails fails the card's check, naming it."""
    from dataclasses import replace

    from grokinterp.experiments import reproduce
    from grokinterp.experiments.cards import prieto2025

    (ok,) = reproduce.check(tmp_path / "ok", ["prieto2025-orthograd"])
    assert ok.problem is None
    sub = tmp_path / "ok" / "prieto" / "transformer"
    assert json.loads((sub / "study.json").read_text())["params"]["setting"] == "transformer"
    assert set(pd.read_csv(sub / "runs.csv")["arm"]) == {"orthoadamw", "wd1.5", "baseline"}
    for config in (sub / "sweep").glob("*/runs/*/config.json"):
        assert json.loads(config.read_text())["model"]["dropout"] == 0.1

    study, card = reproduce.find("prieto2025-orthograd")
    q = next(q for q in card.quantities if q.sub == prieto2025.TRANSFORMER)
    bad = replace(q, sub_smoke={**prieto2025.TRANSFORMER_SMOKE, "backend": "ensemble"})
    monkeypatch.setattr(reproduce, "cards", lambda: [(study, replace(card, quantities=(bad,)))])
    (failed,) = reproduce.check(tmp_path / "bad", ["prieto2025-orthograd"])
    assert failed.problem is not None
    assert "(in transformer/)" in failed.problem and "pass --backend local" in failed.problem
    assert (tmp_path / "bad" / "prieto" / "runs.csv").is_file()  # its own smoke run went on


def test_one_subfolder_has_one_smoke_run(monkeypatch):
    """Two quantities reading one subfolder must agree on its smoke run: check runs it once
    per subfolder, so a second, different one would be read from the first's files."""
    from dataclasses import replace

    from grokinterp.experiments import reproduce
    from grokinterp.experiments.cards import prieto2025

    study = registry.load("prieto")
    card = next(c for c in study.cards if c.name == "prieto2025-orthograd")
    q = next(q for q in card.quantities if q.sub == prieto2025.TRANSFORMER)
    other = replace(q, name="other", sub_smoke={**q.sub_smoke, "seeds": [1]})
    doubled = replace(study, cards=(replace(card, quantities=(*card.quantities, other)),))
    monkeypatch.setattr(reproduce, "STUDIES", ["prieto"])
    monkeypatch.setattr(reproduce, "load", lambda name: doubled)
    with pytest.raises(RuntimeError, match="one subfolder, one smoke run"):
        reproduce.cards()
    monkeypatch.setattr(reproduce, "load", lambda name: study)
    assert len(reproduce.cards()) == len(study.cards)
