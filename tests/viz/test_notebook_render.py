"""In a Jupyter kernel, figures carry an HTML rendering (for static exports), and an
analysis with nothing left to compute shows no progress bar (issue 32, item 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly.io as pio
import pytest

from grokinterp.viz import notebook as N

nbformat = pytest.importorskip("nbformat", reason="install the dev extra: pip install -e .[dev]")
nbclient = pytest.importorskip("nbclient", reason="install the dev extra: pip install -e .[dev]")
pytest.importorskip("ipykernel", reason="install the dev extra: pip install -e .[dev]")

from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

QUICK = Path(__file__).resolve().parents[2] / "checkpoints" / "quick"


def _execute(cells: list[str], cwd: Path) -> list[list[dict]]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    km = KernelManager(
        kernel_name=NATIVE_KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    env_free = {"PLOTLY_RENDERER"}  # the user's choice would win; this test needs none
    client = nbclient.NotebookClient(
        nb, km=km, timeout=120, allow_errors=False, resources={"metadata": {"path": str(cwd)}}
    )
    with pytest.MonkeyPatch.context() as mp:
        for name in env_free:
            mp.delenv(name, raising=False)
        client.execute()
    return [cell["outputs"] for cell in nb.cells]


def test_figures_render_in_the_notebook_and_its_static_export(tmp_path):
    run = tmp_path / "quick"
    shutil.copytree(QUICK, run, ignore=shutil.ignore_patterns("figures"))
    outputs = _execute(
        [
            "import grokinterp\nfrom grokinterp.viz import figures as F\n"
            "grokinterp.analyze(grokinterp.Run('quick'), figures=False, progress=False)\n"
            "import plotly.io as pio\nprint(pio.renderers.default)",
            "res = grokinterp.analyze('quick', figures=False)",  # nothing left to compute
            "F.embed_freq_bars([1.0, 3.0, 2.0], [2])",
        ],
        tmp_path,
    )
    setup, again, figure = outputs
    printed = "".join(o.get("text", "") for o in setup if o["output_type"] == "stream")
    assert printed.strip().endswith(N.NOTEBOOK_RENDERER)
    # no progress bar at all (text or widget) when every checkpoint is already measured
    assert not again, again
    bundles = [o["data"] for o in figure if o["output_type"] in ("display_data", "execute_result")]
    assert any("application/vnd.plotly.v1+json" in b for b in bundles)  # live in Jupyter
    html = [b["text/html"] for b in bundles if "text/html" in b]
    assert html and any("Plotly.newPlot" in h for h in html)  # drawn by a static export


def test_the_users_renderer_is_left_alone(monkeypatch):
    monkeypatch.setattr(N, "in_jupyter_kernel", lambda: True)
    monkeypatch.delenv("PLOTLY_RENDERER", raising=False)
    monkeypatch.setattr(pio.renderers, "default", "png")
    assert not N.use_notebook_renderer()
    assert pio.renderers.default == "png"
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    monkeypatch.setenv("PLOTLY_RENDERER", "plotly_mimetype")
    assert not N.use_notebook_renderer()  # chosen through the environment
    monkeypatch.delenv("PLOTLY_RENDERER")
    assert N.use_notebook_renderer()
    assert pio.renderers.default == N.NOTEBOOK_RENDERER


def test_outside_a_kernel_nothing_changes(monkeypatch):
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    assert not N.in_jupyter_kernel()
    assert not N.use_notebook_renderer()
