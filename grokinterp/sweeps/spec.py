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
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grokinterp._files import MAX_CONFIG_BYTES, read_input
from grokinterp.config import (
    MAX_JSON_DEPTH,
    MAX_SEED,
    TrainConfig,
    config_flags,
    json_depth,
    replace,
)
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


MAX_RUNS = 10_000  # runs of one sweep (grid combinations x explicit runs x seeds)
_KEYS = ("base", "overrides", "grid", "runs", "seeds", "backend", "workers")
_BACKENDS = ("local", "ensemble", "ray", "ray-ensemble")  # sweeps.backends.BACKENDS
_SCALAR = (str, numbers.Real, bool, type(None))  # numpy numbers included


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that gives a key twice (PyYAML keeps the
    last silently: a second ``grid:`` would drop the first)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: construct_mapping words the error
            break
        if duplicate:
            raise ConfigError(
                f"key {key!r} is given twice (line {key_node.start_mark.line + 1}); give each "
                f"key once"
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,
)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ConfigError(f"key {k!r} is given twice; give each key once")
        out[k] = v
    return out


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON sweep spec and check its structure (:func:`check_spec`) before
    anything runs: a regular file of at most 1 MiB, no key given twice, nested at most
    ``MAX_JSON_DEPTH`` deep."""
    path = Path(path)
    what = "a .yaml or .json sweep spec"
    try:
        text = read_input(path, MAX_CONFIG_BYTES, what, ConfigError).decode()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sweep spec") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; give {what}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; give {what}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror or e})") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            spec = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
        else:
            spec = json.loads(text, object_pairs_hook=_unique_pairs)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply; {what} is a flat mapping") from None
    except Exception as e:  # yaml and json raise different error types
        raise ConfigError(
            f"{path}: not valid {path.suffix[1:].upper() or 'JSON'} ({type(e).__name__})"
        ) from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a sweep spec is a mapping (base, grid, runs, seeds)")
    if json_depth(spec) > MAX_JSON_DEPTH:
        raise ConfigError(f"{path}: nested too deeply; {what} is a flat mapping")
    check_spec(spec, str(path))
    return spec


def _field_map(value: Any, where: str, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where}: {what} is a mapping of config fields, got {value!r:.60}")
    return value


def check_spec(spec: Any, where: str = "spec") -> None:
    """Raise ConfigError (one line) unless ``spec`` has the structure of a sweep spec.

    The schema: a mapping with only the keys ``base`` (a mapping with ``preset``: a name,
    or ``config``: a path, and optionally ``overrides``, applied first), ``overrides`` (a
    mapping of config fields to values), ``grid`` (a mapping of config fields to non-empty
    lists of values), ``runs`` (a list of such mappings), ``seeds`` (a non-empty list of
    distinct integers in [0, 2^62)), ``backend`` (local, ensemble, ray, ray-ensemble) and
    ``workers`` (an integer >= 1); a value is a string, number, boolean or null; and at most
    ``MAX_RUNS`` runs in all. The values
    themselves are checked when the configs are built (:func:`expand`).
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: a sweep spec is a mapping (base, grid, runs, seeds)")
    unknown = set(spec) - set(_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(map(str, unknown))}; a spec has {', '.join(_KEYS)}"
        )
    base = spec.get("base")
    if base is not None:
        sources = [k for k in ("preset", "config") if k in base] if isinstance(base, dict) else []
        if (
            not isinstance(base, dict)
            or set(base) - {"preset", "config", "overrides"}
            or len(sources) != 1
        ):
            raise ConfigError(
                f"{where}: base is {{preset: NAME}} or {{config: PATH}} (and optionally "
                f"overrides), got {base!r:.60}"
            )
        value = base[sources[0]]
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            raise ConfigError(f"{where}: base {sources[0]} must be a non-empty name or path")
        _field_map(base.get("overrides"), where, "base overrides")
    overrides = _field_map(spec.get("overrides"), where, "overrides")
    if isinstance(base, dict):
        overrides = {**_field_map(base.get("overrides"), where, "base overrides"), **overrides}
    grid = _field_map(spec.get("grid"), where, "grid")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid {name} must be a non-empty list of values")
    runs = spec.get("runs")
    if runs is not None and not (isinstance(runs, list) and all(isinstance(r, dict) for r in runs)):
        raise ConfigError(f"{where}: runs is a list of mappings of config fields")
    for i, r in enumerate(runs or []):
        _field_map(r, f"{where}: runs[{i}]", "a run")
    values = [*overrides.values(), *(v for vs in grid.values() for v in vs)]
    values += [v for r in runs or [] for v in r.values()]
    for v in values:
        if not isinstance(v, _SCALAR):
            raise ConfigError(
                f"{where}: a config value is a string, number, boolean or null, got {v!r:.60}"
            )
    seeds = spec.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in seeds)
    ):
        raise ConfigError(f"{where}: seeds is a non-empty list of integers")
    if not all(0 <= x < MAX_SEED for x in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: seeds must be distinct integers in [0, 2^62), got {seeds}")
    backend = spec.get("backend")
    if backend is not None and backend not in _BACKENDS:
        raise ConfigError(f"{where}: backend is one of {list(_BACKENDS)}, got {backend!r:.60}")
    workers = spec.get("workers")
    if workers is not None and (
        not isinstance(workers, numbers.Integral) or isinstance(workers, bool) or workers < 1
    ):
        raise ConfigError(f"{where}: workers is an integer >= 1, got {workers!r:.60}")
    n = math.prod(len(v) for v in grid.values()) * max(1, len(runs or [])) * len(seeds)
    if n > MAX_RUNS:
        raise ConfigError(
            f"{where}: the spec stands for {n} runs, more than {MAX_RUNS}; split it into "
            f"several sweeps or use fewer values"
        )


def expand(spec: dict[str, Any], where: str = "spec") -> list[SweepRun]:
    """Every run of a spec, with validated configs and unique names (the spec's structure
    is checked first: :func:`check_spec`)."""
    check_spec(spec, where)
    base_spec = spec.get("base") or {"preset": "nanda"}
    if "preset" in base_spec:
        base = get_preset(base_spec["preset"])
    else:
        base = TrainConfig.load(base_spec["config"])
    base = replace(base, _overrides(base_spec.get("overrides") or {}, f"{where}: base overrides"))
    base = replace(base, _overrides(spec.get("overrides") or {}, f"{where}: overrides"))
    grid = spec.get("grid") or {}
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    explicit = spec.get("runs") or []
    variants = (
        [{**c, **r} for c in combos for r in (explicit or [{}])]
        if combos
        else (list(explicit) or [{}])
    )
    seeds = spec.get("seeds", [0])
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


__all__ = ["MAX_RUNS", "SPEC", "SweepRun", "check_spec", "expand", "load_spec"]
