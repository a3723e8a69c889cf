"""The skip record CI uses to run, after installing the extras, only what README's run skipped."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

MODULE_SKIPPED = """
import pytest
pytest.importorskip("{module}")

def test_needs_it():
    pass
"""

SOME_SKIPPED = """
import os
import pytest

def test_always():
    pass

@pytest.mark.skipif(not os.environ.get("EXTRA"), reason="extra missing")
def test_marked():
    pass

@pytest.mark.parametrize("k", [1, 2])
def test_in_body(k):
    if k == 2 and not os.environ.get("EXTRA"):
        pytest.skip("extra missing")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest("from skip_record import *  # noqa: F403\n")
    pytester.makepyfile(
        test_mod=MODULE_SKIPPED.format(module="a_module_nobody_has"), test_some=SOME_SKIPPED
    )
    return pytester


def test_only_skipped_runs_exactly_what_the_previous_run_skipped(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = project.runpytest()
    first.assert_outcomes(passed=2, skipped=3)  # the module, the marked test, one parameter
    # the extra "arrives": the marked and in-body skips now pass; the module stays skipped
    monkeypatch.setenv("EXTRA", "1")
    second = project.runpytest("--only-skipped")
    second.assert_outcomes(passed=2, skipped=1, deselected=2)
    # what ran: the two that skipped before, not the two that had passed
    third = project.runpytest("--only-skipped")  # the record now: the module alone
    third.assert_outcomes(skipped=1, deselected=4)


def test_a_module_skipped_at_collection_runs_whole_once_it_imports(
    project: pytest.Pytester,
) -> None:
    project.runpytest().assert_outcomes(passed=2, skipped=3)
    project.makepyfile(test_mod=MODULE_SKIPPED.format(module="json"))
    project.runpytest("--only-skipped").assert_outcomes(passed=1, skipped=2, deselected=2)


def test_only_skipped_without_a_record_says_so_in_one_line(project: pytest.Pytester) -> None:
    result = project.runpytest("--only-skipped")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--only-skipped: no record*run python -m pytest -q first*"])
