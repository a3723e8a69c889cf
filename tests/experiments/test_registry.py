"""The study registry and contract: every study registered once, loadable, its Params
documented and round-tripping, its smoke values valid; every card readable from the files its
study writes at smoke scale (``grokinterp reproduce check``, run through the command line in
tests/test_cli_studies.py); README's table current."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokinterp.errors import ConfigError
from grokinterp.experiments import registry
from grokinterp.experiments.contract import check_choices, param_docs, params_from, params_to_dict
from grokinterp.experiments.registry import STUDIES, Entry, load, register

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_follows_the_contract(name):
    study = load(name)
    assert study.name == name
    docs = param_docs(study.params)
    assert all(d.help for d in docs)
    default = study.params()
    assert dataclasses.is_dataclass(default)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(default, docs[0].name, docs[0].default)
    smoke = params_from(study.params, study.smoke, name)
    # a Params survives the round trip through study.json's plain values
    assert params_from(study.params, params_to_dict(smoke), name) == smoke
    assert params_from(study.params, params_to_dict(default), name) == default
    params_from(study.params, study.committed_params, name)  # the committed run's are valid


def test_names_are_unique_and_unknown_ones_are_one_line():
    with pytest.raises(ValueError, match="already registered"):
        register(Entry("tickets", "x", "y"))
    with pytest.raises(ValueError, match="already registered"):
        register(Entry("new", "x", "y", aliases=("phases",)))
    with pytest.raises(ConfigError, match="unknown study 'nope'; known: .*tickets"):
        registry.entry("nope")
    assert registry.entry("kernel-study").name == "kernels"


def test_params_from_names_the_study_and_the_parameter():
    study = load("tickets")
    with pytest.raises(ConfigError, match=r"study tickets: unknown parameter\(s\) \['nope'\]"):
        params_from(study.params, {"nope": 1}, "tickets")
    with pytest.raises(ConfigError, match="study tickets: steps: expected an integer"):
        params_from(study.params, {"steps": "many"}, "tickets")
    with pytest.raises(ConfigError, match="steps must be at least 100"):
        params_from(study.params, {"steps": 5}, "tickets")


def test_readme_reproduction_table_is_current():
    from grokinterp.experiments.reproduce import BEGIN, END, table

    text = README.read_text()
    assert BEGIN in text and END in text, "README has no generated reproduction table"
    current = text.split(BEGIN)[1].split(END)[0].strip()
    assert current == table().strip(), "run `grokinterp reproduce table --write`"


@given(
    values=st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=5),
    choices=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True),
)
def test_check_choices_accepts_exactly_distinct_nonempty_known_values(values, choices):
    ok = bool(values) and len(set(values)) == len(values) and set(values) <= set(choices)
    if ok:
        check_choices("arms", values, choices)
    else:
        with pytest.raises(ConfigError, match=r"^arms: give distinct arms from"):
            check_choices("arms", values, choices)


# parameters of a committed record that `reproduce run` need not repeat: how the run was
# executed (device, processes, threads), a side effect (ship: the package's own predictor
# file), and inputs that lived where it was made (the authors' model files; the shipped
# run the progress-measures folder analyzed, which `reproduce run` trains anew with the
# same preset rather than analyze the checkout's files in place)
NOT_REPEATED = {"device", "workers", "threads", "ship", "authors_models", "run_dir"}


@pytest.mark.parametrize("name", STUDIES)
def test_reproduce_run_repeats_the_committed_parameters(name):
    """`reproduce run` trains with Study.committed_params over the defaults: they must give
    the parameters the committed study.json records (a parameter the record predates, or an
    execution detail, aside), so a changed default cannot silently change what it reruns."""
    import json

    from grokinterp.experiments.reproduce import committed_dir

    study = load(name)
    folder = committed_dir(study) if study.committed else None
    if folder is None or not (folder / "study.json").is_file():
        pytest.skip(f"{name}: no committed study.json")
    record = json.loads((folder / "study.json").read_text())["params"]
    ours = params_to_dict(params_from(study.params, study.committed_params, name))
    differ = {
        k: (record[k], ours[k])
        for k in record.keys() & ours.keys() - NOT_REPEATED
        if record[k] != ours[k]
    }
    assert not differ, f"{name}: committed record vs committed_params: {differ}"
    # and each subfolder a card reads: its record is what `reproduce run` reruns it with
    for sub in {q.sub for card in study.cards for q in card.quantities if q.sub}:
        values = json.loads((folder / sub / "study.json").read_text())["params"]
        params_from(study.params, values, name)
