"""The reproduction cards of every registered study: list, show, run, check, and README's
table (``grokinterp reproduce ...``).

Our values are read from the committed study folders (``studies/<name>/``), which live in the
repository, not the package: :func:`studies_root` finds them as the shipped runs are found
(``GROKINTERP_STUDIES``, else the source checkout's ``studies/``, else ``./studies``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grokinterp.errors import ConfigError, RunDirError
from grokinterp.experiments.cards import Card, Reading, markdown_table, read_card
from grokinterp.experiments.contract import Study, params_from
from grokinterp.experiments.registry import STUDIES, load
from grokinterp.experiments.runner import run_study

ENV = "GROKINTERP_STUDIES"
BEGIN, END = "<!-- repro-table:begin -->", "<!-- repro-table:end -->"


def studies_root() -> Path:
    """The repository's ``studies/`` folder, which holds the committed results: the folder
    named by ``GROKINTERP_STUDIES``, else the ``studies/`` of the source checkout the package
    is imported from, else ``./studies``; none of them there is one line saying what to do."""
    tried = [Path(os.environ[ENV])] if os.environ.get(ENV) else []
    tried += [Path(__file__).resolve().parents[2] / "studies", Path("studies")]
    for path in tried:
        if path.is_dir():
            return path
    raise RunDirError(
        f"no committed studies found (tried {', '.join(map(str, tried))}); they ship with the "
        f"repository, not the package: clone it and set {ENV} to its studies/ folder"
    )


def committed_dir(study: Study) -> Path | None:
    """Where ``study``'s committed results are (None: it has none). ``Study.committed`` is
    written from the repository root (``studies/grokking_tickets``)."""
    if study.committed is None:
        return None
    return studies_root() / Path(study.committed).relative_to("studies")


def cards() -> list[tuple[Study, Card]]:
    """Every card of every registered study, in registry order; names are unique, and the
    quantities that read one subfolder of a study agree on its smoke run (``sub_smoke``)."""
    out, seen = [], set()
    smoke: dict[tuple[str, str], Mapping[str, Any]] = {}
    for name in STUDIES:
        study = load(name)
        for card in study.cards:
            if card.name in seen:
                raise RuntimeError(f"card {card.name!r} declared twice")
            if card.study != study.name:
                raise RuntimeError(f"card {card.name!r} names study {card.study!r}")
            for q in card.quantities:
                if q.sub and smoke.setdefault((name, q.sub), q.sub_smoke) != q.sub_smoke:
                    raise RuntimeError(
                        f"card {card.name!r}: quantity {q.name!r} runs {name}/{q.sub} at smoke "
                        f"scale with {dict(q.sub_smoke)}, another quantity with "
                        f"{dict(smoke[name, q.sub])}: one subfolder, one smoke run"
                    )
            seen.add(card.name)
            out.append((study, card))
    return out


def find(name: str) -> tuple[Study, Card]:
    """The card called ``name``; an unknown name is one line listing the known ones."""
    every = cards()
    for study, card in every:
        if card.name == name:
            return study, card
    raise ConfigError(f"unknown card {name!r}; known: {', '.join(c.name for _, c in every)}")


def reading(study: Study, card: Card) -> Reading:
    """``card`` read against its study's committed results."""
    folder = committed_dir(study)
    return read_card(card, folder if folder is not None else Path("/nonexistent"))


def table() -> str:
    """README's reproduction table, from the cards and the committed results."""
    return markdown_table([(reading(s, c), s.name, s.runtime) for s, c in cards()])


@dataclass(frozen=True)
class Rerun:
    """What :func:`rerun` ran and read."""

    reading: Reading
    not_run: tuple[str, ...]  # one line per subfolder that could not be rerun, and why


