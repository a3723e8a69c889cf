"""``grokinterp --help`` groups the commands; every command's help is plain text (no
reStructuredText from the docstrings it is built from), one sentence of its own per flag."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import Counter

import pytest

from grokinterp.cli import COMMANDS, GROUPS, build_parser
from grokinterp.cli.options import plain_help


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _help(*args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "grokinterp.cli", *args, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_top_level_help_groups_every_command_once():
    out = _help()
    titles = [title for title, _ in GROUPS]
    assert [t.split(":")[0] for t in titles] == ["runs", "analysis", "sweeps",
                                                 "studies and reproduction"]  # fmt: skip
    positions = [out.index(f"{t}:\n") for t in titles]
    assert positions == sorted(positions)
    named = Counter(c.name for _, commands in GROUPS for c in commands)
    assert set(named) == set(COMMANDS) and max(named.values()) == 1
    ends = [*positions[1:], len(out)]
    for (_, commands), start, end in zip(GROUPS, positions, ends, strict=True):
        section = out[start:end]
        for c in commands:
            assert f"\n  {c.name} " in section, c.name
    assert "{train," not in out  # the usage line names COMMAND, not a list of 24


@pytest.mark.parametrize("command", ["train", "nonneural"])
def test_config_flag_help_is_plain_text(command):
    out = _help(command)
    for rst in ("``", ":func:", ":mod:", ":class:", "`~"):
        assert rst not in out, f"{command} --help shows {rst!r}"
    assert "--beta1" in out and "--mlp-combine" in out


def test_no_two_flags_of_a_command_share_a_help_text():
    for name, parser in _subparsers().items():
        texts = Counter(
            a.help for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS
        )
        shared = [t for t, n in texts.items() if n > 1]
        assert not shared, f"grokinterp {name}: several flags say {shared}"


def test_the_non_neural_archs_are_described_under_arch_not_mlp_combine():
    train = _subparsers()["train"]
    helps = {a.option_strings[0]: a.help or "" for a in train._actions if a.option_strings}
    assert "GP classifier" in helps["--arch"]
    assert "GP" not in helps["--mlp-combine"] and "linear" not in helps["--mlp-combine"]
    assert helps["--beta1"] != helps["--beta2"]


def test_plain_help_turns_rst_into_text():
    assert plain_help("the ``add`` task, see :func:`~grokinterp.training.masks.save_mask`") == (
        "the add task, see save_mask"
    )
    assert plain_help(":mod:`grokinterp.training.constraints`,\n  `x` at 50%") == (
        "grokinterp.training.constraints, x at 50%%"
    )
