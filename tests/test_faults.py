"""Fault injection: kills at every kind of write, signals, a full disk, a read-only
directory, damaged files, two writers. Each case asserts that nothing is lost and that the
run, continued, equals the uninterrupted one.

Kills are injected at the write, not by timing: the command runs in a subprocess whose
``os.replace`` (the rename that publishes every file grokinterp writes) kills the process
with SIGKILL at its N-th call, after the new file's bytes are on disk under a temporary
name and before they replace the old file.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_same_run, tiny_config

from grokinterp.cli import main
from grokinterp.config import replace
from grokinterp.errors import UserError
from grokinterp.runs import Run, layout
from grokinterp.runs.lock import dir_lock
from grokinterp.training import train

CFG = replace(tiny_config(max_steps=60), {"schedule": {"ckpt_every": 10}})

KILLER = """
import os, signal, sys
n, calls, real = int(os.environ["KILL_AT_REPLACE"]), [0], os.replace
def replace(*args, **kwargs):
    calls[0] += 1
    if calls[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
os.replace = replace
from grokinterp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cli(args, tmp_path, env=None, **kwargs) -> subprocess.CompletedProcess:
    """``grokinterp ARGS`` in a subprocess (with the kill injected when env asks for it)."""
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **(env or {}))
    cmd = [sys.executable, str(script)] if "KILL_AT_REPLACE" in full_env else [
        sys.executable, "-m", "grokinterp"
    ]  # fmt: skip
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=full_env, timeout=300, **kwargs
    )


def one_line(text: str) -> str:
    text = text.strip()
    assert text.startswith("grokinterp: error: ") or text.startswith("grokinterp: "), text
    assert "\n" not in text and "Traceback" not in text, text
    return text


