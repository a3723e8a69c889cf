"""Where a step's time goes: wall time per aten operator, measured in place.

``OpTimes`` is a ``TorchDispatchMode`` that times every operator call as the code runs,
backward included (on CPU the autograd engine runs in the calling thread), so each call is
timed where it sits in the step, with whatever it pays there: fresh memory, threads
waking up. ``torch.profiler`` served less well on 2 CPU cores: it put a ReLU inside the
step at 0.3-1.1 ms, against 0.02-0.1 ms timed here and alone. The table also gives the
time outside operators: Python, autograd bookkeeping, file writes.

Used by ``bench_train.py --ops`` and ``bench_sweep.py --ops``.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode


class OpTimes(TorchDispatchMode):
    """Seconds and calls per operator while the mode is active."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        name = str(func.overloadpacket.__name__)
        self.seconds[name] += time.perf_counter() - t
        self.calls[name] += 1
        return out


def op_table(run: Callable[[], Any], steps: int, top: int = 15, title: str = "") -> str:
    """Run ``run()`` (which takes ``steps`` steps) under :class:`OpTimes` and return a table:
    the ``top`` operators by time per step, the rest, and the time outside operators."""
    timer = OpTimes()
    t = time.perf_counter()
    with timer:
        run()
    total = time.perf_counter() - t
    in_ops = sum(timer.seconds.values())
    lines = [
        f"{title}: {total / steps * 1e3:.2f} ms/step under the timer, "
        f"{in_ops / steps * 1e3:.2f} ms in {sum(timer.calls.values()) / steps:.0f} operator "
        f"calls, {(total - in_ops) / steps * 1e3:.2f} ms outside them",
        f"  {'operator':<34}{'ms/step':>9}{'share':>8}{'calls/step':>12}{'us/call':>9}",
    ]
    ranked = sorted(timer.seconds.items(), key=lambda kv: -kv[1])
    for name, sec in ranked[:top]:
        n = timer.calls[name]
        lines.append(
            f"  {name:<34}{sec / steps * 1e3:9.3f}{sec / total:8.1%}"
            f"{n / steps:12.1f}{sec / n * 1e6:9.1f}"
        )
    rest = sum(sec for _, sec in ranked[top:])
    lines.append(f"  {'(other operators)':<34}{rest / steps * 1e3:9.3f}{rest / total:8.1%}")
    lines.append(
        f"  {'(outside operators)':<34}{(total - in_ops) / steps * 1e3:9.3f}"
        f"{(total - in_ops) / total:8.1%}"
    )
    return "\n".join(lines)
