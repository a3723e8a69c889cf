"""Where the benchmarks record their figures: ``benchmarks/results/<name>.json``.

A benchmark run with ``--record`` writes its figures there, with the machine they were
measured on; ``perf_table.py`` builds README's performance table from these files.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def summary(xs: list[float]) -> dict[str, Any]:
    """Median, range and the values themselves (one per repeat)."""
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "values": xs}


def spread(xs: list[float], fmt: str, unit: str = "") -> str:
    """Median, and the range over repeats, for printing: ``1.48x (1.46-1.51)``."""
    med, lo, hi = (fmt.format(x) for x in (statistics.median(xs), min(xs), max(xs)))
    return f"{med}{unit} ({lo}-{hi})"


def record(name: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` to ``RESULTS/<name>.json`` with the date, torch and the machine."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "figures": figures,
    }
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"recorded in {path}")
    return path
