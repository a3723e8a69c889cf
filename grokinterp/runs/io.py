"""Safe file I/O for run directories: atomic writes and verified safetensors files.

Every file is written to a temporary name in the same folder, fsynced, then renamed
over the target (and the folder fsynced), so a killed process leaves either the old
file or the new one, never half of one. Tensor files carry a SHA-256 of their tensor
bytes in the safetensors metadata; :func:`load_tensors` recomputes it, so a truncated
or corrupted file is reported instead of loaded. Nothing here unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from grokinterp._files import MAX_TENSOR_BYTES, read_input
from grokinterp.errors import RunDirError

FORMAT = "grokinterp-tensors-v1"
_WAY_OUT = (
    "if it belongs to a run, `grokinterp repair RUN_DIR` sets damaged files aside and "
    "makes the run resumable"
)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; run directories are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a full disk: the error names the file being written
        Path(tmp).unlink(missing_ok=True)
        if e.filename is None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Atomically write tensors as safetensors with a checksum in the metadata."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = dict(metadata or {})
    meta["format"] = FORMAT
    meta["sha256"] = _digest(tensors)
    atomic_write_bytes(path, _canonical(st_save(tensors, metadata=meta)))


def _canonical(data: bytes) -> bytes:
    """``data`` (a safetensors file) with its JSON header's keys sorted: safetensors writes
    the metadata in the order of a hash map, which changes from process to process, so two
    identical runs would write checkpoints whose bytes differ. The tensor bytes and their
    offsets (relative to the end of the header) are unchanged."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the tensor bytes stay 8-byte aligned
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit on a header


def read_header(path: str | Path) -> tuple[dict[str, str], dict[str, tuple[str, list[int]]]]:
    """The metadata of a tensor file and each tensor's (dtype, shape), from its header
    alone (no tensor is read, no checksum checked: :func:`load_tensors` does that)."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():  # never open a pipe or a device
            raise RunDirError(f"{path}: not a regular file; a tensor file is one")
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > MAX_HEADER_BYTES:
                raise ValueError("header too large")
            header = json.loads(f.read(n))
        meta = dict(header.pop("__metadata__", None) or {})
        tensors = {k: (str(v["dtype"]), list(v["shape"])) for k, v in header.items()}
    except FileNotFoundError:
        raise RunDirError(f"{path}: no such file") from None
    except (OSError, ValueError, TypeError, KeyError, struct.error, AttributeError):
        raise RunDirError(f"{path}: corrupt or truncated tensor file; {_WAY_OUT}") from None
    return meta, tensors


def load_tensors(
    path: str | Path, verify: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a file written by :func:`save_tensors`; raise RunDirError if it is damaged, or
    is not a regular file of at most 8 GiB (``_files.MAX_TENSOR_BYTES``).

    The tensors come back sorted by name (safetensors' own order varies from process to
    process), so whatever iterates over them, such as the per-parameter columns of the
    analysis table, is the same in every run."""
    path = Path(path)
    try:
        data = read_input(path, MAX_TENSOR_BYTES, "a tensor file", RunDirError)
    except FileNotFoundError:
        raise RunDirError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RunDirError(f"{path}: is a directory, not a tensor file") from None
    try:
        loaded = st_load(data)
        meta = _read_metadata(data)
    except Exception:  # safetensors raises its own error types for bad headers
        raise RunDirError(f"{path}: corrupt or truncated tensor file; {_WAY_OUT}") from None
    if meta.get("format") != FORMAT:
        raise RunDirError(f"{path}: not a grokinterp tensor file (no '{FORMAT}' metadata)")
    tensors = {name: loaded[name] for name in sorted(loaded)}
    if verify and meta.get("sha256") != _digest(tensors):
        raise RunDirError(f"{path}: checksum mismatch, the file is corrupt; {_WAY_OUT}")
    return tensors, meta


def _read_metadata(data: bytes) -> dict[str, str]:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    return dict(header.get("__metadata__", {}))
