"""Bad input at scale: every case exits 2 with one line, no traceback, and leaves the disk
exactly as it was (nothing created, nothing changed, nothing deleted).

Each case is a command line run in a sandbox that holds a finished run, a sweep spec, and
assorted wrong files (a directory where a file is expected, a binary file, a malicious
pickle). The sandbox is snapshotted (paths, sizes, contents) before and after each case.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import legacy_state, tiny_config

from grokinterp.cli import main
from grokinterp.training import train

RUN_FLAGS = ["--p", "11", "--train-fraction", "0.5", "--d-model", "32", "--d-head", "8"]
RUN_FLAGS += ["--d-mlp", "64", "--max-steps", "20", "--no-progress"]


class Evil:
    def __reduce__(self):
        return (os.system, ("touch MARKER",))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    box = tmp_path_factory.mktemp("sandbox with spaces ü")
    train(tiny_config(max_steps=20), box / "run", progress=False)
    (box / "file.txt").write_text("not a run\n")
    (box / "adir").mkdir()
    (box / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (box / "spec.yaml").write_text("base: {preset: quick}\ngrid:\n  lr: [0.001]\n")
    (box / "spec_badtype.yaml").write_text("base: {preset: quick}\ngrid:\n  weight_decay: [abc]\n")
    (box / "spec_list.yaml").write_text("- 1\n- 2\n")
    (box / "spec_unknown.yaml").write_text("base: {preset: quick}\ngrid:\n  learning_rate: [1]\n")
    (box / "spec_key.yaml").write_text("base: {preset: quick}\ngrids: {lr: [0.1]}\n")
    (box / "spec.txt").write_text("base: {preset: quick}\n")
    torch.save({"model": legacy_state(0), "payload": Evil()}, box / "evil.pth")
    torch.save({"model": legacy_state(0)}, box / "good.pth")
    for name, epoch in (("text_epoch.pth", "ten"), ("neg_epoch.pth", -3)):
        torch.save({"model": legacy_state(0), "epoch": epoch}, box / name)
    with open(box / "evil.pkl", "wb") as f:
        pickle.dump({"model": Evil()}, f)
    cfg = json.loads(tiny_config().to_json())
    cfg["optim"]["learning_rate"] = 1.0
    (box / "unknown_field.json").write_text(json.dumps(cfg))
    _issue33_files(box)
    return box


def _issue33_files(box: Path) -> None:
    """The inputs of issue 33's cases: specs of the wrong shape, deep JSON, a config beside
    its run directory."""
    q = "base: {preset: quick}\n"
    specs = {
        "spec_dup.yaml": q + "grid:\n  lr: [0.1]\ngrid:\n  lr: [0.2]\n",
        "spec_gridlist.yaml": q + "grid: [1, 2]\n",
        "spec_workers.yaml": q + "workers: abc\n",
        "spec_seeds_empty.yaml": q + "seeds: []\n",
        "spec_seeds_huge.yaml": q + f"seeds: [{2**70}]\n",
        "spec_base_list.yaml": "base: [1, 2]\n",
        "spec_nul.yaml": 'base: {config: "a\\0b.json"}\n',
        "spec_runs_map.yaml": q + "runs: {lr: 0.1}\n",
        "spec_overrides_list.yaml": q + "overrides: [1]\n",
        "spec_backend.yaml": q + "backend: [1]\n",
        "spec_huge_grid.yaml": q + "grid:\n" + "".join(
            f"  {f}: [{', '.join(str(i + 1) for i in range(20))}]\n"
            for f in ("log_every", "ckpt_every", "ckpt_log_count", "ckpt_log_until",
                      "warmup_steps", "stop_patience", "grokfast_window", "seed")
        ),
    }  # fmt: skip
    for name, text in specs.items():
        (box / name).write_text(text)
    (box / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (box / "deep_spec.json").write_text('{"grid": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (box / "inside").mkdir()
    (box / "inside" / "cfg.json").write_text(tiny_config(max_steps=20).to_json())


# (case id, command line; {run} etc. are paths in the sandbox, a fragment of the message)
CASES: list[tuple[str, list[str], str]] = [
    # train: checks that must run before anything on disk is touched
    ("force-init-from-missing", ["train", "--out", "run", "--force", *RUN_FLAGS, "--init-from", "nope.safetensors"], "nope.safetensors"),
    ("force-init-from-text", ["train", "--out", "run", "--force", *RUN_FLAGS, "--init-from", "file.txt"], "file.txt"),
    ("force-tiny-fraction", ["train", "--out", "run", "--force", *RUN_FLAGS, "--train-fraction", "0.0001"], "train"),
    ("force-d-vocab-out", ["train", "--out", "run", "--force", *RUN_FLAGS, "--d-vocab-out", "5"], "d_vocab_out"),
    ("force-huge-p", ["train", "--out", "run", "--force", "--preset", "quick", "--p", "100003", "--no-progress"], "memory"),
    ("model-too-large", ["train", "--out", "new", "--preset", "quick", "--p", "1009", "--d-mlp", "100000", "--no-progress"], "memory"),
    ("huge-prime-div", ["train", "--out", "new", "--preset", "quick", "--task", "div", "--p", "2305843009213693951", "--no-progress"], "p"),
    ("lr-inf", ["train", "--out", "new", *RUN_FLAGS, "--lr", "inf"], "optim.lr"),
    ("lr-nan", ["train", "--out", "new", *RUN_FLAGS, "--lr", "nan"], "optim.lr"),
    ("wd-inf", ["train", "--out", "new", *RUN_FLAGS, "--weight-decay", "inf"], "weight_decay"),
    ("init-scale-inf", ["train", "--out", "new", *RUN_FLAGS, "--init-scale", "inf"], "init_scale"),
    ("lr-word", ["train", "--out", "new", *RUN_FLAGS, "--lr", "abc"], "--lr"),
    ("max-steps-zero", ["train", "--out", "new", *RUN_FLAGS, "--max-steps", "0"], "max_steps"),
    ("max-steps-negative", ["train", "--out", "new", *RUN_FLAGS, "--max-steps", "-5"], "max_steps"),
    ("batch-size-zero", ["train", "--out", "new", *RUN_FLAGS, "--batch-size", "0"], "batch_size"),
    ("fraction-above-one", ["train", "--out", "new", *RUN_FLAGS, "--train-fraction", "1.5"], "train_fraction"),
    ("unknown-task", ["train", "--out", "new", *RUN_FLAGS, "--task", "nope"], "task"),
    ("perm-with-p", ["train", "--out", "new", "--preset", "quick", "--task", "perm", "--no-progress"], "p"),
    ("quadratic-transformer", ["train", "--out", "new", *RUN_FLAGS, "--act-fn", "quadratic"], "quadratic"),
    ("unknown-preset", ["train", "--out", "new", "--preset", "nope"], "--preset"),
    ("unknown-flag", ["train", "--out", "new", "--learning-rate", "0.1"], "--learning-rate"),
    ("preset-and-config", ["train", "--out", "new", "--preset", "quick", "--config", "run/config.json"], "--config"),
    ("out-is-a-file", ["train", "--out", "file.txt", *RUN_FLAGS], "file.txt"),
    ("out-inside-a-file", ["train", "--out", "file.txt/run", *RUN_FLAGS], "file.txt"),
    ("config-is-a-dir", ["train", "--config", "adir", "--out", "new"], "adir"),
    ("config-is-binary", ["train", "--config", "binary.bin", "--out", "new"], "binary.bin"),
    ("config-missing", ["train", "--config", "missing.json", "--out", "new"], "missing.json"),
    ("config-unknown-field", ["train", "--config", "unknown_field.json", "--out", "new"], "learning_rate"),
    ("existing-run-no-flag", ["train", "--out", "run", *RUN_FLAGS, "--lr", "0.01"], "--resume"),
    ("resume-other-config", ["train", "--out", "run", *RUN_FLAGS, "--lr", "0.01", "--resume"], "optim.lr"),
    ("resume-fewer-steps", ["train", "--out", "run", "--config", "run/config.json", "--max-steps", "10", "--resume", "--no-progress"], "max_steps"),
    ("device-missing", ["train", "--out", "new", *RUN_FLAGS, "--device", "cuda"], "cuda"),
    ("device-unknown", ["train", "--out", "new", *RUN_FLAGS, "--device", "tpu9"], "tpu9"),
    ("log-to-unknown", ["train", "--out", "new", *RUN_FLAGS, "--log-to", "nowhere"], "nowhere"),
    # info / analyze
    ("info-missing", ["info", "missing"], "missing"),
    ("info-a-file", ["info", "file.txt"], "file.txt"),
    ("info-empty-dir", ["info", "adir"], "adir"),
    ("analyze-steps-empty", ["analyze", "run", "--steps", "", "--no-figures", "--no-progress"], "--steps"),
    ("analyze-steps-absent", ["analyze", "run", "--steps", "7777", "--no-figures", "--no-progress"], "7777"),
    ("analyze-key-freq-range", ["analyze", "run", "--key-freqs", "99", "--no-figures", "--no-progress"], "99"),
    ("analyze-missing", ["analyze", "missing", "--no-progress"], "missing"),
    ("analyze-text-file", ["analyze", "file.txt", "--no-progress"], "file.txt"),
    ("analyze-out-for-a-run", ["analyze", "run", "--out", "x", "--no-progress"], "--out"),
    ("analyze-evil-pickle", ["analyze", "evil.pth", "--no-progress"], "--trust"),
    # import-legacy
    ("legacy-missing", ["import-legacy", "missing.pth", "imported"], "missing.pth"),
    ("legacy-not-a-pickle", ["import-legacy", "file.txt", "imported"], "file.txt"),
    ("legacy-evil", ["import-legacy", "evil.pth", "imported"], "--trust"),
    ("legacy-evil-pickle", ["import-legacy", "evil.pkl", "imported"], "--trust"),
    ("legacy-text-epoch", ["import-legacy", "text_epoch.pth", "imported"], "epoch"),
    ("legacy-negative-epoch", ["import-legacy", "neg_epoch.pth", "imported"], "epoch"),
    ("legacy-into-a-run", ["import-legacy", "good.pth", "run"], "run"),
    # sweep
    ("sweep-spec-dir", ["sweep", "adir", "--out", "sw", "--no-progress"], "adir"),
    ("sweep-spec-missing", ["sweep", "missing.yaml", "--out", "sw", "--no-progress"], "missing.yaml"),
    ("sweep-spec-binary", ["sweep", "binary.bin", "--out", "sw", "--no-progress"], "binary.bin"),
    ("sweep-spec-list", ["sweep", "spec_list.yaml", "--out", "sw", "--no-progress"], "spec_list.yaml"),
    ("sweep-grid-type", ["sweep", "spec_badtype.yaml", "--out", "sw", "--no-progress"], "weight_decay"),
    ("sweep-grid-unknown", ["sweep", "spec_unknown.yaml", "--out", "sw", "--no-progress"], "learning_rate"),
    ("sweep-unknown-key", ["sweep", "spec_key.yaml", "--out", "sw", "--no-progress"], "grids"),
    ("sweep-workers-zero", ["sweep", "spec.yaml", "--out", "sw", "--workers", "0", "--no-progress"], "--workers"),
    ("sweep-workers-negative", ["sweep", "spec.yaml", "--out", "sw", "--workers", "-2", "--no-progress"], "--workers"),
    ("sweep-out-a-file", ["sweep", "spec.yaml", "--out", "file.txt", "--no-progress"], "file.txt"),
    ("sweep-out-a-run", ["sweep", "spec.yaml", "--out", "run", "--no-progress"], "run"),
    # experiments
    ("curves-no-sizes", ["efficiency", "curves", "--sizes", "", "--out", "eff", "--no-progress"], "--sizes"),
    ("curves-descending", ["efficiency", "curves", "--sizes", "200,100", "--out", "eff", "--no-progress"], "sizes"),
    ("ungrok-missing-ckpt", ["efficiency", "ungrok", "missing.safetensors", "--sizes", "10", "--out", "eff"], "missing.safetensors"),
    ("interventions-arm", ["interventions", "--out", "iv", "--arms", "nope", "--no-progress"], "nope"),
    ("compare-missing", ["compare", "missing", "--out", "cmp", "--no-progress"], "missing"),
    ("compare-bad-where", ["compare", "run", "--out", "cmp", "--where", "lr", "--no-progress"], "--where"),
    ("export-unknown-sink", ["export", "run", "--to", "nowhere"], "nowhere"),
    ("omnigrok-part", ["omnigrok", "--out", "og", "--parts", "lu,nope", "--no-progress"], "parts"),
    ("omnigrok-alpha", ["omnigrok", "--out", "og", "--lu-alphas", "0,1", "--no-progress"], "lu_alphas"),
    ("fixed-norm-negative", ["train", "--preset", "omnigrok_digits", "--fixed-norm", "-1", "--out", "dg"], "fixed_norm"),
    ("digits-transformer", ["train", "--task", "digits", "--train-size", "100", "--out", "dg"], "arch"),
    # issue 33: no path to data loss
    ("i33-train-out-blank", ["train", "--out", "  ", "--force", *RUN_FLAGS], "--out"),
    ("i33-train-force-cwd", ["train", "--out", ".", "--force", *RUN_FLAGS], "current directory"),
    ("i33-train-force-parent-of-cwd", ["train", "--out", "adir/..", "--force", *RUN_FLAGS], "current directory"),
    ("i33-train-force-holds-config", ["train", "--config", "inside/cfg.json", "--out", "inside", "--force", "--no-progress"], "inside/cfg.json"),
    ("i33-train-force-holds-init", ["train", "--out", "run", "--force", *RUN_FLAGS, "--init-from", "run/checkpoints/step_0.safetensors"], "step_0.safetensors"),
    ("i33-sweep-out-blank", ["sweep", "spec.yaml", "--out", " ", "--force", "--no-progress"], "--out"),
    ("i33-sweep-force-cwd", ["sweep", "spec.yaml", "--out", ".", "--force", "--no-progress"], "current directory"),
    ("i33-legacy-out-blank", ["import-legacy", "good.pth", "\t", "--force"], "run_dir"),
    ("i33-legacy-force-holds-input", ["import-legacy", "good.pth", ".", "--force"], "current directory"),
    ("i33-compare-out-blank", ["compare", "run", "--out", " ", "--no-progress"], "--out"),
    ("i33-curves-out-blank", ["efficiency", "curves", "--sizes", "10", "--out", " ", "--no-progress"], "--out"),
    ("i33-study-out-blank", ["study", "run", "omnigrok", "--out", " "], "--out"),
    ("i33-analytic-force-cwd", ["analytic", "--p", "5", "--width", "16", "--out", ".", "--force"], "current directory"),
    # issue 33: bounds before work
    ("i33-ckpt-log-count-huge", ["train", "--out", "new", *RUN_FLAGS, "--ckpt-log-count", "1000000000"], "ckpt_log_count"),
    ("i33-max-steps-huge-every-1", ["train", "--out", "new", *RUN_FLAGS, "--max-steps", "1000000000000", "--ckpt-every", "1"], "max_steps"),
    ("i33-max-steps-huge-stop-acc", ["train", "--out", "new", *RUN_FLAGS, "--max-steps", "1000000000000", "--stop-acc", "0.9"], "max_steps"),
    ("i33-checkpoints-too-many", ["train", "--out", "new", *RUN_FLAGS, "--max-steps", "100000000", "--ckpt-every", "1"], "checkpoints"),
    ("i33-early-loss-huge", ["train", "--out", "new", *RUN_FLAGS, "--early-loss-steps", "100000000000000"], "early_loss_steps"),
    ("i33-sweep-grid-too-large", ["sweep", "spec_huge_grid.yaml", "--out", "sw", "--no-progress"], "runs"),
    ("i33-config-deep-json", ["train", "--config", "deep.json", "--out", "new"], "deep.json"),
    ("i33-sweep-deep-json", ["sweep", "deep_spec.json", "--out", "sw", "--no-progress"], "deep_spec.json"),
    # issue 33: one line for what used to be a traceback
    ("i33-seed-huge", ["train", "--out", "new", *RUN_FLAGS, "--seed", str(2**70)], "seed"),
    ("i33-seed-negative", ["train", "--out", "new", *RUN_FLAGS, "--seed", "-1"], "seed"),
    ("i33-split-seed-huge", ["train", "--out", "new", *RUN_FLAGS, "--split-seed", str(2**70)], "split_seed"),
    ("i33-device-meta", ["train", "--out", "new", *RUN_FLAGS, "--device", "meta"], "meta"),
    ("i33-device-xpu", ["train", "--out", "new", *RUN_FLAGS, "--device", "xpu"], "xpu"),
    ("i33-analyze-device-meta", ["analyze", "run", "--device", "meta", "--no-progress", "--no-figures"], "meta"),
    ("i33-spec-dup-key", ["sweep", "spec_dup.yaml", "--out", "sw", "--no-progress"], "grid"),
    ("i33-spec-grid-list", ["sweep", "spec_gridlist.yaml", "--out", "sw", "--no-progress"], "grid"),
    ("i33-spec-workers-word", ["sweep", "spec_workers.yaml", "--out", "sw", "--no-progress"], "workers"),
    ("i33-spec-seeds-empty", ["sweep", "spec_seeds_empty.yaml", "--out", "sw", "--no-progress"], "seeds"),
    ("i33-spec-seeds-huge", ["sweep", "spec_seeds_huge.yaml", "--out", "sw", "--no-progress"], "seed"),
    ("i33-spec-base-list", ["sweep", "spec_base_list.yaml", "--out", "sw", "--no-progress"], "base"),
    ("i33-spec-nul-path", ["sweep", "spec_nul.yaml", "--out", "sw", "--no-progress"], "config"),
    ("i33-spec-runs-mapping", ["sweep", "spec_runs_map.yaml", "--out", "sw", "--no-progress"], "runs"),
    ("i33-spec-overrides-list", ["sweep", "spec_overrides_list.yaml", "--out", "sw", "--no-progress"], "overrides"),
    ("i33-spec-backend-list", ["sweep", "spec_backend.yaml", "--out", "sw", "--no-progress"], "backend"),
    ("i33-curves-target-negative", ["efficiency", "curves", "--sizes", "10", "--target-loss", "-1", "--out", "eff", "--no-progress"], "--target-loss"),
    ("i33-curves-target-nan", ["efficiency", "curves", "--sizes", "10", "--target-loss", "nan", "--out", "eff", "--no-progress"], "--target-loss"),
    ("i33-curves-max-steps-zero", ["efficiency", "curves", "--sizes", "10", "--max-steps", "0", "--out", "eff", "--no-progress"], "--max-steps"),
    ("i33-ungrok-steps-zero", ["efficiency", "ungrok", "run/checkpoints/step_20.safetensors", "--sizes", "10", "--steps", "0", "--out", "eff"], "--steps"),
    ("i33-study-threads-zero", ["study", "run", "omnigrok", "--out", "og", "--threads", "0"], "threads"),
    ("i33-kernels-n-points-zero", ["study", "run", "kernels", "--out", "kn", "--n-points", "0"], "n_points"),
    ("i33-omnigrok-threads-zero", ["omnigrok", "--out", "og", "--threads", "0"], "threads"),
    ("i33-log-to-wandb-no-credentials", ["train", "--out", "new", *RUN_FLAGS, "--log-to", "wandb"], "wandb"),
]  # fmt: skip


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` with its size and content digest (directories: -1)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            out[rel] = (-1, "")
        else:
            out[rel] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def test_at_least_forty_distinct_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_command_line(sandbox, monkeypatch, capsys, argv, fragment):
    monkeypatch.chdir(sandbox)
    before = snapshot(sandbox)
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's own errors
        status = e.code
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert err.startswith("grokinterp: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    assert fragment in err, err
    assert snapshot(sandbox) == before
    assert not (sandbox / "MARKER").exists()


def test_a_huge_prime_is_refused_at_once(tmp_path):
    """Trial division up to sqrt(2^61 - 1) would take minutes: the check must not hang."""
    r = subprocess.run(
        [sys.executable, "-m", "grokinterp", "train", "--task", "div", "--p", str(2**61 - 1),
         "--out", str(tmp_path / "r"), "--no-progress"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "r").exists()
