"""Start-up cost: `import grokinterp` and `grokinterp --help`, against references measured
in the same run.

References: a bare interpreter (``python -c pass``) and ``import torch`` (what the command
line would pay if it loaded the package's implementation eagerly). Each command runs in a
fresh process ``--repeat`` times; the median wall time is reported.
Run: ``python benchmarks/bench_startup.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import torch": [sys.executable, "-c", "import torch"],
    "import grokinterp": [sys.executable, "-c", "import grokinterp"],
    "grokinterp --help": [sys.executable, "-m", "grokinterp", "--help"],
}


def median_seconds(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    t = {name: median_seconds(cmd, args.repeat) for name, cmd in COMMANDS.items()}
    bare, torch_ = t["python -c pass"], t["import torch"]
    for name, secs in t.items():
        print(
            f"{name:>18}: {secs * 1000:7.0f} ms  ({secs / bare:4.1f}x a bare interpreter, "
            f"{secs / torch_:4.2f}x import torch)"
        )


if __name__ == "__main__":
    main()
