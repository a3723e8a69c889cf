"""The papers' presets (``power``, ``grokfast``, ``prieto_transformer``) train, resume
exactly, and analyze, at a small p and a few steps."""

from __future__ import annotations

import pytest
import torch

from grokinterp import analyze
from grokinterp.config import replace
from grokinterp.models.hooked import HookedPaperTransformer
from grokinterp.presets import PRESETS
from grokinterp.runs import layout
from grokinterp.runs.run import Run
from grokinterp.training import train

PAPER_PRESETS = ("power", "grokfast", "prieto_transformer")
STEPS = 8


def _small(name: str, max_steps: int = STEPS):
    """The preset at p = 11 for a few steps; ``power`` with minibatches of 16, so that the
    resume below falls in the middle of an epoch (55 training rows: 3 batches an epoch)."""
    optim: dict[str, object] = {"max_steps": max_steps}
    if name == "power":
        optim["batch_size"] = 16
    return replace(
        PRESETS[name],
        {
            "task": {"p": 11},
            "optim": optim,
            "schedule": {
                "log_every": 1,
                "ckpt_log_until": 4,
                "ckpt_log_count": 2,
                "ckpt_every": 4,
                "early_loss_steps": 0,
            },
        },
    )


def _metrics(run_dir):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in layout.read_metrics(run_dir)]


@pytest.mark.slow
@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_preset_trains_resumes_exactly_and_analyzes(name, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(_small(name), whole, progress=False)
    train(_small(name, STEPS // 2), split, progress=False)
    train(_small(name), split, resume=True, progress=False)
    assert _metrics(whole) == _metrics(split)
    a, b = Run(whole).params(STEPS), Run(split).params(STEPS)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(r["train_loss"] == r["train_loss"] for r in _metrics(whole))  # finite, trained
    first, last = _metrics(whole)[0]["train_loss"], _metrics(whole)[-1]["train_loss"]
    assert last < first

    result = analyze(whole, progress=False, figures=False)
    assert list(result.table["step"]) == Run(whole).steps
    model = Run(whole).model(STEPS)
    assert isinstance(model, HookedPaperTransformer)
