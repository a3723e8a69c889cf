"""The ``grokinterp`` command line.

Every user mistake ends in one line on stderr (``grokinterp: error: ...``) and exit
status 2, with nothing on disk lost.

Each command is one :class:`~grokinterp.cli.command.Command` in the ``COMMANDS`` list of
its module (:mod:`~grokinterp.cli.runs`, :mod:`~grokinterp.cli.sweeps`,
:mod:`~grokinterp.cli.studies`); :func:`build_parser` and :func:`main`'s dispatch are both
built from them. The shared options live in :mod:`~grokinterp.cli.options`. The parser
needs only the config: each command imports its implementation (and torch, TransformerLens,
plotly with it, seconds of imports) when it runs, so that ``grokinterp --help`` answers at
once.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading

from grokinterp._version import __version__
from grokinterp.cli import reproduce, runs, studies, sweeps
from grokinterp.cli.command import Command, add_commands, index
from grokinterp.cli.options import BACKENDS, Parser, set_threads
from grokinterp.config import config_flags
from grokinterp.errors import UserError

__all__ = ["BACKENDS", "COMMANDS", "GROUPS", "Command", "build_parser", "config_flags", "main"]

# `grokinterp --help` lists the commands in these groups, in this order (each command in
# exactly one: checked below)
_ALL = index(runs.COMMANDS, sweeps.COMMANDS, studies.COMMANDS, reproduce.COMMANDS)
_GROUP_NAMES: list[tuple[str, list[str]]] = [
    ("runs: train a model, inspect and look after its run directory",
     ["train", "info", "repair", "import-legacy", "export", "analytic", "nonneural"]),
    ("analysis: progress measures, figures, comparisons, predictions",
     ["analyze", "compare", "predict"]),
    ("sweeps: many runs from one spec", ["sweep"]),
    ("studies and reproduction: one study per paper, each claim a reproduction card",
     ["study", "reproduce", *(c.name for c in studies.COMMANDS if c.name != "study")]),
]  # fmt: skip
GROUPS: list[tuple[str, list[Command]]] = [
    (title, [_ALL[n] for n in names]) for title, names in _GROUP_NAMES
]
# every command by name, in the order of `grokinterp --help`
COMMANDS: dict[str, Command] = index(*(commands for _, commands in GROUPS))
if set(COMMANDS) != set(_ALL):  # a new command must be given a group
    raise ValueError(f"commands in no group of `grokinterp --help`: {set(_ALL) - set(COMMANDS)}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="grokinterp",
        description="Train grokking models with dense checkpoints and dissect them.",
    )
    parser.add_argument("--version", action="version", version=f"grokinterp {__version__}")
    add_commands(parser, GROUPS)
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that writers close as for Ctrl-C (a
    BaseException, like KeyboardInterrupt: no `except Exception` swallows it)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _os_error_line(e: OSError) -> str:
    """One line for an error of the file system (a full disk, a read-only directory)."""
    where = f"{e.filename}: " if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"{where}{e.strerror} while writing; nothing written before is lost (every file "
            f"is replaced atomically): free space, then run the command again (--resume "
            f"for train)"
        )
    return f"{where}{e.strerror or e}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit status: 0 success, 1 a sweep with failed runs, 2 a
    user error (one line on stderr), 130 interrupted by Ctrl-C (SIGINT), 143 stopped by
    SIGTERM. An interrupted or killed command loses nothing written before; train and sweep
    continue where they stopped when run again (train with --resume)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    routed = studies.route(argv)  # a study's flags are built only when it runs
    args = None if routed else build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        # a file-size limit (RLIMIT_FSIZE) raises EFBIG in the write instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    else:
        previous = None
    try:
        if routed is not None:
            return studies.run_routed(*routed)
        assert args is not None
        set_threads(args)
        from grokinterp.runs.guard import command_inputs, protecting

        # what the command reads is never deleted by its --force
        with protecting(command_inputs(vars(args), _OUTPUTS.get(args.command, ("out",)))):
            return COMMANDS[args.command].run(args)
    except UserError as e:
        print(f"grokinterp: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout closed early (`grokinterp ... | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush does not fail again
        return 141
    except OSError as e:
        print(f"grokinterp: error: {_os_error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"grokinterp: interrupted; {_AGAIN}", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"grokinterp: terminated (SIGTERM); {_AGAIN}", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# the arguments that name what a command writes (every other path argument is an input)
_OUTPUTS = {"import-legacy": ("run_dir",)}

_AGAIN = "nothing written is lost; run the same command again to continue (train: --resume)"
