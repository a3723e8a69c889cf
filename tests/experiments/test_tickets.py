"""The grokking-ticket study (Minegishi et al. 2024) on a tiny setting: the arms it builds."""

from __future__ import annotations

import math

import pytest
import torch

from grokinterp.errors import ConfigError
from grokinterp.experiments.tickets import Params, base_spec, layer_norm_sum, run, summarize
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.training.masks import load_mask, prunable


def test_spec_checks_input():
    assert base_spec(seeds=(4,), steps=200)["seeds"] == [4]
    with pytest.raises(ConfigError, match="steps"):
        base_spec(steps=5)
    with pytest.raises(ConfigError, match="sparsities"):
        Params(sparsities=(1.0,))
    with pytest.raises(ConfigError, match="prune"):
        Params(prune="bias")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="mask_step"):
        Params(steps=1000, mask_step=2000)


def test_masks_can_spare_the_embedding(tmp_path):
    params = Params(seeds=(0,), sparsities=(0.5,), steps=100, p=11, base_target=0.0,
                    prune="no_embed")  # fmt: skip
    run(tmp_path, params, progress=False, static=False)
    mask = load_mask(tmp_path / "sweep" / "arms" / "runs" / "ticket_s0_q0.5" / "mask.safetensors")
    assert "embed.W_E" not in mask and "blocks.0.mlp.W_in" in mask
    assert "but the embedding" in (tmp_path / "report.txt").read_text()


def test_tiny_study_builds_the_arms(tmp_path):
    params = Params(seeds=(0,), sparsities=(0.5, 0.8), steps=100, p=11, base_target=0.0)
    result = run(tmp_path, params, progress=False, static=False)
    table = result.data
    assert set(result.tables) == {"arms", "summary", "traces", "measures"}
    assert sorted(zip(table["arm"], table["sparsity"], strict=True)) == [
        ("dense", 0.0), ("dense_norm", 0.5), ("dense_norm", 0.8), ("random", 0.5),
        ("random", 0.8), ("ticket", 0.5), ("ticket", 0.8),
    ]  # fmt: skip
    by = {(r.arm, r.sparsity): r for r in table.itertuples()}
    runs = tmp_path / "sweep" / "arms" / "runs"
    for q in (0.5, 0.8):
        # the norm-matched dense network starts at the ticket's norm, summed over the weight
        # matrices as the authors' get_weight_norm; below the dense one's
        ticket0, _ = load_tensors(layout.checkpoint_path(runs / f"ticket_s0_q{q:g}", 0))
        dense0, _ = load_tensors(layout.checkpoint_path(runs / f"dense_norm_s0_q{q:g}", 0))
        names = prunable(ticket0)
        assert layer_norm_sum(dense0, names) == pytest.approx(layer_norm_sum(ticket0, names))
        assert by[("ticket", q)].init_norm < by[("dense", 0.0)].init_norm
    tickets = [d for d in runs.iterdir() if "ticket" in d.name]
    assert len(tickets) == 2
    for d in tickets:  # the ticket starts from the dense run's step 0, masked
        mask = load_mask(d / "mask.safetensors")
        kept = sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
        assert kept in (pytest.approx(0.5, abs=1e-3), pytest.approx(0.2, abs=1e-3))
        start, _ = load_tensors(layout.checkpoint_path(d, 0))
        base = next((tmp_path / "sweep" / "base" / "runs").iterdir())
        theta0, _ = load_tensors(layout.checkpoint_path(base, 0))
        for k, m in mask.items():
            assert torch.equal(start[k], theta0[k].masked_fill(~m, 0.0))
    summary = summarize(table)
    assert set(summary["arm"]) == {"dense", "ticket", "random", "dense_norm"}
    assert all(math.isnan(x) or x >= 0 for x in summary["median_test_95_step"])
    for name in ("arms.csv", "summary.csv", "measures.csv", "traces.csv", "report.txt"):
        assert (tmp_path / name).is_file(), name


def test_card_censors_each_arm_at_its_own_budget(tmp_path):
    """The dense runs train 30000 steps, the arms 6000 (``arm_steps``): a control that never
    reached 95% counts as 6000, the dense run as 30000."""
    import pandas as pd

    from grokinterp.experiments.cards.minegishi2024 import _speedup_at

    nan = math.nan
    rows = [("dense", 0.0, 24000.0), ("dense", 0.0, nan), ("ticket", 0.6, 2000.0),
            ("ticket", 0.6, 3000.0), ("dense_norm", 0.6, nan), ("dense_norm", 0.6, nan),
            ("random", 0.6, nan), ("random", 0.6, 5000.0)]  # fmt: skip
    pd.DataFrame(rows, columns=["arm", "sparsity", "test_95_step"]).to_csv(
        tmp_path / "arms.csv", index=False
    )
    last = [("dense", 0.0, 30000), ("ticket", 0.6, 6000), ("dense_norm", 0.6, 6000),
            ("random", 0.6, 6000)]  # fmt: skip
    pd.DataFrame(last, columns=["arm", "sparsity", "step"]).to_csv(
        tmp_path / "traces.csv", index=False
    )
    assert _speedup_at(0.6)(tmp_path) == pytest.approx(27000 / 2500)
    assert _speedup_at(0.6, "dense_norm")(tmp_path) == pytest.approx(6000 / 2500)
    assert _speedup_at(0.6, "random")(tmp_path) == pytest.approx(5500 / 2500)


def test_the_minegishi_preset_is_the_studys_dense_run():
    from grokinterp.experiments.tickets import seed_config
    from grokinterp.presets import PRESETS

    assert seed_config(base_spec([1], 30000, 67), 1) == PRESETS["minegishi_mlp"]
