"""One writer per directory: an advisory lock on the directory itself.

``train`` holds the lock of its run directory, ``analyze`` that of the run's ``analysis/``
folder and ``sweep`` that of its sweep directory, for as long as they write. A second
writer is refused with one line naming the process that holds the lock. The lock is
``flock`` on an open descriptor of the directory: no lock file is created, nothing is left
behind, and the kernel releases it when the holder exits however it exits (a ``kill -9``
included), so a stale lock cannot block anyone. (POSIX systems; on a network file system
that does not support ``flock``, the lock is not taken and a note says so once.)
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grokinterp.errors import RunDirError

_warned = False


def _holder(fd: int) -> str:
    """`` (pid N)`` of the process holding the flock on ``fd``'s inode, from Linux's
    /proc/locks; empty where that is not available."""
    st = os.fstat(fd)
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].endswith(f":{st.st_ino}"):
            return f" (pid {parts[4]})"
    return ""


@contextmanager
def dir_lock(path: Path, what: str) -> Iterator[None]:
    """Hold the lock of directory ``path`` (created if missing, and removed again if the
    block leaves it empty) for the ``with`` block.

    Raises RunDirError ``{path}: another grokinterp process (pid N) is writing this
    {what} ...`` when another process holds it.
    """
    global _warned
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: is a file, not a directory; choose another path")
    top = path  # the outermost directory this call creates, if any
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"{path}: cannot create the directory ({e.strerror})") from None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError(
                f"{path}: another grokinterp process{_holder(fd)} is writing this {what}; "
                f"wait for it to finish, or stop it first"
            ) from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            if not _warned:
                print(f"grokinterp: note: {path}: locks are not supported here", file=sys.stderr)
                _warned = True
        yield
    finally:
        os.close(fd)  # releases the lock
        if created:  # a command that failed before writing leaves no empty directory
            _remove_empty(path, top)


def _remove_empty(path: Path, top: Path) -> None:
    """Remove ``path`` and its parents up to ``top`` while they are empty."""
    while True:
        try:
            path.rmdir()  # only succeeds on an empty directory
        except OSError:
            return
        if path == top:
            return
        path = path.parent
