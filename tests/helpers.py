"""Shared test helpers: a tiny config, headless Chromium."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors


def tiny_config(**optim) -> TrainConfig:
    """A config that trains in well under a second: p=11, a 1-layer d_model=32 model."""
    return TrainConfig(
        task=TaskConfig(name="add", p=11, train_fraction=0.5),
        model=ModelConfig(d_model=32, n_heads=4, d_head=8, d_mlp=64),
        optim=OptimConfig(lr=3e-3, max_steps=optim.pop("max_steps", 40), **optim),
        schedule=ScheduleConfig(log_every=5, ckpt_log_until=10, ckpt_log_count=4, ckpt_every=10),
    )


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="the chromium binary is not installed (apt-get install -y chromium)",
)


def _chromium_dom(url: str, tmp_path: Path) -> str:
    chromium = shutil.which("chromium")
    assert chromium
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), f"chromium printed no DOM (rc {done.returncode}): {done.stderr}"
    return done.stdout


def _js_errors(dom: str) -> str:
    m = re.search(r'<pre id="js-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert m, "no js-errors element in the DOM"
    return m.group(1)


def _gen(seed: int) -> torch.Generator:
    """A seeded torch generator."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g


# p, d_model, heads, d_head, d_mlp of the small progress-measures-style checkpoint
LEGACY_SHAPE = (11, 24, 4, 6, 40)


def legacy_state(seed: int) -> dict:
    """A random state dict in the layout of the progress-measures code (LEGACY_SHAPE)."""
    P, D, H, DH, DMLP = LEGACY_SHAPE
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g) / math.sqrt(shape[-1])

    return {
        "embed.W_E": r(D, P + 1),
        "pos_embed.W_pos": r(3, D),
        "blocks.0.attn.W_K": r(H, DH, D),
        "blocks.0.attn.W_Q": r(H, DH, D),
        "blocks.0.attn.W_V": r(H, DH, D),
        "blocks.0.attn.W_O": r(D, H * DH),
        "blocks.0.attn.mask": torch.tril(torch.ones(3, 3)),
        "blocks.0.mlp.W_in": r(DMLP, D),
        "blocks.0.mlp.b_in": r(DMLP),
        "blocks.0.mlp.W_out": r(D, DMLP),
        "blocks.0.mlp.b_out": r(D),
        "unembed.W_U": r(D, P + 1),
    }


def _metrics(path):
    rows = layout.read_metrics(path)
    for r in rows:
        r.pop("wall_time")
    return rows


def _checkpoints(path):
    return {
        s: load_tensors(layout.checkpoint_path(path, s))[0]
        for s in layout.checkpoint_steps_on_disk(path)
    }


def assert_same_run(a, b, steps=None):
    """Two run directories hold the same numbers: metrics (but wall time) and checkpoints."""
    ma, mb = _metrics(a), _metrics(b)
    if steps is not None:
        ma = [r for r in ma if r["step"] in steps]
        mb = [r for r in mb if r["step"] in steps]
    assert ma == mb
    ca, cb = _checkpoints(a), _checkpoints(b)
    common = set(ca) & set(cb)
    assert len(common) >= 3
    for s in common:
        for k in ca[s]:
            assert torch.equal(ca[s][k], cb[s][k]), (s, k)


def assert_resume_extends_exactly(short, long_steps: int, tmp_path: Path) -> None:
    """``short`` trained, then resumed to ``long_steps``, equals the same config trained to
    ``long_steps`` in one go (metrics and checkpoints, bit for bit)."""
    from grokinterp.config import replace
    from grokinterp.training import train

    long = replace(short, {"optim": {"max_steps": long_steps}})
    train(short, tmp_path / "resumed", progress=False)
    train(long, tmp_path / "resumed", resume=True, progress=False)
    train(long, tmp_path / "straight", progress=False)
    assert_same_run(tmp_path / "resumed", tmp_path / "straight")


def assert_runs_close(a: Path, b: Path, rtol: float) -> None:
    """Two run directories agree within ``rtol`` (an ensemble member against a single run)."""
    ma, mb = layout.read_metrics(a), layout.read_metrics(b)
    assert [r["step"] for r in ma] == [r["step"] for r in mb]
    for x, y in zip(ma, mb, strict=True):
        for k in ("train_loss", "test_loss", "param_norm"):
            assert x[k] == pytest.approx(y[k], rel=rtol, abs=1e-6), (x["step"], k)
        for k in ("train_acc", "test_acc"):  # one near-tie may flip among 700+ examples
            assert x[k] == pytest.approx(y[k], abs=1.5e-3), (x["step"], k)
    for s in layout.checkpoint_steps_on_disk(b):
        pa = load_tensors(layout.checkpoint_path(a, s))[0]
        pb = load_tensors(layout.checkpoint_path(b, s))[0]
        for k in pb:
            assert torch.allclose(pa[k], pb[k], rtol=rtol, atol=1e-5), (s, k)


def quadratic_mlp(
    W_E: torch.Tensor, W_in: torch.Tensor, W_U: torch.Tensor
) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """A hand-built one-layer MLP (the two tokens' embeddings concatenated, x^2, no
    biases) from its weights: the parameters and the config that run them."""
    d_model, d_mlp = W_E.shape[1], W_in.shape[1]
    params = {
        "embed.W_E": W_E.float(),
        "blocks.0.mlp.W_in": W_in.float(),
        "blocks.0.mlp.b_in": torch.zeros(d_mlp),
        "unembed.W_U": W_U.float(),
    }
    cfg = ModelConfig(
        arch="mlp", n_layers=1, d_model=d_model, d_mlp=d_mlp, act_fn="quadratic",
        mlp_combine="concat",
    )  # fmt: skip
    return params, cfg
