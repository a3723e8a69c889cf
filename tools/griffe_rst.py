"""A Griffe extension for the API reference (``mkdocs.yml``: mkdocstrings' ``extensions``):
the docstrings' reStructuredText cross-reference roles read as code in Markdown.

The docstrings are Google style with reStructuredText inline markup: ````x```` is already a
code span in Markdown, but a role such as ``:func:`~grokinterp.runs.io.atomic_write``` would
show its ``:func:`` prefix. It becomes ```atomic_write``` (the last part, as Sphinx shows a
``~`` reference) or the full dotted name.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|obj|exc|py:\w+):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with every cross-reference role turned into a code span."""
    return _ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)


class RstRoles(griffe.Extension):
    """Rewrite the roles of every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
