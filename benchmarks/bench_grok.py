"""Time to grok: the `nanda` preset trained to 99% test accuracy, with and without
Grokfast-EMA (Lee et al. 2024), measured in the same run.

Both runs use the preset as it is (a + b mod 113, 30% of pairs, full-batch AdamW lr 1e-3,
weight decay 1) and stop at the first logged step (every 10) with test accuracy >= 99%;
the Grokfast run adds the EMA filter with Lee et al.'s recipe (alpha 0.98, lambda 2.0).
Checkpoints only at the start and the end. Prints the steps and wall time of both, and
their ratios.
Run: ``python benchmarks/bench_grok.py [--max-steps 40000] [--alpha 0.98] [--lamb 2.0]
[--record]``; ``--record`` writes the figures to ``benchmarks/results/grok.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from results import record

from grokinterp.config import TrainConfig, replace
from grokinterp.presets import PRESETS
from grokinterp.runs import layout
from grokinterp.training import train


def time_to_grok(cfg: TrainConfig, run_dir: Path) -> tuple[int | None, float]:
    """(step where test accuracy first reached 99%, or None; wall seconds of the run)."""
    t0 = time.perf_counter()
    train(cfg, run_dir, progress=False)
    seconds = time.perf_counter() - t0
    hits = [r["step"] for r in layout.read_metrics(run_dir) if r["test_acc"] >= 0.99]
    return (hits[0] if hits else None), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-steps", type=int, default=40_000)
    ap.add_argument("--alpha", type=float, default=0.98)
    ap.add_argument("--lamb", type=float, default=2.0)
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/grok.json")
    args = ap.parse_args()
    stop = {"max_steps": args.max_steps, "stop_acc": 0.99, "stop_patience": 0}
    sparse = {"log_every": 10, "ckpt_log_count": 0, "ckpt_every": args.max_steps}
    base = replace(PRESETS["nanda"], {"optim": stop, "schedule": sparse})
    fast = replace(
        base,
        {"optim": {"grokfast": "ema", "grokfast_alpha": args.alpha, "grokfast_lamb": args.lamb}},
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; nanda preset to 99% "
        f"test accuracy (budget {args.max_steps} steps)"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in (("AdamW", base), (f"Grokfast-EMA a={args.alpha} l={args.lamb}", fast)):
            steps, secs = time_to_grok(cfg, Path(tmp) / name.split()[0])
            results[name] = (steps, secs)
            shown = steps if steps is not None else f"not within {args.max_steps}"
            print(f"{name:>30}: {shown} steps, {secs:6.1f} s")
    (s0, t0), (s1, t1) = results.values()
    if s0 is not None and s1 is not None:
        print(f"Grokfast: {s0 / s1:.1f}x fewer steps, {t0 / t1:.1f}x less wall time")
    if args.record:
        record(
            "grok",
            {
                "max_steps": args.max_steps,
                "adamw": {"steps": s0, "seconds": t0},
                "grokfast_ema": {
                    "alpha": args.alpha,
                    "lamb": args.lamb,
                    "steps": s1,
                    "seconds": t1,
                },
            },
        )


if __name__ == "__main__":
    main()
