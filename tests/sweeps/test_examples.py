"""The sweep specs in examples/ (README's "Reproducing the papers") stay valid."""

from pathlib import Path

import pytest

from grokinterp.sweeps.spec import expand, load_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_spec_expands_and_documents_its_command(path):
    runs = expand(load_spec(path), where=path.name)
    assert len(runs) >= 2 and len({r.name for r in runs}) == len(runs)
    # the varied field really varies between runs
    assert all(r.varied for r in runs)
    assert f"grokinterp sweep examples/{path.name}" in path.read_text()
