"""A sweep spec and the runs it stands for.

A spec (YAML or JSON) names a base config, the fields to vary and the seeds::

    base: {preset: quick}            # or {config: path/to/config.json}; optional overrides:
    overrides: {max_steps: 2000}     # any config field, by flag name or section.field
    grid:                            # cartesian product of these values
      weight_decay: [0.3, 1.0]
      train_fraction: [0.3, 0.5]
    runs:                            # and/or an explicit list of override sets
      - {lr: 0.01}
    seeds: [0, 1, 2]                 # the top-level seed; default [0]
    backend: ensemble                # optional: the default backend and local workers
    workers: 4

:func:`load_spec` reads one, :func:`expand` turns it into :class:`SweepRun` s with validated
configs and unique names (the varied fields, e.g. ``weight_decay=0.3,train_fraction=0.5,
seed=0``: the run's directory ``SWEEP_DIR/runs/<name>/``). The sweep directory keeps the
spec and every run's full config in :data:`SPEC`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grokinterp.config import TrainConfig, config_flags, replace
from grokinterp.errors import ConfigError
from grokinterp.presets import get_preset

SPEC = "spec.json"  # in a sweep directory: the spec and every run's config


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its name, the fields it varies, and its full config."""

    name: str
    varied: dict[str, Any]
    config: TrainConfig


def _field_index() -> dict[str, tuple[str, str]]:
    """Both spellings of every config field -> (section, field)."""
    index: dict[str, tuple[str, str]] = {}
    for flag, (section, name, _) in config_flags().items():
        index[flag] = index[flag.replace("-", "_")] = (section, name)
        if section:
            index[f"{section}.{name}"] = (section, name)
    return index


def _overrides(values: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    index = _field_index()
    out: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key not in index:
            raise ConfigError(
                f"{where}: unknown config field {key!r}; use a field name such "
                f"as 'weight_decay' or 'optim.weight_decay'"
            )
        section, name = index[key]
        out.setdefault(section, {})[name] = value
    return out


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON sweep spec."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sweep spec") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; give a .yaml or .json sweep spec") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; give a .yaml or .json sweep spec") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            spec = yaml.safe_load(text)
        else:
            spec = json.loads(text)
    except Exception as e:  # yaml and json raise different error types
        raise ConfigError(
            f"{path}: not valid {path.suffix[1:].upper() or 'JSON'} ({type(e).__name__})"
        ) from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a sweep spec is a mapping (base, grid, runs, seeds)")
    return spec


def expand(spec: dict[str, Any], where: str = "spec") -> list[SweepRun]:
    """Every run of a spec, with validated configs and unique names."""
    unknown = set(spec) - {"base", "overrides", "grid", "runs", "seeds", "backend", "workers"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; a spec has base, "
            f"overrides, grid, runs, seeds, backend, workers"
        )
    base_spec = spec.get("base") or {"preset": "nanda"}
    if "preset" in base_spec:
        base = get_preset(base_spec["preset"])
    elif "config" in base_spec:
        base = TrainConfig.load(base_spec["config"])
    else:
        raise ConfigError(f"{where}: base needs 'preset' or 'config'")
    base = replace(base, _overrides(spec.get("overrides") or {}, f"{where}: overrides"))
    grid = spec.get("grid") or {}
    if not all(isinstance(v, list) and v for v in grid.values()):
        raise ConfigError(f"{where}: every grid entry is a non-empty list of values")
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    explicit = spec.get("runs") or []
    if not isinstance(explicit, list) or not all(isinstance(r, dict) for r in explicit):
        raise ConfigError(f"{where}: runs is a list of mappings of config fields")
    variants = (
        [{**c, **r} for c in combos for r in (explicit or [{}])]
        if combos
        else (list(explicit) or [{}])
    )
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{where}: seeds is a list of integers")
    runs, names = [], set()
    for variant in variants:
        for seed in seeds:
            varied = {**variant, "seed": seed}
            cfg = replace(base, _overrides(varied, f"{where}: run {varied}"))
            name = ",".join(f"{k}={v}" for k, v in varied.items()).replace("/", "_")
            if name in names:
                raise ConfigError(f"{where}: two runs have the same settings ({name})")
            names.add(name)
            runs.append(SweepRun(name, varied, cfg))
    return runs


__all__ = ["SPEC", "SweepRun", "expand", "load_spec"]
