"""Command-line flags generated from a study's ``Params`` (see
:mod:`grokinterp.experiments.contract`): one flag per field, named after it (``lu_steps`` ->
``--lu-steps``), typed by its annotation, with its help, unit, default and the paper's value.

Validation stays in the library (``Params.__post_init__``): this module only turns text
into the field's type.
"""

from __future__ import annotations

import argparse
import types
from dataclasses import MISSING
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from grokinterp.cli.options import device, plain_help
from grokinterp.experiments.contract import ParamDoc, param_docs

_DEST = "param__"
# an optional positional argument not given (argparse would run a string default through
# the type function, and passes SUPPRESS through for positionals)
_ABSENT = object()


def _base(typ: Any) -> tuple[Any, bool]:
    """The type without ``| None``, and whether None is allowed."""
    if get_origin(typ) in (Union, types.UnionType):
        options = [a for a in get_args(typ) if a is not type(None)]
        return options[0], True
    return typ, False


def _scalar(typ: Any, flag: str) -> Any:
    """An argparse type function for one value of ``typ``."""
    names = {int: "an integer", float: "a number", str: "a string", Path: "a path"}

    def parse(text: str) -> Any:
        if typ is bool:
            if text.lower() in ("1", "true", "yes"):
                return True
            if text.lower() in ("0", "false", "no"):
                return False
            raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
        if get_origin(typ) is Literal:
            if text not in get_args(typ):
                raise argparse.ArgumentTypeError(
                    f"expected one of {list(get_args(typ))}, got {text!r}"
                )
            return text
        if typ is Path and not text.strip():
            raise argparse.ArgumentTypeError("empty path")
        try:
            return typ(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {names.get(typ, typ.__name__)}, got {text!r}"
            ) from None

    parse.__name__ = flag
    return parse


def _parser(typ: Any, nullable: bool, flag: str) -> Any:
    """An argparse type function for a field: lists are comma-separated; ``none`` is None
    where the field allows it."""
    if get_origin(typ) is tuple:
        one = _scalar(get_args(typ)[0], flag)

        def parse_list(text: str) -> Any:
            if nullable and text.lower() in ("none", "null"):
                return None
            # an empty text is the empty list (Params decides whether that is allowed)
            return tuple(one(x.strip()) for x in text.split(",") if x.strip())

        parse_list.__name__ = flag
        return parse_list
    one = _scalar(typ, flag)
    if not nullable:
        return one

    def parse_nullable(text: str) -> Any:
        return None if text.lower() in ("none", "null") else one(text)

    parse_nullable.__name__ = flag
    return parse_nullable


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) if value else "none given"
    return "none" if value is None else str(value)


def _help(doc: ParamDoc) -> str:
    text = doc.help
    if doc.unit:
        text += f" [{doc.unit}]"
    text += f" (default: {_show(doc.default)}"
    if doc.paper:
        text += f"; the paper: {doc.paper}"
    if doc.budget:
        text += "; a larger value extends a folder's runs"
    if doc.grows:
        text += "; more, the earlier ones kept, add runs to a folder"
    return plain_help(text + ")")


def add_params(parser: argparse.ArgumentParser, params_cls: type) -> None:
    """A flag (or a positional argument) for every field of ``params_cls``."""
    group = parser.add_argument_group("study parameters")
    for doc in param_docs(params_cls):
        flag = doc.name.replace("_", "-")
        typ, nullable = _base(doc.type)
        dest = _DEST + doc.name
        if typ is bool and not doc.positional:
            group.add_argument(
                f"--{flag}" if not doc.default else f"--no-{flag}",
                dest=dest,
                action="store_const",
                const=not doc.default,
                default=argparse.SUPPRESS,
                help=_help(doc),
            )
            continue
        metavar = (
            "{" + ",".join(get_args(typ)) + "}"
            if get_origin(typ) is Literal
            else flag.upper().replace("-", "_")
        )
        kind = _parser(typ, nullable, flag)
        if doc.name == "device" and typ is str:
            kind = device  # checked against this machine before anything runs
        if doc.positional:  # optional on the command line when the field has a default
            optional = doc.default is not MISSING
            group.add_argument(
                dest, type=kind, metavar=metavar, help=_help(doc),
                nargs="?" if optional else None, default=_ABSENT,
            )  # fmt: skip
        else:
            # lists: comma-separated, or as several words (`--parts a b`, as before the
            # flags were generated)
            group.add_argument(
                f"--{flag}",
                dest=dest,
                type=kind,
                nargs="+" if get_origin(typ) is tuple else None,
                default=argparse.SUPPRESS,
                metavar=metavar,
                help=_help(doc),
            )


def params_from_args(args: argparse.Namespace, params_cls: type) -> Any:
    """``params_cls`` with the values given on the command line (flags not given are absent
    from ``args``: argparse.SUPPRESS); the others keep their defaults."""
    given = {
        k[len(_DEST) :]: v
        for k, v in vars(args).items()
        if k.startswith(_DEST) and v is not _ABSENT
    }
    for name, value in given.items():
        if isinstance(value, list):  # nargs="+": one tuple per word, joined
            given[name] = None if None in value else tuple(x for part in value for x in part)
    return params_cls(**given)
