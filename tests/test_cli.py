import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from helpers import tiny_config

from grokinterp.cli import main
from grokinterp.runs import layout

TINY = [
    "--p",
    "11",
    "--train-fraction",
    "0.5",
    "--d-model",
    "32",
    "--d-head",
    "8",
    "--d-mlp",
    "64",
    "--max-steps",
    "20",
    "--log-every",
    "5",
    "--ckpt-every",
    "10",
    "--ckpt-log-count",
    "3",
    "--ckpt-log-until",
    "5",
    "--no-progress",
]


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("grokinterp: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_train_with_overrides_then_info(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "quick", "--out", str(out), *TINY]) == 0
    assert f"run written to {out}" in capsys.readouterr().out
    stored = json.loads((out / "config.json").read_text())
    assert stored["task"]["p"] == 11 and stored["model"]["d_model"] == 32
    assert stored["optim"]["lr"] == 3e-3  # from the preset
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "add p=11" in text and "checkpoints" in text and "landmarks" in text


def test_train_size_flag_replaces_the_fraction(tmp_path):
    out = tmp_path / "run"
    args = [a for a in TINY if a not in ("--train-fraction", "0.5")]
    assert main(["train", "--out", str(out), *args, "--train-size", "30"]) == 0
    task = json.loads((out / "config.json").read_text())["task"]
    assert task["train_size"] == 30 and task["train_fraction"] is None


def test_refuses_existing_run_with_other_config_and_loses_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--out", str(out), *TINY])
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["train", "--out", str(out), *TINY, "--lr", "0.01"]) == 2
    assert "different config" in _one_error_line(capsys)
    assert main(["train", "--out", str(out), *TINY, "--lr", "0.01", "--resume"]) == 2
    assert "optim.lr" in _one_error_line(capsys)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--task", "div", "--p", "12"], "prime"),
        (["--train-fraction", "1.5"], "train_fraction"),
        (["--train-fraction", "0"], "train_fraction"),
        (["--task", "nope"], "unknown task"),
        (["--n-heads", "0"], "n_heads"),
    ],
)
def test_bad_values_exit_2_with_one_line(tmp_path, capsys, args, fragment):
    assert main(["train", "--out", str(tmp_path / "r"), *TINY, *args]) == 2
    assert fragment in _one_error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_unknown_key_in_config_file(tmp_path, capsys):
    cfg = json.loads(tiny_config().to_json())
    cfg["optim"]["learning_rate"] = 1
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "learning_rate" in _one_error_line(capsys)


def test_info_on_missing_and_broken_runs(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "no such run directory" in _one_error_line(capsys)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    assert main(["info", str(tmp_path / "broken")]) == 2
    assert "not valid JSON" in _one_error_line(capsys)


def test_resume_with_a_corrupt_checkpoint_exits_2(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--out", str(out), *TINY])
    path = layout.checkpoint_path(out, 20)
    path.write_bytes(path.read_bytes()[:50])
    assert main(["train", "--out", str(out), *TINY, "--max-steps", "30", "--resume"]) == 2
    assert "corrupt" in _one_error_line(capsys)


def test_bad_flag_value_exits_2_and_help_is_complete():
    r = subprocess.run(
        [sys.executable, "-m", "grokinterp.cli", "train", "--p", "abc"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--p" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "grokinterp.cli", "train", "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0
    from grokinterp.cli import config_flags

    for flag in config_flags():
        assert f"--{flag}" in r.stdout


@pytest.mark.parametrize(
    "cmd",
    [
        ["train", "--out", "{out}"],
        ["sweep", "spec.yaml", "--out", "{out}"],
        ["efficiency", "study", "--out", "{out}"],
    ],
)
def test_a_device_this_machine_lacks_exits_2_before_writing(tmp_path, capsys, cmd):
    import torch

    bad = ["--device", "foo"] if torch.cuda.is_available() else ["--device", "cuda"]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main([c.format(out=out) for c in cmd] + bad)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--device" in err and ("no CUDA GPU" in err or "unknown torch device" in err)
    assert not out.exists()


def _through_a_terminal(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` with its stderr on a pseudo-terminal; return its status and what it drew."""
    master, slave = pty.openpty()
    # a terminal of 24 rows and 120 columns, as a user's (a fresh pty has size 0 x 0)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode(errors="replace")


ETA = re.compile(r"\d+/\d+ \[\d\d:\d\d<\d\d:\d\d")  # tqdm: done/total [elapsed<left


@pytest.mark.slow
def test_progress_with_time_left_on_a_terminal_and_none_when_redirected(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(tiny_config(max_steps=40).to_json())
    train = [sys.executable, "-m", "grokinterp", "train", "--config", str(cfg)]
    status, drawn = _through_a_terminal([*train, "--out", str(tmp_path / "tty")])
    assert status == 0 and ETA.search(drawn), drawn[-500:]
    status, drawn = _through_a_terminal([*train, "--out", str(tmp_path / "q"), "--no-progress"])
    assert status == 0 and not ETA.search(drawn)
    piped = subprocess.run(
        [*train, "--out", str(tmp_path / "piped")], capture_output=True, text=True
    )
    assert piped.returncode == 0 and not ETA.search(piped.stderr) and "\r" not in piped.stderr
    # a sweep counts its runs: done, failed, left
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"base: {{config: {cfg}}}\nseeds: [0, 1]\n")
    status, drawn = _through_a_terminal(
        [
            sys.executable,
            "-m",
            "grokinterp",
            "sweep",
            str(spec),
            "--out",
            str(tmp_path / "sweep"),
            "--workers",
            "1",
        ]
    )
    assert status == 0 and ETA.search(drawn) and "done=2" in drawn and "failed=0" in drawn


@pytest.mark.parametrize(
    "cmd",
    [
        ["train", "--preset", "quick", "--force", *TINY],
        ["sweep", "spec.yaml", "--force", "--no-progress"],
        ["phases", "spec.yaml", "--force", "--no-progress"],
        ["analytic", "--p", "11", "--width", "16", "--force"],
        ["import-legacy", "file.pth", "--force"],
    ],
)
def test_an_empty_out_is_refused_and_nothing_is_deleted(tmp_path, monkeypatch, capsys, cmd):
    # Path("") is the current directory: --force would empty it
    (tmp_path / "spec.yaml").write_text("base: {preset: quick}\ngrid:\n  lr: [0.001]\n")
    (tmp_path / "keep.txt").write_text("precious\n")
    monkeypatch.chdir(tmp_path)
    argv = [*cmd, ""] if cmd[0] == "import-legacy" else [*cmd, "--out", ""]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = _one_error_line(capsys)
    assert "empty path; give a directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "spec.yaml"]
    assert (tmp_path / "keep.txt").read_text() == "precious\n"


@pytest.mark.parametrize("cmd", [["phases", "spec.yaml", "--out", "o"], ["tickets", "--out", "o"]])
def test_threads_below_one_exit_2_before_anything_runs(tmp_path, monkeypatch, capsys, cmd):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--threads", "0"])
    assert e.value.code == 2
    assert "--threads: must be at least 1, got 0" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


def test_every_command_of_the_parser_is_dispatched():
    import argparse

    from grokinterp.cli import COMMANDS, build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sub.choices) == list(COMMANDS)
    for name, command in COMMANDS.items():
        assert command.name == name and callable(command.run)
