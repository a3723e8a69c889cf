"""Sweep throughput: 16 small same-shape runs, ensemble vs local pool vs one after another.

The 16 runs are a small 1-layer transformer (d_model 32, 4 heads of 8, d_mlp 128) on
a + b mod 23 with 16 seeds, full batch, ``--steps`` steps each (default 300), logged every
10 steps, few checkpoints. Each backend trains all 16 into a fresh directory in this run:

* sequential: ``grokinterp.train`` for each run, one after another;
* local: ``grokinterp sweep`` with a pool of one process per core;
* ensemble: ``grokinterp sweep --backend ensemble`` (one batched computation);
* with ``--ray`` also ray and ray-ensemble, on a local Ray instance started (and timed)
  before them: one Ray task per run, or per same-shape batch, each training on its node's
  scratch disk and shipping the run directories home (the cluster path).

Prints runs per minute and the ratio against sequential (and, for the Ray backends, the
ratio of their time to the matching local backend's: the overhead of going through Ray).
Each figure is the median over ``--repeats`` (default 5), with its range; ``--ops`` adds the
time per operator of one run alone and of the ensemble (``op_times.py``).
``--record`` writes the figures to ``benchmarks/results/sweep.json``; with ``--batch-size B``
the runs train on minibatches of B of their 264 training pairs (each member its own seeded
stream) and the figures go to ``benchmarks/results/sweep_minibatch.json``.
Run: ``python benchmarks/bench_sweep.py [--runs 16] [--steps 300] [--repeats 5] [--ray]
[--ops] [--batch-size B] [--record]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from op_times import op_table
from results import record, spread, summary

from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand
from grokinterp.training import train


def make_spec(runs: int, steps: int, batch_size: int | None = None) -> dict:
    spec = {
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
    if batch_size is not None:
        spec["overrides"]["batch_size"] = batch_size  # type: ignore[index]
    return spec


def time_backends(spec: dict, backends: list[str], tmp: Path) -> dict[str, float]:
    """Wall seconds of training the spec's runs one after another and with each backend,
    each into a fresh directory under ``tmp``."""
    times = {}
    t = time.perf_counter()
    for r in expand(spec):
        train(r.config, tmp / "seq" / r.name, progress=False)
    times["sequential"] = time.perf_counter() - t
    for backend in backends:
        t = time.perf_counter()
        table = run_sweep(spec, tmp / backend, backend=backend, progress=False)
        times[backend] = time.perf_counter() - t
        assert (table["status"] == "done").all(), table
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5, help="median and range over repeats")
    ap.add_argument("--ray", action="store_true", help="also the Ray backends")
    ap.add_argument("--ops", action="store_true", help="also the time per operator")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/sweep.json")
    ap.add_argument("--batch-size", type=int, default=None, help="minibatches of this size")
    args = ap.parse_args()
    spec = make_spec(args.runs, args.steps, args.batch_size)
    tmp = Path(tempfile.mkdtemp())
    print(
        f"torch {torch.__version__}, {os.cpu_count()} cores; {args.runs} runs of "
        f"{args.steps} steps (p=23, d_model 32, d_mlp 128, "
        f"{'full batch' if args.batch_size is None else f'batch {args.batch_size}'}); "
        "median (range) over "
        f"{args.repeats} repeats"
    )
    try:
        backends = ["local", "ensemble"]
        if args.ray:
            import ray  # the ray extra

            t = time.perf_counter()
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            print(f"ray.init: {time.perf_counter() - t:.1f} s (once per session, not counted)")
            backends += ["ray", "ray-ensemble"]
        repeats = []
        for i in range(args.repeats):
            repeats.append(time_backends(spec, backends, tmp / str(i)))
            shutil.rmtree(tmp / str(i))
        figures: dict = {"runs": args.runs, "steps": args.steps, "batch_size": args.batch_size}
        for name in repeats[0]:
            secs = [r[name] for r in repeats]
            ratio = [r["sequential"] / r[name] for r in repeats]
            figures[name] = {"seconds": summary(secs), "vs_sequential": summary(ratio)}
            vs = {"ray": "local", "ray-ensemble": "ensemble"}.get(name)
            over = (
                f", {statistics.median([r[name] / r[vs] for r in repeats]):4.2f}x the {vs} "
                "backend's time"
                if vs
                else ""
            )
            print(
                f"{name:>12}: {spread(secs, '{:.1f}')} s, "
                f"{args.runs / statistics.median(secs) * 60:6.1f} runs/min, "
                f"{spread(ratio, '{:.1f}')}x sequential{over}"
            )
        if args.record:
            record("sweep" if args.batch_size is None else "sweep_minibatch", figures)
        if args.ops:
            one = next(iter(expand(spec)))
            print(
                op_table(
                    lambda: train(one.config, tmp / "ops_seq", progress=False),
                    args.steps,
                    title="one run alone, per step",
                )
            )
            print(
                op_table(
                    lambda: run_sweep(spec, tmp / "ops_ens", backend="ensemble", progress=False),
                    args.steps,
                    title=f"ensemble of {args.runs}, per step",
                )
            )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