def temporaries(run_dir: Path) -> list[Path]:
    return [p for p in run_dir.rglob(".*.tmp")]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The uninterrupted run every interrupted one must end up equal to."""
    out = tmp_path_factory.mktemp("straight") / "run"
    train(CFG, out, progress=False)
    return out


@pytest.fixture
def cfg_file(tmp_path) -> Path:
    path = tmp_path / "cfg.json"
    path.write_text(CFG.to_json())
    return path


def train_args(cfg_file: Path, out: Path, *more: str) -> list[str]:
    return ["train", "--config", str(cfg_file), "--out", str(out), "--no-progress", *more]


# ------------------------------------------------------------------ kills at a write


def replace_calls(tmp_path: Path, cfg_file: Path) -> int:
    """How many renames an uninterrupted training run makes (kill points to choose from)."""
    r = cli(train_args(cfg_file, tmp_path / "count"), tmp_path, {"KILL_AT_REPLACE": "0"})
    assert r.returncode == 0, r.stderr
    n_ckpt = len(layout.checkpoint_steps_on_disk(tmp_path / "count"))
    return 1 + n_ckpt + (2 * n_ckpt - 1)  # config; each checkpoint; each state (+ its rename)


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0])
def test_sigkill_at_a_write_then_resume_equals_the_uninterrupted_run(
    fraction, tmp_path, cfg_file, straight
):
    total = replace_calls(tmp_path, cfg_file)
    n = max(1, round(fraction * total))
    out = tmp_path / "killed"
    r = cli(train_args(cfg_file, out), tmp_path, {"KILL_AT_REPLACE": str(n)})
    assert r.returncode == -signal.SIGKILL, (n, r.stderr)
    # what the kill left is either intact or refused in one line, never trusted
    for step in layout.checkpoint_steps_on_disk(out):
        Run(out).params(step)  # complete files only: the rename is what publishes them
    assert main(train_args(cfg_file, out, "--resume")) == 0
    assert temporaries(out) == []
    assert_same_run(out, straight)


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 2])
def test_sigkill_inside_analyze_leaves_a_table_that_resumes(n, tmp_path, straight):
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    shutil.copytree(straight, ref)
    shutil.copytree(straight, killed)
    args = ["--no-figures", "--no-progress", "--key-freqs", "1,2"]
    assert main(["analyze", str(ref), *args]) == 0
    r = cli(["analyze", str(killed), *args], tmp_path, {"KILL_AT_REPLACE": str(n)})
    assert r.returncode == -signal.SIGKILL
    assert main(["analyze", str(killed), *args]) == 0
    assert temporaries(killed / "analysis") == []
    a = pd.read_csv(ref / "analysis" / "measures.csv")
    b = pd.read_csv(killed / "analysis" / "measures.csv")
    pd.testing.assert_frame_equal(a, b)
    sa = json.loads((ref / "analysis" / "summary.json").read_text())
    sb = json.loads((killed / "analysis" / "summary.json").read_text())
    assert sa["steps_analyzed"] == sb["steps_analyzed"] and sa["key_freqs"] == sb["key_freqs"]


# ------------------------------------------------------------------ signals


def _start_and_wait(cmd: list[str], run_dir: Path, step: int, env: dict) -> subprocess.Popen:
    # the child gets SIGINT's default action even where the tests run with SIGINT ignored
    # (a background job of a non-interactive shell inherits SIG_IGN, and Python then keeps
    # ignoring it instead of raising KeyboardInterrupt: the run would finish, exit 0)
    proc = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        rows = layout.read_metrics(run_dir) if (run_dir / layout.METRICS).exists() else []
        if rows and rows[-1]["step"] >= step:
            return proc
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    raise AssertionError("the run did not get far enough")


@pytest.mark.slow
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_stop_cleanly_and_resume(sig, status, tmp_path):
    cfg = replace(tiny_config(max_steps=800), {"schedule": {"ckpt_every": 50}})
    path = tmp_path / "cfg.json"
    path.write_text(cfg.to_json())
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, "-m", "grokinterp", *train_args(path, out)]
    proc = _start_and_wait(cmd, out, 120, env)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert "run the same command again" in one_line(err)
    assert temporaries(out) == []
    assert main(train_args(path, out, "--resume")) == 0
    train(cfg, tmp_path / "straight", progress=False)
    assert_same_run(out, tmp_path / "straight")


# ------------------------------------------------------------------ the disk


def _limit_file_size(limit: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.slow
def test_a_full_disk_gives_one_line_and_loses_nothing(tmp_path, cfg_file, straight):
    """RLIMIT_FSIZE stands in for a full disk: the write that would pass it fails (EFBIG)."""
    out = tmp_path / "run"
    ckpt_bytes = layout.checkpoint_path(straight, 0).stat().st_size
    r = cli(train_args(cfg_file, out), tmp_path, preexec_fn=_limit_file_size(ckpt_bytes + 100))
    # the state file (moments: twice a checkpoint) cannot be written
    assert r.returncode == 2, r.stderr
    assert "while writing" in one_line(r.stderr)
    assert "state/latest.safetensors: " in r.stderr  # the line names the file (issue 33)
    assert temporaries(out) == []
    assert main(train_args(cfg_file, out, "--resume")) == 0
    assert_same_run(out, straight)


def _read_only(run_dir: Path, args: list[str]) -> subprocess.CompletedProcess:
    """``grokinterp ARGS`` with ``run_dir`` read-only: by permissions for a normal user; for
    root, which ignores them, in a private mount namespace with a read-only bind mount."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, "-m", "grokinterp", *args]
    if os.geteuid() != 0:
        for p in [run_dir, *run_dir.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        finally:
            for p in [run_dir, *run_dir.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare(1): cannot make a directory read-only")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root where unshare -m is not permitted")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, str(run_dir), *cmd],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_a_read_only_run_directory_gives_one_line(tmp_path, cfg_file, straight):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for args in (
        train_args(cfg_file, out, "--resume", "--max-steps", "80"),
        ["analyze", str(out), "--no-figures", "--no-progress"],
    ):
        r = _read_only(out, args)
        assert r.returncode == 2, r.stderr
        line = one_line(r.stderr)
        assert "Read-only file system" in line or "Permission denied" in line
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


# ------------------------------------------------------------------ damaged files


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x10  # a bit of the tensor data: only the checksum can tell
    path.write_bytes(bytes(data))


def _last_ckpt(run_dir: Path) -> Path:
    return layout.checkpoint_path(run_dir, layout.checkpoint_steps_on_disk(run_dir)[-1])


DAMAGE = {
    "middle checkpoint truncated": (lambda d: _truncate(layout.checkpoint_path(d, 20)), "step_20"),
    "middle checkpoint bit-flipped": (lambda d: _flip(layout.checkpoint_path(d, 20)), "step_20"),
    "last checkpoint bit-flipped": (lambda d: _flip(_last_ckpt(d)), "step_60"),
    "state truncated": (lambda d: _truncate(d / layout.STATE), "latest.safetensors"),
    "state bit-flipped": (lambda d: _flip(d / layout.STATE), "latest.safetensors"),
    "garbage metrics line": (
        lambda d: (d / layout.METRICS).write_text(
            (d / layout.METRICS).read_text().replace("\n", "\n{garbage\n", 1)
        ),
        "metrics.jsonl",
    ),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_reported_in_one_line_and_repair_makes_the_run_resumable(
    damage, tmp_path, cfg_file, straight, capsys
):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    harm, name = DAMAGE[damage]
    harm(out)
    resume = train_args(cfg_file, out, "--resume", "--max-steps", "60")
    analyze = ["analyze", str(out), "--no-figures", "--no-progress"]
    readers = {  # the commands that read the damaged file
        "middle checkpoint": [analyze],
        "last checkpoint": [resume, analyze],
        "state": [resume],
        "garbage metrics": [resume, analyze, ["info", str(out)]],
    }
    for args in next(v for k, v in readers.items() if damage.startswith(k)):
        capsys.readouterr()
        status = main(args)
        err = capsys.readouterr().err
        assert status == 2, (args, err)
        assert name in one_line(err) and "grokinterp repair" in err
    assert main(["repair", str(out)]) == 0
    text = capsys.readouterr().out
    assert "resumable from step" in text
    assert (out / layout.DAMAGED).is_dir()  # set aside, not deleted
    if "middle checkpoint" in damage:
        assert not layout.checkpoint_path(out, 20).exists()
        return  # it cannot be re-created without training again from step 0
    assert main(train_args(cfg_file, out, "--resume")) == 0
    assert_same_run(out, straight)
    assert main(["analyze", str(out), "--no-figures", "--no-progress", "--key-freqs", "1"]) == 0


def test_a_damaged_config_and_a_missing_state_are_one_line(tmp_path, cfg_file, straight, capsys):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    shutil.rmtree(out / "state")
    assert main(train_args(cfg_file, out, "--resume")) == 2
    assert "no state/latest.safetensors" in one_line(capsys.readouterr().err)
    (out / layout.CONFIG).write_text('{"task": {"p": ')
    for args in (["info", str(out)], ["analyze", str(out)], ["repair", str(out)]):
        assert main(args) == 2
        assert "config.json" in one_line(capsys.readouterr().err)
    with pytest.raises(UserError, match="config.json"):
        _ = Run(out).config


# ------------------------------------------------------------------ two writers


def test_a_second_writer_is_refused_and_a_killed_one_does_not_block(
    tmp_path, cfg_file, straight, capsys
):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    with dir_lock(out, "run"):  # as if another process were training it
        assert main(train_args(cfg_file, out, "--resume", "--max-steps", "70")) == 2
        assert "another grokinterp process" in one_line(capsys.readouterr().err)
        assert main(["repair", str(out)]) == 2
        assert "another grokinterp process" in one_line(capsys.readouterr().err)
    with dir_lock(out / "analysis", "run's analysis"):
        assert main(["analyze", str(out), "--no-figures", "--no-progress"]) == 2
        assert "another grokinterp process" in one_line(capsys.readouterr().err)
    assert not (out / "analysis").exists()  # the lock removed the folder it created
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"base": {"config": str(cfg_file)}}))
    with dir_lock(tmp_path / "sw", "sweep"):
        assert main(["sweep", str(spec), "--out", str(tmp_path / "sw"), "--no-progress"]) == 2
        assert "another grokinterp process" in one_line(capsys.readouterr().err)
    # a holder killed with SIGKILL: the kernel drops its lock
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], 0);"
         "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    assert main(train_args(cfg_file, out, "--resume", "--max-steps", "70")) == 2
    assert f"pid {holder.pid}" in one_line(capsys.readouterr().err)
    holder.kill()
    holder.wait()
    assert main(train_args(cfg_file, out, "--resume", "--max-steps", "70")) == 0


@pytest.mark.slow
def test_analyze_while_training_writes_is_safe(tmp_path):
    """Checkpoints appear whole (atomic renames), so analyzing a run being trained reads a
    consistent prefix of it; the analysis of the finished run then covers every step."""
    cfg = replace(tiny_config(max_steps=5000), {"schedule": {"ckpt_every": 250}})
    path = tmp_path / "cfg.json"
    path.write_text(cfg.to_json())
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, "-m", "grokinterp", *train_args(path, out)]
    proc = _start_and_wait(cmd, out, 300, env)
    try:
        assert main(["analyze", str(out), "--no-figures", "--no-progress", "--key-freqs", "1"]) == 0
        first = pd.read_csv(out / "analysis" / "measures.csv")
        assert proc.poll() is None, "training must still be running"
    finally:
        proc.wait(timeout=300)
    assert proc.returncode == 0
    assert main(["analyze", str(out), "--no-figures", "--no-progress", "--key-freqs", "1"]) == 0
    final = pd.read_csv(out / "analysis" / "measures.csv")
    assert set(first["step"]) < set(final["step"])
    assert set(final["step"]) == set(layout.checkpoint_steps_on_disk(out))


