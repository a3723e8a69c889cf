"""Import checkpoints saved by the progress-measures code (Nanda et al. 2023).

That code saves, with ``torch.save``, a dict whose ``model`` entry is the state dict of
its 1-layer transformer (weights in its own layout):

==========================  ========================  ==============================
legacy key                  legacy shape              ours
==========================  ========================  ==============================
embed.W_E                   (d_model, p+1)            ``embed.W_E`` = transpose
pos_embed.W_pos             (3, d_model)              same
blocks.0.attn.W_Q/W_K/W_V   (heads, d_head, d_model)  (heads, d_model, d_head)
blocks.0.attn.W_O           (d_model, heads*d_head)   (heads, d_head, d_model)
blocks.0.mlp.W_in / b_in    (d_mlp, d_model) / d_mlp  transpose / same
blocks.0.mlp.W_out / b_out  (d_model, d_mlp) / d      transpose / same
unembed.W_U                 (d_model, p+1)            same (p+1 outputs: ``=`` scored too)
==========================  ========================  ==============================

Its attention has no biases, a causal mask and scores scaled by 1/sqrt(d_head), like our
transformer, so the imported model computes the same logits (tests/test_legacy.py checks
this against an independent implementation of the original architecture). Optional
entries: ``train_losses`` / ``test_losses`` (become metrics), ``epoch``, ``checkpoints`` +
``checkpoint_epochs`` (a list of state dicts, each imported as a step), and ``config`` (a
dict; ``p``, ``frac_train``, ``seed``, ``lr`` and ``weight_decay`` are read from it).

Steps count updates done. The paper's training loop (``transformers.py``, ``train_model``)
runs, for ``epoch`` = 0, 1, ...: compute and append the losses, update, then save
``{epoch}.pth`` if it is time; so a model saved with ``epoch`` = e has had e + 1 updates,
and ``train_losses[i]`` is the loss after i updates (step i). The step of the file's model
is ``len(train_losses)`` when the file has them (this also fits its final save, which
stores ``epoch = num_epochs`` beside num_epochs losses), else ``epoch + 1``; each entry of
``checkpoint_epochs`` becomes step ``epoch + 1``. The saved runs log the test loss every k
epochs (``len(test_losses) = ceil(len(train_losses) / k)``, k = 10 in the paper's
``saved_runs``): test loss i goes to step i * k; unless exactly one k fits, they are left
out.

The split is the paper's: Python's ``random.Random(seed).shuffle`` of the row-major pair
list, first ``int(frac_train * p^2)`` for training (``split_method="python_random"``).

Loading uses ``torch.load(weights_only=True)``, a restricted unpickler that only builds
tensors and plain containers; arbitrary objects are unpickled only with ``trust=True``
(which also reads files written with plain ``pickle.dump`` rather than ``torch.save``).
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import warnings
from pathlib import Path
from typing import Any

import torch

from grokinterp._files import MAX_TENSOR_BYTES
from grokinterp.config import ModelConfig, OptimConfig, TaskConfig, TrainConfig
from grokinterp.errors import RunDirError, UserError
from grokinterp.models import Params
from grokinterp.runs import layout
from grokinterp.runs.io import atomic_write_text, save_tensors

_REQUIRED = (
    "embed.W_E",
    "pos_embed.W_pos",
    "blocks.0.attn.W_Q",
    "blocks.0.attn.W_K",
    "blocks.0.attn.W_V",
    "blocks.0.attn.W_O",
    "blocks.0.mlp.W_in",
    "blocks.0.mlp.b_in",
    "blocks.0.mlp.W_out",
    "blocks.0.mlp.b_out",
    "unembed.W_U",
)


def load_legacy_file(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """Read a legacy checkpoint onto the CPU, refusing arbitrary objects unless trusted."""
    path = Path(path)
    if not path.exists():
        raise RunDirError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise RunDirError(f"{path}: is a directory; give a checkpoint file")
    try:  # a regular file of bounded size: never /dev/zero or a pipe (stat opens nothing)
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise RunDirError(f"{path}: not a regular file (a device, pipe or socket); give a file")
        if st.st_size > MAX_TENSOR_BYTES:
            raise RunDirError(f"{path}: larger than 8 GiB; is it the right file?")
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError as e:
        raise RunDirError(f"{path}: cannot read it ({e.strerror or e})") from None
    if not (head == b"PK" or head[:1] == b"\x80"):
        raise RunDirError(
            f"{path}: cannot be read as a torch checkpoint (neither a torch.save zip archive "
            f"nor a pickle)"
        )
    try:
        try:
            with warnings.catch_warnings():  # torch warns about plain pickles; we say more
                warnings.simplefilter("ignore")
                obj = torch.load(path, map_location="cpu", weights_only=not trust)
        except Exception as e:
            if not (trust and "magic number" in str(e)):
                raise
            with open(path, "rb") as f:  # a plain pickle.dump file; only when trusted
                obj = pickle.load(f)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if not trust and "Weights only load failed" in str(e):
            raise RunDirError(
                f"{path}: holds Python objects beyond tensors and plain containers; if you "
                f"trust its source, rerun with --trust (this executes code from the file)"
            ) from None
        raise RunDirError(f"{path}: cannot be read as a torch checkpoint ({first})") from None
    if not isinstance(obj, dict) or "model" not in obj:
        raise RunDirError(
            f"{path}: expected a dict with a 'model' state dict (the progress-measures format)"
        )
    return obj


def convert_state_dict(sd: dict[str, Any], source: str = "checkpoint") -> tuple[Params, int]:
    """Legacy state dict -> (our parameter dict, p)."""
    missing = [k for k in _REQUIRED if k not in sd]
    if missing:
        raise RunDirError(
            f"{source}: the state dict lacks {missing[:3]}; expected the progress-measures "
            f"1-layer model (keys {list(_REQUIRED)})"
        )
    extra_blocks = sorted({k.split(".")[1] for k in sd if k.startswith("blocks.")} - {"0"})
    if extra_blocks:
        raise RunDirError(f"{source}: has blocks {extra_blocks}; only 1-layer models are supported")
    ndims = {"blocks.0.attn.W_Q": 3, "blocks.0.attn.W_K": 3, "blocks.0.attn.W_V": 3}
    arrays: dict[str, Any] = {}
    for k in _REQUIRED:
        v = sd[k]
        if not isinstance(v, torch.Tensor) and hasattr(v, "__array__"):  # a numpy array
            v = torch.as_tensor(v)
        arrays[k] = v
        want = ndims.get(k, 1 if k.endswith((".b_in", ".b_out")) else 2)
        if not (isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() == want):
            got = (
                f"{v.dtype} of {v.dim()} dims" if isinstance(v, torch.Tensor) else type(v).__name__
            )
            raise RunDirError(
                f"{source}: {k} is {got}; expected a floating-point tensor of {want} dims "
                f"(the progress-measures 1-layer model)"
            )
    t = {k: arrays[k].detach().to("cpu", torch.float32) for k in _REQUIRED}
    d_model, d_vocab = t["embed.W_E"].shape
    n_heads, d_head, _ = t["blocks.0.attn.W_Q"].shape
    params: Params = {
        "embed.W_E": t["embed.W_E"].T.contiguous(),
        "pos_embed.W_pos": t["pos_embed.W_pos"],
        "blocks.0.attn.W_Q": t["blocks.0.attn.W_Q"].permute(0, 2, 1).contiguous(),
        "blocks.0.attn.W_K": t["blocks.0.attn.W_K"].permute(0, 2, 1).contiguous(),
        "blocks.0.attn.W_V": t["blocks.0.attn.W_V"].permute(0, 2, 1).contiguous(),
        # legacy W_O[:, h * d_head + e] is the output of head h, component e
        "blocks.0.attn.W_O": t["blocks.0.attn.W_O"]
        .T.reshape(n_heads, d_head, d_model)
        .contiguous(),
        "blocks.0.mlp.W_in": t["blocks.0.mlp.W_in"].T.contiguous(),
        "blocks.0.mlp.b_in": t["blocks.0.mlp.b_in"],
        "blocks.0.mlp.W_out": t["blocks.0.mlp.W_out"].T.contiguous(),
        "blocks.0.mlp.b_out": t["blocks.0.mlp.b_out"],
        "unembed.W_U": t["unembed.W_U"],
    }
    if tuple(params["pos_embed.W_pos"].shape) != (3, d_model):
        raise RunDirError(f"{source}: pos_embed.W_pos must be (3, d_model={d_model})")
    return params, d_vocab - 1


def _epoch(value: Any, source: str) -> int:
    """An epoch number from the file: a non-negative integer, or a one-line error."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RunDirError(f"{source}: 'epoch' must be a non-negative integer, got {value!r}")
    return value


