"""Running a registered study: :func:`run_study` (the Python and command-line entry point),
which records the parameters it ran with beside the study's files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grokinterp._version import __version__
from grokinterp.errors import ConfigError
from grokinterp.experiments.contract import PARAMS_FILE, StudyResult, params_to_dict
from grokinterp.experiments.registry import load
from grokinterp.runs.io import atomic_write_text


def write_params(out_dir: Path, study: str, params: Any) -> None:
    """Record the study and the parameters it ran with in ``out_dir/study.json``."""
    doc = {"study": study, "params": params_to_dict(params), "grokinterp_version": __version__}
    atomic_write_text(out_dir / PARAMS_FILE, json.dumps(doc, indent=2) + "\n")


def run_study(
    name: str,
    out_dir: str | Path,
    params: Any = None,
    *,
    progress: bool = True,
    static: bool | None = None,
) -> StudyResult:
    """Run study ``name`` into ``out_dir`` with ``params`` (its ``Params``; default: the
    defaults), recording them in ``out_dir/study.json``::

        from grokinterp.experiments import tickets
        from grokinterp.experiments.runner import run_study

        result = run_study("tickets", "studies/mine", tickets.Params(p=67, steps=30000))
        result.tables["summary"], result.report
    """
    study = load(name)
    params = study.params() if params is None else params
    if not isinstance(params, study.params):
        raise TypeError(f"study {name}: params must be {study.params.__qualname__}")
    if not str(out_dir).strip():
        raise ConfigError(f"study {name}: empty output directory; give a folder")
    out = Path(out_dir)
    result = study.run(out, params, progress=progress, static=static)
    write_params(out, study.name, params)
    return result
