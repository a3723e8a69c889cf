"""Running a registered study: :func:`run_study` (the Python and command-line entry point),
which records the study and its parameters in ``study.json`` before it starts, and decides
whether the output folder may be written:

* missing or empty: the study runs there;
* holding a ``study.json`` of the same study and the same parameters: the study resumes
  (finished runs are reused); a larger step budget (a parameter declared with
  ``param(..., budget=True)``) extends the runs that trained to the old one; more seeds or
  arms (a parameter declared with ``param(..., grows=True)``, every earlier item kept) adds
  their runs;
* the study's own committed folder (``studies/<name>``, written before ``study.json``
  existed): resumed likewise, so the committed results can be regenerated in place;
* anything else (other files, another study, other parameters): refused with one line that
  says what differs, unless ``force``, which empties the folder first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grokinterp._version import __version__
from grokinterp.errors import ConfigError, RunDirError, UserError
from grokinterp.experiments.contract import (
    PARAMS_FILE,
    Study,
    StudyResult,
    param_docs,
    params_to_dict,
)
from grokinterp.experiments.registry import load
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.layout import claim_dir, config_diffs


def write_params(out_dir: Path, study: str, params: Any) -> None:
    """Record the study and the parameters it ran with in ``out_dir/study.json``."""
    doc = {"study": study, "params": params_to_dict(params), "grokinterp_version": __version__}
    atomic_write_text(out_dir / PARAMS_FILE, json.dumps(doc, indent=2) + "\n")


# parameters that say how a study runs, not what it computes: resuming may change them
_EXECUTION = {"force", "threads", "device", "backend", "workers"}


def _claim(out: Path, study: Study, params: Any, force: bool) -> None:
    """Make ``out`` ready for ``study`` with ``params`` (module docstring)."""
    record = out / PARAMS_FILE
    refusal = (
        "holds files that are not this study's; choose another folder, or pass force "
        "(--force) to delete them and start over"
    )
    if record.is_file() and not force:
        try:
            doc = json.loads(record.read_text())
            stored_study, stored = doc["study"], doc["params"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RunDirError(f"{record}: unreadable; {refusal}") from None
        if stored_study != study.name:
            raise RunDirError(
                f"{out}: holds the study {stored_study!r}, not {study.name!r}; choose another "
                f"folder, or pass force (--force) to delete it and start over"
            )
        new = params_to_dict(params)
        docs = param_docs(study.params)
        budgets = {d.name for d in docs if d.budget}
        extended = {  # a larger budget extends the runs (the sweep continues them)
            k for k in budgets
            if isinstance(stored.get(k), int) and isinstance(new.get(k), int)
            and new[k] > stored[k]
        } | {  # more seeds or arms, every earlier one kept: their runs are added
            d.name for d in docs
            if d.grows and isinstance(stored.get(d.name), list)
            and isinstance(new.get(d.name), list)
            and all(item in new[d.name] for item in stored[d.name])
        }  # fmt: skip
        diffs = config_diffs(
            {k: v for k, v in stored.items() if k not in _EXECUTION | extended},
            {k: v for k, v in new.items() if k not in _EXECUTION | extended},
        )
        if diffs:
            growing = sorted(d.name for d in docs if d.grows)
            larger = f" (a larger {', '.join(sorted(budgets))} extends it)" if budgets else ""
            if growing:
                larger += f" (more {', '.join(growing)}, the earlier ones kept, add runs)"
            raise RunDirError(
                f"{out}: holds this study run with other parameters ({'; '.join(diffs)}); "
                f"give the same ones to resume{larger}, another folder, or force (--force) to "
                f"start over"
            )
        return
    committed = study.committed is not None and (
        out.resolve() == (Path(__file__).resolve().parents[2] / study.committed).resolve()
    )
    claim_dir(out, force=force, refusal=refusal, keep=committed)


def run_study(
    name: str,
    out_dir: str | Path,
    params: Any = None,
    *,
    progress: bool = True,
    static: bool | None = None,
    force: bool = False,
) -> StudyResult:
    """Run study ``name`` into ``out_dir`` with ``params`` (its ``Params``; default: the
    defaults), recording them in ``out_dir/study.json`` first; ``force`` empties a folder
    that holds anything else (module docstring)::

        from grokinterp.experiments import tickets
        from grokinterp.experiments.runner import run_study

        result = run_study("tickets", "studies/mine", tickets.Params(p=67, steps=30000))
        result.tables["summary"], result.report
    """
    study = load(name)
    params = study.params() if params is None else params
    if not isinstance(params, study.params):
        raise TypeError(
            f"study {name}: params must be {study.params.__qualname__}, got "
            f"{type(params).__qualname__}"
        )
    if not str(out_dir).strip():
        raise ConfigError(f"study {name}: empty output directory; give a folder")
    out = Path(out_dir)
    created = not out.exists()
    # a study with its own `force` parameter (it deletes its sweep folder) forces this too
    forced = force or bool(getattr(params, "force", False))
    _claim(out, study, params, forced)
    record = out / PARAMS_FILE
    previous = record.read_text() if record.is_file() else None
    before = {p.name for p in out.iterdir()} if out.is_dir() else set()
    write_params(out, study.name, params)
    try:
        return study.run(out, params, progress=progress, static=static)
    except UserError:
        # refused: put the record back as it was, so that a corrected command (or, on a
        # resume, the command the folder was made with) is not refused for it
        if previous is not None:
            # a resume the sweep refused (say, a larger budget over runs whose configs
            # changed). In a study of several sweeps, one may already have been extended:
            # it then holds more than the record says, and the larger budget resumes it
            atomic_write_text(record, previous)
        elif {p.name for p in out.iterdir()} <= before | {PARAMS_FILE}:
            # refused before it wrote anything (a bad spec, a modulus the task cannot take)
            record.unlink()
            if created and not any(out.iterdir()):
                out.rmdir()  # leave no folder behind that a run never used
        raise
