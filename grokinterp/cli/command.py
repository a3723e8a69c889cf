"""How a command is registered: one :class:`Command` value names it, declares its
arguments and runs it; the parser and the dispatch are both built from the list of them."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One ``grokinterp`` subcommand.

    Args:
        name: what the user types (``grokinterp NAME``).
        help: the one line in ``grokinterp --help``.
        description: the paragraph of ``grokinterp NAME --help``.
        add_arguments: declares the command's arguments on its own parser.
        run: runs the command on the parsed arguments; returns the exit status. It imports
            what it needs when it runs, so that the parser stays quick to build.
    """

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def index(*groups: Iterable[Command]) -> dict[str, Command]:
    """The commands of every group by name, in order; a name given twice is a bug."""
    commands: dict[str, Command] = {}
    for group in groups:
        for c in group:
            if c.name in commands:
                raise ValueError(f"command {c.name!r} is registered twice")
            commands[c.name] = c
    return commands


def add_commands(parser: argparse.ArgumentParser, commands: Iterable[Command]) -> None:
    """The subcommands of ``parser`` (``args.command`` names the one given), each with its
    arguments."""
    sub = parser.add_subparsers(dest="command", required=True)
    for c in commands:
        c.add_arguments(sub.add_parser(c.name, help=c.help, description=c.description))
