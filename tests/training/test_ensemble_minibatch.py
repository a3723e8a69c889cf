"""Minibatch ensembles: a member draws the batches it would draw alone and leaves the same
run directory, resumes in the middle of an epoch, and members of different batch sizes and
training-set sizes train together."""

from __future__ import annotations

import torch
from helpers import assert_runs_close, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.config import replace
from grokinterp.runs import layout
from grokinterp.runs.io import load_tensors
from grokinterp.training import train, train_ensemble
from grokinterp.training.batches import Minibatches
from grokinterp.training.ensemble import ensemble_batches, step_rows
from grokinterp.training.state import LoopState


def _members(max_steps: int):
    base = tiny_config(max_steps=max_steps, batch_size=16)  # 60 training rows: 3 per epoch
    return [
        base,
        # 60 = 8 x 7 + 4: every 9th update of this one is a batch of 4 (drop_last off)
        replace(
            base,
            {"": {"seed": 3}, "optim": {"batch_size": 7, "weight_decay": 0.5, "drop_last": False}},
        ),
        replace(base, {"optim": {"batch_size": None}}),  # full batch beside minibatches
        replace(
            base,
            {
                "task": {"train_fraction": None, "train_size": 37, "split_seed": 2},
                "optim": {"warmup_from_zero": True},
            },
        ),
    ]


def test_minibatch_members_equal_their_lone_runs(tmp_path):
    cfgs = _members(max_steps=25)
    dirs = [tmp_path / f"e{i}" for i in range(len(cfgs))]
    train_ensemble(cfgs, dirs, progress=False)
    for i, cfg in enumerate(cfgs):
        alone = train(cfg, tmp_path / f"s{i}", progress=False)
        assert_runs_close(dirs[i], alone, rtol=1e-4)
        # the losses each update descended: the minibatch's, so a member that drew other
        # rows than its lone run would differ here from the first update on
        a = load_tensors(dirs[i] / layout.EARLY_LOSS)[0]["loss"]
        b = load_tensors(alone / layout.EARLY_LOSS)[0]["loss"]
        assert len(a) == len(b) == 25
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_minibatch_stream_differs_between_seeds(tmp_path):
    # the control for the test above: two seeds draw different batches, so equal early
    # losses there are not an accident of a stream that ignores the seed
    base = tiny_config(max_steps=5, batch_size=16)
    other = replace(base, {"": {"seed": 1}})
    n = 60
    a = Minibatches(base, n, None).next(LoopState())
    b = Minibatches(other, n, None).next(LoopState())
    assert not torch.equal(a, b)


def test_a_member_resumes_alone_in_the_middle_of_an_epoch(tmp_path):
    # 13 updates of batch 16 on 60 rows: the state is written 1 batch into the 5th epoch
    short = _members(max_steps=13)
    long = [replace(c, {"optim": {"max_steps": 30}}) for c in short]
    dirs = [tmp_path / f"e{i}" for i in range(len(short))]
    train_ensemble(short, dirs, progress=False)
    # member 0 continues alone, member 1 with the ensemble trainer, from the same state files
    train(long[0], dirs[0], resume=True, progress=False)
    train_ensemble(long[1:], dirs[1:], progress=False)
    for i, cfg in enumerate(long):
        straight = train(cfg, tmp_path / f"straight{i}", progress=False)
        assert_runs_close(dirs[i], straight, rtol=1e-4)


