"""The commands on many runs: sweep, predict, compare."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grokinterp.cli import options
from grokinterp.cli.command import Command
from grokinterp.cli.options import progress


def _add_sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", type=Path, help="the sweep spec (.yaml, .yml or .json)")
    options.add_out(p, "sweep directory (default: sweeps/<spec name>)")
    options.add_backend(
        p,
        None,
        "local: a pool of processes; ensemble: same-shape runs batched in "
        "one process; ray: one Ray task per run; ray-ensemble: one Ray task per same-shape "
        "batch (the Ray tasks need no shared disk: run directories are shipped home) "
        "(default: the spec's backend, else local)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster address for the Ray backends (default: a local instance)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes for the local backend, each with an equal share of the cores' threads "
        "(default: one per core)",
    )
    options.add_force(p, "delete the sweep directory first")
    options.add_device(
        p,
        "torch device of the runs; with a Ray backend, cuda gives each task one GPU (default: cpu)",
    )
    options.add_no_progress(p, "display")
    p.add_argument(
        "--prune-after",
        type=int,
        default=None,
        metavar="N",
        help="train every run to step N, predict with the shipped grokking predictor "
        "(`grokinterp predict`) and continue only the runs predicted to grok; the others are "
        "recorded as pruned with their probability (N: a step the predictor was trained "
        "at, see `grokinterp predict --help`)",
    )
    options.add_log_to(p)


def _sweep(args: argparse.Namespace) -> int:
    from grokinterp.experiments.predictor import pruner
    from grokinterp.sweeps.engine import run_sweep
    from grokinterp.sweeps.pruning import PRUNING
    from grokinterp.sweeps.spec import load_spec

    spec = load_spec(args.spec)
    out = args.out or Path("sweeps") / args.spec.stem
    table = run_sweep(
        spec,
        out,
        backend=args.backend,
        workers=args.workers,
        force=args.force,
        progress=progress(args),
        ray_address=args.ray_address,
        device=args.device,
        log_to=args.log_to,
        wandb_project=args.wandb_project,
        prune=pruner(args.prune_after) if args.prune_after is not None else None,
    )
    counts = table["status"].value_counts().to_dict()
    print(
        f"sweep written to {out}: {len(table)} runs "
        f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}); "
        f"results in {out / 'results.csv'}"
    )
    if args.prune_after is not None:
        rep = json.loads((out / PRUNING).read_text())
        ho = rep["heldout"]
        print(
            f"pruning at step {rep['N']} (P(grok within {rep['budget']}) < "
            f"{rep['threshold']:.3f}): {rep['pruned']} of {len(table)} runs stopped, "
            f"{100 * rep['compute_saved']:.0f}% of the sweep's training steps saved; on "
            f"held-out sweeps this rule saved {100 * ho.get('compute_saved', float('nan')):.0f}% "
            f"and lost {ho.get('grokking_lost', '?')} of {ho.get('grokking_runs', '?')} "
            f"grokking runs (studies/prediction)"
        )
    return 0 if counts.get("failed", 0) == 0 else 1


def _add_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a run directory")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="N",
        help="read the run at step N, one the predictor was trained at (default: the "
        "largest such N the run has reached)",
    )
    p.add_argument(
        "--model", type=Path, default=None, help="a predictor file (default: the shipped one)"
    )


def _predict(args: argparse.Namespace) -> int:
    from grokinterp.experiments.predictor import MODEL_FILE, choose, load_models, predict_run
    from grokinterp.runs import Run, layout

    run = Run(args.run_dir)
    models = load_models(args.model or MODEL_FILE)
    early = layout.read_early_loss(run.path)
    logged = set(run.metrics["step"]) if len(run.metrics) else set()
    usable = {n for n in models if n <= len(early) and n in run.steps and n in logged}
    pred = predict_run(run.path, choose(models, args.steps, usable))
    m = pred.model
    verdict = "groks" if pred.groks else "does not grok"
    print(
        f"{run.path}: P(test accuracy >= {m.grok_threshold:g} within {m.budget} steps) = "
        f"{pred.probability:.3f} at N = {m.n} -> predicted: {verdict} "
        f"(threshold {m.threshold:.3f})"
    )
    top = sorted(pred.contributions.items(), key=lambda kv: -abs(kv[1]))[:5]
    print(
        "drivers (log-odds terms): "
        + ", ".join(f"{k} = {pred.features[k]:.3g} ({v:+.2f})" for k, v in top)
    )
    ho = m.heldout
    print(
        f"model: logistic regression on the {m.family} features ({len(m.features)}) at N = "
        f"{m.n}; trained on {m.trained_on}; held-out AUC {ho.get('auc', float('nan')):.2f}"
    )
    if pred.outside:
        print(
            "warning: this run is outside the setups the predictor was trained on: "
            + "; ".join(pred.outside)
            + "; treat the probability as a guess"
        )
    return 0


def _add_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", type=Path, nargs="+", help="run or sweep directories")
    options.add_out(p, "output directory", required=True)
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="keep runs whose config field equals VALUE (repeatable)",
    )
    options.add_device(p)
    options.add_no_progress(p)


def _compare(args: argparse.Namespace) -> int:
    from grokinterp.errors import RunDirError
    from grokinterp.sweeps.compare import compare

    if args.out.exists() and not args.out.is_dir():  # before hours of analysis, not after
        raise RunDirError(f"{args.out}: is a file, not a directory; choose another --out")
    result = compare(
        args.sources,
        args.out,
        where=args.where,
        device=args.device,
        progress=progress(args),
    )
    print(f"{len(result.runs)} runs compared -> {args.out / 'figures' / 'index.html'}")
    for label in result.runs["run"]:
        print(f"  {label}")
    return 0


COMMANDS = [
    Command(
        "sweep",
        "run a grid of training runs",
        "Run every combination of a sweep spec (YAML or JSON: base, overrides, grid, runs, "
        "seeds) as run directories under SWEEP_DIR/runs/, and write SWEEP_DIR/results.csv. "
        "Re-running resumes: finished runs are skipped, killed runs continue. A failing run "
        "is recorded in SWEEP_DIR/status/ and the others go on.",
        _add_sweep,
        _sweep,
    ),
    Command(
        "predict",
        "will this run grok? (from its first N updates)",
        "Print the probability that a run reaches the predictor's test accuracy within its "
        "step budget, from the run's first N updates: the spectrum of its per-update training "
        "loss (Notsawo et al. 2023), progress measures at the checkpoint at N and the losses "
        "and accuracies at N; the features that drive it; and the model used (the logistic "
        "regression shipped with grokinterp, trained on studies/prediction).",
        _add_predict,
        _predict,
    ),
    Command(
        "compare",
        "overlay the progress measures of several runs",
        "Analyze the given runs (run directories, or sweep directories standing for all their "
        "runs; only those matching every --where) and write OUT/runs.csv, measures.csv, "
        "metrics.csv and figures/index.html, one line per run, each labelled by the config "
        "fields in which the runs differ.",
        _add_compare,
        _compare,
    ),
]
