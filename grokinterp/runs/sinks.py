"""Where else a run's numbers go: TensorBoard and Weights & Biases.

Both are optional extras (``pip install 'grokinterp[logging]'``), off by default. A sink
takes the metrics lines a trainer writes to ``metrics.jsonl`` (and, for ``grokinterp
export``, the rows of the analysis table) as scalars by step: ``train_loss``,
``param_norm/<parameter>``, ``measures/<column>`` ...  TensorBoard's event files go to
``RUN_DIR/tensorboard/``; W&B's run to ``RUN_DIR/wandb/`` (``WANDB_MODE=offline`` keeps it
off the network; ``wandb sync`` uploads it later).
"""

from __future__ import annotations

import importlib.util
import math
import netrc
import os
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from grokinterp.errors import ConfigError

KINDS = ("tensorboard", "wandb")


class Sink(Protocol):
    def log(self, row: Mapping[str, Any], prefix: str = "") -> None: ...
    def close(self) -> None: ...


def scalars(row: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a metrics line or table row by tag, nested mappings flattened
    (``param_norms`` -> ``param_norm/<name>``); ``step`` is the x axis, not a scalar."""
    out: dict[str, float] = {}
    for key, value in row.items():
        if key == "step":
            continue
        if isinstance(value, Mapping):
            base = "param_norm" if key == "param_norms" else key
            out.update(scalars(value, f"{prefix}{base}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                out[f"{prefix}{key}"] = float(value)
    return out


class TensorBoardSink:
    """Scalars into ``RUN_DIR/tensorboard/`` (``tensorboard --logdir RUN_DIR``)."""

    def __init__(self, run_dir: Path):
        try:  # an optional extra: imported only when TensorBoard logging is asked for
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "--log-to tensorboard needs TensorBoard: pip install 'grokinterp[logging]'"
            ) from None
        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def log(self, row: Mapping[str, Any], prefix: str = "") -> None:
        step = int(row["step"])
        for tag, value in scalars(row, prefix).items():
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """A Weights & Biases run per grokinterp run, its config the run's ``config.json``."""

    def __init__(self, run_dir: Path, config: Mapping[str, Any], project: str):
        try:  # an optional extra: imported only when W&B logging is asked for
            import wandb
        except ImportError:
            raise ConfigError(
                "--log-to wandb needs wandb: pip install 'grokinterp[logging]'"
            ) from None
        try:
            self.run = wandb.init(
                project=project,
                name=run_dir.name,
                dir=str(run_dir),
                config=dict(config),
                reinit="create_new",
            )
        except Exception as e:  # wandb's own errors: no credentials, no network, ...
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ConfigError(
                f"--log-to wandb: W&B could not start a run ({first}); `wandb login`, or set "
                f"WANDB_MODE=offline to log locally"
            ) from None

    def log(self, row: Mapping[str, Any], prefix: str = "") -> None:
        self.run.log(scalars(row, prefix), step=int(row["step"]))

    def close(self) -> None:
        self.run.finish()


def check_kinds(kinds: Sequence[str], flag: str = "--log-to") -> list[str]:
    """Validate the sink names given to ``flag``."""
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ConfigError(f"{flag}: unknown {bad}; choose from {list(KINDS)}")
    if "wandb" in kinds:
        check_wandb(flag)
    return list(kinds)


_WANDB_MODES = ("online", "offline", "disabled", "dryrun", "run", "shared")


def check_wandb(flag: str = "--log-to") -> None:
    """Refuse W&B logging, before anything is written, when it cannot start: the package
    missing, ``WANDB_MODE`` set to something W&B does not know, or an online mode without
    credentials (no ``WANDB_API_KEY`` and no entry for the W&B host in ``~/.netrc``, which
    ``wandb login`` writes); W&B would otherwise prompt for a key or fail mid-run."""
    if "wandb" not in sys.modules and importlib.util.find_spec("wandb") is None:
        raise ConfigError(f"{flag} wandb needs wandb: pip install 'grokinterp[logging]'")
    mode = os.environ.get("WANDB_MODE")
    if mode is not None and mode not in _WANDB_MODES:
        raise ConfigError(
            f"{flag} wandb: WANDB_MODE={mode!r} is not one of {list(_WANDB_MODES)}; unset it, "
            f"or set WANDB_MODE=offline"
        )
    if mode in ("offline", "disabled", "dryrun") or os.environ.get("WANDB_API_KEY"):
        return
    host = urllib.parse.urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    try:
        known = netrc.netrc().authenticators(host.hostname or "api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        known = False
    if not known:
        raise ConfigError(
            f"{flag} wandb: no W&B credentials (no WANDB_API_KEY, no ~/.netrc entry for "
            f"{host.hostname}); run `wandb login`, or set WANDB_MODE=offline to log locally"
        )


def open_sinks(
    kinds: Sequence[str], run_dir: Path, config: Mapping[str, Any], project: str = "grokinterp"
) -> list[Sink]:
    """One sink of each kind for the run in ``run_dir``."""
    sinks: list[Sink] = []
    for kind in check_kinds(kinds):
        sinks.append(
            TensorBoardSink(run_dir)
            if kind == "tensorboard"
            else WandbSink(run_dir, config, project)
        )
    return sinks
