"""Reproduction cards: a paper's claim, the authors' configuration, our number, a verdict.

A card is data. It names the paper (arXiv id); states its headline claim as one or more
:class:`Quantity` (the paper's value and the range we accept, with the reason for that
tolerance); lists the authors' configuration as :class:`Setting` s, each with where it was
read (a file and line of their released code, or a section of the paper) and, where our
study differs, our value and why; and names the study that measures it. *Our* value is never
typed in: each quantity has a reader that computes it from the study's committed files
(``studies/<name>/...``), and the verdict follows from those numbers:

* ``reproduced``: every quantity read and inside its accepted range;
* ``partly``: some quantities are inside their range (or every one read is, but not all
  could be read);
* ``not reproduced on the authors' setup``: every quantity read, none inside its range, and
  the card lists no difference from the authors' configuration, method and budget;
* ``not yet run``: the committed files are missing, or no quantity could be read.

A card whose study differs from the authors' setup (a :class:`Setting` with our value, or an
entry of ``not_run``) never says "not reproduced": its verdicts read ``reproduced on our
setup`` and ``partly, on our setup``, and where none of our values agree, ``disagrees on our
setup; not run on the authors'``, and ``grokinterp reproduce show`` lists every difference
with its reason. Where no quantity agrees but some could not be read, the verdict says how
many were read (``disagrees where read (1 of 2)``).

A quantity may be read from a subfolder of the study's folder (``Quantity.sub``): the same
study run again with other parameters (the authors' modulus where the folder's own run
scaled it, another weight decay). Its ``study.json`` must record that study with the values
the card names (``Quantity.sub_params``); anything else is refused in one line, so a
subfolder rerun with other values of those parameters cannot pass as the run the card
describes (parameters the card does not name are not checked).

``grokinterp reproduce check`` runs every card's study at its smoke scale and reads every
quantity from the fresh output, so a card whose study or reader broke fails the test suite.
A subfolder's quantity is read from a smoke run of its own code path where the quantity
names one (``Quantity.sub_smoke``: e.g. the study's other setting, added to its smoke
scale, into ``<study>/<sub>``), else from the study's own smoke run (its reader against the
study's file format). The subfolder's budgets are never run at smoke scale.

This module is the data model; the cards themselves live one module per paper beside it, named
``<firstauthor><year>`` (:mod:`~grokinterp.experiments.cards.minegishi2024`, ...), each
defining ``CARDS`` (and, where two studies measure the paper, one tuple per study, e.g.
``EFFICIENCY_CARDS`` and ``SEMI_GROKKING_CARDS``) with the readers and source constants its
cards need. A study passes its paper's cards to its ``Study``; a card module imports no study
(that would be a cycle): its readers use the data libraries (pandas, numpy) and the analysis
layer only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grokinterp.errors import RunDirError

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_YET_RUN = (
    "reproduced",
    "partly",
    "not reproduced on the authors' setup",
    "not yet run",
)
DISAGREES_ON_OUR_SETUP = "disagrees on our setup; not run on the authors'"


@dataclass(frozen=True)
class Setting:
    """One value of the authors' configuration.

    Attributes:
        what: the knob (``"batch size"``).
        theirs: the authors' value (``"512"``).
        source: where it was read: ``"repo@commit path:line"`` or ``"paper, Sec. 3"``.
        ours: our committed study's value where it differs (None: the same).
        why: why ours differs (required when it does: cost on 2 CPU cores, a model we do
            not have yet, ...).
    """

    what: str
    theirs: str
    source: str
    ours: str | None = None
    why: str = ""

    def __post_init__(self) -> None:
        if self.ours is not None and not self.why.strip():
            raise ValueError(f"setting {self.what!r}: a difference needs its reason (why=...)")


Reader = Callable[[Path], float | None]


@dataclass(frozen=True)
class Quantity:
    """One number of the claim.

    Attributes:
        name: what is measured (``"steps to 95% test accuracy, dense / ticket"``).
        paper: the paper's value; None where the paper states only a direction or a bound
            (then ``accept`` encodes it, e.g. ``(1.0, inf)`` for "grows").
        accept: the closed range of values that count as agreeing with it.
        tolerance: why that range (``"within a factor of 2: 3 seeds"``).
        read: our value from the study's folder: ``inf`` where a run never got there within
            its budget (a bound, compared like any value), None where the files hold no such
            value; it may raise only on a broken format.
        files: the files ``read`` needs, relative to the folder it reads.
        sub: the subfolder of the study's folder that ``read`` is given (``"p113"``): the
            same study run again with ``sub_params``; ``""`` (the default): the folder itself.
        sub_params: the parameters the subfolder's ``study.json`` must record (``{"long_p":
            113}``); required with ``sub``.
        sub_smoke: what ``reproduce check`` adds to the study's smoke scale to run the
            subfolder's own code path (``{"setting": "transformer", "backend": "local"}``),
            into ``<study>/<sub>``, reading the quantity from there; only with ``sub``. Empty
            (the default): check reads the quantity from the study's own smoke run.
    """

    name: str
    paper: float | None
    accept: tuple[float, float]
    tolerance: str
    read: Reader
    files: tuple[str, ...]
    sub: str = ""
    sub_params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    sub_smoke: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        lo, hi = self.accept
        if not lo <= hi:
            raise ValueError(f"quantity {self.name!r}: accept must be (low, high), low <= high")
        if bool(self.sub) != bool(self.sub_params):
            raise ValueError(
                f"quantity {self.name!r}: a subfolder (sub=...) needs the parameters its run "
                f"must have (sub_params=...), and sub_params needs sub"
            )
        if self.sub_smoke and not self.sub:
            raise ValueError(f"quantity {self.name!r}: sub_smoke runs a subfolder; it needs sub")
        if self.sub and (Path(self.sub).is_absolute() or ".." in Path(self.sub).parts):
            raise ValueError(f"quantity {self.name!r}: sub {self.sub!r} must lie inside the folder")
        if self.sub and Path(self.sub).as_posix() != self.sub:
            raise ValueError(
                f"quantity {self.name!r}: write sub as a plain relative path "
                f"({Path(self.sub).as_posix()!r}, not {self.sub!r})"
            )

    @property
    def source(self) -> str:
        """The files read, as ``reproduce show`` names them (``p113/runs.csv``)."""
        return ", ".join(f"{self.sub}/{f}" if self.sub else f for f in self.files)

    def in_folder(self) -> Quantity:
        """The same quantity read from the folder it is given, with no subfolder and nothing
        required of its ``study.json`` (``reproduce check``, which runs the study, and each
        ``sub_smoke``, once at its smoke scale)."""
        return replace(self, sub="", sub_params={}, sub_smoke={})


@dataclass(frozen=True)
class Card:
    """A reproduction card (module docstring).

    Attributes:
        name: unique, e.g. ``"minegishi2024-tickets"``.
        paper: authors and year (``"Minegishi et al. 2024"``).
        arxiv: the arXiv id (``""`` for a work not on arXiv, such as a web explorable).
        claim: the headline claim in one sentence.
        quantities: the claim as numbers.
        setup: the authors' configuration, each value with its source.
        study: the registered study that measures it.
        not_run: what of the authors' method or budget the committed study could not run,
            and why (beyond the settings that differ).
        notes: anything else a reader needs (what the study shows beyond the numbers).
    """

    name: str
    paper: str
    arxiv: str
    claim: str
    quantities: tuple[Quantity, ...]
    setup: tuple[Setting, ...]
    study: str
    not_run: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.quantities:
            raise ValueError(f"card {self.name}: state the claim as at least one quantity")

    @property
    def differences(self) -> list[str]:
        """Every way the committed study differs from the authors' setup, with why."""
        diff = [
            f"{s.what}: {s.ours} (theirs {s.theirs}): {s.why}"
            for s in self.setup
            if s.ours is not None
        ]
        return diff + list(self.not_run)


