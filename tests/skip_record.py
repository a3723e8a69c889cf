"""Record which tests a run skipped, so that a later run can run only those.

CI runs README's test command first, on README's install (the dev extra alone); the tests
that need another extra (ray, gp, logging, complexity, docs, ...) skip there. After CI
installs the extras, ``python -m pytest -q --only-skipped`` runs exactly the tests and
modules the previous run skipped, instead of whole files again.

The record is kept in pytest's own cache (``.pytest_cache``, key ``grokinterp/skipped``):
every run writes the node ids of what it skipped (a module skipped at collection is
recorded as its path; a test skipped in setup or in its body by its own node id).
"""

from __future__ import annotations

import pytest

CACHE_KEY = "grokinterp/skipped"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--only-skipped",
        action="store_true",
        help="run only the tests and modules that the previous run skipped (recorded in "
        ".pytest_cache), e.g. after installing the extras they needed",
    )


class _Recorder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.skipped: set[str] = set()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.skipped.add(report.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped:
            self.skipped.add(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is not None:
            cache.set(CACHE_KEY, sorted(self.skipped))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Recorder(config), "grokinterp-skip-record")


def _recorded(nodeid: str, skipped: set[str]) -> bool:
    if nodeid in skipped:
        return True
    # a module (or class) skipped at collection covers every test under it
    return any(nodeid.startswith(prefix + "::") for prefix in skipped)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--only-skipped"):
        return
    cache = getattr(config, "cache", None)
    record = None if cache is None else cache.get(CACHE_KEY, None)
    if record is None:
        raise pytest.UsageError(
            "--only-skipped: no record of a previous run's skipped tests in .pytest_cache; "
            "run python -m pytest -q first (with the cache provider enabled)"
        )
    skipped = set(record)
    keep = [item for item in items if _recorded(item.nodeid, skipped)]
    dropped = [item for item in items if not _recorded(item.nodeid, skipped)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep
