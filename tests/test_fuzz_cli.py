"""Fuzzing the command line (issue 33): generated flag values, config files, sweep specs,
run-directory damage and file contents.

For every generated case the command either succeeds (exit 0) or refuses in one line
(exit 2, ``grokinterp: error: ...``) and leaves the disk exactly as it was; never a
traceback, never a hang (each example runs under an alarm of ``FUZZ_SECONDS``).

The number of examples per test is small in CI; a longer run::

    GROKINTERP_FUZZ_EXAMPLES=500 python -m pytest -q tests/test_fuzz_cli.py \\
        -p no:cacheprovider --hypothesis-show-statistics
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import tiny_config
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from grokinterp.cli import main
from grokinterp.config import config_flags
from grokinterp.errors import UserError
from grokinterp.sweeps.spec import expand, load_spec
from grokinterp.training import train
from grokinterp.training.preflight import check_bounds

EXAMPLES = int(os.environ.get("GROKINTERP_FUZZ_EXAMPLES", "25"))
FUZZ_SECONDS = int(os.environ.get("GROKINTERP_FUZZ_SECONDS", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("GROKINTERP_FUZZ_EXAMPLES") is None,  # CI: the same cases
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
SMALL = ["--p", "7", "--train-fraction", "0.5", "--d-model", "16", "--d-head", "4"]
SMALL += ["--n-heads", "4", "--d-mlp", "32", "--no-progress"]


class Hang(Exception):
    """An example ran past FUZZ_SECONDS (an Exception, so that Hypothesis shrinks it and
    prints the example)."""


@contextlib.contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hang(f"a fuzz case ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(root: Path) -> dict[str, str]:
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


def run_cli(argv: list[str], cwd: Path) -> tuple[int, str]:
    """``grokinterp ARGV`` in this process, in ``cwd``: (status, stderr)."""
    err = io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with (
            alarm(FUZZ_SECONDS),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            try:
                status = main(argv)
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else 2
    finally:
        os.chdir(old)
    return status, err.getvalue()


def assert_clean(status: int, err: str, before: dict[str, str], after: dict[str, str]) -> None:
    """Exit 0, or exit 2 with one line and nothing on disk changed."""
    assert "Traceback" not in err, err
    assert status in (0, 2), (status, err)
    if status == 2:
        lines = [x for x in err.strip().splitlines() if not x.startswith("grokinterp: note:")]
        assert len(lines) == 1 and lines[0].startswith("grokinterp: error: "), err
        if "training diverged" in err:  # an outcome, not a refusal: metrics.jsonl records it
            return
        assert after == before, "a refused command changed the disk"


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "run"
    train(tiny_config(max_steps=12), out, progress=False)
    return out


# -- values -----------------------------------------------------------------------------

INTS = st.sampled_from([-(2**70), -1, 0, 1, 2, 3, 5, 7, 31, 2**31, 2**63, 2**70, 10**12])
FLOATS = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e-300", "1e300", "0.5", "2"])
WORDS = st.sampled_from(["", " ", "abc", "none", "null", "true", "1,2", "\x00", "é", "-"])
TEXT = st.one_of(INTS.map(str), FLOATS, WORDS)
FLAGS = sorted(config_flags())
STEPS = st.one_of(st.integers(-2, 12).map(str), st.sampled_from(["1e3", "x", str(10**10)]))


@FUZZ
@given(
    picks=st.lists(st.tuples(st.sampled_from(FLAGS), TEXT), min_size=1, max_size=4),
    steps=STEPS,
)
def test_fuzz_train_flags(picks: list[tuple[str, str]], steps: str) -> None:
    """Random values for random config flags of ``train`` (the rest a tiny run)."""
    argv = ["train", "--out", "out", *SMALL]
    for flag, value in picks:
        if flag != "max-steps":
            argv += [f"--{flag}", value]
    argv += ["--max-steps", steps]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        before = snapshot(root)
        status, err = run_cli(argv, root)
        assert_clean(status, err, before, snapshot(root))


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), INTS, st.floats(allow_nan=True), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _mutate(d: dict[str, Any], path: list[str], value: Any, delete: bool) -> dict[str, Any]:
    d = json.loads(json.dumps(d))
    node: Any = d
    for key in path[:-1]:
        node = node[key] if isinstance(node, dict) and isinstance(node.get(key), dict) else None
        if node is None:
            return d
    if isinstance(node, dict):
        if delete:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return d


CONFIG = json.loads(tiny_config(max_steps=5).to_json())
PATHS = [[s, k] for s, sec in CONFIG.items() if isinstance(sec, dict) for k in sec]
PATHS += [[k] for k, v in CONFIG.items() if not isinstance(v, dict)] + [["extra"]]


@FUZZ
@given(
    edits=st.lists(st.tuples(st.sampled_from(PATHS), JSON, st.booleans()), min_size=1, max_size=3),
    raw=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_fuzz_config_files(edits: list[tuple[list[str], Any, bool]], raw: bytes | None) -> None:
    """A config.json with fields replaced by random JSON, deleted or added, or random bytes."""
    cfg = CONFIG
    for path, value, delete in edits:
        cfg = _mutate(cfg, path, value, delete)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "cfg.json").write_bytes(
            raw if raw is not None else json.dumps(cfg, allow_nan=True).encode()
        )
        before = snapshot(root)
        argv = ["train", "--config", "cfg.json", "--out", "out", "--no-progress"]
        status, err = run_cli([*argv, "--max-steps", "5"], root)
        assert_clean(status, err, before, snapshot(root))


SPEC_KEYS = ["base", "overrides", "grid", "runs", "seeds", "backend", "workers", "other"]
FIELD_NAMES = st.sampled_from(["lr", "weight_decay", "p", "seed", "optim.lr", "nope", "max_steps"])
SPEC_VALUES = st.one_of(
    JSON,
    st.lists(JSON, max_size=3),
    st.dictionaries(FIELD_NAMES, st.lists(st.one_of(INTS, FLOATS), max_size=30), max_size=8),
    st.dictionaries(FIELD_NAMES, st.one_of(JSON, st.lists(JSON, max_size=3)), max_size=3),
    st.just({"preset": "quick"}),
    st.just({"config": "missing.json"}),
)


@FUZZ
@given(spec=st.dictionaries(st.sampled_from(SPEC_KEYS), SPEC_VALUES, max_size=5))
def test_fuzz_sweep_specs(spec: dict[str, Any]) -> None:
    """A sweep spec of random structure: loading and expanding it (everything that runs
    before any training) gives runs within bounds, or one UserError; never another error."""
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, text in ((".json", json.dumps(spec)), (".yaml", json.dumps(spec))):
            path = Path(tmp) / f"spec{suffix}"
            path.write_text(text)
            with alarm(FUZZ_SECONDS):
                try:
                    runs = expand(load_spec(path))
                    for r in runs:
                        check_bounds(r.config)
                except UserError as e:
                    assert "\n" not in str(e), str(e)


DAMAGE = st.sampled_from(["truncate", "flip", "empty", "garbage", "delete", "directory"])
TARGETS = st.sampled_from([
    "config.json", "metrics.jsonl", "early_loss.safetensors", "state/latest.safetensors",
    "state/previous.safetensors", "checkpoints/step_12.safetensors",
    "checkpoints/step_0.safetensors", "checkpoints",
])  # fmt: skip
COMMANDS = st.sampled_from(["info", "analyze", "repair", "resume", "predict"])


def _damage(path: Path, how: str, where: int, data: bytes) -> None:
    if not path.exists() and how not in ("directory", "garbage"):
        return
    if how == "delete":
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    elif how == "directory":
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        path.mkdir()
    elif path.is_dir():
        return
    elif how == "truncate":
        b = path.read_bytes()
        path.write_bytes(b[: where % (len(b) + 1)])
    elif how == "flip":
        b = bytearray(path.read_bytes())
        if b:
            b[where % len(b)] ^= 0xFF
        path.write_bytes(bytes(b))
    elif how == "empty":
        path.write_bytes(b"")
    else:  # garbage
        path.write_bytes(data)


@FUZZ
@given(
    damages=st.lists(
        st.tuples(TARGETS, DAMAGE, st.integers(0, 10**6), st.binary(max_size=40)),
        min_size=1,
        max_size=2,
    ),
    command=COMMANDS,
)
def test_fuzz_run_directory_damage(finished: Path, damages: list, command: str) -> None:
    """A finished run with random files truncated, flipped, emptied, replaced, deleted or
    turned into directories, then read, analyzed, repaired, resumed or predicted."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = root / "run"
        shutil.copytree(finished, run)
        for target, how, where, data in damages:
            _damage(run / target, how, where, data)
        argv = {
            "info": ["info", "run"],
            "analyze": ["analyze", "run", "--no-figures", "--no-progress"],
            "repair": ["repair", "run"],
            "resume": ["train", "--config", "run/config.json", "--out", "run", "--resume",
                       "--max-steps", "14", "--no-progress"],
            "predict": ["predict", "run"],
        }[command]  # fmt: skip
        before = snapshot(root)
        status, err = run_cli(argv, root)
        assert_clean(status, err, before, snapshot(root))
        if command == "repair" and status == 0:  # what repair leaves, a reader can read
            before = snapshot(root)
            status, err = run_cli(["info", "run"], root)
            assert_clean(status, err, before, snapshot(root))


