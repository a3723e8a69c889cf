"""The study contract: every study of :mod:`grokinterp.experiments` has the same shape.

A study is one module that declares

* ``Params``: a frozen dataclass, every field declared with :func:`param` (what it is, its
  unit, the paper's value where there is one); ``__post_init__`` validates the values and
  names the *parameter* in its one-line :class:`~grokinterp.errors.ConfigError` (never a
  command-line flag: the library does not know how it was called);
* ``run(out_dir, params, *, progress=True, static=None) -> StudyResult``: trains what it
  needs (resumably), writes its tables (CSV), figures and ``report.txt`` into ``out_dir``;
* ``STUDY = Study(...)``: its name, title, paper, ``Params``, ``run``, the committed results
  (``studies/<name>``), the parameters of a seconds-long smoke run, and its reproduction
  cards (declared in its paper's module of :mod:`grokinterp.experiments.cards`);

and one line in :mod:`grokinterp.experiments.registry`. The command line generates
``grokinterp study run NAME`` and its flags from ``Params`` (one flag per field, the help
from the field's metadata), so a parameter is declared once, with its default, here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Union, get_args, get_origin

from grokinterp.errors import ConfigError

if TYPE_CHECKING:
    from grokinterp.experiments.cards import Card

REPORT = "report.txt"
PARAMS_FILE = "study.json"  # the study's name and the Params it last ran with
# run and sweep directories inside a study's folder: not the study's own tables
_RUN_DIRS = {"run", "runs", "sweep", "sweeps", "masks"}


def param(
    default: Any,
    help: str,
    *,
    unit: str | None = None,
    paper: str | None = None,
    positional: bool = False,
    budget: bool = False,
    grows: bool = False,
) -> Any:
    """A field of a study's ``Params``: its default and documentation.

    Args:
        default: the value used when none is given (lists as tuples: Params are frozen).
        help: one line: what the parameter is (shown by ``--help`` and in the docs).
        unit: e.g. ``"steps"``, ``"pairs"``, ``"fraction of all pairs"``.
        paper: the paper's value and where it was read, when the study scales it down,
            e.g. ``"100000 (Fig. 1)"``.
        positional: on the command line a positional argument rather than a flag (for the
            commands whose first argument has always been positional).
        budget: the step budget the study's sweep trains every run to (``optim.max_steps``):
            a study folder may be resumed with a larger value, which extends its runs
            (:func:`grokinterp.sweeps.engine.run_sweep` continues the runs that trained to
            the old budget); a smaller one is refused like any other change.
        grows: a tuple of independent items the study trains separately (seeds, arms): a
            study folder may be resumed with more of them, every earlier one kept, which
            trains the added ones and reuses the runs already there (the sweeps take added
            runs); dropping one is refused like any other change.
    """
    meta = {
        "help": help,
        "unit": unit,
        "paper": paper,
        "positional": positional,
        "budget": budget,
        "grows": grows,
    }
    if isinstance(default, list):
        raise TypeError("a Params default must be immutable: give a tuple, not a list")
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ParamDoc:
    """One parameter of a study, as the docs and ``--help`` show it."""

    name: str
    type: Any
    default: Any
    help: str
    unit: str | None
    paper: str | None
    positional: bool
    budget: bool = False
    grows: bool = False


def param_docs(params_cls: type) -> list[ParamDoc]:
    """The documented fields of a ``Params`` class, in declaration order."""
    hints = typing.get_type_hints(params_cls)
    docs = []
    for f in dataclasses.fields(params_cls):
        meta = f.metadata
        if "help" not in meta:
            raise TypeError(f"{params_cls.__qualname__}.{f.name}: declare it with param()")
        docs.append(
            ParamDoc(
                name=f.name,
                type=hints[f.name],
                default=f.default,
                help=meta["help"],
                unit=meta.get("unit"),
                paper=meta.get("paper"),
                positional=bool(meta.get("positional")),
                budget=bool(meta.get("budget")),
                grows=bool(meta.get("grows")),
            )
        )
    return docs


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """``value`` (from JSON or a mapping) as the field's type: lists become tuples, numbers
    are checked; anything else is a one-line error."""
    origin = get_origin(typ)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(typ) if a is not type(None)]
        if value is None and len(options) < len(get_args(typ)):
            return None
        return _coerce(value, options[0], where)
    if origin is Literal:
        if value not in get_args(typ):
            raise ConfigError(f"{where}: expected one of {list(get_args(typ))}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, get_args(typ)[0], where) for v in value)
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if typ is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported parameter type {typ!r}")


class _Params(Protocol):
    """What every study's ``Params`` is: a frozen dataclass."""

    __dataclass_fields__: dict[str, Any]


def params_from(params_cls: type[Any], values: Mapping[str, Any], study: str) -> Any:
    """``params_cls`` from a mapping (a card's smoke values, a ``study.json``): unknown names
    and values of the wrong type are one-line :class:`ConfigError` s naming the study."""
    docs = {d.name: d for d in param_docs(params_cls)}
    unknown = sorted(set(values) - set(docs))
    if unknown:
        raise ConfigError(f"study {study}: unknown parameter(s) {unknown}; known: {sorted(docs)}")
    return params_cls(
        **{k: _coerce(v, docs[k].type, f"study {study}: {k}") for k, v in values.items()}
    )


