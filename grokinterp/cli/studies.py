"""``grokinterp study ...`` and the study commands, generated from the study registry.

``grokinterp study list`` lists the registered studies; ``grokinterp study run NAME --out DIR
[--PARAM VALUE ...]`` runs one, with a flag for every field of its ``Params``
(:mod:`grokinterp.cli.params`). The command names the studies had before the registry
(``grokinterp tickets``, ``grokinterp efficiency study``, ...) still work: each is the same
generated command under its old name.

A study's flags are built only when that study is run (its module imports torch), so
:func:`route` recognises a study invocation in ``argv`` before the main parser does.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grokinterp.cli.command import Command
from grokinterp.cli.efficiency import EFFICIENCY
from grokinterp.cli.options import (
    Parser,
    add_force,
    add_no_progress,
    add_threads,
    out_path,
    progress,
)
from grokinterp.experiments.registry import STUDIES

if TYPE_CHECKING:
    from grokinterp.experiments.contract import Study

# old command names whose output directory was a positional argument
_POSITIONAL_OUT = {"prediction-study"}


def route(argv: Sequence[str]) -> tuple[str, str, list[str]] | None:
    """(study name, the command as typed, the remaining arguments) when ``argv`` runs a
    study: ``study run NAME ...``, or an old command name; else None."""
    args = list(argv)
    if len(args) >= 3 and args[:2] == ["study", "run"] and not args[2].startswith("-"):
        return args[2], f"grokinterp study run {args[2]}", args[3:]
    for e in STUDIES.values():
        for alias in e.aliases:
            words = alias.split()
            if len(words) > 1 and args[: len(words)] == words:
                return e.name, f"grokinterp {alias}", args[len(words) :]
    if args and args[0] in STUDY_OF:
        return STUDY_OF[args[0]], f"grokinterp {args[0]}", args[1:]
    return None


def study_parser(study: Study, prog: str) -> argparse.ArgumentParser:
    """The parser of one study's command: ``--out``, ``--no-progress``, ``--threads`` (unless
    the study has its own), and a flag for every parameter."""
    from grokinterp.cli.params import add_params
    from grokinterp.experiments.contract import param_docs

    where = f" Committed results: {study.committed}." if study.committed else ""
    cost = (
        f" Runtime of the committed run on 2 CPU cores: {study.runtime}." if study.runtime else ""
    )
    p = Parser(
        prog=prog,
        description=f"{study.title}. {study.paper + '.' if study.paper else ''}{where}{cost} "
        "Writes its tables (CSV), figures and report.txt into the output directory; re-running "
        "resumes.",
    )
    if prog.split()[-1] in _POSITIONAL_OUT:
        p.add_argument("out", type=out_path, help="output directory")
    else:
        p.add_argument("--out", type=out_path, required=True, help="output directory")
    add_no_progress(p, "display")
    fields = {d.name for d in param_docs(study.params)}
    if "force" not in fields:
        add_force(p, "delete whatever the output directory holds and start over")
    if "threads" not in fields:
        default = "torch's choice" if study.threads is None else str(study.threads)
        add_threads(p, study.threads, f"torch threads (default: {default})")
    add_params(p, study.params)
    return p


def run_routed(name: str, prog: str, rest: list[str]) -> int:
    """Parse ``rest`` for study ``name`` and run it; print its report."""
    from grokinterp.cli.options import set_threads
    from grokinterp.cli.params import params_from_args
    from grokinterp.experiments.registry import load
    from grokinterp.experiments.runner import run_study

    study = load(name)
    args = study_parser(study, prog).parse_args(rest)
    params = params_from_args(args, study.params)
    if not hasattr(params, "threads"):  # a study with its own threads field sets them itself
        set_threads(args)
    force = bool(getattr(args, "force", False))
    from grokinterp.runs.guard import command_inputs, protecting

    with protecting(command_inputs(vars(args), ("out",))):  # never deleted by --force
        result = run_study(name, args.out, params, progress=progress(args), force=force)
    if result.report:
        print(result.report.rstrip())
    print(
        f"{study.name}: {len(result.tables)} table(s), {len(result.figures)} figure file(s) "
        f"in {Path(args.out)}"
    )
    return 0


def _add_study(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the registered studies")
    run = actions.add_parser(
        "run",
        help="run one: grokinterp study run NAME --out DIR [--PARAM VALUE ...]",
        description="Run one study: grokinterp study run NAME --out DIR [--PARAM VALUE ...]; "
        "its parameters: grokinterp study run NAME --help.",
    )
    run.add_argument("name", choices=sorted(STUDIES), help="the study (grokinterp study list)")


def _study(args: argparse.Namespace) -> int:
    if args.action == "run":  # reached only without arguments after NAME: route() takes it
        return run_routed(args.name, f"grokinterp study run {args.name}", [])
    width = max(len(n) for n in STUDIES)
    for e in STUDIES.values():
        aliases = f"  (also: grokinterp {', grokinterp '.join(e.aliases)})" if e.aliases else ""
        print(f"{e.name:{width}s}  {e.summary}{aliases}")
    return 0


def _alias_command(name: str, summary: str) -> Command:
    """An old command name: its arguments are parsed by :func:`run_routed` (see
    :func:`route`); the entry here gives it its line in ``grokinterp --help``."""
    return Command(
        name=name,
        help=summary,
        description=summary,
        add_arguments=lambda p: None,
        run=lambda args: run_routed(STUDY_OF[name], f"grokinterp {name}", []),
    )


# the studies that were top-level commands under their own name before the registry
_OLD_NAMES = ("interventions", "omnigrok", "deep-grokking", "tickets", "critical-fraction")
# old top-level command name -> study
STUDY_OF = {
    **{a: e.name for e in STUDIES.values() for a in e.aliases if " " not in a},
    **{n: n for n in _OLD_NAMES},
}

COMMANDS = [
    Command(
        name="study",
        help="list the studies, or run one (grokinterp study run NAME --help)",
        description="The studies, one per paper: `grokinterp study list`; `grokinterp study "
        "run NAME --out DIR [--PARAM VALUE ...]` (every parameter of a study has a flag: "
        "`grokinterp study run NAME --help`).",
        add_arguments=_add_study,
        run=_study,
    ),
    EFFICIENCY,
    *[_alias_command(a, f"{STUDIES[s].summary} (= study run {s})") for a, s in STUDY_OF.items()],
]
