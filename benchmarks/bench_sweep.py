"""Sweep throughput: 16 small same-shape runs, ensemble vs local pool vs one after another.

The 16 runs are a small 1-layer transformer (d_model 32, 4 heads of 8, d_mlp 128) on
a + b mod 23 with 16 seeds, full batch, ``--steps`` steps each (default 300), logged every
10 steps, few checkpoints. Each backend trains all 16 into a fresh directory in this run:

* sequential: ``grokinterp.train`` for each run, one after another;
* local: ``grokinterp sweep`` with a pool of one process per core;
* ensemble: ``grokinterp sweep --backend ensemble`` (one batched computation).

Prints runs per minute and the ratio against sequential.
Run: ``python benchmarks/bench_sweep.py [--runs 16] [--steps 300]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from grokinterp.experiments.sweep import expand, run_sweep
from grokinterp.training import train


def make_spec(runs: int, steps: int) -> dict:
    return {
        "base": {"preset": "quick"},
        "overrides": {
            "p": 23,
            "train_fraction": 0.5,
            "d_model": 32,
            "d_head": 8,
            "d_mlp": 128,
            "max_steps": steps,
            "log_every": 10,
            "ckpt_log_count": 3,
            "ckpt_log_until": 10,
            "ckpt_every": steps,
        },
        "seeds": list(range(runs)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    spec = make_spec(args.runs, args.steps)
    tmp = Path(tempfile.mkdtemp())
    print(
        f"torch {torch.__version__}, {os.cpu_count()} cores; {args.runs} runs of "
        f"{args.steps} steps (p=23, d_model 32, d_mlp 128)"
    )
    try:
        times = {}
        t = time.perf_counter()
        for r in expand(spec):
            train(r.config, tmp / "seq" / r.name, progress=False)
        times["sequential"] = time.perf_counter() - t
        for backend in ("local", "ensemble"):
            t = time.perf_counter()
            table = run_sweep(spec, tmp / backend, backend=backend, progress=False)
            times[backend] = time.perf_counter() - t
            assert (table["status"] == "done").all(), table
        for name, sec in times.items():
            print(
                f"{name:>10}: {sec:7.1f} s, {args.runs / sec * 60:6.1f} runs/min, "
                f"{times['sequential'] / sec:4.1f}x sequential"
            )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
