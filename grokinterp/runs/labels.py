"""The corrupted training labels of a run (``TaskConfig.label_noise``), kept in its directory.

A run trained with label corruption (Doshi et al. 2024, arXiv 2310.13061;
:func:`grokinterp.tasks.dataset.corrupt_labels`) writes ``corrupted_labels.csv`` when it
starts: one line per corrupted training example, ``pair`` (its row in the task's pair
order, :attr:`grokinterp.tasks.Dataset.inputs`), ``a`` and ``b`` (its operands; empty for a
feature task), ``true_label`` and ``train_label`` (the wrong label it is trained on). The
labels are rebuilt from ``config.json`` whenever the run is read or resumed; a resumed run
checks that the file still says what the config draws (a file edited by hand, or a draw
changed between versions of the toolkit, is refused rather than trained on silently).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from grokinterp.errors import RunDirError
from grokinterp.runs.io import atomic_write_text
from grokinterp.tasks import Dataset

CORRUPTED_LABELS = "corrupted_labels.csv"
COLUMNS = ("pair", "a", "b", "true_label", "train_label")


def corruption_table(ds: Dataset) -> pd.DataFrame:
    """One row per corrupted training example of ``ds`` (columns :data:`COLUMNS`), in pair
    order; empty when no label is corrupted."""
    rows = ds.corrupted.nonzero().flatten()
    pairs = not ds.inputs.is_floating_point()
    return pd.DataFrame(
        {
            "pair": rows.numpy(),
            "a": ds.inputs[rows, 0].numpy() if pairs else pd.NA,
            "b": ds.inputs[rows, 1].numpy() if pairs else pd.NA,
            "true_label": ds.true_labels[rows].numpy(),
            "train_label": ds.labels[rows].numpy(),
        },
        columns=list(COLUMNS),
    )


def _text(ds: Dataset) -> str:
    buf = io.StringIO()
    corruption_table(ds).to_csv(buf, index=False)
    return buf.getvalue()


def record_corruption(run_dir: Path, ds: Dataset, *, resume: bool) -> None:
    """Write ``corrupted_labels.csv`` for a fresh run; for a resumed one, check that it
    matches ``ds`` (rewrite it if it was deleted)."""
    path = run_dir / CORRUPTED_LABELS
    text = _text(ds)
    if resume and path.is_file():
        if path.read_text() != text:
            raise RunDirError(
                f"{path}: does not list the corrupted labels that config.json draws (edited, "
                f"or written by another version of the toolkit); train into another "
                f"directory, or pass --force to start over"
            )
        return
    atomic_write_text(path, text)


def read_corruption(run_dir: str | Path) -> pd.DataFrame:
    """The corrupted training examples a run recorded (columns :data:`COLUMNS`).

    Raises:
        RunDirError: the run has no ``corrupted_labels.csv`` (it was trained without
            ``label_noise``) or the file is not that table.
    """
    path = Path(run_dir) / CORRUPTED_LABELS
    if not path.is_file():
        raise RunDirError(
            f"{run_dir}: no {CORRUPTED_LABELS}; the run was trained without label corruption "
            f"(task.label_noise 0)"
        )
    try:
        table = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as e:
        raise RunDirError(f"{path}: not a CSV table ({e}); the run directory is damaged") from None
    if tuple(table.columns) != COLUMNS:
        raise RunDirError(f"{path}: columns {list(table.columns)}, expected {list(COLUMNS)}")
    return table
