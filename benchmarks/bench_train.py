"""Training-step speed: our answer-only forward vs a plain TransformerLens bridge loop.

For the ``nanda`` preset and a small preset (p=31, same model), prints:

* our full-batch step time (forward, float64 loss, backward, the training loop's fused
  AdamW),
* its speed-up over the same step through the TransformerLens bridge (full 3-position
  forward of ``TransformerBridge``, answer position sliced out, ``torch.optim.AdamW``
  with its defaults), measured in this run,
* its ratio to the FLOP floor: the FLOPs the answer logits need (forward x 3 for the
  backward, see ``step_flops``) over the float32 matmul rate measured in this run.

Both loops run with the allocator settings ``train`` applies
(:func:`grokinterp.training.allocator.keep_freed_memory`).

Each figure is the median over ``--repeats`` (default 5), with its range.
Run: ``python benchmarks/bench_train.py [--steps N] [--repeats R] [--ops] [--record]``;
``--ops`` adds the time per operator of our step (``op_times.py``), ``--record`` writes the
figures to ``benchmarks/results/train.json`` (``results.py``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from op_times import op_table
from results import record, spread, summary

from grokinterp.config import ModelConfig, TrainConfig, replace
from grokinterp.models import answer_logits, build_model, cross_entropy64, init_params
from grokinterp.presets import PRESETS
from grokinterp.tasks import make_dataset
from grokinterp.training.adamw import AdamW
from grokinterp.training.allocator import keep_freed_memory


def step_flops(m: ModelConfig, batch: int, d_vocab: int, d_out: int) -> float:
    """FLOPs of one training step of a 1-layer model: 2 per multiply-add, forward x 3.

    Counts what the answer logits need: the per-token Q/K/V tables (batch-independent),
    then per example the attention of the answer position over 3 positions, W_O, the MLP
    and W_U. A full-position forward does about twice this.
    """
    hd = m.n_heads * m.d_head
    tables = 3 * (3 * d_vocab) * m.d_model * hd * 2
    per_example = (
        2 * 3 * hd * 2  # scores and pattern-weighted values
        + hd * m.d_model * 2  # W_O
        + 2 * m.d_model * m.d_mlp * 2  # W_in, W_out
        + m.d_model * d_out * 2  # W_U
    )
    return 3.0 * (tables + per_example * batch)


def matmul_rate() -> float:
    a, b = torch.randn(2048, 512), torch.randn(512, 512)
    for _ in range(3):
        a @ b
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < 1.0:
        a @ b
        n += 1
    return n * 2 * 2048 * 512 * 512 / (time.perf_counter() - t)


def make_step(forward, update, params: list[torch.Tensor], x, y) -> Callable[[], None]:
    """One training step: forward, float64 loss, backward, ``update()``."""

    def one() -> None:
        loss = cross_entropy64(forward(x), y)
        for p in params:
            p.grad = None
        loss.backward()
        update()

    return one


def time_steps(one: Callable[[], None], steps: int) -> float:
    """Seconds per step of ``one``, after 3 warm-up steps."""
    for _ in range(3):
        one()
    t = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - t) / steps


def bench(name: str, cfg: TrainConfig, steps: int, repeats: int, ops: bool) -> dict:
    ds = make_dataset(cfg.task)
    x, y = ds.train_inputs, ds.train_labels
    g = torch.Generator()
    g.manual_seed(0)
    params = {
        k: v.requires_grad_(True)
        for k, v in init_params(cfg.model, ds.d_vocab, ds.n_classes, g).items()
    }
    opt = AdamW(cfg, params)  # the training loop's: torch's fused kernel
    ours_step = make_step(
        lambda inp: answer_logits(params, inp, cfg.model),
        lambda: opt.step(0),
        list(params.values()),
        x,
        y,
    )
    bridge = build_model(cfg.model, params)
    bridge.train()
    trainable = [p for p in bridge.parameters() if p.requires_grad]
    ref = torch.optim.AdamW(trainable, lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    theirs_step = make_step(lambda inp: bridge(inp)[:, -1], ref.step, trainable, x, y)
    flops = step_flops(cfg.model, len(x), ds.d_vocab, ds.n_classes)
    ours, faster, vs_floor = [], [], []
    for _ in range(repeats):  # each repeat measures its own matmul rate and reference
        rate = matmul_rate()
        t_ours = time_steps(ours_step, steps)
        t_theirs = time_steps(theirs_step, max(3, steps // 2))
        ours.append(t_ours * 1e3)
        faster.append(t_theirs / t_ours)
        vs_floor.append(t_ours / (flops / rate))
    print(
        f"{name:>6}: p={cfg.task.p:<4} batch={len(x):<5} ours {spread(ours, '{:.2f}')} ms/step"
        f" | {spread(faster, '{:.1f}')}x faster than the bridge loop"
        f" | {spread(vs_floor, '{:.2f}')}x the FLOP floor ({flops / 1e9:.2f} GFLOP)"
    )
    if ops:
        print(op_table(lambda: [ours_step() for _ in range(steps)], steps, title=f"{name} step"))
    return {
        "p": cfg.task.p,
        "batch": len(x),
        "ms_per_step": summary(ours),
        "speedup_vs_bridge": summary(faster),
        "vs_flop_floor": summary(vs_floor),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5, help="median and range over repeats")
    ap.add_argument("--ops", action="store_true", help="also the time per operator")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/train.json")
    args = ap.parse_args()
    keep_freed_memory()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 matmul rate "
        f"{matmul_rate() / 1e9:.1f} GFLOP/s; median (range) over {args.repeats} repeats"
    )
    figures = {"nanda": bench("nanda", PRESETS["nanda"], args.steps, args.repeats, args.ops)}
    small = replace(PRESETS["nanda"], {"task": {"p": 31}})
    figures["small"] = bench("small", small, args.steps * 5, args.repeats, args.ops)
    if args.record:
        record("train", figures)


if __name__ == "__main__":
    main()
