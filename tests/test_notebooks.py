"""The notebooks in notebooks/ run without errors and are committed without outputs.

Each notebook is executed in memory (never written back) by nbclient in a fresh kernel of
this interpreter, with notebooks/ as the working directory, as Jupyter would run it. The
notebooks read the shipped runs in checkpoints/, whose analysis tables are committed, so
``analyze`` there only re-reads them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="install the dev extra: pip install -e .[dev]")
nbclient = pytest.importorskip("nbclient", reason="install the dev extra: pip install -e .[dev]")
pytest.importorskip("ipykernel", reason="install the dev extra: pip install -e .[dev]")

from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = _read(path)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; "
        f"clear them before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_without_errors(path: Path) -> None:
    nb = _read(path)
    # The "python3" kernel of a spec manager that looks in no kernel directories is
    # ipykernel's own spec, which starts sys.executable: this interpreter and its venv,
    # whatever kernels the user has installed elsewhere.
    km = KernelManager(
        kernel_name=NATIVE_KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name}: a cell raised\n{e}")
    errors = [
        (i, out.get("ename"), out.get("evalue"))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: error outputs {errors}"
    ran = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") is not None for cell in ran), "a cell did not run"