@FUZZ
@given(
    content=st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode())),
    role=st.sampled_from(["init-from", "legacy", "spec-yaml", "spec-json", "key-freqs"]),
)
def test_fuzz_input_file_contents(finished: Path, content: bytes, role: str) -> None:
    """Random bytes where a checkpoint, a legacy file or a spec is read."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        name = {"spec-yaml": "in.yaml", "spec-json": "in.json"}.get(role, "in.bin")
        (root / name).write_bytes(content)
        argv = {
            "init-from": ["train", "--out", "out", *SMALL, "--max-steps", "3",
                          "--init-from", name],
            "legacy": ["import-legacy", name, "out"],
            "spec-yaml": ["sweep", name, "--out", "sw", "--no-progress", "--workers", "1"],
            "spec-json": ["sweep", name, "--out", "sw", "--no-progress", "--workers", "1"],
            "key-freqs": ["analyze", str(finished), "--no-figures", "--no-progress",
                          "--key-freqs", content.decode("latin-1")[:20] or "1"],
        }[role]  # fmt: skip
        if role.startswith("spec"):
            # a valid spec would train the quick preset: fuzz the structure, not training
            try:
                spec = load_spec(root / name)
            except UserError:
                pass
            else:
                if spec.get("base") is None or spec.get("grid") or spec.get("runs"):
                    return
        if role == "key-freqs" and "\x00" in argv[-1]:
            return  # argv cannot hold a NUL byte
        before = snapshot(root)
        status, err = run_cli(argv, root)
        if role == "key-freqs":  # analyze writes the run's analysis folder: check only status
            assert "Traceback" not in err and status in (0, 2), (status, err)
            return
        assert_clean(status, err, before, snapshot(root))
