"""Package attributes loaded on first use (PEP 562), so that importing a package does not
import what only some of its users need (torch, TransformerLens's bridge, plotly).

A package names the module that defines each lazy attribute::

    __getattr__ = lazy_attributes(__name__, {"Run": "grokinterp.runs.run"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``where[name]`` the first time ``name`` is read
    and keeps the value in the package, so later reads cost nothing."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