def test_warmup_from_zero_starts_at_lr_zero():
    from grokinterp.training.schedule import lr_at

    cfg = replace(tiny_config(warmup_steps=4), {"optim": {"lr": 1.0}})
    zero = replace(cfg, {"optim": {"warmup_from_zero": True}})
    assert [lr_at(cfg, t) for t in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [lr_at(zero, t) for t in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_members_of_other_batch_and_training_sizes_batch_together():
    # a 600-row and a 60-row member with batch 32 compute 32 rows per update each: one batch
    big = tiny_config(batch_size=32)
    big = replace(big, {"task": {"p": 41}})
    small = replace(big, {"task": {"train_fraction": None, "train_size": 60}})
    full_big = replace(big, {"optim": {"batch_size": None}})
    assert [step_rows(c) for c in (big, small, full_big)] == [32, 32, int(0.5 * 41 * 41)]
    batches = ensemble_batches([(big, "a"), (small, "b"), (full_big, "c")])
    assert sorted(sorted(d for _, d in b) for b in batches) == [["a", "b"], ["c"]]


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 50),
    size=st.integers(1, 60),
    seed=st.integers(0, 2**31 - 1),
    cut=st.integers(0, 40),
    total=st.integers(1, 40),
    drop_last=st.booleans(),
)
def test_the_stream_is_epochs_of_disjoint_batches_and_resumes_anywhere(
    n, size, seed, cut, total, drop_last
):
    cfg = replace(
        tiny_config(batch_size=size), {"": {"seed": seed}, "optim": {"drop_last": drop_last}}
    )
    stream, loop = Minibatches(cfg, n, None), LoopState()
    if stream.full:  # a batch of at least the training set is full-batch training
        assert size >= n and stream.rows == n
        return
    drawn = [stream.next(loop) for _ in range(total)]
    per_epoch = n // size if drop_last else -(-n // size)
    for e in range(0, total, per_epoch):
        epoch = torch.cat(drawn[e : e + per_epoch])
        assert len(set(epoch.tolist())) == len(epoch)  # no row twice within an epoch
        assert all(0 <= i < n for i in epoch.tolist())
        if not drop_last and e + per_epoch <= total:  # a whole epoch: every row once
            assert sorted(epoch.tolist()) == list(range(n))
    sizes = [len(b) for b in drawn]
    if drop_last:
        assert set(sizes) == {size}
    else:  # full batches, and the epoch's remainder n mod size as its last
        assert all(
            s == size or (s == n % size and (i + 1) % per_epoch == 0) for i, s in enumerate(sizes)
        )
    # a stream rebuilt from the state after `cut` draws continues identically
    cut = min(cut, total)
    stream2, loop2 = Minibatches(cfg, n, None), LoopState()
    for _ in range(cut):
        stream2.next(loop2)
    gen_state, perm = stream2.state()

    class _Saved:
        batch_gen_state, batch_perm = gen_state.clone(), perm.clone()

    resumed = Minibatches(cfg, n, _Saved())  # type: ignore[arg-type]
    loop3 = LoopState(batch_pos=loop2.batch_pos)
    for want in drawn[cut:]:
        assert torch.equal(resumed.next(loop3), want)


def test_a_sweep_of_power_preset_runs_on_the_ensemble_backend(tmp_path, monkeypatch):
    # Power et al.'s 2-layer post-LN decoder over <eos> x op y =, minibatches, x / y mod p:
    # the sweep trains its four runs as one ensemble, each member equal to its lone run
    import grokinterp.training.ensemble as ens
    from grokinterp.sweeps.engine import run_sweep
    from grokinterp.sweeps.spec import expand

    sizes, real = [], ens.train_ensemble

    def record(cfgs, dirs, **kw):
        sizes.append(len(cfgs))
        return real(cfgs, dirs, **kw)

    monkeypatch.setattr(ens, "train_ensemble", record)

    s = {
        "base": {"preset": "power"},
        "overrides": {
            "p": 11,
            "d_model": 32,
            "d_head": 8,
            "d_mlp": 64,
            "batch_size": 16,
            "max_steps": 12,
            "warmup_steps": 3,
            "log_every": 4,
            "ckpt_log_count": 2,
            "ckpt_log_until": 4,
            "ckpt_every": 8,
        },
        "grid": {"weight_decay": [0.0, 1.0]},
        "seeds": [0, 1],
    }
    table = run_sweep(s, tmp_path / "sw", backend="ensemble", progress=False)
    assert list(table["status"]) == ["done"] * 4
    assert sizes == [4]
    runs = expand(s)
    assert {r.config.model.normalization for r in runs} == {"post"}
    for r in runs[:2]:
        alone = train(r.config, tmp_path / f"alone_{r.name}", progress=False)
        assert_runs_close(tmp_path / "sw" / "runs" / r.name, alone, rtol=1e-4)