def final_step(epoch: Any, n_train_losses: int, source: str = "checkpoint") -> int:
    """Updates done when the file's model was saved (see the module docstring):
    ``len(train_losses)`` if the file has them, else ``epoch + 1``, else 0."""
    if epoch is not None:
        epoch = _epoch(epoch, source)
    if n_train_losses:
        return n_train_losses
    return epoch + 1 if epoch is not None else 0


def log_stride(n_train: int, n_test: int) -> int | None:
    """The one k with ``n_test = ceil(n_train / k)`` (test loss logged every k epochs), or
    None if none or several fit."""
    if n_test == 0 or n_train == 0:
        return None
    if n_test == n_train:
        return 1
    k = max(1, round(n_train / n_test))
    fits = [c for c in range(max(1, k - 2), k + 3) if -(-n_train // c) == n_test]
    return fits[0] if len(fits) == 1 else None  # ambiguous (short runs): left out


def import_legacy(
    path: str | Path,
    run_dir: str | Path,
    *,
    trust: bool = False,
    force: bool = False,
) -> Path:
    """Turn a progress-measures checkpoint file into a run directory. A value of the wrong
    type or shape anywhere in the file (a word among the losses, a list for the config, a
    weight of the wrong size) is a RunDirError naming the file, before anything is written."""
    path, run_dir = Path(path), Path(run_dir)
    obj = load_legacy_file(path, trust=trust)
    if "config" in obj and not isinstance(obj["config"], dict):
        raise RunDirError(f"{path}: 'config' is a {type(obj['config']).__name__}, not a dict")
    try:
        return _import(path, run_dir, obj, force)
    except (TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
        if isinstance(e, UserError):
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise RunDirError(
            f"{path}: holds a value of the wrong type or shape ({first}); expected the "
            f"progress-measures format (tensors in 'model', numbers in train_losses, "
            f"test_losses and config)"
        ) from None


def _import(path: Path, run_dir: Path, obj: dict[str, Any], force: bool) -> Path:
    params, p = convert_state_dict(obj["model"], source=str(path))
    cfg_in = obj.get("config") if isinstance(obj.get("config"), dict) else {}
    assert isinstance(cfg_in, dict)
    p_cfg = cfg_in.get("p", p)
    if p_cfg != p:
        raise RunDirError(f"{path}: config says p={p_cfg} but W_E has {p + 1} tokens")
    n_heads, _, d_head = params["blocks.0.attn.W_Q"].shape
    d_model, d_mlp = params["blocks.0.mlp.W_in"].shape
    train_losses = [float(x) for x in obj.get("train_losses", [])]
    test_losses = [float(x) for x in obj.get("test_losses", [])]
    step = final_step(obj.get("epoch"), len(train_losses), str(path))
    snapshots: dict[int, Params] = {}
    for epoch, sd in zip(
        obj.get("checkpoint_epochs", []), obj.get("checkpoints", []), strict=False
    ):
        snapshots[_epoch(epoch, str(path)) + 1] = convert_state_dict(
            sd, source=f"{path} (epoch {epoch})"
        )[0]
    snapshots[step] = params
    cfg = TrainConfig(
        task=TaskConfig(
            name="add",
            p=p,
            train_fraction=float(cfg_in.get("frac_train", 0.3)),
            split_seed=int(cfg_in.get("seed", 0)),
            split_method="python_random",
        ),
        model=ModelConfig(
            n_layers=1,
            d_model=d_model,
            n_heads=n_heads,
            d_head=d_head,
            d_mlp=d_mlp,
            act_fn="relu",
            d_vocab_out=p + 1,
        ),
        optim=OptimConfig(
            max_steps=max(max(snapshots), 1),
            lr=float(cfg_in.get("lr", OptimConfig.lr)),
            weight_decay=float(cfg_in.get("weight_decay", OptimConfig.weight_decay)),
        ),
    )
    layout.claim_dir(
        run_dir,
        force=force,
        refusal="already exists and is not empty; choose "
        "another directory or pass --force to overwrite it",
    )
    atomic_write_text(run_dir / layout.CONFIG, cfg.to_json())
    for s, prm in sorted(snapshots.items()):
        save_tensors(
            layout.checkpoint_path(run_dir, s),
            prm,
            {"step": str(s), "source": f"imported from {path.name}"},
        )
    stride = log_stride(len(train_losses), len(test_losses))
    tests = {i * stride: x for i, x in enumerate(test_losses)} if stride else {}
    rows = [
        {"step": i, "train_loss": tr, **({"test_loss": tests[i]} if i in tests else {})}
        for i, tr in enumerate(train_losses)
    ]
    atomic_write_text(run_dir / layout.METRICS, "".join(json.dumps(r) + "\n" for r in rows))
    return run_dir