def params_to_dict(params: Any) -> dict[str, Any]:
    """A ``Params`` as plain JSON values (tuples as lists, paths as strings)."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        return str(v) if isinstance(v, Path) else v

    return {f.name: plain(getattr(params, f.name)) for f in dataclasses.fields(params)}


@dataclass(frozen=True)
class StudyResult:
    """What a study's ``run`` returns: where everything went, and what it found.

    Attributes:
        out_dir: the study's folder.
        tables: CSV tables written, by file name without ``.csv`` (``"summary"``), relative
            to ``out_dir`` when in a subfolder (``"curves/curves"``).
        figures: figure files written (HTML and, when static export is available, PNG).
        report: the text of ``report.txt`` (what the study printed for a person).
        verdicts: for studies that test a paper's predictions: prediction -> ``"held"``,
            ``"did not hold"`` or ``"undecided"``.
        data: the study's own rich result for Python callers (a DataFrame, a dataclass), or
            None.
    """

    out_dir: Path
    tables: dict[str, Path]
    figures: tuple[Path, ...]
    report: str
    verdicts: dict[str, str] = field(default_factory=dict)
    data: Any = None


def collect(out_dir: str | Path, *, verdicts: Mapping[str, str] | None = None,
            data: Any = None) -> StudyResult:  # fmt: skip
    """The :class:`StudyResult` of a study folder as it is on disk: its CSV tables (outside
    the run and sweep directories), its figures and ``report.txt``."""
    out = Path(out_dir)

    def own(p: Path) -> bool:
        return not (set(p.relative_to(out).parts[:-1]) & _RUN_DIRS)

    tables = {
        str(p.relative_to(out).with_suffix("")): p for p in sorted(out.rglob("*.csv")) if own(p)
    }
    figures = tuple(
        p
        for p in sorted(out.rglob("*"))
        if p.suffix in (".png", ".html") and "figures" in p.relative_to(out).parts and own(p)
    )
    report = (out / REPORT).read_text() if (out / REPORT).is_file() else ""
    return StudyResult(out, tables, figures, report, dict(verdicts or {}), data)


RunFn = Callable[..., StudyResult]


@dataclass(frozen=True)
class Study:
    """A registered study (see the module docstring).

    Attributes:
        name: its one name, across the library, the command line and ``studies/``.
        title: one line: what it measures.
        paper: the paper it tests, with its arXiv id (``"Minegishi et al. 2024, arXiv
            2310.19470"``), or ``""`` for a tool-like study.
        params: the ``Params`` dataclass.
        run: ``run(out_dir, params, *, progress=True, static=None) -> StudyResult``.
        committed: where the committed results live, relative to the repository
            (``"studies/grokking_tickets"``), or None.
        smoke: ``Params`` values that run the whole study in seconds (``reproduce check``
            and the test suite run it so).
        cards: its reproduction cards.
        runtime: the committed run's wall time on 2 CPU cores, as measured.
        threads: torch's thread count by default on the command line (None: torch's
            choice; 1 where the committed run used 1 on shared cores).
        committed_params: the committed run's parameters where they differ from the
            defaults (``grokinterp reproduce run`` runs with them).
        needs: modules of optional extras the study cannot run without (``gpytorch``: the
            ``gp`` extra); ``reproduce check`` reports such a study as skipped where they
            are missing.
    """

    name: str
    title: str
    paper: str
    params: type[Any]
    run: RunFn
    committed: str | None
    smoke: Mapping[str, Any]
    cards: Sequence[Card] = ()
    runtime: str = ""
    threads: int | None = None
    committed_params: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        param_docs(self.params)  # every field documented (the smoke values are checked by
        # the test suite: they may name files of the source checkout)


# -- validation helpers: each raises one ConfigError naming the parameter ------------------


def check_positive(name: str, value: float, *, minimum: float = 1) -> None:
    """``value`` is at least ``minimum``."""
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {value}")


def check_ascending(name: str, values: Sequence[float], *, minimum: float = 1) -> None:
    """``values`` are distinct, ascending, non-empty and at least ``minimum``."""
    if not values or list(values) != sorted(set(values)) or values[0] < minimum:
        raise ConfigError(
            f"{name}: give distinct values >= {minimum:g} in ascending order, got {list(values)}"
        )


def check_open_unit(name: str, values: Sequence[float]) -> None:
    """Every value lies in (0, 1)."""
    bad = [v for v in values if not 0.0 < v < 1.0]
    if bad or not values:
        raise ConfigError(f"{name} must be in (0, 1), got {list(values)}")


def check_choices(
    name: str, values: Sequence[str], choices: Sequence[str], *, of: str = ""
) -> None:
    """``values`` are distinct, non-empty, and each one of ``choices`` (``of`` names where
    the choices come from, e.g. ``"of setting mlp "``)."""
    unknown = [v for v in values if v not in choices]
    if unknown or not values or len(set(values)) != len(values):
        raise ConfigError(
            f"{name}: give distinct {name} {of}from {list(choices)}, got {list(values)}"
        )


def check_nonempty(name: str, values: Sequence[Any]) -> None:
    """At least one value."""
    if not values:
        raise ConfigError(f"{name}: give at least one value")
