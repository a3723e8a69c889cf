"""The shipped reference runs, found wherever grokinterp is installed from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import grokinterp
from grokinterp.errors import RunDirError
from grokinterp.runs.reference import ENV, reference_run, reference_run_dir

ROOT = Path(__file__).resolve().parents[2]


def test_reference_runs_from_the_checkout():
    run = grokinterp.reference_run("nanda")
    assert run.path.resolve() == (ROOT / "checkpoints" / "nanda").resolve()
    assert run.config.task.p == 113
    with pytest.raises(RunDirError, match="the shipped runs are"):
        reference_run("grokfast")


def test_the_environment_variable_comes_first(tmp_path, monkeypatch):
    shutil.copytree(
        ROOT / "checkpoints" / "quick",
        tmp_path / "quick",
        ignore=shutil.ignore_patterns("checkpoints"),
    )
    monkeypatch.setenv(ENV, str(tmp_path))
    assert reference_run_dir("quick") == tmp_path / "quick"


@pytest.mark.slow
def test_an_installed_wheel_finds_them_through_the_variable_or_says_how(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("grokinterp-*.whl")
    # a fresh virtual environment with the wheel installed by pip; its dependencies (torch,
    # TransformerLens, ... : gigabytes) are borrowed from this one by a .pth line, which adds
    # their folder to the path without running the editable install's hook that lives there
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the package's data files ship in the wheel: the grokking predictor's coefficients
    assert (site / "grokinterp" / "experiments" / "prediction_model.json").is_file()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "borrowed_dependencies.pth").write_text("\n".join(deps) + "\n")
    code = (
        "import grokinterp, pathlib; assert 'fresh' in pathlib.Path(grokinterp.__file__).parts;"
        " print(grokinterp.reference_run('nanda').path)"
    )
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "PYTHONPATH")}
    away = tmp_path / "elsewhere"
    away.mkdir()
    lost = subprocess.run(
        [str(python), "-c", code], cwd=away, env=env, capture_output=True, text=True
    )
    assert lost.returncode != 0 and ENV in lost.stderr and "clone" in lost.stderr, lost.stderr
    found = subprocess.run(
        [str(python), "-c", code],
        cwd=away,
        capture_output=True,
        text=True,
        env=env | {ENV: str(ROOT / "checkpoints")},
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == ROOT / "checkpoints" / "nanda"
