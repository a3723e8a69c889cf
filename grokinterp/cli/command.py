"""How a command is registered: one :class:`Command` value names it, declares its
arguments and runs it; the parser and the dispatch are both built from the list of them."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Callable, Iterable, Sequence
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


def add_commands(
    parser: argparse.ArgumentParser, groups: Sequence[tuple[str, Sequence[Command]]]
) -> None:
    """The subcommands of ``parser`` (``args.command`` names the one given), each with its
    arguments; ``parser``'s help lists them under the titles of ``groups`` (its epilog:
    argparse has no groups of subcommands)."""
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND",
        help="one of the commands below; `grokinterp COMMAND --help` gives its options",
    )  # fmt: skip
    for _, commands in groups:
        for c in commands:
            c.add_arguments(sub.add_parser(c.name, description=c.description))
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = grouped_list(groups)


def grouped_list(groups: Sequence[tuple[str, Sequence[Command]]], width: int = 0) -> str:
    """Each group's title and its commands, one a line with its help, wrapped to ``width``
    columns (0: the terminal's, as argparse does, at most 100)."""
    width = width or min(100, shutil.get_terminal_size().columns - 2)
    name_width = max(len(c.name) for _, commands in groups for c in commands) + 2
    lines: list[str] = []
    for title, commands in groups:
        lines += ["", f"{title}:"]
        for c in commands:
            wrapped = textwrap.wrap(c.help, max(30, width - name_width - 2)) or [""]
            lines.append(f"  {c.name:<{name_width}}{wrapped[0]}")
            lines += [" " * (name_width + 2) + more for more in wrapped[1:]]
    return "\n".join(lines[1:])
