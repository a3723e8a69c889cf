"""Label corruption (Doshi et al. 2024, arXiv 2310.13061) as an option of the one training
core: a seeded fraction of the TRAINING labels is wrong, the test labels are the true ones,
the run directory records which examples were corrupted and how, and both trainers (alone,
as an ensemble member) train on exactly those labels and resume exactly."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_runs_close, assert_same_run, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import TaskConfig, TrainConfig, replace
from grokinterp.errors import ConfigError, RunDirError
from grokinterp.runs import Run, layout
from grokinterp.runs.labels import CORRUPTED_LABELS, read_corruption
from grokinterp.tasks import make_dataset
from grokinterp.training import train, train_ensemble


@settings(max_examples=25, deadline=None)
@given(
    p=st.sampled_from([5, 7, 11, 13, 31]),
    frac=st.floats(0.2, 0.8),
    noise=st.floats(0.0, 0.95),
    seed=st.integers(0, 10**6),
    task=st.sampled_from(["add", "sub", "mul"]),
)
def test_corruption_touches_exactly_the_chosen_share_of_training_labels(p, frac, noise, seed,
                                                                       task):  # fmt: skip
    cfg = TaskConfig(name=task, p=p, train_fraction=frac, label_noise=noise, label_seed=seed)
    ds, clean = make_dataset(cfg), make_dataset(replace_noise(cfg, 0.0))
    d = int(ds.train_mask.sum())
    assert int(ds.corrupted.sum()) == int(noise * d)  # Doshi et al.'s count
    assert not bool((ds.corrupted & ~ds.train_mask).any())  # test labels untouched
    assert torch.equal(ds.true_labels, clean.labels)  # the true labels are the task's
    assert torch.equal(ds.labels[~ds.corrupted], clean.labels[~ds.corrupted])
    assert bool((ds.labels[ds.corrupted] != clean.labels[ds.corrupted]).all())  # always wrong
    assert bool(((ds.labels >= 0) & (ds.labels < ds.n_classes)).all())
    assert torch.equal(ds.train_mask, clean.train_mask)  # the split does not move


def replace_noise(cfg: TaskConfig, noise: float) -> TaskConfig:
    d = dict(cfg.__dict__)
    d["label_noise"] = noise
    return TaskConfig(**d)


def test_wrong_labels_are_uniform_over_the_other_classes():
    cfg = TaskConfig(name="add", p=7, train_fraction=0.9, label_noise=0.9)
    shifts = []
    for seed in range(40):
        ds = make_dataset(replace_noise(cfg, 0.9).__class__(**{**cfg.__dict__, "label_seed": seed}))
        c = ds.corrupted
        shifts.append((ds.labels[c] - ds.true_labels[c]) % 7)
    counts = torch.bincount(torch.cat(shifts), minlength=7).float()
    assert counts[0] == 0
    share = counts[1:] / counts[1:].sum()
    assert float((share - 1 / 6).abs().max()) < 0.02  # ~6,000 draws


def test_the_choice_is_seeded_and_nested_with_the_seed():
    cfg = TaskConfig(name="add", p=13, train_fraction=0.5, label_noise=0.3, label_seed=4)
    a, b = make_dataset(cfg), make_dataset(cfg)
    assert torch.equal(a.labels, b.labels)
    other = make_dataset(TaskConfig(**{**cfg.__dict__, "label_seed": 5}))
    assert not torch.equal(a.corrupted, other.corrupted)


def test_bad_label_noise_is_one_clear_line():
    with pytest.raises(ConfigError, match="label_noise: must be in"):
        TaskConfig(name="add", p=11, train_fraction=0.5, label_noise=1.0)
    with pytest.raises(ConfigError, match="random_labels"):
        TaskConfig(name="add", p=11, train_fraction=0.5, label_noise=0.2, random_labels=True)


def _noisy(**optim) -> TrainConfig:
    """Doshi et al.'s network at toy size: one-hot pairs, x^2, no biases, MSE."""
    model = {"arch": "mlp", "mlp_input": "onehot", "act_fn": "quadratic", "mlp_bias": False,
             "d_mlp": 16, "mlp_init": "doshi"}  # fmt: skip
    return replace(tiny_config(**optim), model=model, loss="mse", label_noise=0.3, label_seed=2)


def test_a_run_trains_on_the_corrupted_labels_and_records_them(tmp_path):
    cfg = _noisy(max_steps=20)
    d = train(cfg, tmp_path / "r", progress=False)
    table = read_corruption(d)
    ds = Run(d).dataset
    assert len(table) == int(0.3 * int(ds.train_mask.sum())) > 0
    assert table["pair"].tolist() == ds.corrupted.nonzero().flatten().tolist()
    assert (table["true_label"] == (table["a"] + table["b"]) % 11).all()
    assert (table["train_label"] != table["true_label"]).all()
    # the logged train accuracy is against the corrupted labels (what the run fits)
    from grokinterp.training.loop import evaluate

    params = Run(d).params(20)
    tr = evaluate(params, cfg, ds.train_inputs, ds.train_labels)
    assert layout.read_metrics(d)[-1]["train_acc"] == pytest.approx(tr[1])
    clean = train(replace(cfg, label_noise=0.0), tmp_path / "clean", progress=False)
    assert not (clean / CORRUPTED_LABELS).exists()
    with pytest.raises(RunDirError, match="without label corruption"):
        read_corruption(clean)
    assert layout.read_metrics(d)[-1]["train_loss"] != layout.read_metrics(clean)[-1]["train_loss"]


@pytest.mark.parametrize("batch_size", [None, 7])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, batch_size):
    short = _noisy(max_steps=20, batch_size=batch_size)
    long = replace(short, max_steps=40)
    train(short, tmp_path / "resumed", progress=False)
    train(long, tmp_path / "resumed", resume=True, progress=False)
    train(long, tmp_path / "straight", progress=False)
    assert_same_run(tmp_path / "resumed", tmp_path / "straight")
    assert (tmp_path / "resumed" / CORRUPTED_LABELS).read_text() == (
        tmp_path / "straight" / CORRUPTED_LABELS
    ).read_text()


def test_resume_refuses_an_edited_record(tmp_path):
    cfg = _noisy(max_steps=20)
    d = train(cfg, tmp_path / "r", progress=False)
    f = d / CORRUPTED_LABELS
    lines = f.read_text().splitlines()
    f.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(RunDirError, match="does not list the corrupted labels"):
        train(replace(cfg, max_steps=30), d, resume=True, progress=False)


def test_ensemble_members_with_different_noise_equal_their_lone_runs(tmp_path):
    cfgs = [_noisy(max_steps=20), replace(_noisy(max_steps=20), label_noise=0.6, label_seed=9)]
    dirs = [tmp_path / "m0", tmp_path / "m1"]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        alone = train(cfg, tmp_path / f"alone{i}", progress=False)
        assert_runs_close(dirs[i], alone, rtol=1e-4)
        assert (dirs[i] / CORRUPTED_LABELS).read_text() == (alone / CORRUPTED_LABELS).read_text()
