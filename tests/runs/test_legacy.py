"""Import of progress-measures checkpoints, checked against the original architecture."""

import math
import pickle

import pytest
import torch
from helpers import LEGACY_SHAPE, legacy_state

from grokinterp.cli import main
from grokinterp.errors import RunDirError
from grokinterp.models import answer_logits
from grokinterp.runs import Run
from grokinterp.runs.legacy import import_legacy

P, D, H, DH, DMLP = LEGACY_SHAPE
_legacy_state = legacy_state


def _original_forward(sd: dict, tokens: torch.Tensor) -> torch.Tensor:
    """The progress-measures architecture, written in its own weight layout."""
    x = sd["embed.W_E"][:, tokens].permute(1, 2, 0) + sd["pos_embed.W_pos"]  # (b, pos, d)
    k = torch.einsum("ihd,bpd->biph", sd["blocks.0.attn.W_K"], x)
    q = torch.einsum("ihd,bpd->biph", sd["blocks.0.attn.W_Q"], x)
    v = torch.einsum("ihd,bpd->biph", sd["blocks.0.attn.W_V"], x)
    scores = torch.einsum("biph,biqh->biqp", k, q)
    mask = torch.tril(torch.ones(3, 3))
    scores = torch.tril(scores) - 1e10 * (1 - mask)
    attn = torch.softmax(scores / math.sqrt(DH), dim=-1)
    z = torch.einsum("biph,biqp->biqh", v, attn)
    z_flat = z.permute(0, 2, 1, 3).reshape(len(tokens), 3, H * DH)  # b q (i h)
    x = x + torch.einsum("df,bqf->bqd", sd["blocks.0.attn.W_O"], z_flat)
    hidden = torch.relu(
        torch.einsum("md,bpd->bpm", sd["blocks.0.mlp.W_in"], x) + sd["blocks.0.mlp.b_in"]
    )
    x = x + torch.einsum("dm,bpm->bpd", sd["blocks.0.mlp.W_out"], hidden) + sd["blocks.0.mlp.b_out"]
    return x @ sd["unembed.W_U"]


@pytest.fixture
def legacy_file(tmp_path):
    path = tmp_path / "final.pth"
    torch.save(
        {
            "model": _legacy_state(0),
            "train_losses": [4.0, 3.0, 2.0],
            "test_losses": [4.1, 3.9, 3.8],
            "checkpoints": [_legacy_state(1), _legacy_state(2)],
            "checkpoint_epochs": [0, 1],
            "epoch": 2,
            "config": {"p": P, "frac_train": 0.3, "seed": 0},
        },
        path,
    )
    return path


def test_imported_logits_equal_the_original_architecture(tmp_path, legacy_file):
    run = Run(import_legacy(legacy_file, tmp_path / "run"))
    # epochs 0 and 1 were saved after 1 and 2 updates; 3 train losses: 3 updates done
    assert run.steps == [1, 2, 3]
    assert run.config.model.d_vocab_out == P + 1
    tokens = run.dataset.inputs
    for step, seed in ((1, 1), (2, 2), (3, 0)):
        want = _original_forward(_legacy_state(seed), tokens)
        with torch.no_grad():
            got = run.model(step)(tokens)
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)
        fast = answer_logits(run.params(step), tokens, run.config.model)
        assert torch.allclose(fast, want[:, -1], atol=1e-5, rtol=1e-5)
    m = run.metrics
    assert m["train_loss"].tolist() == [4.0, 3.0, 2.0] and m["test_loss"].tolist()[-1] == 3.8
    assert run.landmarks().train_step is None  # no accuracies in the legacy file


def test_steps_count_updates_as_the_papers_loop_does(tmp_path):
    """transformers.py saves {epoch}.pth after that epoch's update: epoch + 1 updates."""
    per_epoch = tmp_path / "41.pth"
    torch.save({"model": _legacy_state(0), "train_loss": 0.5, "epoch": 41}, per_epoch)
    assert Run(import_legacy(per_epoch, tmp_path / "a")).steps == [42]
    # the saved_runs layout: 101 train losses, the test loss every 10 epochs (ceil(101/k) = 11
    # for k = 10 only)
    final = tmp_path / "final.pth"
    losses = {"train_losses": [float(i) for i in range(101)], "test_losses": [0.0] * 11}
    torch.save(
        {"model": _legacy_state(0), "epoch": 100, **losses, "config": {"lr": 3e-3, "seed": 1}},
        final,
    )
    run = Run(import_legacy(final, tmp_path / "b"))
    assert run.steps == [101]
    assert run.config.optim.lr == 3e-3 and run.config.task.split_seed == 1
    m = run.metrics.set_index("step")
    assert m["test_loss"].dropna().index.tolist() == list(range(0, 101, 10))
    assert m["train_loss"][100] == 100.0


def test_split_is_the_papers(tmp_path, legacy_file):
    import random

    run = Run(import_legacy(legacy_file, tmp_path / "run"))
    pairs = [(a, b) for a in range(P) for b in range(P)]
    random.seed(0)
    random.shuffle(pairs)
    train = {(int(a), int(b)) for a, b in run.dataset.train_inputs[:, :2]}
    assert train == set(pairs[: int(0.3 * P * P)])


class Evil:
    def __reduce__(self):
        return (print, ("this ran",))


def test_arbitrary_objects_need_trust(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"model": _legacy_state(0), "payload": Evil()}, path)
    with pytest.raises(RunDirError, match="--trust"):
        import_legacy(path, tmp_path / "run")
    assert "this ran" not in capsys.readouterr().out
    assert not (tmp_path / "run").exists()
    import_legacy(path, tmp_path / "run", trust=True)
    assert "this ran" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_plain_pickle_and_cli(tmp_path, capsys):
    path = tmp_path / "plain.pkl"
    with open(path, "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in _legacy_state(0).items()}}, f)
    # numpy arrays are not on the restricted unpickler's allow-list
    assert main(["import-legacy", str(path), str(tmp_path / "r")]) == 2
    assert "--trust" in capsys.readouterr().err
    assert main(["import-legacy", str(path), str(tmp_path / "r"), "--trust"]) == 0
    assert Run(tmp_path / "r").steps == [0]
    assert main(["import-legacy", str(path), str(tmp_path / "r"), "--trust"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_wrong_files_give_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    torch.save({"model": {"embed.W_E": torch.zeros(3, 3)}}, bad)
    assert main(["import-legacy", str(bad), str(tmp_path / "r")]) == 2
    assert "lacks" in capsys.readouterr().err
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    assert main(["import-legacy", str(junk), str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and err.count("\n") == 1
    junk.write_bytes(b"\x80\x04garbage")
    assert main(["import-legacy", str(junk), str(tmp_path / "r"), "--trust"]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert main(["import-legacy", str(tmp_path / "missing.pth"), str(tmp_path / "r")]) == 2
