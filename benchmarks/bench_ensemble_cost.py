"""The ensemble's cost model: fixed cost per step against the cost per padded row.

``grokinterp.training.ensemble.split_by_size`` batches members of different training-set
sizes so as to minimize ``sum over batches of (fixed + members x padded rows)`` per step,
with the fixed cost expressed in padded rows (``STEP_OVERHEAD_ROWS``). This benchmark
measures it: the time of one training step (forward, float64 loss, backward, AdamW) of
ensembles of the ``efficiency`` preset's model (a + b mod 47, d_model 64, d_mlp 256) for
1-6 members and 200-1600 training rows each, then fits
``time = fixed + per_row x members x rows + per_member x members`` by least squares and
prints ``fixed / per_row``, the value ``STEP_OVERHEAD_ROWS`` should hold on this machine.

Run: ``python benchmarks/bench_ensemble_cost.py [--steps 20]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from grokinterp.config import replace
from grokinterp.presets import PRESETS
from grokinterp.training.allocator import keep_freed_memory
from grokinterp.training.ensemble import STEP_OVERHEAD_ROWS, _Ensemble, _Member
from grokinterp.training.preflight import preflight

SHAPES = [(1, 200), (1, 1600), (2, 800), (3, 400), (4, 1600), (6, 200), (6, 800)]


def step_time(members: int, rows: int, steps: int, tmp: Path) -> float:
    """Median seconds of one ensemble step, over 5 blocks of ``steps`` steps."""
    cfg = replace(PRESETS["efficiency"], {"task": {"train_size": rows, "train_fraction": None}})
    mbs = [
        _Member(replace(cfg, {"optim": {"lr": cfg.optim.lr * (1 + i / 100)}}),
                preflight(cfg, "cpu"), tmp / f"{members}_{rows}_{i}", None)
        for i in range(members)
    ]  # fmt: skip
    ens = _Ensemble(mbs, "cpu")

    def one() -> None:  # the step of _Ensemble.run, without logging
        ens.grad.zero_()
        loss, _ = ens._losses(ens.views(ens.params), ens.x_train, ens.y_train, ens.train_w)
        loss.sum().backward()
        ens._adamw(0)

    for _ in range(3):
        one()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(steps):
            one()
        times.append((time.perf_counter() - t) / steps)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    keep_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; efficiency model")
    rows, t = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for m, n in SHAPES:
            sec = step_time(m, n, args.steps, Path(tmp))
            rows.append((1.0, m * n, m))
            t.append(sec)
            print(f"{m} members x {n:5d} rows: {sec * 1e3:6.2f} ms a step")
    (fixed, per_row, per_member), *_ = np.linalg.lstsq(np.array(rows), np.array(t), rcond=None)
    print(
        f"fit: {fixed * 1e3:.2f} ms fixed + {per_row * 1e6:.2f} us per padded row + "
        f"{per_member * 1e3:.2f} ms per member; fixed cost = {fixed / per_row:.0f} padded rows "
        f"(STEP_OVERHEAD_ROWS is {STEP_OVERHEAD_ROWS})"
    )


if __name__ == "__main__":
    main()
