"""What else could make a training step faster: each variant against our step, in one run.

The performance issue lists what the earlier profile had not tried. This benchmark times,
for the ``nanda`` preset, a small model of its shape (p = 31) and the ``grokfast`` preset's
2-layer LayerNorm transformer (batch 512), one full training step (forward, loss, backward,
the trainer's fused AdamW) in these variants, each as a ratio to our step measured in the
same repeat:

* ``ours``: the trainer's step (answer-only forward, float64 cross-entropy);
* ``loss32``: the same with a float32 cross-entropy written to keep float64's relative
  precision near zero loss (``log1p`` of the sum of the other classes' exponentials
  relative to the answer's logit; :func:`precise_cross_entropy32`);
* ``compiled``: ``torch.compile`` of the forward and loss (TorchInductor; the backward
  compiled by AOTAutograd), the optimizer step eager; the compile time is printed apart.

For ``grokfast`` it also times a plain ``torch.nn`` model of the authors' shape (their
``Block``: ``nn.MultiheadAttention``, ``nn.LayerNorm``, a GELU MLP; all positions computed,
the loss on the last) with ``torch.optim.Adam``, the reference our general forward is
measured against.

Each figure is the median over ``--repeats`` (default 5), with its range.
Run: ``python benchmarks/bench_step_variants.py [--steps N] [--repeats R] [--no-compile]
[--record]``; ``--record`` writes ``benchmarks/results/step_variants.json``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from bench_train import time_steps
from results import record, spread, summary
from torch import Tensor, nn

from grokinterp.config import TrainConfig, replace
from grokinterp.models import answer_logits, cross_entropy64, init_params
from grokinterp.presets import PRESETS
from grokinterp.tasks import make_dataset
from grokinterp.training.adamw import AdamW
from grokinterp.training.allocator import keep_freed_memory


def precise_cross_entropy32(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy in float32 with float64's relative precision near zero loss.

    With ``d_j = x_j - x_y``: the loss is ``log(1 + sum_{j != y} exp(d_j))``. Where every
    ``d_j <= 0`` it is ``log1p(s)`` with ``s`` a sum of small positive terms, exact to float32
    relative precision however small (a float32 softmax instead rounds ``1 - p_y`` to 0);
    elsewhere ``m + log(exp(-m) + sum exp(d_j - m))`` with ``m = max d_j > 0``.
    """
    d = logits - logits.gather(-1, labels[:, None])
    d = d.scatter(-1, labels[:, None], float("-inf"))  # drop the answer's own term
    m = d.amax(-1, keepdim=True).clamp(min=0)
    s = torch.exp(d - m).sum(-1)
    m = m.squeeze(-1)
    loss = torch.where(m > 0, m + torch.log(torch.exp(-m) + s), torch.log1p(s))
    return loss.mean()


class _Block(nn.Module):
    """The authors' block (Grokfast main.py): LN, attention added to the normalized
    stream, LN, GELU MLP."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        mask = torch.full((len(x), len(x)), float("-inf")).triu(1)
        x = self.ln_1(x)
        x = x + self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class _Decoder(nn.Module):
    def __init__(self, n_tokens: int, dim: int = 128, layers: int = 2, heads: int = 4):
        super().__init__()
        self.tok, self.pos = nn.Embedding(n_tokens, dim), nn.Embedding(4, dim)
        self.blocks = nn.ModuleList([_Block(dim, heads) for _ in range(layers)])
        self.ln_f, self.head = nn.LayerNorm(dim), nn.Linear(dim, n_tokens, bias=False)

    def forward(self, seq: Tensor) -> Tensor:  # (positions, batch) as theirs
        h = self.tok(seq) + self.pos(torch.arange(len(seq)))[:, None]
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln_f(h))


def bench(name: str, cfg: TrainConfig, steps: int, repeats: int, compile_: bool) -> dict:
    ds = make_dataset(cfg.task)
    x, y = ds.train_inputs, ds.train_labels
    if cfg.optim.batch_size is not None:
        x, y = x[: cfg.optim.batch_size], y[: cfg.optim.batch_size]
    g = torch.Generator().manual_seed(0)
    d_out = cfg.model.d_vocab_out or ds.n_classes
    params = {
        k: v.requires_grad_(True) for k, v in init_params(cfg.model, ds.d_vocab, d_out, g).items()
    }
    opt = AdamW(cfg, params)

    def step_with(loss_of: Callable[[], Tensor]) -> Callable[[], None]:
        def one() -> None:
            loss = loss_of()
            for p in params.values():
                p.grad = None
            loss.backward()
            opt.step(20)

        return one

    variants = {
        "ours": step_with(lambda: cross_entropy64(answer_logits(params, x, cfg.model), y)),
        "loss32": step_with(
            lambda: precise_cross_entropy32(answer_logits(params, x, cfg.model), y)
        ),
    }
    if compile_:
        compiled = torch.compile(
            lambda: cross_entropy64(answer_logits(params, x, cfg.model), y), dynamic=False
        )
        t = time.perf_counter()
        step_with(compiled)()
        print(f"{name}: torch.compile took {time.perf_counter() - t:.0f} s (not counted)")
        variants["compiled"] = step_with(compiled)
    if name == "grokfast":
        model = _Decoder(d_out)
        seq = torch.cat([x[:, :1], torch.full_like(x[:, :1], d_out - 1), x[:, 1:]], 1).T
        ref_opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98))

        def theirs() -> None:
            loss = F.cross_entropy(model(seq)[-1], y)
            model.zero_grad()
            loss.backward()
            ref_opt.step()

        variants["authors_module"] = theirs
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, one in variants.items():
            times[k].append(time_steps(one, steps))
    out: dict = {"batch": len(x), "ms_per_step": summary([t * 1e3 for t in times["ours"]])}
    line = f"{name:>8}: batch {len(x):<5} ours {spread(out['ms_per_step']['values'], '{:.2f}')} ms"
    for k in variants:
        if k == "ours":
            continue
        ratio = [o / v for o, v in zip(times["ours"], times[k], strict=True)]
        out[f"{k}_speedup"] = summary(ratio)
        line += f" | {k} {spread(ratio, '{:.2f}')}x ours' speed"
    print(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    keep_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    configs = {
        "nanda": PRESETS["nanda"],
        "small": replace(PRESETS["nanda"], {"task": {"p": 31}}),
        "grokfast": PRESETS["grokfast"],
    }
    figures = {
        name: bench(name, cfg, args.steps * (5 if name == "small" else 1), args.repeats,
                    not args.no_compile)
        for name, cfg in configs.items()
    }  # fmt: skip
    if args.record:
        record("step_variants", figures)


if __name__ == "__main__":
    main()
