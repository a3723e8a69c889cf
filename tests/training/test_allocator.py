"""The allocator settings training applies (grokinterp.training.allocator)."""

from __future__ import annotations

import platform

import pytest

from grokinterp.config import replace
from grokinterp.presets import PRESETS
from grokinterp.training import allocator, loop


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_settings_take_effect_on_glibc_and_apply_once(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    calls = []
    real = allocator.ctypes.CDLL

    class Recording:
        def __init__(self, name):
            self.lib = real(name)

        def mallopt(self, param, value):
            calls.append((param, value))
            return self.lib.mallopt(param, value)

    monkeypatch.setattr(allocator.ctypes, "CDLL", Recording)
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True
    assert calls == [
        (allocator.M_TRIM_THRESHOLD, allocator.TRIM_THRESHOLD),
        (allocator.M_MMAP_THRESHOLD, allocator.MMAP_THRESHOLD),
    ]


def test_train_applies_the_settings(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr(loop, "keep_freed_memory", lambda: called.append(True) or True)
    cfg = replace(
        PRESETS["quick"],
        {"task": {"p": 7}, "optim": {"max_steps": 2}, "schedule": {"log_every": 1}},
    )
    loop.train(cfg, tmp_path / "run", progress=False)
    assert called == [True]
