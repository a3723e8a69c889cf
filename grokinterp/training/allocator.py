"""The C allocator's settings while training: keep freed memory for the next step.

A training step allocates and frees the same large activations (for the ``nanda`` preset,
tensors of 2-8 MB) every step. glibc's ``malloc`` hands blocks above its mmap threshold
back to the kernel when they are freed, and trims the top of its heap above its trim
threshold; the next step's blocks are then fresh pages, which the kernel maps and zeroes on
first touch. Measured on 2 CPU cores (``benchmarks/bench_train.py``, the ``nanda`` step):
2.5-4.7 ms of system time per step, about 1,400 page faults, against 0.1 ms and under 100
with the settings below; the step is 5-10% faster. Small models (p = 31) do not change.

:func:`keep_freed_memory` raises both thresholds for the rest of the process: blocks up to
32 MiB come from the heap and freed memory stays with the process (up to 1 GiB above the
heap's live data) for reuse. The process therefore keeps its peak memory rather than
returning it between steps; blocks larger than 32 MiB are still returned when freed. It is
a no-op where the C library is not glibc (macOS, musl), whose allocators behave
differently.
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 1 << 30
MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit systems

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the settings (once per process); return whether they are in effect (True on
    glibc, where both ``mallopt`` calls succeed)."""
    global _applied
    if _applied is None:
        _applied = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            libc = ctypes.CDLL("libc.so.6")
            ok_trim = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            ok_mmap = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            _applied = ok_trim and ok_mmap
    return _applied
