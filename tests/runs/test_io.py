import subprocess
import sys

import pytest
import torch

from grokinterp.errors import RunDirError
from grokinterp.runs.io import atomic_write_text, load_tensors, save_tensors


def test_round_trip_with_metadata(tmp_path):
    t = {"a": torch.randn(3, 4), "b": torch.arange(5)}
    save_tensors(tmp_path / "x.safetensors", t, {"step": "7"})
    back, meta = load_tensors(tmp_path / "x.safetensors")
    assert meta["step"] == "7"
    assert all(torch.equal(back[k], t[k]) for k in t)


def test_truncated_file_is_detected_not_loaded(tmp_path):
    path = tmp_path / "x.safetensors"
    save_tensors(path, {"a": torch.randn(100, 100)})
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(RunDirError, match="corrupt"):
            load_tensors(path)


def test_flipped_byte_is_detected_by_checksum(tmp_path):
    path = tmp_path / "x.safetensors"
    save_tensors(path, {"a": torch.zeros(100)})
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RunDirError, match="checksum"):
        load_tensors(path)


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary left behind


def test_tensors_load_in_name_order_in_every_process(tmp_path):
    # safetensors' own order changes from process to process: a table built by iterating
    # over a checkpoint's tensors got its per-parameter columns in a different order each run
    names = [f"blocks.{i}.mlp.W_{w}" for i in range(4) for w in ("out", "in")] + ["embed.W_E"]
    path = tmp_path / "x.safetensors"
    save_tensors(path, {n: torch.zeros(2) for n in names})
    code = "import sys; from grokinterp.runs import io; print(*io.load_tensors(sys.argv[1])[0])"

    def order() -> tuple[str, ...]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        )
        return tuple(out.stdout.split())

    assert {order() for _ in range(3)} == {tuple(sorted(names))}


def test_scalars_round_trip_with_a_checksum(tmp_path):
    """0-dimensional tensors (a step counter, a noise variance) are saved and verified."""
    tensors = {"scalar": torch.tensor(3.5), "vector": torch.arange(4.0)}
    save_tensors(tmp_path / "t.safetensors", tensors)
    loaded, _ = load_tensors(tmp_path / "t.safetensors")
    assert loaded["scalar"].shape == () and float(loaded["scalar"]) == 3.5
    assert torch.equal(loaded["vector"], tensors["vector"])
