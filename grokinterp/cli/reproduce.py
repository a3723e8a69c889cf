"""``grokinterp reproduce list | show NAME | run NAME --out DIR | check | table``: the
reproduction cards (:mod:`grokinterp.experiments.cards`)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from grokinterp.cli.command import Command
from grokinterp.cli.options import add_no_progress, out_path, progress


def _add(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every card: paper, claim, our value, verdict")
    show = actions.add_parser("show", help="one card in full: quantities, the authors' setup")
    show.add_argument("name", help="the card (see `grokinterp reproduce list`)")
    run = actions.add_parser(
        "run",
        help="run a card's study at the committed scale and read the card against it",
        description="Run the study that measures card NAME, with the parameters of its "
        "committed run, into OUT (and each subfolder a quantity reads, e.g. p113/, with the "
        "parameters its committed study.json records, into OUT/SUB); then read the card's "
        "quantities from OUT. "
        "To change a parameter, use `grokinterp study run STUDY --help`.",
    )
    run.add_argument("name", help="the card")
    run.add_argument("--out", type=out_path, required=True, help="output directory")
    add_no_progress(run, "display")
    check = actions.add_parser(
        "check",
        help="run every card's study at smoke scale and read every quantity (seconds each)",
    )
    check.add_argument("names", nargs="*", help="only these cards (default: all)")
    check.add_argument(
        "--out", type=out_path, default=None, help="keep the smoke runs here (default: a "
        "temporary folder, removed)"
    )  # fmt: skip
    table = actions.add_parser("table", help="README's reproduction table, from the cards")
    table.add_argument(
        "--write", type=Path, default=None, metavar="README",
        help="replace the table between its markers in this file instead of printing it",
    )  # fmt: skip


def _list() -> int:
    from grokinterp.experiments.cards import expected, number
    from grokinterp.experiments.reproduce import cards, reading

    rows = [(c.name, c.paper, reading(s, c)) for s, c in cards()]
    width = max(len(r[0]) for r in rows)
    for name, paper, r in rows:
        ours = ", ".join(
            f"{number(v)} (paper: {expected(q)})"
            for q, v in zip(r.card.quantities, r.values, strict=True)
        )
        print(f"{name:{width}s}  {r.verdict:28s}  {paper}: {ours}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from grokinterp.experiments.cards import describe
    from grokinterp.experiments.reproduce import rerun

    done = rerun(args.name, Path(args.out), progress=progress(args))
    for line in done.not_run:
        print(line)
    print(describe(done.reading, str(args.out)).rstrip())
    return 0


def _check(args: argparse.Namespace) -> int:
    from grokinterp.experiments.reproduce import check

    with tempfile.TemporaryDirectory(prefix="grokinterp-check-") as tmp:
        results = check(args.out or Path(tmp), args.names or None)
    bad = sum(r.problem is not None for r in results)
    skipped = sum(r.skipped is not None for r in results)
    for r in results:
        status = "ok" if r.problem is None else f"FAILED: {r.problem}"
        status = f"skipped: {r.skipped}" if r.skipped else status
        print(f"{r.card}  ({r.study}, {r.seconds:.1f} s)  {status}")
    print(
        f"{len(results) - bad - skipped} passed, {bad} failed"
        + (f", {skipped} skipped" if skipped else "")
    )
    return 1 if bad else 0


def _table(args: argparse.Namespace) -> int:
    from grokinterp.errors import ConfigError
    from grokinterp.experiments.reproduce import BEGIN, END, table
    from grokinterp.runs.io import atomic_write_text

    text = table()
    if args.write is None:
        print(text.rstrip())
        return 0
    readme = args.write.read_text()
    if BEGIN not in readme or END not in readme:
        raise ConfigError(
            f"{args.write}: no {BEGIN} ... {END} markers; add them where the table goes"
        )
    head, rest = readme.split(BEGIN, 1)
    atomic_write_text(args.write, f"{head}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}")
    print(f"reproduction table written to {args.write}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list()
    if args.action == "show":
        from grokinterp.experiments.cards import describe
        from grokinterp.experiments.reproduce import find, reading

        study, card = find(args.name)
        print(describe(reading(study, card), str(study.committed)).rstrip())
        return 0
    if args.action == "run":
        return _run(args)
    if args.action == "check":
        return _check(args)
    return _table(args)


COMMANDS = [
    Command(
        name="reproduce",
        help="reproduction cards: each paper's claim, the authors' setup, our number, a verdict",
        description="A card states a paper's headline claim as numbers, the authors' "
        "configuration with where each value was read, the study that measures it, and our "
        "value read from the study's committed files, with a verdict that follows from them.",
        add_arguments=_add,
        run=_reproduce,
    )
]