# ------------------------------------------------------------------ sweeps


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (workers, and for Ray its raylet and its workers)."""
    parent = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# a process that trains: a pool worker, or a Ray task worker running a unit or idle between
# two (not Ray's own agents, such as ray::DashboardAgent, which train nothing)
TRAINING_WORKER = r"spawn_main|ray::(IDLE|_run_unit)|default_worker\.py"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("backend", ["local", "ensemble", "ray"])
def test_a_killed_sweep_leaves_no_worker_and_resumes_to_the_same_table(backend, tmp_path):
    if backend == "ray":
        pytest.importorskip("ray", reason="the ray extra is not installed (pip install .[ray])")
    spec = {
        "base": {"config": str(tmp_path / "cfg.json")},
        "overrides": {"max_steps": 600, "ckpt_every": 50},
        "grid": {"weight_decay": [0.5, 1.0]},
        "seeds": [0, 1],
    }
    (tmp_path / "cfg.json").write_text(tiny_config().to_json())
    (tmp_path / "s.json").write_text(json.dumps(spec))
    sweep = ["sweep", str(tmp_path / "s.json"), "--backend", backend, "--no-progress"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = tmp_path / "sw"
    proc = subprocess.Popen(
        [sys.executable, "-m", "grokinterp", *sweep, "--out", str(out), "--workers", "2"],
        env=env, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not any(
        (r / layout.STATE).exists() for r in (out / "runs").glob("*")
    ):
        assert proc.poll() is None
        time.sleep(0.05)
    # the processes that train: pool workers, Ray's task workers (Ray's own agents, which
    # train nothing, may outlive a killed driver by a while; they are stopped below). A Ray
    # worker between two units is titled ray::IDLE, and on a loaded machine the tree may be
    # read while one is being spawned: the tree is read again until a worker shows
    deadline = time.time() + 30
    while True:
        everything = _descendants(proc.pid)
        workers = [w for w in everything if re.search(TRAINING_WORKER, _cmdline(w))]
        if workers or backend == "ensemble" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert workers or backend == "ensemble", [_cmdline(w) for w in everything]
    proc.kill()  # the sweep's own process only: its workers must follow it
    proc.wait()
    deadline = time.time() + 30  # Ray's processes notice their driver's death in seconds
    while [w for w in workers if _alive(w)] and time.time() < deadline:
        time.sleep(0.2)
    assert [_cmdline(w) for w in workers if _alive(w)] == []
    for w in everything:
        if _alive(w):
            os.kill(w, signal.SIGKILL)
    # in fresh processes, as a user would: the test process has run Ray clusters before
    for target in (out, tmp_path / "straight"):
        r = cli([*sweep, "--out", str(target), "--workers", "2"], tmp_path)
        assert r.returncode == 0, r.stderr
    # members killed between two checkpoint writes resume from different steps, so the
    # ensemble trains them in separate batches: equal within the ensemble's tolerance (the
    # batches round differently, and over 600 steps a near-tie among the 61 test pairs may
    # flip: accuracies agree within one example)
    resumed, straight = (pd.read_csv(d / "results.csv") for d in (out, tmp_path / "straight"))
    if backend != "ensemble":
        pd.testing.assert_frame_equal(resumed, straight, check_exact=True)
        return
    acc = [c for c in straight.columns if c.endswith("_acc")]
    assert acc
    pd.testing.assert_frame_equal(
        resumed.drop(columns=acc), straight.drop(columns=acc), rtol=1e-2, atol=1e-6
    )
    assert ((resumed[acc] - straight[acc]).abs() <= 1.01 / 61).all().all()


def test_damaged_sweep_files(tmp_path, capsys):
    spec = {"base": {"config": str(tmp_path / "cfg.json")}, "seeds": [0, 1]}
    (tmp_path / "cfg.json").write_text(tiny_config(max_steps=10).to_json())
    (tmp_path / "s.json").write_text(json.dumps(spec))
    sweep = ["sweep", str(tmp_path / "s.json"), "--out", str(tmp_path / "sw"), "--no-progress"]
    assert main([*sweep, "--workers", "1"]) == 0
    table = (tmp_path / "sw" / "results.csv").read_text()
    status = next((tmp_path / "sw" / "status").glob("*.json"))
    status.write_text("{garbage")  # a damaged status is not trusted: that run is redone
    (tmp_path / "sw" / "results.csv").unlink()  # rebuilt from the run directories
    assert main([*sweep, "--workers", "1"]) == 0
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "sw" / "results.csv"), pd.read_csv(StringIO(table))
    )
    (tmp_path / "sw" / "spec.json").write_text("{not json")
    assert main([*sweep, "--workers", "1"]) == 2
    assert "spec.json" in one_line(capsys.readouterr().err)


# ------------------------------------------------------------------ never silently wrong


@pytest.mark.parametrize("field, value", [("task.p", 13), ("model.d_mlp", 65)])
def test_a_config_edited_to_disagree_with_the_checkpoints_is_one_line(
    field, value, tmp_path, cfg_file, straight, capsys
):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    d = json.loads((out / layout.CONFIG).read_text())
    section, name = field.split(".")
    d[section][name] = value
    (out / layout.CONFIG).write_text(json.dumps(d))
    edited = out / layout.CONFIG
    for args in (
        ["analyze", str(out), "--no-figures", "--no-progress"],
        ["train", "--config", str(edited), "--out", str(out), "--resume", "--no-progress"],
    ):
        assert main(args) == 2
        err = one_line(capsys.readouterr().err)
        # the config stamp of the run's files names the field; shapes are the fallback
        assert "another config than config.json" in err or "another shape" in err, err
        assert name in err or "another shape" in err, err


def test_resume_records_the_new_stopping_rule_and_refuses_to_shorten(tmp_path, capsys):
    out = tmp_path / "run"
    train(tiny_config(max_steps=30), out, progress=False)
    train(tiny_config(max_steps=45), out, resume=True, progress=False)
    assert json.loads((out / layout.CONFIG).read_text())["optim"]["max_steps"] == 45
    assert Run(out).config.optim.max_steps == 45 and Run(out).metrics["step"].max() == 45
    path = tmp_path / "c.json"
    path.write_text(tiny_config(max_steps=40).to_json())
    assert main(["train", "--config", str(path), "--out", str(out), "--resume"]) == 2
    assert "below the 45 steps" in one_line(capsys.readouterr().err)
    assert json.loads((out / layout.CONFIG).read_text())["optim"]["max_steps"] == 45


def test_a_diverging_run_stops_and_says_so(tmp_path, capsys):
    cfg = replace(tiny_config(max_steps=40), {"model": {"init_scale": 1e30}})
    path = tmp_path / "c.json"
    path.write_text(cfg.to_json())
    out = tmp_path / "run"
    assert main(["train", "--config", str(path), "--out", str(out), "--no-progress"]) == 2
    assert "training diverged at step 0" in one_line(capsys.readouterr().err)
    rows = layout.read_metrics(out)
    assert len(rows) == 1 and not math.isfinite(rows[0]["train_loss"])


def test_a_sweep_records_diverged_runs_and_trains_the_others(tmp_path):
    from grokinterp.sweeps.engine import run_sweep

    (tmp_path / "cfg.json").write_text(tiny_config(max_steps=20).to_json())
    spec = {"base": {"config": str(tmp_path / "cfg.json")}, "grid": {"init_scale": [1.0, 1e30]}}
    for backend in ("local", "ensemble"):
        table = run_sweep(spec, tmp_path / backend, backend=backend, workers=1, progress=False)
        assert list(table["status"]) == ["done", "diverged"], backend
        assert "diverged at step 0" in table["error"].iloc[1]
        # a diverged run is finished: running the sweep again does not retrain it
        again = run_sweep(spec, tmp_path / backend, backend=backend, workers=1, progress=False)
        assert list(again["status"]) == ["done", "diverged"]


def test_a_local_sweep_ends_without_warnings(tmp_path):
    """Workers exit by themselves; terminated ones left semaphores that Python's resource
    tracker reported as leaked at exit."""
    (tmp_path / "cfg.json").write_text(tiny_config(max_steps=10).to_json())
    spec = {"base": {"config": str(tmp_path / "cfg.json")}, "seeds": [0, 1]}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    r = cli(["sweep", str(tmp_path / "s.json"), "--out", str(tmp_path / "sw"), "--no-progress",
             "--workers", "2"], tmp_path)  # fmt: skip
    assert r.returncode == 0 and r.stderr == "", r.stderr


@pytest.mark.parametrize(
    "name, content",
    [("measures.csv", "garbage,,,\n1,2\n"), ("summary.json", "{bad"), ("summary.json", "[1]")],
)
def test_a_damaged_analysis_file_is_one_line(name, content, tmp_path, straight, capsys):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    args = ["analyze", str(out), "--no-figures", "--no-progress", "--key-freqs", "1"]
    assert main(args) == 0
    (out / "analysis" / name).write_text(content)
    capsys.readouterr()
    assert main(args) == 2
    assert name in one_line(capsys.readouterr().err)
    (out / "analysis" / name).unlink()  # what the message says to do
    assert main(args) == 0
