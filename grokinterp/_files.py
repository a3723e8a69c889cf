"""Reading an input file with a bound: a regular file, of at most a given size.

``/dev/zero`` never ends, a named pipe blocks until someone writes to it, and a 50 GB file
given by mistake fills the memory: each of these is refused in one line before a byte is
read. The bounds are the constants below (docs/reliability.md lists them).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from grokinterp.errors import UserError

MAX_CONFIG_BYTES = 1 << 20  # a config.json or a sweep spec: 1 MiB
MAX_TENSOR_BYTES = 8 << 30  # a checkpoint, state, mask or legacy file: 8 GiB


def read_input(
    path: str | os.PathLike[str],
    limit: int,
    what: str,
    error: type[UserError] = UserError,
) -> bytes:
    """The bytes of the regular file ``path`` (links followed), at most ``limit`` of them.

    Raises FileNotFoundError / IsADirectoryError as ``open`` would (callers word those), and
    ``error`` (one line naming ``path`` and ``what`` it should be) for anything that is not
    a regular file (a device, a pipe, a socket) or is larger than ``limit``.
    """
    path = Path(path)
    if "\0" in str(path):
        raise error(f"{str(path)!r}: a path cannot hold a NUL byte; give {what}")
    st = os.stat(path)  # FileNotFoundError for a missing file
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: not a regular file (a device, pipe or socket); give {what}")
    if st.st_size > limit:
        raise error(
            f"{path}: {st.st_size} bytes, more than the {_size(limit)} {what} may have; is "
            f"it the right file?"
        )
    with open(path, "rb") as f:
        data = f.read(st.st_size + 1)  # one byte more shows a file that grew
    if len(data) > st.st_size:  # it grew while we looked
        raise error(f"{path}: more than the {_size(limit)} {what} may have; is it the right file?")
    return data


def _size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


__all__ = ["MAX_CONFIG_BYTES", "MAX_TENSOR_BYTES", "read_input"]
