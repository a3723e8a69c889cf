"""The options that several commands share, each declared and validated in one place, and
the argparse types and the config-field flags the commands build on.

Only the config is imported here (the parser needs it); torch is imported by
:func:`device` and :func:`set_threads` when they run.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Any, Literal, NoReturn, Union, get_args, get_origin

from grokinterp.config import SECTIONS, TrainConfig, config_flags, replace
from grokinterp.presets import PRESETS

# the sweep backends (grokinterp.sweeps.BACKENDS; a test keeps them equal)
BACKENDS = ["local", "ensemble", "ray", "ray-ensemble"]


class Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (the usage block is what ``--help`` is for)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog if self.prog.startswith("grokinterp ") else "grokinterp"
        self.exit(2, f"grokinterp: error: {message} (see `{command} --help`)\n")


# -- argparse types ---------------------------------------------------------------------


def list_of(kind: type) -> Callable[[str], list[Any]]:
    """An argparse type for comma-separated values of ``kind`` (int or float), at least one."""

    def parse(text: str) -> list[Any]:
        try:
            values = [kind(x) for x in text.split(",") if x.strip()]
        except ValueError:
            values = []
        if not values:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__} values, got {text!r}"
            )
        return values

    return parse


int_list, float_list = list_of(int), list_of(float)


def out_path(text: str) -> Path:
    """An argparse type: a directory to write. An empty or blank one is refused (``Path("")``
    is the current directory, which ``--force`` would empty: what ``--out "$RUN"`` gives with
    ``RUN`` unset), and so is one with a NUL byte (no file system takes it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"empty path; give a directory (got {text!r}: an unset shell variable?)"
        )
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot hold a NUL byte")
    return Path(text)


