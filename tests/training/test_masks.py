"""Pruning masks and grokking tickets (Minegishi et al. 2024): the mask keeps exactly the
chosen fraction, masked weights stay exactly zero through training and resume, an all-ones
mask equals the dense run, bad mask files are refused before anything is written."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_runs_close, assert_same_run, tiny_config

from grokinterp.config import TrainConfig, replace
from grokinterp.errors import ConfigError
from grokinterp.models import init_params
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.training import train, train_ensemble
from grokinterp.training.constraints import FixedMask, make_constraints
from grokinterp.training.masks import (
    MASK_FILE,
    load_mask,
    magnitude_mask,
    prunable,
    random_mask,
    save_mask,
    sparsity_of,
)


def _mlp(**optim) -> TrainConfig:
    d = tiny_config(**optim).to_dict()
    d["model"] = {"arch": "mlp", "n_layers": 2, "d_model": 16, "d_mlp": 24}
    return TrainConfig.from_dict(d)


def _params(cfg: TrainConfig, seed: int = 0):
    return init_params(cfg.model, 12, 11, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.4, 0.75, 0.99])
def test_magnitude_mask_keeps_exactly_the_largest_fraction(sparsity):
    params = _params(_mlp())
    mask = magnitude_mask(params, sparsity)
    names = prunable(params)
    assert list(mask) == names and all(n.rsplit(".", 1)[1].startswith("W_") for n in names)
    assert "blocks.0.mlp.b_in" not in mask
    n = sum(params[k].numel() for k in names)
    assert sum(int(m.sum()) for m in mask.values()) == round((1 - sparsity) * n)
    assert sparsity_of(mask) == pytest.approx(sparsity, abs=1 / n)
    kept = torch.cat([params[k].abs()[mask[k]] for k in names])
    pruned = torch.cat([params[k].abs()[~mask[k]] for k in names])
    if len(kept) and len(pruned):
        assert float(kept.min()) >= float(pruned.max())


def test_magnitude_mask_of_chosen_matrices():
    params = _params(_mlp())
    names = ["blocks.0.mlp.W_in", "unembed.W_U"]
    mask = magnitude_mask(params, 0.5, names)
    assert list(mask) == names
    n = sum(params[k].numel() for k in names)
    assert sum(int(m.sum()) for m in mask.values()) == round(0.5 * n)
    with pytest.raises(ConfigError, match="not weight matrices"):
        magnitude_mask(params, 0.5, ["blocks.0.mlp.b_in"])


def test_magnitude_mask_breaks_ties_by_position_and_checks_sparsity():
    params = {"W_a": torch.ones(2, 3), "b": torch.ones(3)}
    mask = magnitude_mask(params, 0.5)
    assert mask["W_a"].flatten().tolist() == [True, True, True, False, False, False]
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ConfigError, match="sparsity"):
            magnitude_mask(params, bad)


def test_random_mask_matches_counts_per_tensor():
    params = _params(_mlp())
    ticket = magnitude_mask(params, 0.6)
    rand = random_mask(ticket, seed=3)
    for k in ticket:
        assert int(rand[k].sum()) == int(ticket[k].sum())
    assert not all(torch.equal(rand[k], ticket[k]) for k in ticket)
    assert all(torch.equal(rand[k], random_mask(ticket, seed=3)[k]) for k in ticket)


def test_fixed_mask_leaves_stopped_members_alone():
    masks = [{"W": torch.tensor([True, False])}, None, {"W": torch.tensor([False, True])}]
    w = torch.full((3, 2), 2.0)
    FixedMask(masks).apply_({"W": w}, torch.tensor([True, True, False]))
    assert w.tolist() == [[2.0, 0.0], [2.0, 2.0], [2.0, 2.0]]


def _ticket(tmp_path, cfg: TrainConfig, sparsity: float) -> TrainConfig:
    mask = magnitude_mask(_params(cfg, seed=9), sparsity)
    path = save_mask(mask, tmp_path / f"mask_{sparsity}.safetensors")
    return replace(cfg, {"": {"mask_from": str(path)}})


def _assert_masked(run_dir, mask):
    steps = layout.checkpoint_steps_on_disk(run_dir)
    assert 0 in steps and len(steps) >= 3
    for s in steps:
        params, _ = load_tensors(layout.checkpoint_path(run_dir, s))
        for k, m in mask.items():
            assert bool((params[k][~m] == 0).all()), (s, k)
            if s == 0:
                assert bool((params[k][m] != 0).all())


@pytest.mark.parametrize("arch", ["mlp", "transformer"])
def test_masked_weights_stay_zero_through_training_and_resume(tmp_path, arch):
    base = _mlp(max_steps=20) if arch == "mlp" else tiny_config(max_steps=20)
    short = _ticket(tmp_path, base, 0.7)
    long = replace(short, {"optim": {"max_steps": 40}})
    train(short, tmp_path / "resumed", progress=False)
    mask = load_mask(short.mask_from)
    assert (tmp_path / "resumed" / MASK_FILE).is_file()
    # the run reads its own copy on resume, not the source file
    save_mask({k: torch.ones_like(v) for k, v in mask.items()}, short.mask_from)
    train(long, tmp_path / "resumed", resume=True, progress=False)
    save_mask(mask, long.mask_from)
    train(long, tmp_path / "straight", progress=False)
    assert_same_run(tmp_path / "resumed", tmp_path / "straight")
    _assert_masked(tmp_path / "straight", mask)
    rows = layout.read_metrics(tmp_path / "straight")
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # it trains


def test_all_ones_mask_equals_the_dense_run(tmp_path):
    dense = _mlp(max_steps=30)
    ones = {
        k: torch.ones_like(v, dtype=torch.bool)
        for k, v in magnitude_mask(_params(dense), 0.5).items()
    }
    path = save_mask(ones, tmp_path / "ones.safetensors")
    train(dense, tmp_path / "dense", progress=False)
    train(replace(dense, {"": {"mask_from": str(path)}}), tmp_path / "ticket", progress=False)
    assert_same_run(tmp_path / "dense", tmp_path / "ticket")


def test_ensemble_of_tickets_equals_single_runs_and_resumes_alone(tmp_path):
    base = _mlp(max_steps=20)
    cfgs = [_ticket(tmp_path, base, 0.5), base, _ticket(tmp_path, base, 0.9)]
    dirs = [tmp_path / f"e{i}" for i in range(3)]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        alone = train(cfg, tmp_path / f"s{i}", progress=False)
        assert_runs_close(dirs[i], alone, rtol=1e-4)
    _assert_masked(dirs[2], load_mask(cfgs[2].mask_from))
    assert not (dirs[1] / MASK_FILE).exists()
    longer = replace(cfgs[2], {"optim": {"max_steps": 40}})
    train(longer, dirs[2], resume=True, progress=False)  # a member continues alone
    train(longer, tmp_path / "straight", progress=False)
    assert_runs_close(dirs[2], tmp_path / "straight", rtol=1e-4)
    _assert_masked(dirs[2], load_mask(cfgs[2].mask_from))


def test_bad_mask_files_are_refused_before_the_run_directory_is_touched(tmp_path):
    cfg = _mlp(max_steps=5)
    wrong = save_mask({"blocks.0.mlp.W_in": torch.ones(3, 3, dtype=torch.bool)}, tmp_path / "w")
    unknown = save_mask({"blocks.7.mlp.W_in": torch.ones(16, 24, dtype=torch.bool)}, tmp_path / "u")
    (tmp_path / "junk").write_bytes(b"not a tensor file")
    for path, msg in [
        (wrong, "shape"),
        (unknown, "does not have"),
        (tmp_path / "junk", "corrupt"),
        (tmp_path / "missing", "not a file"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            train(replace(cfg, {"": {"mask_from": str(path)}}), tmp_path / "r", progress=False)
        assert not (tmp_path / "r").exists()
    assert make_constraints([cfg]) == []
