"""Training-step speed: our answer-only forward vs a plain TransformerLens bridge loop.

For the ``nanda`` preset and a small preset (p=31, same model), prints:

* our full-batch step time (forward, float64 loss, backward, AdamW),
* its speed-up over the same step through the TransformerLens bridge (full 3-position
  forward of ``TransformerBridge``, answer position sliced out), measured in this run,
* its ratio to the FLOP floor: the FLOPs the answer logits need (forward x 3 for the
  backward, see ``step_flops``) over the float32 matmul rate measured in this run.

Both loops run with the allocator settings ``train`` applies
(:func:`grokinterp.training.allocator.keep_freed_memory`).

Run: ``python benchmarks/bench_train.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from grokinterp.config import ModelConfig, TrainConfig, replace
from grokinterp.models import answer_logits, build_model, cross_entropy64, init_params
from grokinterp.presets import PRESETS
from grokinterp.tasks import make_dataset
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


def time_steps(forward, params: list[torch.Tensor], x, y, steps: int) -> float:
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0, foreach=True)

    def one() -> None:
        loss = cross_entropy64(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        one()
    t = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - t) / steps


def bench(name: str, cfg: TrainConfig, steps: int, rate: float) -> None:
    ds = make_dataset(cfg.task)
    x, y = ds.train_inputs, ds.train_labels
    g = torch.Generator()
    g.manual_seed(0)
    params = {
        k: v.requires_grad_(True)
        for k, v in init_params(cfg.model, ds.d_vocab, ds.n_classes, g).items()
    }
    ours = time_steps(
        lambda inp: answer_logits(params, inp, cfg.model), list(params.values()), x, y, steps
    )
    bridge = build_model(cfg.model, params)
    bridge.train()
    trainable = [p for p in bridge.parameters() if p.requires_grad]
    theirs = time_steps(lambda inp: bridge(inp)[:, -1], trainable, x, y, max(3, steps // 2))
    floor = step_flops(cfg.model, len(x), ds.d_vocab, ds.n_classes) / rate
    print(
        f"{name:>6}: p={cfg.task.p:<4} batch={len(x):<5} ours {ours * 1e3:8.2f} ms/step | "
        f"bridge loop {theirs * 1e3:8.2f} ms/step -> {theirs / ours:5.1f}x faster | "
        f"FLOP floor {floor * 1e3:6.2f} ms -> {ours / floor:5.1f}x the floor"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    keep_freed_memory()
    rate = matmul_rate()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"float32 matmul rate {rate / 1e9:.1f} GFLOP/s"
    )
    bench("nanda", PRESETS["nanda"], args.steps, rate)
    small = replace(PRESETS["nanda"], {"task": {"p": 31}})
    bench("small", small, args.steps * 5, rate)


if __name__ == "__main__":
    main()