def rerun(name: str, out: Path, *, progress: bool = True) -> Rerun:
    """Run the study that measures card ``name`` as it was committed, into ``out``: the
    study's own folder with ``Study.committed_params``, then each subfolder that a quantity
    reads (``Quantity.sub``) with the parameters its committed ``study.json`` records, into
    ``out/<sub>``; then read the card from ``out``. A subfolder whose ``study.json`` is not
    committed here is not run (``not_run`` says so; its quantities read as not yet run)."""
    study, card = find(name)
    subs: dict[str, Any] = {}
    not_run = []
    named = list(dict.fromkeys(q.sub for q in card.quantities if q.sub))
    try:
        committed = committed_dir(study) if named else None
    except RunDirError:  # an installed package without the repository's studies/
        committed = None
    for sub in named:
        record = None if committed is None else committed / sub / "study.json"
        if record is None or not record.is_file():
            not_run.append(
                f"{sub}/: not run: no committed {sub}/study.json to take its parameters from "
                f"(its quantities read as not yet run)"
            )
            continue
        try:
            values = json.loads(record.read_text())["params"]
        except (ValueError, KeyError, TypeError) as e:
            raise RunDirError(f"{record}: not a study record ({e}); restore it from git") from e
        try:  # checked before any run
            subs[sub] = params_from(study.params, values, study.name)
        except ConfigError as e:
            raise ConfigError(f"{record}: {e}") from e
    run_study(study.name, out, params_from(study.params, study.committed_params, study.name),
              progress=progress)  # fmt: skip
    for sub, params in subs.items():
        run_study(study.name, out / sub, params, progress=progress)
    return Rerun(read_card(card, out), tuple(not_run))


@dataclass(frozen=True)
class Check:
    """One card checked at smoke scale: the study ran, and every quantity was readable."""

    card: str
    study: str
    seconds: float
    problem: str | None
    skipped: str | None = None  # why the study could not run here (a missing extra)


def check(out_dir: Path, names: list[str] | None = None, *, progress: bool = False) -> list[Check]:
    """Run each card's study at its smoke scale into ``out_dir/<study>`` (once per study)
    and read every quantity of the card from the fresh files: a missing file or a reader
    that raises is a problem. A quantity with ``sub_smoke`` is read from the study run at
    its smoke scale plus those values, into ``out_dir/<study>/<sub>`` (once per subfolder).
    ``names``: only these cards."""
    chosen = [(s, c) for s, c in cards() if names is None or c.name in names]
    if names is not None:
        missing = sorted(set(names) - {c.name for _, c in chosen})
        if missing:
            known = ", ".join(c.name for _, c in cards())
            raise ConfigError(f"unknown card(s) {missing}; known: {known}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise RunDirError(
            f"{out_dir}: not empty; reproduce check needs a fresh folder (a resumed study "
            f"could hide a break)"
        )
    ran: dict[tuple[str, str], tuple[float, str | None]] = {}

    def smoke(study: Study, sub: str, extra: Mapping[str, Any]) -> tuple[float, str | None]:
        """Run ``study`` at its smoke scale (plus ``extra``) into ``out_dir/<study>/<sub>``
        once; its seconds and, where it raised, the problem."""
        if (study.name, sub) not in ran:
            start = time.perf_counter()
            failed = None
            try:
                params = params_from(study.params, {**study.smoke, **extra}, study.name)
                run_study(study.name, out_dir / study.name / sub, params, progress=progress,
                          static=False)  # fmt: skip
            except Exception as e:  # reported per card; the other studies still run
                what = f" with {dict(extra)} (in {sub}/)" if sub else ""
                failed = f"the study failed at smoke scale{what}: {type(e).__name__}: {e}"
            ran[study.name, sub] = (time.perf_counter() - start, failed)
        return ran[study.name, sub]

    results = []
    for study, card in chosen:
        missing = [m for m in study.needs if importlib.util.find_spec(m) is None]
        if missing:
            why = f"needs {', '.join(missing)}, an optional extra not installed here"
            results.append(Check(card.name, study.name, 0.0, None, why))
            continue
        seconds, problem = smoke(study, "", {})
        counted = {""}
        for q in card.quantities if problem is None else ():
            sub = q.sub if q.sub_smoke else ""  # else read from the study's own smoke run
            if sub:
                more, problem = smoke(study, sub, q.sub_smoke)
                seconds += 0.0 if sub in counted else more
                counted.add(sub)
                if problem is not None:
                    break
            folder = out_dir / study.name / sub
            absent = [f for f in q.files if not (folder / f).is_file()]
            if absent:
                problem = f"{q.name}: the study wrote no {', '.join(absent)}"
                break
            try:
                read_card(Card(card.name, card.paper, card.arxiv, card.claim, (q.in_folder(),),
                               (), card.study), folder)  # fmt: skip
            except Exception as e:  # a reader that no longer fits the study's files
                problem = f"{q.name}: reading failed: {type(e).__name__}: {e}"
                break
        results.append(Check(card.name, study.name, seconds, problem))
    return results
