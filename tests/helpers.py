"""Shared test helpers: headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="the chromium binary is not installed (apt-get install -y chromium)",
)


def _chromium_dom(url: str, tmp_path: Path) -> str:
    chromium = shutil.which("chromium")
    assert chromium
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), f"chromium printed no DOM (rc {done.returncode}): {done.stderr}"
    return done.stdout


def _js_errors(dom: str) -> str:
    m = re.search(r'<pre id="js-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert m, "no js-errors element in the DOM"
    return m.group(1)


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="the chromium binary is not installed (apt-get install -y chromium)",
)


def _gen(seed: int) -> torch.Generator:
    """A seeded torch generator."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g
