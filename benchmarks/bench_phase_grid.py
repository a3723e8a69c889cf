"""Seconds per cell of Liu et al. 2022's toy phase diagram: one batch to the end, against
the batch that sheds the cells its stopping rule has ended.

The study ``phase-diagram`` on ``studies/phase_diagrams/toy.yaml`` trains the authors' 121
cells (decoder lr x weight decay) for up to 10^5 full-batch steps as one ensemble (every
cell its own lr and weight decay, one fused AdamW call per setting). A step of that batch
is arithmetic: per cell, the 200 x 200 tanh layer's forward and two backward products over
the 45 training pairs (5.4 M multiply-adds) and the smaller layers. Without a stopping rule
every cell pays 10^5 steps; with the study's rule (stop 1000 steps after test accuracy
first reaches 90%) a cell that generalizes stops, and the ensemble sheds the stopped cells
at the next checkpoint where a quarter or more of its batch has stopped
(:data:`grokinterp.training.ensemble.SHED_SHARE`), going on as a smaller batch.

This benchmark measures, in one process, the time of one training step (forward, float64
loss, backward, AdamW) of batches of the grid's first M cells for several M, and from that
cost curve and the steps each cell of a finished study trained (``--runs``, its
``runs.csv``) computes the study's seconds per cell with one batch to 10^5 steps (before)
and with the shed schedule the study ran (after), and their ratio. Each batch size is
timed in blocks; the ratio's spread is over the blocks.

Run: ``python benchmarks/bench_phase_grid.py --runs studies/phase_diagrams/toy/runs.csv``
(about 1 minute on one core); ``--record`` writes ``benchmarks/results/phase_grid.json``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from results import record, spread, summary

from grokinterp.sweeps.spec import expand, load_spec
from grokinterp.training.allocator import keep_freed_memory
from grokinterp.training.ensemble import SHED_SHARE, _Ensemble, _Member
from grokinterp.training.preflight import preflight

SPEC = Path(__file__).resolve().parent.parent / "studies" / "phase_diagrams" / "toy.yaml"
SIZES = (121, 91, 61, 31, 16, 8, 4)


def _step(ens: _Ensemble) -> None:
    """One step of :meth:`_Ensemble.run` without logging: forward, loss, backward, AdamW."""
    ens.grad.zero_()
    loss, _ = ens._losses(ens.views(ens.params), ens.x_train, ens.y_train, ens.train_w)
    loss.sum().backward()
    ens._adamw(0)


def step_times(
    sizes: tuple[int, ...], steps: int, blocks: int, tmp: Path
) -> dict[int, list[float]]:
    """Seconds of one ensemble step (no logging) for batches of the grid's first M cells:
    ``blocks`` blocks of ``steps`` steps each, per M."""
    cfgs = [r.config for r in expand(load_spec(SPEC))]
    out: dict[int, list[float]] = {}
    for m in sizes:
        mbs = [
            _Member(c, preflight(c, "cpu"), tmp / f"{m}_{i}", None) for i, c in enumerate(cfgs[:m])
        ]
        ens = _Ensemble(mbs, "cpu")
        for _ in range(3):
            _step(ens)
        times = []
        for _ in range(blocks):
            t = time.perf_counter()
            for _ in range(steps):
                _step(ens)
            times.append((time.perf_counter() - t) / steps)
        out[m] = times
    return out


def shed_schedule(stops: list[int], max_steps: int, every: int) -> list[tuple[int, int]]:
    """(steps, batch size) segments of the study's ensemble: all cells from step 0; at each
    checkpoint step (a multiple of ``every``) where the running cells (those whose last
    step lies beyond it) are at most (1 - SHED_SHARE) of the batch, the batch becomes them.
    A cell that stopped stays in its batch (computed, not updated) until it is shed."""
    segments, start, batch = [], 0, len(stops)
    for step in range(every, max_steps, every):
        running = sum(s > step for s in stops)
        if running == 0:
            segments.append((step - start, batch))
            return segments
        if running <= (1 - SHED_SHARE) * batch:
            segments.append((step - start, batch))
            start, batch = step, running
    segments.append((max(stops) - start, batch))
    return segments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--runs", type=Path, help="a finished study's runs.csv (the steps of each cell)"
    )
    ap.add_argument("--steps", type=int, default=20, help="steps per timed block")
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    keep_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; liu_toy grid of {SPEC}")
    with tempfile.TemporaryDirectory() as tmp:
        times = step_times(SIZES, args.steps, args.blocks, Path(tmp))
    for m, ts in times.items():
        med = statistics.median(ts)
        print(f"{m:4d} cells: {spread([t * 1e3 for t in ts], '{:.2f}', ' ms')} a step, "
              f"{med / m * 1e6:.0f} us per cell-step")  # fmt: skip
    figures: dict[str, object] = {
        "ms_per_step": {str(m): summary([t * 1e3 for t in ts]) for m, ts in times.items()}
    }
    if args.runs is not None:
        runs = pd.read_csv(args.runs)
        cfg = expand(load_spec(SPEC))[0].config
        max_steps, every = cfg.optim.max_steps, cfg.schedule.ckpt_every
        stops = [int(s) for s in runs["steps"]]
        segments = shed_schedule(stops, max_steps, every)
        sizes = np.array(sorted(times))
        n = len(stops)
        before, after, ratio = [], [], []
        for b in range(args.blocks):  # the cost curve of each block, interpolated in M
            cost = np.array([times[m][b] for m in sizes])
            t_before = max_steps * float(np.interp(n, sizes, cost)) / n
            t_after = sum(s * float(np.interp(m, sizes, cost)) for s, m in segments) / n
            before.append(t_before)
            after.append(t_after)
            ratio.append(t_before / t_after)
        print(f"{n} cells, {sum(stops):,} cell-steps trained of {n * max_steps:,} "
              f"({sum(stops) / (n * max_steps):.0%}); batches: "
              + ", ".join(f"{m} x {s}" for s, m in segments))  # fmt: skip
        print(f"seconds per cell: one batch to {max_steps:,} steps "
              f"{spread(before, '{:.1f}', ' s')}, shedding {spread(after, '{:.1f}', ' s')}; "
              f"speed-up {spread(ratio, '{:.2f}', 'x')}")  # fmt: skip
        figures.update(
            cells=n,
            cell_steps=sum(stops),
            segments=[[s, m] for s, m in segments],
            seconds_per_cell_before=summary(before),
            seconds_per_cell_after=summary(after),
            speedup=summary(ratio),
        )
    if args.record:
        record("phase_grid", figures)


if __name__ == "__main__":
    main()