@dataclass(frozen=True)
class Reading:
    """A card read against a study folder: our values and the verdict."""

    card: Card
    values: tuple[float | None, ...]
    agree: tuple[bool | None, ...]
    verdict: str


def _check_sub(q: Quantity, where: Path, study: str) -> None:
    """Refuse a subfolder whose ``study.json`` is not ``study`` run with ``q.sub_params``."""
    record = where / "study.json"
    try:
        doc = json.loads(record.read_text())
        stored_study, params = doc["study"], doc["params"]
        if not isinstance(params, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise RunDirError(
            f"{record}: missing or not a study's record; the card reads {q.name!r} from a run "
            f"of the {study} study there: rerun it into that folder"
        ) from None
    wrong = [
        f"{k} {params.get(k)!r}, not {v!r}" for k, v in q.sub_params.items() if params.get(k) != v
    ]
    if stored_study != study or wrong:
        what = f"the study {stored_study!r}, not {study!r}" if stored_study != study else ""
        raise RunDirError(
            f"{record}: a run with {what or '; '.join(wrong)}; the card reads {q.name!r} from "
            f"the {study} study run with {dict(q.sub_params)}: rerun it with those"
        )


def _value(q: Quantity, folder: Path, study: str) -> float | None:
    """Our value, or None when the files are missing or hold none (NaN counts as none); a
    reader that returns anything but a number or None is a bug in the card."""
    where = folder / q.sub if q.sub else folder
    if not all((where / f).is_file() for f in q.files):
        return None
    if q.sub:
        _check_sub(q, where, study)
    v = q.read(where)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
        raise TypeError(f"quantity {q.name!r}: the reader returned {v!r}, not a number or None")
    return None if v is None or math.isnan(v) else float(v)


def verdict(agree: Sequence[bool | None], differs: bool) -> str:
    """The verdict that the per-quantity agreements earn (module docstring); ``differs``:
    the card lists a difference from the authors' setup."""
    known = [a for a in agree if a is not None]
    if not known:
        return NOT_YET_RUN
    if all(known):
        base = REPRODUCED if len(known) == len(agree) else PARTLY
    elif any(known):
        base = PARTLY
    elif len(known) < len(agree):
        return f"disagrees where read ({len(known)} of {len(agree)})" + (
            ", on our setup" if differs else ""
        )
    else:
        return DISAGREES_ON_OUR_SETUP if differs else NOT_REPRODUCED
    if not differs:
        return base
    return f"{base} on our setup" if base == REPRODUCED else f"{base}, on our setup"


def read_card(card: Card, folder: Path) -> Reading:
    """Our value of each quantity from ``folder`` and the verdict they earn."""
    values = tuple(_value(q, folder, card.study) for q in card.quantities)
    agree = tuple(
        None if v is None else q.accept[0] <= v <= q.accept[1]
        for q, v in zip(card.quantities, values, strict=True)
    )
    return Reading(card, values, agree, verdict(agree, bool(card.differences)))


def number(v: float | None) -> str:
    """A value as the tables show it: 3 significant digits, whole numbers from 100 up."""
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def expected(q: Quantity) -> str:
    """The paper's value, or, where the paper states only a direction or a shape, our bar for
    it (the accepted range), marked as ours."""
    if q.paper is not None:
        return number(q.paper)
    lo, hi = q.accept
    if math.isinf(hi):
        bar = f">= {number(lo)}"
    elif math.isinf(lo):
        bar = f"<= {number(hi)}"
    else:
        bar = f"{number(lo)} to {number(hi)}"
    return f"no number; our bar {bar}"


def _cell(text: str) -> str:
    """``text`` safe inside a markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def describe(reading: Reading, study_dir: str) -> str:
    """The card as text (``grokinterp reproduce show``)."""
    c = reading.card
    lines = [
        f"{c.name}: {c.paper}" + (f" (arXiv {c.arxiv})" if c.arxiv else ""),
        f"claim: {c.claim}",
        f"study: {c.study} (committed results: {study_dir})",
        f"verdict: {reading.verdict}",
        "",
        "quantities (paper / accepted range / ours):",
    ]
    for q, v, a in zip(c.quantities, reading.values, reading.agree, strict=True):
        mark = "" if a is None else (" ok" if a else " outside")
        lines.append(
            f"  {q.name}: {expected(q)} / [{number(q.accept[0])}, {number(q.accept[1])}] / "
            f"{number(v)}{mark}  ({q.tolerance}; from {q.source})"
        )
    lines += ["", "the authors' configuration (theirs; source; ours where it differs):"]
    for s in c.setup:
        ours = f"; ours: {s.ours} ({s.why})" if s.ours is not None else ""
        lines.append(f"  {s.what}: {s.theirs}  [{s.source}]{ours}")
    if c.not_run:
        lines += ["", "not run, and why:"] + [f"  - {n}" for n in c.not_run]
    if c.notes:
        lines += ["", c.notes]
    return "\n".join(lines) + "\n"


def markdown_table(rows: Sequence[tuple[Reading, str, str]]) -> str:
    """README's reproduction table: one row per card (reading, study name, runtime)."""
    out = [
        "| paper | claim | paper's value | ours | verdict | differences from the authors' "
        "setup | study (2-core runtime) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r, study, runtime in rows:
        c = r.card
        paper_vals = "; ".join(f"{q.name}: {expected(q)}" for q in c.quantities)
        ours = "; ".join(number(v) for v in r.values)
        diffs = "; ".join(s.what for s in c.setup if s.ours is not None)
        if c.not_run:
            diffs += f"{'; ' if diffs else ''}{len(c.not_run)} item(s) not run or not known"
        diffs = diffs or "none"
        paper = f"{c.paper} ({c.arxiv})" if c.arxiv else c.paper
        cells = [paper, c.claim, paper_vals, ours, f"**{r.verdict}**",
                 diffs, f"`{study}` ({runtime or 'not yet run'})"]  # fmt: skip
        out.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return "\n".join(out) + "\n"
