"""Analysis speed: `grokinterp analyze` over 100 checkpoints of the `nanda` model.

Builds a run directory with 100 checkpoints of the nanda model (p=113, 1 layer, d_model 128,
d_mlp 512; random weights, since the cost does not depend on their values) unless
``--run DIR`` points at a real run, and times:

* ours: ``grokinterp.analysis.measure_run`` (every measure, no figures) over all checkpoints;
* reference: a straightforward per-checkpoint loop, the way a notebook does it: build the
  TransformerLens model of each checkpoint (``Run.model``), ``run_with_cache`` over all
  p^2 pairs, then the same measure functions on its logits and ``hook_post``. It runs on
  ``--ref-checkpoints`` checkpoints (default 10) and is scaled to the same count.

Both use the paper's key frequencies {14, 35, 41, 42, 52} so that they do the same work.

``--scaling 100,1000`` instead analyzes synthetic runs of each size, each in a fresh child
process, and reports the time per checkpoint and the child's peak resident memory (ru_maxrss),
to show that ``analyze`` stays linear in the checkpoints and bounded in memory.

``--record`` adds the figures (of a synthetic run) to ``benchmarks/results/analyze.json``.
Run: ``python benchmarks/bench_analyze.py [--checkpoints 100] [--run DIR] [--scaling 100,1000]
[--record]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from results import RESULTS, record

from grokinterp.analysis import fourier, measure_run, measures
from grokinterp.models import init_params
from grokinterp.presets import PRESETS
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text, save_tensors
from grokinterp.runs.run import Run

KEYS = [14, 35, 41, 42, 52]


def synthetic_run(folder: Path, n: int) -> Path:
    cfg = PRESETS["nanda"]
    folder.mkdir(parents=True)
    atomic_write_text(folder / layout.CONFIG, cfg.to_json())
    for i in range(n):
        g = torch.Generator().manual_seed(i)
        params = init_params(cfg.model, 114, 113, g)
        save_tensors(layout.checkpoint_path(folder, i * 100), params, {"step": str(i * 100)})
    return folder


def reference(run: Run, steps: list[int]) -> None:
    """The per-checkpoint notebook loop: a TransformerLens model and a cache per step."""
    ds = run.dataset
    p = ds.size
    labels = ds.labels.reshape(p, p)
    train = ds.train_mask.reshape(p, p)
    for step in steps:
        model = run.model(step)
        with torch.no_grad():
            logits, cache = model.run_with_cache(ds.inputs)
        grid = logits[:, -1, :p].reshape(p, p, p)
        acts = cache["blocks.0.mlp.hook_post"][:, -1].reshape(p, p, -1)
        lg = grid.reshape(p * p, p).double()
        F.cross_entropy(lg[ds.train_mask], ds.labels[ds.train_mask])
        F.cross_entropy(lg[~ds.train_mask], ds.labels[~ds.train_mask])
        params = run.params(step)
        measures.sum_squared_weights(params)
        measures.restricted_loss(grid, labels, KEYS, mask=~train)
        measures.restricted_loss(grid, labels, KEYS)
        measures.excluded_loss(grid, labels, KEYS, mask=train)
        measures.excluded_loss_per_freq(grid, labels, KEYS, mask=train)
        measures.gini(fourier.embedding_freq_norms(params, p))
        measures.gini(fourier.logit_weight_freq_norms(params, p))
        measures.trig_logit_share(grid, KEYS)
        fourier.neuron_clusters(fourier.neuron_freq_fractions(acts))


def _measure_child(run_dir: str, queue: Any) -> None:
    t = time.perf_counter()
    measure_run(run_dir, key_freqs=KEYS, progress=False)
    elapsed = time.perf_counter() - t
    queue.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def scaling(sizes: list[int], tmp: Path) -> list[dict]:
    """Time and peak RSS of ``measure_run`` on synthetic runs of each size (fresh processes)."""
    ctx = mp.get_context("spawn")
    base = None
    out = []
    for n in sizes:
        run_dir = synthetic_run(tmp / f"run{n}", n)
        queue = ctx.Queue()
        proc = ctx.Process(target=_measure_child, args=(str(run_dir), queue))
        proc.start()
        elapsed, rss_mib = queue.get()
        proc.join()
        per = elapsed / n * 1e3
        base = base or per
        print(
            f"{n:6d} checkpoints: {elapsed:7.1f} s ({per:.0f} ms each, {per / base:.2f}x the "
            f"first size's), peak RSS {rss_mib:.0f} MiB"
        )
        out.append({"checkpoints": n, "ms_per_checkpoint": per, "peak_rss_mib": rss_mib})
        shutil.rmtree(run_dir)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", type=int, default=100)
    ap.add_argument("--ref-checkpoints", type=int, default=10)
    ap.add_argument("--run", type=Path, default=None, help="a real run directory to analyze")
    ap.add_argument("--scaling", default=None, help="comma-separated run sizes, e.g. 100,1000")
    ap.add_argument(
        "--record", action="store_true", help="add the figures to benchmarks/results/analyze.json"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    if args.scaling:
        try:
            sizes = scaling([int(x) for x in args.scaling.split(",")], tmp)
        finally:
            shutil.rmtree(tmp)
        if args.record:
            _record({"scaling": sizes})
        return
    try:
        if args.run is not None:
            src = Run(args.run)
            run_dir = tmp / "run"
            shutil.copytree(src.path, run_dir, ignore=shutil.ignore_patterns("analysis"))
        else:
            run_dir = synthetic_run(tmp / "run", args.checkpoints)
        run = Run(run_dir)
        steps = run.steps[: args.checkpoints]
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"{len(steps)} checkpoints of p={run.config.task.p}, d_model "
            f"{run.config.model.d_model}, d_mlp {run.config.model.d_mlp}"
        )
        run.model(steps[0])  # import TransformerLens before timing either side
        t = time.perf_counter()
        measure_run(run_dir, steps=steps, key_freqs=KEYS, progress=False)
        ours = time.perf_counter() - t
        ref_steps = steps[: args.ref_checkpoints]
        t = time.perf_counter()
        reference(run, ref_steps)
        ref = (time.perf_counter() - t) * len(steps) / len(ref_steps)
        print(
            f"ours      {ours:7.1f} s for {len(steps)} checkpoints "
            f"({ours / len(steps) * 1e3:.0f} ms each)"
        )
        print(
            f"reference {ref:7.1f} s for {len(steps)} checkpoints (measured on "
            f"{len(ref_steps)}, scaled) -> ours is {ref / ours:.1f}x faster"
        )
        if args.record and args.run is None:
            _record(
                {
                    "checkpoints": len(steps),
                    "seconds": ours,
                    "reference_seconds": ref,
                    "speedup_vs_reference": ref / ours,
                }
            )
    finally:
        shutil.rmtree(tmp)


def _record(figures: dict) -> None:
    """Merge into benchmarks/results/analyze.json (the timing and the scaling run apart)."""
    path = RESULTS / "analyze.json"
    old = json.loads(path.read_text())["figures"] if path.exists() else {}
    record("analyze", {**old, **figures})


if __name__ == "__main__":
    main()
