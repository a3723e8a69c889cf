"""README and the documentation pages: every relative link resolves to a file of the
repository, and every page of the site's navigation exists. (CI also builds the site with
``mkdocs build --strict``, which checks anchors and the API reference; this test needs no
MkDocs.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"):
            continue  # a URL
        if not (page.parent / target).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files {broken}"


def _nav_files(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _nav_files(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _nav_files(value)


def test_every_page_of_the_navigation_exists():
    # mkdocs.yml has no custom YAML tags, so the safe loader reads it
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    missing = []
    for name in _nav_files(config["nav"]):
        # pages under repo/ are the repository's own files, copied in by tools/mkdocs_hooks.py
        path = ROOT / name[len("repo/") :] if name.startswith("repo/") else ROOT / "docs" / name
        if not path.is_file():
            missing.append(name)
    assert not missing, f"mkdocs.yml names pages that do not exist: {missing}"


def test_readme_keeps_its_generated_tables_and_two_commands():
    text = (ROOT / "README.md").read_text()
    for marker in ("repro-table", "perf-table"):
        assert f"<!-- {marker}:begin -->" in text and f"<!-- {marker}:end -->" in text
    assert 'pip install torch==2.13.0 && pip install -e ".[dev]"' in text
    assert "python -m pytest -q" in text
    # the CPU build's index, for machines without a CUDA GPU
    assert "--index-url https://download.pytorch.org/whl/cpu" in text


def _hooks():
    """tools/mkdocs_hooks.py (needs MkDocs: the docs extra)."""
    import importlib.util

    pytest.importorskip("mkdocs", reason="the docs extra (MkDocs) is not installed")
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "tools/mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_cli_reference_has_every_command_and_study():
    from grokinterp.cli import COMMANDS
    from grokinterp.experiments.registry import STUDIES

    text = _hooks().cli_reference()
    for name in COMMANDS:
        assert f"### grokinterp {name}\n" in text
    for name in STUDIES:
        assert f"### grokinterp study run {name}\n" in text
    assert "``" not in text.replace("```", "")  # no RST literal in any help text


def test_the_generated_presets_table_has_every_preset():
    from grokinterp.presets import PRESETS

    table = _hooks().presets_table()
    assert [line.split("`")[1] for line in table.splitlines()[2:]] == list(PRESETS)
