"""The package's shape: its layout, layers, curated API, version and import cost."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import grokinterp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "grokinterp"

# the entry points and the bottom layers that stay at the top level; everything else lives
# in a subpackage named for its place in the data flow
TOP_LEVEL_MODULES = {
    "__init__",
    "__main__",
    "_lazy",
    "_files",  # bounded reading of input files: below the config, which reads one
    "_version",
    "config",
    "errors",
    "presets",
}
SUBPACKAGES = {
    "tasks",
    "models",
    "training",
    "runs",
    "analysis",
    "viz",
    "sweeps",
    "experiments",
    "cli",
}

# imports that may sit inside a function: optional extras, loaded only when asked for
OPTIONAL_EXTRAS = {
    "ray",
    "choreographer",
    "kaleido",
    "wandb",
    "torch.utils.tensorboard",
    "gpytorch",
}


def test_top_level_holds_only_the_entry_points_and_the_subpackages():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert modules == TOP_LEVEL_MODULES, (
        f"new top-level module(s) {sorted(modules - TOP_LEVEL_MODULES)}: put them in the "
        f"subpackage of their layer ({sorted(SUBPACKAGES)})"
    )
    assert packages == SUBPACKAGES


def test_the_layers_contract_covers_every_subpackage_and_top_level_module():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    named = {m.strip() for layer in contract["layers"] for m in layer.split("|")}
    want = {f"grokinterp.{n}" for n in SUBPACKAGES | TOP_LEVEL_MODULES - {"__init__", "__main__"}}
    assert named == want


def _function_level_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                found += [(node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                found.append((node.lineno, node.module or ""))
    return found


def test_no_imports_inside_functions_except_optional_extras():
    # the command line is the exception: each command imports its implementation (torch,
    # TransformerLens, plotly with it) when it runs, so that `grokinterp --help` stays fast;
    # nothing imports the cli, so its imports can form no cycle
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.is_relative_to(PACKAGE / "cli")
        for line, name in _function_level_imports(path)
        if not any(name == e or name.startswith(e + ".") for e in OPTIONAL_EXTRAS)
    ]
    assert not bad, "import at module level (a cycle is a layering bug): " + "; ".join(bad)


def test_curated_api():
    assert grokinterp.__version__ == importlib.metadata.version("grokinterp")
    for name in grokinterp.__all__:
        assert getattr(grokinterp, name) is not None
    from grokinterp.config import TrainConfig
    from grokinterp.runs import Run
    from grokinterp.sweeps.engine import run_sweep
    from grokinterp.training import train
    from grokinterp.viz import analyze

    assert grokinterp.TrainConfig is TrainConfig and grokinterp.Run is Run
    assert grokinterp.train is train and grokinterp.analyze is analyze
    assert grokinterp.run_sweep is run_sweep


def _loads(code: str, module: str) -> bool:
    """Whether running ``code`` in a fresh interpreter imports ``module``."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print({module!r} in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_import_and_help_do_not_load_torch():
    # torch takes about a second to import: `import grokinterp` and `grokinterp --help` must
    # not pay for it (benchmarks/bench_startup.py times both)
    assert not _loads("import grokinterp", "torch")
    help_code = "from grokinterp.cli import build_parser\nbuild_parser().format_help()"
    assert not _loads(help_code, "torch")
    assert _loads("import grokinterp\ngrokinterp.Run", "torch")  # and loads it when needed


def test_training_and_sweep_workers_do_not_load_transformer_lens():
    # every training process (a sweep's workers included) would pay seconds for it: only
    # Run.model and the analysis of a run need the TransformerLens models
    assert not _loads("import grokinterp.training", "transformer_lens")
    assert not _loads("import grokinterp.sweeps.engine", "transformer_lens")
    assert _loads("import grokinterp.runs.run", "transformer_lens")


def test_dir_lists_the_lazy_api_not_the_helpers():
    # in a fresh interpreter: nothing of the API loaded yet, dir() still shows all of it
    code = "import grokinterp; print(' '.join(dir(grokinterp)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names = set(out.stdout.split())
    assert set(grokinterp.__all__) <= names
    assert {"train", "TrainConfig", "run_sweep", "analyze", "Run"} <= names
    assert not names & {"TYPE_CHECKING", "annotations", "lazy_attributes", "_typing"}
    assert all(hasattr(grokinterp, n) for n in dir(grokinterp))  # tab completion never fails