def in_path(text: str) -> Path:
    """An argparse type: a file or directory to read (not empty or blank, no NUL byte)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"empty path {text!r}; give a file or directory")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot hold a NUL byte")
    return Path(text)


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def device(text: str) -> str:
    """An argparse type: a torch device this machine has (checked before anything runs)."""
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown torch device {text!r}; use cpu, cuda or cuda:N"
        ) from None
    if dev.type not in ("cpu", "cuda", "mps"):  # meta holds no data; xpu, hpu, ... untested
        raise argparse.ArgumentTypeError(
            f"device type {dev.type!r} is not supported; use cpu, cuda, cuda:N or mps"
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(
            f"{text!r}: this torch ({torch.__version__}) sees no CUDA GPU; use cpu"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available here; use cpu")
    return text


# -- the shared options -----------------------------------------------------------------


def add_out(p: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    """``--out``: the directory the command writes (never an empty path)."""
    p.add_argument("--out", type=out_path, default=None, required=required, help=help)


def add_force(p: argparse.ArgumentParser, help: str) -> None:
    """``--force``: delete what is in the output directory first."""
    p.add_argument("--force", action="store_true", help=help)


def add_no_progress(p: argparse.ArgumentParser, what: str = "bar") -> None:
    """``--no-progress``; :func:`progress` reads it."""
    p.add_argument("--no-progress", action="store_true", help=f"hide the progress {what}")


def progress(args: argparse.Namespace) -> bool:
    """Progress bars (with the time left) on a terminal, unless ``--no-progress``; a
    redirected stderr (a log file, a pipe) stays free of them."""
    return not args.no_progress and sys.stderr.isatty()


def add_threads(p: argparse.ArgumentParser, default: int | None, help: str) -> None:
    """``--threads``: torch's intra-op threads, at least 1; :func:`set_threads` applies it
    before the command runs (None: torch's choice)."""
    p.add_argument("--threads", type=positive_int, default=default, help=help)


def set_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` if the command has it and it was given (or has a default)."""
    threads = getattr(args, "threads", None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def add_backend(p: argparse.ArgumentParser, default: str | None, help: str | None = None) -> None:
    """``--backend``: which sweep backend trains the runs."""
    p.add_argument("--backend", choices=BACKENDS, default=default, help=help)


def add_device(p: argparse.ArgumentParser, help: str = "torch device (default: cpu)") -> None:
    """``--device``: a torch device this machine has."""
    p.add_argument("--device", type=device, default="cpu", help=help)


def add_log_to(p: argparse.ArgumentParser) -> None:
    """``--log-to`` and ``--wandb-project``: where else the metrics go."""
    p.add_argument(
        "--log-to",
        type=list_of(str),
        default=[],
        metavar="tensorboard,wandb",
        help="also log the metrics to TensorBoard (RUN_DIR/tensorboard) and/or "
        "Weights & Biases (WANDB_MODE=offline keeps it local); the logging extra",
    )
    p.add_argument(
        "--wandb-project", default="grokinterp", help="W&B project (default: grokinterp)"
    )


def add_base(p: argparse.ArgumentParser, preset: str, note: str = "") -> None:
    """``--preset`` / ``--config``: the base config of an experiment (see
    :func:`base_from_args`)."""
    p.add_argument(
        "--preset",
        default=preset,
        choices=sorted(PRESETS),
        help=f"base config (default: {preset}{note})",
    )
    p.add_argument("--config", type=Path, default=None, help="base config.json instead")


def base_from_args(args: argparse.Namespace) -> dict[str, str]:
    """The sweep base of an experiment (``efficiency``, ``interventions``): --config if
    given, else --preset."""
    return {"config": str(args.config)} if args.config else {"preset": args.preset}


def print_report(out: Path) -> int:
    """Print a study's ``OUT/report.txt`` (every study command ends with it); exit 0."""
    print((out / "report.txt").read_text().rstrip())
    return 0


# -- a flag for every config field --------------------------------------------------------


def _parser_for(typ: Any, flag: str) -> Callable[[str], Any]:
    """The argparse type of a config field of type ``typ`` (a Literal, bool, int, float,
    str, or one of these or None)."""
    origin = get_origin(typ)
    options = get_args(typ) if origin in (Union, UnionType) else (typ,)
    nullable = type(None) in options
    base = next(o for o in options if o is not type(None))

    def parse(text: str) -> Any:
        if nullable and text.lower() in ("none", "null"):
            return None
        if get_origin(base) is Literal:
            if text not in get_args(base):
                raise argparse.ArgumentTypeError(
                    f"expected one of {list(get_args(base))}, got {text!r}"
                )
            return text
        if base is bool:
            if text.lower() in ("1", "true", "yes"):
                return True
            if text.lower() in ("0", "false", "no"):
                return False
            raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {base.__name__}{' or none' if nullable else ''}, got {text!r}"
            ) from None

    parse.__name__ = flag
    return parse


def _metavar(typ: Any) -> str:
    base = typ
    if get_origin(typ) in (Union, UnionType):
        base = next(a for a in get_args(typ) if a is not type(None))
    if get_origin(base) is Literal:
        return "{" + ",".join(get_args(base)) + "}"
    return str(base.__name__).upper()


# reStructuredText in docstrings: a cross-reference role (:func:`~a.b.c`, :mod:`a.b`) and
# literal text (``x``, `x`)
_RST_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|obj|exc):`(~?)([^`]+)`")
_RST_LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")


def plain_help(text: str) -> str:
    """``text`` (a docstring's reStructuredText) as the plain text of a ``--help`` line:
    ``x`` and `x` become x, :func:`~a.b.c` becomes c and :mod:`a.b` a.b; whitespace runs
    become one space, and ``%`` is escaped for argparse."""
    text = _RST_ROLE.sub(lambda m: m[2].rsplit(".", 1)[-1] if m[1] else m[2], text)
    text = _RST_LITERAL.sub(lambda m: m[1] or m[2], text)
    return " ".join(text.split()).replace("%", "%%")


def _doc_for(section: str, name: str) -> str:
    """The field's description from the ``Args:`` section of its dataclass docstring, as
    plain text."""
    doc = inspect.getdoc(SECTIONS.get(section, TrainConfig)) or ""
    m = re.search(rf"^    ([\w, ]*\b{name}\b[\w, ]*): (.*(?:\n        .*)*)", doc, re.M)
    return plain_help(m.group(2)) if m else ""


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """A flag for every config field, grouped by config section (``train``, ``nonneural``);
    :func:`config_from_args` applies the ones given."""
    for section in [*SECTIONS, ""]:
        title = f"{section} config" if section else "run config"
        group = p.add_argument_group(title)
        for flag, (sec, name, typ) in config_flags().items():
            if sec != section:
                continue
            group.add_argument(
                f"--{flag}",
                dest=f"cfg__{sec}__{name}",
                type=_parser_for(typ, flag),
                default=None,
                metavar=_metavar(typ),
                help=_doc_for(sec, name),
            )


def config_from_args(args: argparse.Namespace, base: TrainConfig) -> TrainConfig:
    """``base`` with the config-field flags given on the command line applied."""
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if key.startswith("cfg__") and value is not None:
            _, section, name = key.split("__")
            overrides.setdefault(section, {})[name] = value
    return replace(base, overrides)
