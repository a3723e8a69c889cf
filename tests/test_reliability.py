"""Issue 33: nothing lost, nothing silently wrong.

The cases of a probe that a table of command lines (tests/test_bad_input.py) cannot hold:
locks held by another command, symbolic links inside a run, inputs that never end (a named
pipe, /dev/zero), a config edited to disagree with the checkpoints, damage that a reader
trips on, and checkpoints that must be byte-identical across processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import tiny_config

from grokinterp.cli import main
from grokinterp.runs import layout
from grokinterp.runs.lock import dir_lock
from grokinterp.training import train


def one_line(err: str) -> str:
    err = err.strip()
    assert err.startswith("grokinterp: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    return err


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links not followed) with its content digest."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    train(tiny_config(max_steps=20), out, progress=False)
    return out


@pytest.fixture
def run(finished, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def cli(argv: list[str], capsys) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as e:
        status = int(e.code or 0)
    return status, capsys.readouterr().err


# -------------------------------------------------------------- no path to data loss


def test_train_force_waits_for_no_analyze_holding_the_analysis_lock(run, capsys):
    (run / "analysis").mkdir()
    (run / "analysis" / "measures.csv").write_text("step\n0\n")
    before = tree(run)
    cfg = run.parent / "cfg.json"
    cfg.write_text((run / "config.json").read_text())
    with dir_lock(run / "analysis", "run's analysis"):  # as if `analyze` were writing it
        status, err = cli(
            ["train", "--config", str(cfg), "--out", str(run), "--force", "--no-progress"], capsys
        )
    assert status == 2 and "another grokinterp process" in one_line(err)
    assert tree(run) == before


def test_analyze_never_writes_through_a_linked_analysis_folder(run, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "analysis").symlink_to(elsewhere)
    status, err = cli(["analyze", str(run), "--no-figures", "--no-progress"], capsys)
    assert status == 2 and "symbolic link" in one_line(err)
    assert list(elsewhere.iterdir()) == []


def test_analyze_from_python_never_writes_through_a_linked_analysis_folder(run, tmp_path):
    import grokinterp
    from grokinterp.errors import RunDirError

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "analysis").symlink_to(elsewhere)
    with pytest.raises(RunDirError, match="symbolic link"):
        grokinterp.analyze(run, figures=False, progress=False)
    assert list(elsewhere.iterdir()) == []


def test_repair_never_moves_files_through_a_linked_damaged_folder(run, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "damaged").symlink_to(elsewhere)
    ckpt = layout.checkpoint_path(run, 10)
    ckpt.write_bytes(ckpt.read_bytes()[:-7])  # damaged: repair would move it
    before = tree(run)
    status, err = cli(["repair", str(run)], capsys)
    assert status == 2 and "symbolic link" in one_line(err)
    assert list(elsewhere.iterdir()) == [] and tree(run) == before


@pytest.mark.parametrize("name", ["checkpoints", "state", "metrics.jsonl"])
def test_train_never_writes_through_a_link_in_the_run(run, tmp_path, name, capsys):
    target = tmp_path / "elsewhere"
    shutil.move(run / name, target)
    (run / name).symlink_to(target)
    before, outside = tree(run), tree(tmp_path / "elsewhere") if target.is_dir() else None
    status, err = cli(["train", "--config", str(run / "config.json"), "--out", str(run),
                       "--resume", "--max-steps", "30", "--no-progress"], capsys)  # fmt: skip
    assert status == 2 and "symbolic link" in one_line(err)
    assert tree(run) == before
    if outside is not None:
        assert tree(target) == outside


def test_compare_refuses_an_out_file_before_analyzing(run, tmp_path, capsys):
    out = tmp_path / "out.txt"
    out.write_text("mine\n")
    status, err = cli(["compare", str(run), "--out", str(out), "--no-progress"], capsys)
    assert status == 2 and "out.txt" in one_line(err)
    assert not (run / "analysis").exists()  # nothing analyzed before the refusal
    assert out.read_text() == "mine\n"


def test_an_empty_out_from_python_is_refused_too(tmp_path, monkeypatch):
    from grokinterp.errors import RunDirError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(RunDirError, match="current directory"):
        train(tiny_config(max_steps=5), "", force=True, progress=False)
    assert (tmp_path / "keep.txt").exists()


# ---------------------------------------------------------------- inputs that never end


def _subprocess(argv: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-m", "grokinterp", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--config", "/dev/zero", "--out", "new"],
        ["train", "--preset", "quick", "--init-from", "/dev/zero", "--out", "new"],
        ["train", "--config", "fifo", "--out", "new"],
        ["sweep", "fifo", "--out", "sw"],
        ["import-legacy", "/dev/zero", "new"],
        ["efficiency", "ungrok", "/dev/zero", "--sizes", "10", "--out", "eff"],
    ],
    ids=["config-dev-zero", "init-from-dev-zero", "config-fifo", "spec-fifo", "legacy-dev-zero",
         "ungrok-dev-zero"],
)  # fmt: skip
def test_an_input_that_never_ends_is_refused_at_once(tmp_path, argv):
    os.mkfifo(tmp_path / "fifo")
    r = _subprocess(argv, tmp_path)
    assert r.returncode == 2, r.stderr
    err = one_line(r.stderr)
    assert "regular file" in err or "expected RUN_DIR/checkpoints" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


# ------------------------------------------------------------ never silently wrong


def _edit_config(run: Path, section: str, name: str, value) -> None:
    d = json.loads((run / "config.json").read_text())
    d[section][name] = value
    (run / "config.json").write_text(json.dumps(d))


@pytest.mark.parametrize(
    "section, name, value",
    [("task", "name", "sub"), ("optim", "lr", 0.5), ("task", "split_seed", 7)],
)
def test_a_config_edited_to_another_valid_one_is_refused_everywhere(
    run, section, name, value, capsys
):
    from grokinterp.errors import RunDirError
    from grokinterp.runs import Run

    _edit_config(run, section, name, value)
    before = tree(run)
    for argv in (
        ["analyze", str(run), "--no-figures", "--no-progress"],
        ["info", str(run)],
        # the edited file is both the stored and the given config: only the stamp tells
        ["train", "--config", str(run / "config.json"), "--out", str(run), "--resume",
         "--max-steps", "30", "--no-progress"],
    ):  # fmt: skip
        status, err = cli(argv, capsys)
        assert status == 2, (argv, err)
        assert "trained under another config" in one_line(err) and name in err, err
    with pytest.raises(RunDirError, match="another config"):
        _ = Run(run).config
    assert tree(run) == before


def test_a_run_written_before_the_stamp_still_opens(run, capsys):
    """Older runs have no config stamp: what can be checked (shapes, dtypes) still is."""
    from grokinterp.runs import Run
    from grokinterp.runs.io import load_tensors, save_tensors

    for path in [*(run / "checkpoints").iterdir(), *(run / "state").iterdir()]:
        tensors, meta = load_tensors(path)
        for key in (layout.CONFIG_SHA, layout.CONFIG_IDENTITY, "format", "sha256"):
            meta.pop(key, None)
        save_tensors(path, tensors, meta)
    r = Run(run)
    assert r.config.optim.max_steps == 20 and r.params(20)
    status, err = cli(["train", "--config", str(run / "config.json"), "--out", str(run),
                       "--resume", "--max-steps", "25", "--no-progress"], capsys)  # fmt: skip
    assert status == 0, err


@pytest.mark.parametrize("dtype", ["int64", "float16"])
def test_a_checkpoint_of_another_dtype_with_a_valid_checksum_is_refused(run, dtype, capsys):
    import torch

    from grokinterp.runs.io import load_tensors, save_tensors

    path = layout.checkpoint_path(run, 20)
    tensors, meta = load_tensors(path)
    save_tensors(path, {k: v.to(getattr(torch, dtype)) for k, v in tensors.items()}, meta)
    status, err = cli(["analyze", str(run), "--no-figures", "--no-progress"], capsys)
    assert status == 2 and "not float32" in one_line(err)
    status, err = cli(["info", str(run)], capsys)
    assert status == 2 and "not float32" in one_line(err)


def _train_in_subprocess(out: Path) -> None:
    cfg = out.parent / f"{out.name}.json"
    cfg.write_text(tiny_config(max_steps=20).to_json())
    r = _subprocess(["train", "--config", str(cfg), "--out", str(out), "--no-progress"], out.parent)
    assert r.returncode == 0, r.stderr


def test_identical_runs_write_byte_identical_checkpoints_across_processes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _train_in_subprocess(a)
    _train_in_subprocess(b)
    files = sorted(p.relative_to(a) for p in (a / "checkpoints").iterdir())
    assert len(files) > 5
    # (the state files differ: they record the wall time, for the metrics of a resumed run)
    for rel in [*files, Path("early_loss.safetensors")]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


# ------------------------------------------------------ repair finds what readers trip on


def test_repair_sets_aside_a_truncated_early_loss_file_and_says_so(run, capsys):
    path = run / layout.EARLY_LOSS
    path.write_bytes(path.read_bytes()[:-16])
    status, err = cli(["predict", str(run)], capsys)
    assert status == 2 and "repair" in one_line(err)
    assert main(["repair", str(run)]) == 0
    out = capsys.readouterr().out
    assert "set aside  early_loss.safetensors" in out and "every file is intact" not in out
    assert (run / "damaged" / layout.EARLY_LOSS).exists() and not path.exists()
    # resumed, the run records no early losses rather than a curve with a hole
    assert main(["train", "--config", str(run / "config.json"), "--out", str(run), "--resume",
                 "--max-steps", "30", "--no-progress"]) == 0  # fmt: skip
    assert not path.exists()


@pytest.mark.parametrize(
    "line",
    [
        b'{"step": 3, "train_loss": 0.5, "train_acc": \xff\xfe}',  # not UTF-8
        b'{"step": 3, "train_loss": "low", "train_acc": 0.5}',  # a word for a number
        b'{"step": 3, "train_loss": true}',  # a boolean for a number
        b'{"step": 3, "param_norms": [1, 2]}',  # a list for a mapping
        b'{"step": -4}',  # a negative step
    ],
    ids=["invalid-utf8", "string-loss", "bool-loss", "list-norms", "negative-step"],
)
def test_a_bad_metrics_line_is_one_line_for_readers_and_repair_sets_it_aside(run, line, capsys):
    path = run / layout.METRICS
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([*lines[:2], line, *lines[2:]]) + b"\n")
    for argv in (["info", str(run)], ["analyze", str(run), "--no-figures", "--no-progress"]):
        status, err = cli(argv, capsys)
        assert status == 2 and "repair" in one_line(err), err
    assert not (run / "analysis").exists()  # refused before computing anything
    assert main(["repair", str(run)]) == 0
    out = capsys.readouterr().out
    assert "1 unreadable line(s)" in out and "every file is intact" not in out
    assert (run / "damaged" / "metrics.bad-lines.jsonl").read_bytes() == line + b"\n"
    status, err = cli(["info", str(run)], capsys)
    assert status == 0, err


@pytest.mark.parametrize(
    "status, spec",
    [("[1, 2]", None), ('"done"', None), ('{"status": 3}', None), (b"\xff\xfe", None),
     (None, "[1, 2]"), (None, '"runs"'), (None, b"\xff")],
    ids=["status-list", "status-string", "status-number", "status-not-utf8", "spec-list",
         "spec-string", "spec-not-utf8"],
)  # fmt: skip
def test_sweep_files_of_valid_json_but_the_wrong_shape(tmp_path, status, spec, capsys):
    (tmp_path / "cfg.json").write_text(tiny_config(max_steps=6).to_json())
    (tmp_path / "s.json").write_text(json.dumps({"base": {"config": str(tmp_path / "cfg.json")}}))
    sweep = ["sweep", str(tmp_path / "s.json"), "--out", str(tmp_path / "sw"), "--no-progress",
             "--workers", "1"]  # fmt: skip
    assert main(sweep) == 0
    capsys.readouterr()
    if status is not None:  # not trusted: the run is redone, to the same table
        path = next((tmp_path / "sw" / "status").glob("*.json"))
        path.write_bytes(status if isinstance(status, bytes) else status.encode())
        assert main(sweep) == 0
    else:
        path = tmp_path / "sw" / "spec.json"
        path.write_bytes(spec if isinstance(spec, bytes) else spec.encode())
        status_, err = cli(sweep, capsys)
        assert status_ == 2 and "spec.json" in one_line(err)


def _legacy_cases() -> dict[str, dict]:
    import torch
    from helpers import legacy_state

    st = legacy_state(0)
    return {
        "weight-a-word": {"model": {**st, "embed.W_E": "abc"}},
        "weight-a-list": {"model": {**st, "embed.W_E": [1, 2]}},
        "weight-int64": {"model": {**st, "embed.W_E": st["embed.W_E"].long()}},
        "weight-wrong-size": {"model": {**st, "blocks.0.attn.W_O": torch.zeros(3, 3)}},
        "losses-a-word": {"model": st, "train_losses": "x"},
        "losses-a-dict": {"model": st, "train_losses": {"a": 1}},
        "config-a-list": {"model": st, "config": [1, 2]},
        "config-lr-a-word": {"model": st, "config": {"lr": "abc"}},
    }


@pytest.mark.parametrize("case", list(_legacy_cases()))
def test_a_legacy_file_with_wrong_types_inside_is_one_line(tmp_path, case, capsys):
    import torch

    torch.save(_legacy_cases()[case], tmp_path / "in.pth")
    status, err = cli(["import-legacy", str(tmp_path / "in.pth"), str(tmp_path / "out")], capsys)
    assert status == 2 and "in.pth" in one_line(err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key_freqs", [["--key-freqs", "1,2"], []], ids=["key-freqs", "rule"])
def test_a_checkpoint_full_of_nan_is_one_line_for_analyze(run, key_freqs, capsys):
    import torch

    from grokinterp.runs.io import load_tensors, save_tensors

    path = layout.checkpoint_path(run, 20)
    tensors, meta = load_tensors(path)
    save_tensors(path, {k: torch.full_like(v, float("nan")) for k, v in tensors.items()}, meta)
    argv = ["analyze", str(run), "--no-figures", "--no-progress", *key_freqs]
    status, err = cli(argv, capsys)
    assert status == 2 and "NaN" in one_line(err)
