"""The run-directory format, shared by the writer (train) and the reader (Run).

::

    run_dir/
      config.json                        TrainConfig + grokinterp_version
      metrics.jsonl                      one JSON object per logged step
      checkpoints/step_<N>.safetensors   parameters after N updates (metadata: step, sha256)
      state/latest.safetensors           optimizer + RNG state of the latest checkpoint
      analysis/                          written by `grokinterp analyze`

A metrics line has ``step``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``,
``param_norm`` (L2 norm of all parameters), ``param_norms`` (L2 norm of each parameter,
by name), ``lr`` (the learning rate of the next update) and ``wall_time`` (seconds of
training so far, summed over resumed sessions). Losses are mean cross-entropy in
float64 over the whole train / test set; step N is measured after N updates.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from grokinterp.errors import RunDirError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
STATE = "state/latest.safetensors"
ANALYSIS = "analysis"

_STEP_RE = re.compile(r"^step_(\d+)\.safetensors$")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINTS / f"step_{step}.safetensors"


def checkpoint_steps_on_disk(run_dir: Path) -> list[int]:
    folder = run_dir / CHECKPOINTS
    if not folder.is_dir():
        return []
    steps = [int(m.group(1)) for p in folder.iterdir() if (m := _STEP_RE.match(p.name))]
    return sorted(steps)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Parsed lines of metrics.jsonl; a trailing partial line (a killed write) is skipped."""
    path = run_dir / METRICS
    if not path.exists():
        return []
    rows = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break  # the last write was interrupted
            raise RunDirError(
                f"{path}: line {i + 1} is not valid JSON; the file was edited or damaged"
            ) from None
    return rows
