"""The Ray backends on a local multi-node cluster whose worker nodes have their own scratch
directories (``GROKINTERP_RAY_SCRATCH``) and no way to write into the sweep directory but
the shipping of :mod:`grokinterp.sweeps.ray_backend`: with a worker killed on the way,
the sweep ends with the same results and run directories as the local backends."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_runs_close, assert_same_run, tiny_config

from grokinterp.runs import layout
from grokinterp.sweeps.engine import run_sweep
from grokinterp.sweeps.spec import expand

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install .[ray])")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node with no CPU (nothing trains beside the driver) and two worker nodes,
    each with a scratch directory of its own."""
    from ray.cluster_utils import Cluster

    scratch = tmp_path_factory.mktemp("scratch")
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for node in ("a", "b"):
        (scratch / node).mkdir()
        env = {"GROKINTERP_RAY_SCRATCH": str(scratch / node), "GROKINTERP_RAY_SYNC_SECONDS": "0.3"}
        c.add_node(num_cpus=1, env_vars=env)
    ray.init(address=c.address, log_to_driver=False)
    yield scratch
    ray.shutdown()
    c.shutdown()


def spec(tmp_path: Path, steps: int) -> dict:
    (tmp_path / "cfg.json").write_text(tiny_config().to_json())
    return {
        "base": {"config": str(tmp_path / "cfg.json")},
        "overrides": {"max_steps": steps, "ckpt_every": 100, "log_every": 20},
        "grid": {"weight_decay": [0.5, 1.0]},
        "seeds": [0, 1],
    }


def _kill_a_task_once_it_shipped(sweep_dir: Path, killed: list[int]) -> None:
    """SIGKILL one Ray worker process training a run, once a state file of the sweep has
    come home (so the retry has something to resume from)."""
    deadline = time.time() + 120
    while time.time() < deadline and not killed:
        if any((r / layout.STATE).exists() for r in (sweep_dir / "runs").glob("*")):
            for cmd in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    if "ray::_run_unit" in cmd.read_text():
                        pid = int(cmd.parent.name)
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
                except (OSError, ValueError):
                    continue
        time.sleep(0.05)


def test_ray_ships_runs_home_and_survives_a_killed_worker(cluster, tmp_path):
    s = spec(tmp_path, 3000)
    out = tmp_path / "sw"
    killed: list[int] = []
    killer = threading.Thread(target=_kill_a_task_once_it_shipped, args=(out, killed))
    killer.start()
    table = run_sweep(s, out, backend="ray", progress=False)
    killer.join()
    assert killed, "no worker was killed: the test did not test a retry"
    assert list(table["status"]) == ["done"] * 4
    # the tasks trained in their nodes' scratch directories and cleaned them, but for the
    # killed one (removed by the next task on its node, if one came); the runs came home
    left = [d for node in cluster.iterdir() for d in node.iterdir()]
    assert all(d.name.startswith(f"grokinterp-{killed[0]}-") for d in left), left
    local = run_sweep(s, tmp_path / "local", backend="local", workers=2, progress=False)
    pd.testing.assert_frame_equal(table, local)
    for r in expand(s):
        assert_same_run(out / "runs" / r.name, tmp_path / "local" / "runs" / r.name)
        assert (out / "runs" / r.name / layout.STATE).exists()
        status = json.loads((out / "status" / f"{r.name}.json").read_text())
        assert status["status"] == "done"


def test_ray_ensemble_equals_the_local_ensemble(cluster, tmp_path):
    s = spec(tmp_path, 400)
    table = run_sweep(s, tmp_path / "sw", backend="ray-ensemble", progress=False)
    local = run_sweep(s, tmp_path / "local", backend="ensemble", progress=False)
    assert list(table["status"]) == ["done"] * 4
    pd.testing.assert_frame_equal(table, local, check_exact=False, rtol=1e-4)
    for r in expand(s):
        assert_runs_close(
            tmp_path / "sw" / "runs" / r.name, tmp_path / "local" / "runs" / r.name, 1e-4
        )
    # a finished sweep is not retrained: running it again changes nothing
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "sw" / "runs").rglob("*")}
    run_sweep(s, tmp_path / "sw", backend="ray-ensemble", progress=False)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "sw" / "runs").rglob("*")} == before
