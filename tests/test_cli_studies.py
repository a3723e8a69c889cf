"""The study commands generated from each study's Params: every flag parses into the field
it names, old command names still run, bad values are one line and exit 2, and every card
runs through `grokinterp reproduce check` (each study end to end at smoke scale)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re

import pytest

from grokinterp.cli import COMMANDS, main
from grokinterp.cli.params import params_from_args
from grokinterp.cli.studies import STUDY_OF, route, study_parser
from grokinterp.experiments.contract import param_docs, params_from, params_to_dict
from grokinterp.experiments.registry import STUDIES, load
from grokinterp.viz import report as viz_report


@pytest.fixture(autouse=True)
def _no_png_export(monkeypatch):
    # the commands write PNGs when kaleido and a Chromium are installed; these tests are
    # about the commands, not the export (tests/viz/test_report.py tests it)
    monkeypatch.setattr(viz_report, "static_export_available", lambda: False)


def _argv(values: dict[str, object], docs: dict[str, object]) -> list[str]:
    """Command-line arguments that set ``values`` (Params field -> plain JSON value)."""
    argv: list[str] = []
    for name, value in values.items():
        doc = docs[name]
        if isinstance(value, bool):
            if value != doc.default:  # type: ignore[attr-defined]
                argv.append(f"--{'no-' if doc.default else ''}{name.replace('_', '-')}")  # type: ignore[attr-defined]
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        argv += [text] if doc.positional else [f"--{name.replace('_', '-')}", text]  # type: ignore[attr-defined]
    return argv


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_parameter_has_a_flag_that_sets_it(name, tmp_path):
    study = load(name)
    docs = {d.name: d for d in param_docs(study.params)}
    for values in (params_to_dict(study.params()), dict(study.smoke)):
        expected = params_from(study.params, values, name)
        args = study_parser(study, f"grokinterp study run {name}").parse_args(
            ["--out", str(tmp_path), *_argv(values, docs)]
        )
        assert params_from_args(args, study.params) == expected
    # nothing given: the defaults
    args = study_parser(study, "p").parse_args(
        ["--out", str(tmp_path)] + [str(d.default) for d in docs.values() if d.positional]
    )
    assert dataclasses.asdict(params_from_args(args, study.params)) == dataclasses.asdict(
        study.params()
    )


def test_old_command_names_route_to_their_study():
    assert route(["tickets", "--out", "x"]) == ("tickets", "grokinterp tickets", ["--out", "x"])
    assert route(["efficiency", "study", "--out", "x"])[0] == "efficiency"
    assert route(["efficiency", "semi", "--out", "x"])[0] == "semi-grokking"
    assert route(["study", "run", "kernels", "--p", "7"])[0] == "kernels"
    assert route(["efficiency", "curves", "--out", "x"]) is None  # a tool, not a study
    assert route(["train", "--preset", "quick"]) is None
    for alias in STUDY_OF:
        assert alias in COMMANDS  # listed in `grokinterp --help`


def test_old_forms_of_arguments_still_parse(tmp_path):
    study = load("prediction")
    args = study_parser(study, "grokinterp prediction-study").parse_args(
        [str(tmp_path), "--parts", "add_p19", "heldout_add_p29"]  # words, as before
    )
    assert params_from_args(args, study.params).parts == ("add_p19", "heldout_add_p29")
    assert args.out == tmp_path
    phases = load("phase-diagram")
    args = study_parser(phases, "grokinterp phases").parse_args(["--out", str(tmp_path)])
    assert params_from_args(args, phases.params) == phases.params()  # the spec's default
    tickets = load("tickets")
    assert study_parser(tickets, "t").parse_args(["--out", "x"]).threads == 1


def test_a_study_runs_under_its_old_name(tmp_path, capsys):
    out = tmp_path / "t"
    argv = ["tickets", "--out", str(out), "--seeds", "0", "--sparsities", "0.5",
            "--steps", "100", "--p", "7", "--base-target", "0", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "Grokking tickets" in capsys.readouterr().out
    assert (out / "summary.csv").is_file() and (out / "study.json").is_file()


def test_a_bad_parameter_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["study", "run", "tickets", "--out", str(tmp_path), "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "steps must be at least 100" in err
    assert list(tmp_path.iterdir()) == []  # nothing written
    with pytest.raises(SystemExit) as e:
        main(["study", "run", "tickets", "--out", str(tmp_path), "--steps", "many"])
    assert e.value.code == 2
    assert main(["study", "run", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown study 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["study", "run", "tickets", "--out", ""])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["study", "run", "--help"])  # lists the studies, does not loop back to itself
    assert e.value.code == 0
    assert "tickets" in capsys.readouterr().out


def test_study_list_and_reproduce_list_and_show(capsys):
    assert main(["study", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in STUDIES)
    assert main(["reproduce", "list"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    from grokinterp.experiments.reproduce import cards

    assert len(rows) == len(cards())
    assert main(["reproduce", "show", "minegishi2024-tickets"]) == 0
    shown = capsys.readouterr().out
    assert "gouki510/Grokking-Tickets" in shown and "verdict:" in shown
    assert main(["reproduce", "show", "nope"]) == 2


def test_reproduce_table_writes_between_the_markers(tmp_path):
    from grokinterp.experiments.reproduce import BEGIN, END

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{BEGIN}\nstale table\n{END}\nafter\n")
    assert main(["reproduce", "table", "--write", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(f"# x\n{BEGIN}\n| paper |") and text.endswith(f"{END}\nafter\n")
    assert "stale table" not in text
    readme.write_text("no markers")
    assert main(["reproduce", "table", "--write", str(readme)]) == 2
    assert readme.read_text() == "no markers"


@pytest.mark.slow
def test_reproduce_check_runs_every_card_through_main(tmp_path, capsys):
    assert main(["reproduce", "check", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 0 failed(, \d+ skipped)?", last), last
    for study in [load(n) for n in STUDIES]:
        if not study.cards:
            continue
        installed = all(importlib.util.find_spec(m) for m in study.needs)
        assert (tmp_path / study.name / "study.json").is_file() == installed
        assert (f"{study.name}, 0.0 s)  skipped: needs" in out) == (not installed)


def test_help_lists_every_command():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "grokinterp.cli", "--help"], capture_output=True, text=True
    ).stdout
    for name in COMMANDS:
        assert name in out


def test_a_study_never_overwrites_what_is_not_its_own(tmp_path, capsys):
    """A folder with other files, another study or other parameters is refused (exit 2,
    every file as it was); the same parameters resume; --force starts over."""
    smoke = ["--seeds", "0", "--sparsities", "0.5", "--steps", "100", "--p", "7",
             "--base-target", "0", "--no-progress"]  # fmt: skip
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.txt").write_text("my notes")
    assert main(["tickets", "--out", str(mine), *smoke]) == 2
    assert "holds files that are not this study's" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["report.txt"]
    assert (mine / "report.txt").read_text() == "my notes"

    out = tmp_path / "t"
    assert main(["tickets", "--out", str(out), *smoke]) == 0
    summary = (out / "summary.csv").read_text()
    assert main(["tickets", "--out", str(out), *smoke, "--threads", "2"]) == 0  # resumes
    assert (out / "summary.csv").read_text() == summary
    capsys.readouterr()
    assert main(["tickets", "--out", str(out), *smoke[:-1], "--p", "11"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "p: stored 7, given 11" in err
    assert main(["study", "run", "gromov", "--out", str(out), "--p", "7"]) == 2
    assert "holds the study 'tickets'" in capsys.readouterr().err
    assert (out / "summary.csv").read_text() == summary
    assert main(["tickets", "--out", str(mine), *smoke, "--force"]) == 0
    assert not (mine / "report.txt").read_text() == "my notes"


def test_a_study_refused_before_it_writes_leaves_the_folder_as_it_was(tmp_path, capsys):
    """A refusal from inside the study (here: a modulus its task cannot take) leaves no
    study.json behind, in a folder it made and in an empty one that was there, so the
    corrected command runs."""
    bad = ["--p", "8", "--tasks", "div", "--fractions", "0.5", "--seeds", "0",
           "--max-steps", "5", "--no-progress"]  # fmt: skip
    made = tmp_path / "made"
    assert main(["study", "run", "power", "--out", str(made), *bad]) == 2
    assert "p must be prime" in capsys.readouterr().err
    assert not made.exists()
    there = tmp_path / "there"
    there.mkdir()
    assert main(["study", "run", "power", "--out", str(there), *bad]) == 2
    assert list(there.iterdir()) == []
    good = [*bad[:1], "7", *bad[2:]]
    assert main(["study", "run", "power", "--out", str(there), *good]) == 0


def test_reproduce_run_reruns_the_study_and_each_subfolder_as_committed(
    tmp_path, monkeypatch, capsys
):
    """`reproduce run` trains the study's own folder with its committed parameters, then each
    subfolder a quantity reads with the parameters of its committed study.json; a subfolder
    with no committed record is one line, and a broken record stops before anything runs."""
    import json
    import shutil
    from pathlib import Path

    from grokinterp.errors import RunDirError
    from grokinterp.experiments import reproduce

    calls = []
    monkeypatch.setattr(
        reproduce,
        "run_study",
        lambda name, out, params, progress: calls.append((name, out, params)),
    )
    studies = tmp_path / "studies"
    (studies / "prieto" / "p113").mkdir(parents=True)
    real = reproduce.studies_root() / "prieto" / "p113" / "study.json"
    shutil.copy(real, studies / "prieto" / "p113" / "study.json")
    monkeypatch.setenv(reproduce.ENV, str(studies))
    out = tmp_path / "out"

    assert (
        main(["reproduce", "run", "prieto2025-stablemax", "--out", str(out), "--no-progress"]) == 0
    )
    study = load("prieto")
    committed = json.loads(real.read_text())["params"]
    assert calls == [
        ("prieto", out, params_from(study.params, study.committed_params, "prieto")),
        ("prieto", out / "p113", params_from(study.params, committed, "prieto")),
    ]
    assert calls[1][2].long_p == 113 and calls[1][2].arms == ("stablemax", "softmax64", "softmax32")

    calls.clear()  # the transformer's record is not in this studies/ folder
    assert (
        main(["reproduce", "run", "prieto2025-orthograd", "--out", str(out), "--no-progress"]) == 0
    )
    assert [c[1] for c in calls] == [out]
    assert "transformer/: not run: no committed transformer/study.json" in capsys.readouterr().out

    calls.clear()
    (studies / "prieto" / "p113" / "study.json").write_text("{")
    with pytest.raises(RunDirError, match=r"p113/study.json: not a study record"):
        reproduce.rerun("prieto2025-stablemax", Path(out), progress=False)
    assert calls == []
