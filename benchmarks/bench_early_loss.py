"""Cost of keeping the per-update training loss (``schedule.early_loss_steps``).

Trains the same run with ``early_loss_steps`` 0 and 500 (the default), alternating, single
trainer and a 16-member ensemble, after one untimed warm-up, and prints the ratio of their
median wall times (measured in this run; 1.00 means no cost). The losses stay in a device
tensor and are written only at the checkpoints up to step 500 and at step 500.

Run: ``python benchmarks/bench_early_loss.py [--steps N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

from grokinterp.config import replace
from grokinterp.presets import PRESETS
from grokinterp.training import train, train_ensemble


def _time(fn: Callable[..., object], *args: object) -> float:
    t = time.perf_counter()
    fn(*args, progress=False)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    base = replace(PRESETS["efficiency"], {"task": {"p": 23}, "optim": {"max_steps": args.steps}})
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # one untimed run of each trainer first: the first run in a process pays for imports
        # and allocator warm-up, which would land on whichever setting came first
        for rep in range(-1, args.repeats):
            for n in (0, 500) if rep % 2 else (500, 0):  # alternate the order
                cfg = replace(base, {"schedule": {"early_loss_steps": n}})
                d = Path(tmp) / f"{rep}_{n}"
                members = [replace(cfg, {"": {"seed": s}}) for s in range(16)]
                dirs = [d / f"m{s}" for s in range(16)]
                single = _time(train, cfg, d / "single")
                ensemble = _time(train_ensemble, members, dirs)
                if rep >= 0:
                    times.setdefault(("single", n), []).append(single)
                    times.setdefault(("ensemble of 16", n), []).append(ensemble)
    for trainer in ("single", "ensemble of 16"):
        off, on = median(times[(trainer, 0)]), median(times[(trainer, 500)])
        print(
            f"{trainer}: {args.steps} steps in {on:.2f} s keeping the loss of 500 updates, "
            f"{off:.2f} s keeping none (medians of {args.repeats}): ratio {on / off:.3f}"
        )


if __name__ == "__main__":
    main()
