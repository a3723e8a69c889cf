"""The ``grokinterp`` command line.

Every user mistake ends in one line on stderr (``grokinterp: error: ...``) and exit
status 2, with nothing on disk lost.

The parser needs only the config; each command's implementation (and torch,
TransformerLens, plotly with it, seconds of imports) is loaded by :func:`_load` when that
command runs, so that ``grokinterp --help`` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import inspect
import json
import re
import signal
import sys
import threading
from pathlib import Path
from types import ModuleType, UnionType
from typing import Any, Literal, NoReturn, Union, get_args, get_origin

from grokinterp._version import __version__
from grokinterp.config import SECTIONS, TrainConfig, config_flags, replace
from grokinterp.errors import ConfigError, UserError
from grokinterp.presets import NONNEURAL_PRESETS, PRESETS, get_nonneural_preset, get_preset

# the sweep backends (grokinterp.experiments.sweep.BACKENDS; a test keeps them equal)
BACKENDS = ["local", "ensemble", "ray", "ray-ensemble"]


def _add_log_to(p: argparse.ArgumentParser) -> None:
    """``--log-to`` and ``--wandb-project``: where else the metrics go."""
    p.add_argument(
        "--log-to",
        type=_list_of(str),
        default=[],
        metavar="tensorboard,wandb",
        help="also log the metrics to TensorBoard (RUN_DIR/tensorboard) and/or "
        "Weights & Biases (WANDB_MODE=offline keeps it local); the logging extra",
    )
    p.add_argument(
        "--wandb-project", default="grokinterp", help="W&B project (default: grokinterp)"
    )


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars (with the time left) on a terminal, unless ``--no-progress``; a
    redirected stderr (a log file, a pipe) stays free of them."""
    return not args.no_progress and sys.stderr.isatty()


def _load(module: str) -> ModuleType:
    """A module the running command needs, imported now (see the module docstring)."""
    return importlib.import_module(module)


def _parser_for(typ: Any, flag: str) -> Any:
    origin = get_origin(typ)
    options = get_args(typ) if origin in (Union, UnionType) else (typ,)
    nullable = type(None) in options
    base = next(o for o in options if o is not type(None))

    def parse(text: str) -> Any:
        if nullable and text.lower() in ("none", "null"):
            return None
        if get_origin(base) is Literal:
            if text not in get_args(base):
                raise argparse.ArgumentTypeError(
                    f"expected one of {list(get_args(base))}, got {text!r}"
                )
            return text
        if base is bool:
            if text.lower() in ("1", "true", "yes"):
                return True
            if text.lower() in ("0", "false", "no"):
                return False
            raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {base.__name__}{' or none' if nullable else ''}, got {text!r}"
            ) from None

    parse.__name__ = flag
    return parse


def _metavar(typ: Any) -> str:
    base = typ
    if get_origin(typ) in (Union, UnionType):
        base = next(a for a in get_args(typ) if a is not type(None))
    if get_origin(base) is Literal:
        return "{" + ",".join(get_args(base)) + "}"
    return str(base.__name__).upper()


def _doc_for(section: str, name: str) -> str:
    """The field's description from the ``Args:`` section of its dataclass docstring."""
    doc = inspect.getdoc(SECTIONS.get(section, TrainConfig)) or ""
    m = re.search(rf"^    ([\w, ]*\b{name}\b[\w, ]*): (.*(?:\n        .*)*)", doc, re.M)
    return " ".join(m.group(2).split()).replace("%", "%%") if m else ""


def _add_train(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a model into a run directory",
        description="Train a model on an algorithmic task, writing a run directory "
        "(config.json, metrics.jsonl, checkpoints/, state/). Start from a preset or a "
        "config file and override any field with its flag.",
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="start from a named config (default: nanda)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="start from a config.json (e.g. another run's); flags override it",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="run directory to write (default: runs/<preset>)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (same config; max-steps may grow)",
    )
    p.add_argument(
        "--force", action="store_true", help="delete whatever is in --out and start over"
    )
    p.add_argument("--device", type=_device, default="cpu", help="torch device (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_log_to(p)
    _add_config_flags(p)


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """A flag for every config field, grouped by config section (``train``, ``nonneural``);
    :func:`_config_from_args` applies the ones given."""
    for section in [*SECTIONS, ""]:
        title = f"{section} config" if section else "run config"
        group = p.add_argument_group(title)
        for flag, (sec, name, typ) in config_flags().items():
            if sec != section:
                continue
            group.add_argument(
                f"--{flag}",
                dest=f"cfg__{sec}__{name}",
                type=_parser_for(typ, flag),
                default=None,
                metavar=_metavar(typ),
                help=_doc_for(sec, name),
            )


def _config_from_args(args: argparse.Namespace, base: TrainConfig) -> TrainConfig:
    """``base`` with the config-field flags given on the command line applied."""
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if key.startswith("cfg__") and value is not None:
            _, section, name = key.split("__")
            overrides.setdefault(section, {})[name] = value
    return replace(base, overrides)


def _cmd_train(args: argparse.Namespace) -> int:
    runs, training = _load("grokinterp.runs"), _load("grokinterp.training")
    if args.config is not None and args.preset is not None:
        raise ConfigError("give --preset or --config, not both")
    cfg = TrainConfig.load(args.config) if args.config else get_preset(args.preset or "nanda")
    cfg = _config_from_args(args, cfg)
    out = args.out or Path("runs") / (args.preset or (args.config.stem if args.config else "nanda"))
    run_dir = training.train(
        cfg,
        out,
        resume=args.resume,
        force=args.force,
        device=args.device,
        progress=_progress(args),
        log_to=args.log_to,
        wandb_project=args.wandb_project,
    )
    lm = runs.Run(run_dir).landmarks()
    print(
        f"run written to {run_dir}  (train acc >= 99% at step {lm.train_step}, "
        f"test acc >= 99% at step {lm.test_step})"
    )
    return 0


def _add_info(sub: Any) -> None:
    p = sub.add_parser(
        "info",
        help="summarize a run directory",
        description="Print a run's config, checkpoints, final metrics and grokking landmarks.",
    )
    p.add_argument("run_dir", type=Path)


def _cmd_info(args: argparse.Namespace) -> int:
    run = _load("grokinterp.runs").Run(args.run_dir)
    cfg = run.config
    t, m, o = cfg.task, cfg.model, cfg.optim
    size = f"p={t.p}" if t.p is not None else f"n={t.n}"
    split = (
        f"train_fraction={t.train_fraction}"
        if t.train_fraction is not None
        else f"train_size={t.train_size}"
    )
    ds = run.dataset
    print(f"run        {run.path}")
    print(
        f"task       {t.name} {size}, {split} ({int(ds.train_mask.sum())} train / "
        f"{int((~ds.train_mask).sum())} test pairs), split_seed={t.split_seed}"
        f"{', random labels' if t.random_labels else ''}"
    )
    if m.arch == "transformer":
        arch = (
            f"transformer: {m.n_layers} layer(s), d_model={m.d_model}, {m.n_heads} heads "
            f"of {m.d_head}, d_mlp={m.d_mlp}, {m.act_fn}"
        )
    else:
        reads = "on the features" if m.mlp_input == "features" else f"embed {m.d_model}"
        arch = f"mlp: {m.n_layers} hidden layer(s) of {m.d_mlp}, {reads}, {m.act_fn}"
    print(f"model      {arch}, init_scale={m.init_scale}, seed={cfg.seed}")
    print(
        f"optimizer  AdamW lr={o.lr} wd={o.weight_decay} betas=({o.beta1}, {o.beta2}) "
        f"warmup={o.warmup_steps} batch={o.batch_size or 'full'} max_steps={o.max_steps}"
        + (f" fixed_norm={o.fixed_norm}" if o.fixed_norm is not None else "")
    )
    steps = run.steps
    print(f"checkpoints {len(steps)}" + (f" (steps {steps[0]} .. {steps[-1]})" if steps else ""))
    metrics = run.metrics
    if len(metrics):
        last = metrics.iloc[-1]
        print(
            f"last step  {int(last['step'])}: train loss {last['train_loss']:.4g} acc "
            f"{last['train_acc']:.3f} | test loss {last['test_loss']:.4g} acc "
            f"{last['test_acc']:.3f} | param norm {last['param_norm']:.2f}"
        )
        lm = run.landmarks()
        delay = f", delay {lm.delay}" if lm.delay is not None else ""
        print(
            f"landmarks  train acc >= 99% at {lm.train_step}, test acc >= 99% at "
            f"{lm.test_step}{delay}"
        )
    else:
        print("metrics    none logged yet")
    return 0


def _add_repair(sub: Any) -> None:
    p = sub.add_parser(
        "repair",
        help="set a run's damaged files aside and make it resumable",
        description="Check every file of RUN_DIR (checksums of the checkpoints and state "
        "files, the lines of metrics.jsonl); move the damaged ones to RUN_DIR/damaged/ "
        "(nothing is deleted) and, if the latest state or its checkpoint is damaged, roll "
        "the run back to the previous state, so that `grokinterp train --resume` continues "
        "and re-creates the later checkpoints exactly.",
    )
    p.add_argument("run_dir", type=Path)


def _cmd_repair(args: argparse.Namespace) -> int:
    report = _load("grokinterp.training").repair(args.run_dir)
    for rel, why in report.set_aside:
        print(f"set aside  {rel} ({why}) -> {args.run_dir / 'damaged' / rel}")
    if report.bad_metrics_lines:
        print(f"set aside  {report.bad_metrics_lines} unreadable line(s) of metrics.jsonl")
    if report.rolled_back:
        print("rolled back to the previous state file")
    if report.resume_step is not None:
        print(
            f"resumable from step {report.resume_step}: grokinterp train --config "
            f"{args.run_dir / 'config.json'} --out {args.run_dir} --resume"
        )
    else:
        print(
            "no intact state to resume from: analyze works on the intact checkpoints; to train "
            "on, start over with --force, or from a checkpoint with --init-from (a new optimizer)"
        )
    if not report.set_aside and not report.bad_metrics_lines:
        print(f"{args.run_dir}: every file is intact")
    return 0


def _add_import_legacy(sub: Any) -> None:
    p = sub.add_parser(
        "import-legacy",
        help="turn a progress-measures checkpoint file into a run directory",
        description="Import a checkpoint saved by the progress-measures code (Nanda et al. "
        "2023): a torch-saved dict with a 'model' state dict (embed.W_E, pos_embed.W_pos, "
        "blocks.0.attn.W_Q/W_K/W_V/W_O, blocks.0.mlp.W_in/b_in/W_out/b_out, unembed.W_U) and "
        "optional train_losses/test_losses, checkpoints/checkpoint_epochs and config.",
    )
    p.add_argument("file", type=Path, help="the .pth / pickle file")
    p.add_argument("run_dir", type=Path, help="run directory to create")
    p.add_argument(
        "--trust",
        action="store_true",
        help="allow arbitrary Python objects in the file (executes its code)",
    )
    p.add_argument("--force", action="store_true", help="overwrite run_dir")


def _cmd_import_legacy(args: argparse.Namespace) -> int:
    runs = _load("grokinterp.runs")
    run = runs.Run(runs.import_legacy(args.file, args.run_dir, trust=args.trust, force=args.force))
    print(
        f"imported {args.file} into {run.path} ({len(run.steps)} checkpoint(s), "
        f"p={run.config.task.p})"
    )
    return 0


def _list_of(kind: type) -> Any:
    """An argparse type for comma-separated values of ``kind`` (int or float), at least one."""

    def parse(text: str) -> list[Any]:
        try:
            values = [kind(x) for x in text.split(",") if x.strip()]
        except ValueError:
            values = []
        if not values:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__} values, got {text!r}"
            )
        return values

    return parse


_int_list, _float_list = _list_of(int), _list_of(float)


def _device(text: str) -> str:
    """An argparse type: a torch device this machine has (checked before anything runs)."""
    torch = _load("torch")
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown torch device {text!r}; use cpu, cuda or cuda:N"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(
            f"{text!r}: this torch ({torch.__version__}) sees no CUDA GPU; use cpu"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available here; use cpu")
    return text


def _add_analyze(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="progress measures and figures over a run's checkpoints",
        description="Compute the progress measures of every checkpoint of a run (Fourier "
        "structure, restricted / excluded loss, Gini, weight norms, logit shares, neuron "
        "clusters), locate the phases, and write RUN_DIR/analysis/ (measures.csv, "
        "summary.json, figures/index.html). Incremental: re-running computes only new "
        "checkpoints. TARGET may also be a checkpoint file saved by the progress-measures "
        "code, which is first imported (see import-legacy).",
    )
    p.add_argument("target", type=Path, help="a run directory, or a legacy checkpoint file")
    p.add_argument(
        "--steps",
        type=_int_list,
        default=None,
        help="comma-separated checkpoint steps (default: all)",
    )
    p.add_argument(
        "--key-freqs",
        type=_int_list,
        default=None,
        help="comma-separated key frequencies (default: chosen at the last step by the rule)",
    )
    p.add_argument(
        "--key-freq-rule",
        choices=["causal", "embed", "logit", "neuron_argmax"],
        default="causal",
        help="how key frequencies are chosen at the last step: causal (default; removing the "
        "frequency from the logits multiplies the training loss by 10 or more), embed / logit "
        "(largest gap in the Fourier spectrum of W_E / W_out W_U), neuron_argmax (every MLP "
        "neuron's best frequency, as the progress-measures code does); summary.json records "
        "all four and the evidence",
    )
    p.add_argument("--device", type=_device, default="cpu", help="torch device (default: cpu)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="for a checkpoint file: the run directory to import it into "
        "(default: <file>-run beside it)",
    )
    p.add_argument(
        "--trust",
        action="store_true",
        help="for a checkpoint file: allow arbitrary Python objects in it",
    )


def _cmd_analyze(args: argparse.Namespace) -> int:
    target = args.target
    if target.is_file():
        import_legacy = _load("grokinterp.runs").import_legacy
        run_dir = args.out or target.with_name(target.stem + "-run")
        if not (run_dir / "config.json").exists():
            import_legacy(target, run_dir, trust=args.trust)
            print(f"imported {target} into {run_dir}")
        target = run_dir
    elif args.out is not None:
        raise ConfigError("--out only applies when TARGET is a checkpoint file")
    result = _load("grokinterp.viz").analyze(
        target,
        steps=args.steps,
        key_freqs=args.key_freqs,
        key_freq_rule=args.key_freq_rule,
        device=args.device,
        progress=_progress(args),
        figures=not args.no_figures,
    )
    s = result.summary
    print(f"analyzed {s['steps_analyzed']} checkpoints -> {result.path}")
    if s.get("key_freqs") is not None:
        print(f"key frequencies {s['key_freqs']} ({s['key_freqs_source']})")
        check = s.get("key_freq_check") or {}
        if check and not check.get("sufficient", True):
            print(
                f"note: restricted to these frequencies the training loss is "
                f"{check['restricted_train_loss']:.3g}, more than "
                f"{check['restricted_factor']:g}x the full {check['train_loss']:.3g}"
            )
    else:
        print(s["fourier_measures"])
    ph = s["phases"]
    print(
        f"phases: memorization ends {ph['memorization_end']}, circuit formation ends "
        f"{ph['circuit_formation_end']}, cleanup ends {ph['cleanup_end']}; grokking step "
        f"{s['grokking_step']}"
    )
    if not args.no_figures:
        print(f"figures: {result.path / 'figures' / 'index.html'}")
    return 0


def _add_sweep(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of training runs",
        description="Run every combination of a sweep spec (YAML or JSON: base, overrides, "
        "grid, runs, seeds) as run directories under SWEEP_DIR/runs/, and write "
        "SWEEP_DIR/results.csv. Re-running resumes: finished runs are skipped, killed runs "
        "continue. A failing run is recorded in SWEEP_DIR/status/ and the others go on.",
    )
    p.add_argument("spec", type=Path, help="the sweep spec (.yaml, .yml or .json)")
    p.add_argument(
        "--out", type=Path, default=None, help="sweep directory (default: sweeps/<spec name>)"
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="local: a pool of processes; ensemble: same-shape runs batched in "
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
        help="processes for the local backend (default: one per core)",
    )
    p.add_argument("--force", action="store_true", help="delete the sweep directory first")
    p.add_argument(
        "--device",
        type=_device,
        default="cpu",
        help="torch device of the runs; with a Ray backend, cuda gives each task one GPU "
        "(default: cpu)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress display")
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
    _add_log_to(p)


def _cmd_sweep(args: argparse.Namespace) -> int:
    sweep = _load("grokinterp.experiments.sweep")
    spec = sweep.load_spec(args.spec)
    out = args.out or Path("sweeps") / args.spec.stem
    table = sweep.run_sweep(
        spec,
        out,
        backend=args.backend,
        workers=args.workers,
        force=args.force,
        progress=_progress(args),
        ray_address=args.ray_address,
        device=args.device,
        log_to=args.log_to,
        wandb_project=args.wandb_project,
        prune_after=args.prune_after,
    )
    counts = table["status"].value_counts().to_dict()
    print(
        f"sweep written to {out}: {len(table)} runs "
        f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}); "
        f"results in {out / 'results.csv'}"
    )
    if args.prune_after is not None:
        rep = json.loads((out / sweep.PRUNING).read_text())
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


def _add_predict(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="will this run grok? (from its first N updates)",
        description="Print the probability that a run reaches the predictor's test accuracy "
        "within its step budget, from the run's first N updates: the spectrum of its per-update "
        "training loss (Notsawo et al. 2023), progress measures at the checkpoint at N and the "
        "losses and accuracies at N; the features that drive it; and the model used (the "
        "logistic regression shipped with grokinterp, trained on studies/prediction).",
    )
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


def _cmd_predict(args: argparse.Namespace) -> int:
    predictor = _load("grokinterp.experiments.predictor")
    runs = _load("grokinterp.runs")
    run = runs.Run(args.run_dir)
    models = predictor.load_models(args.model or predictor.MODEL_FILE)
    early = runs.layout.read_early_loss(run.path)
    logged = set(run.metrics["step"]) if len(run.metrics) else set()
    usable = {n for n in models if n <= len(early) and n in run.steps and n in logged}
    pred = predictor.predict_run(run.path, predictor.choose(models, args.steps, usable))
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
    return 0


def _add_prediction_study(sub: Any) -> None:
    p = sub.add_parser(
        "prediction-study",
        help="the grokking-prediction study (Notsawo et al. 2023): sweeps, predictors, AUCs",
        description="Train the labeled sweeps of studies/prediction (ensemble backend; "
        "re-running resumes), read every run's early features at each N, and write "
        "features.csv, auc.csv, confusion.csv, pruning.csv, spectra.csv and figures/ into OUT.",
    )
    p.add_argument("out", type=Path, help="output directory (studies/prediction)")
    p.add_argument(
        "--parts", nargs="+", default=None, help="only these sweeps (default: all of them)"
    )
    p.add_argument("--ship", action="store_true", help="also write the package's predictor file")


def _cmd_prediction_study(args: argparse.Namespace) -> int:
    study = _load("grokinterp.experiments.prediction")
    ev = study.run_study(args.out, args.parts, ship=args.ship)
    if ev is None:
        print(f"{args.out}: no training sweep finished yet; run again to continue")
        return 0
    print(ev.auc[["N", "family", "auc_cv", *(["auc_heldout"] if "auc_heldout" in ev.auc else [])]]
          .to_string(index=False))  # fmt: skip
    print(f"tables and figures in {args.out}")
    return 0


def _add_phases(sub: Any) -> None:
    p = sub.add_parser(
        "phases",
        help="phase diagram (Liu et al. 2022) of a 2D sweep",
        description="Train a sweep spec whose grid varies two fields (through the sweep "
        "engine; re-running resumes), classify each run as comprehension, grokking, "
        "memorization or confusion (Liu et al. 2022: 90%% accuracy within the step budget, "
        "test within --window steps of train), and write OUT/runs.csv, OUT/phases.csv and "
        "OUT/figures/phase_diagram (phase and grokking-delay panels).",
    )
    p.add_argument("spec", type=Path, help="the sweep spec (.yaml, .yml or .json)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--x", default=None, help="grid field on the x axis (default: the first)")
    p.add_argument("--y", default=None, help="grid field on the y axis (default: the second)")
    p.add_argument(
        "--backend", choices=BACKENDS, default="ensemble", help="sweep backend (default: ensemble)"
    )
    p.add_argument("--threshold", type=float, default=0.9, help="accuracy threshold (0.9)")
    p.add_argument(
        "--window", type=int, default=1000, help="comprehension/grokking window in steps (1000)"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    p.add_argument("--force", action="store_true", help="delete OUT/sweep first")
    p.add_argument("--no-progress", action="store_true", help="hide the progress display")


def _cmd_phases(args: argparse.Namespace) -> int:
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads: must be at least 1, got {args.threads}")
        _load("torch").set_num_threads(args.threads)
    sweep = _load("grokinterp.experiments.sweep")
    cells = _load("grokinterp.experiments.phases").run_phase_diagram(
        sweep.load_spec(args.spec),
        args.out,
        x=args.x,
        y=args.y,
        backend=args.backend,
        threshold=args.threshold,
        window=args.window,
        force=args.force,
        progress=_progress(args),
    )
    counts = cells["phase"].value_counts().to_dict()
    print(
        f"phase diagram written to {args.out}: {len(cells)} cells "
        f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}); "
        f"figure in {args.out / 'figures' / 'phase_diagram.html'}"
    )
    return 0


def _add_critical_fraction(sub: Any) -> None:
    p = sub.add_parser(
        "critical-fraction",
        help="effective theory's critical training fraction vs a sweep (Liu et al. 2022)",
        description="Train a sweep spec over training sets of the toy model (task int_add; "
        "e.g. a grid of train_size and split_seed), set each run's final test accuracy and "
        "RQI beside the effective theory's prediction for its training set, and write "
        "OUT/runs.csv, OUT/fractions.csv, OUT/summary.json (theory's and measured critical "
        "fraction) and OUT/figures/critical_fraction.",
    )
    p.add_argument("spec", type=Path, help="the sweep spec (.yaml, .yml or .json)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--backend", choices=BACKENDS, default="ensemble", help="sweep backend (default: ensemble)"
    )
    p.add_argument("--threshold", type=float, default=0.9, help="generalized: test acc >= (0.9)")
    p.add_argument(
        "--theory-splits", type=int, default=50, help="random training sets per size (50)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--force", action="store_true", help="delete OUT/sweep first")
    p.add_argument("--no-progress", action="store_true", help="hide the progress display")


def _cmd_critical_fraction(args: argparse.Namespace) -> int:
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads: must be at least 1, got {args.threads}")
        _load("torch").set_num_threads(args.threads)
    if args.theory_splits < 1:
        raise ConfigError(f"--theory-splits: must be at least 1, got {args.theory_splits}")
    sweep = _load("grokinterp.experiments.sweep")
    summary = _load("grokinterp.experiments.effective_theory").run_critical_fraction(
        sweep.load_spec(args.spec),
        args.out,
        backend=args.backend,
        threshold=args.threshold,
        n_theory=args.theory_splits,
        force=args.force,
        progress=_progress(args),
    )
    print(
        f"critical fraction written to {args.out}: theory {summary['r_c_theory']}, "
        f"measured {summary['r_c_measured']} ({summary['runs']} runs)"
    )
    return 0


def _add_base(p: argparse.ArgumentParser, preset: str, note: str = "") -> None:
    """``--preset`` / ``--config``: the base config of an experiment (see :func:`_curve_base`)."""
    p.add_argument(
        "--preset",
        default=preset,
        choices=sorted(PRESETS),
        help=f"base config (default: {preset}{note})",
    )
    p.add_argument("--config", type=Path, default=None, help="base config.json instead")


def _add_curve_base(p: argparse.ArgumentParser, preset: str, note: str) -> None:
    """The options that ``efficiency curves`` and ``efficiency study`` share: the base
    config, the seeds and the training-loss target."""
    _add_base(p, preset, note)
    p.add_argument("--seeds", type=_int_list, default=[0, 1, 2], help="default: 0,1,2")
    p.add_argument(
        "--target-loss", type=float, default=0.01, help="training-loss target (default 0.01)"
    )


def _curve_base(args: argparse.Namespace) -> dict[str, str]:
    """The sweep base of an experiment (``efficiency``, ``interventions``): --config if
    given, else --preset."""
    return {"config": str(args.config)} if args.config else {"preset": args.preset}


def _add_efficiency(sub: Any) -> None:
    """Long by design: the argparse declarations of three subcommands."""
    p = sub.add_parser(
        "efficiency",
        help="circuit-efficiency experiments (Varma et al. 2023)",
        description="Circuit-efficiency experiments of Varma et al. 2023: 'curves' trains "
        "memorization-only and generalizing networks to a training-loss target over a grid of "
        "training-set sizes and estimates D_crit where their parameter norms cross; 'ungrok' "
        "continues a grokked checkpoint on nested smaller training sets; 'study' runs both "
        "and checks the paper's predictions.",
    )
    kinds = p.add_subparsers(dest="experiment", required=True)
    c = kinds.add_parser("curves", help="parameter norm at a loss target against D; D_crit")
    _add_curve_base(c, "quick", "")
    c.add_argument(
        "--sizes",
        type=_int_list,
        required=True,
        help="comma-separated training-set sizes D, ascending",
    )
    c.add_argument("--max-steps", type=int, default=20_000, help="step budget per run")
    c.add_argument(
        "--read-at",
        choices=["converged", "first"],
        default="converged",
        help="read the norm after max-steps (converged) or at the first step the "
        "loss target is met (first)",
    )
    c.add_argument("--out", type=Path, required=True, help="output directory")
    u = kinds.add_parser("ungrok", help="continue a grokked checkpoint on smaller sets")
    u.add_argument(
        "checkpoint", type=Path, help="RUN_DIR/checkpoints/step_<N>.safetensors of a grokked run"
    )
    u.add_argument(
        "--sizes",
        type=_int_list,
        required=True,
        help="comma-separated sizes D' of the nested training sets",
    )
    u.add_argument("--weight-decays", type=_float_list, default=[0.3, 1.0], help="default: 0.3,1.0")
    u.add_argument("--steps", type=int, default=5000, help="steps of each continued run")
    u.add_argument("--out", type=Path, required=True, help="output directory")
    st = kinds.add_parser(
        "study",
        help="the whole study: curves, D_crit, ungrokking, semi-grokking, verdicts",
        description="Curves over a geometric grid of D with several seeds, D_crit, ungrokking "
        "from the largest generalized run at several weight decays, semi-grokking near D_crit; "
        "figures, traces.csv and a report that checks each prediction of Varma et al. 2023.",
    )
    _add_curve_base(st, "efficiency", ", the CPU-sized study")
    st.add_argument(
        "--sizes",
        type=_int_list,
        default=None,
        help="comma-separated training-set sizes D (default: 7 sizes evenly "
        "spaced in log D from 9%% to 72%% of all pairs)",
    )
    st.add_argument(
        "--max-steps", type=int, default=4000, help="steps of each curve run (default 4000)"
    )
    st.add_argument(
        "--weight-decays",
        type=_float_list,
        default=[0.5, 2.0],
        help="weight decays of the ungrokking runs (default: 0.5,2.0)",
    )
    st.add_argument(
        "--ungrok-steps", type=int, default=6000, help="steps of each ungrokking run (default 6000)"
    )
    st.add_argument(
        "--ungrok-sizes",
        type=_int_list,
        default=None,
        help="sizes D' of the ungrokking runs (default: the curve sizes below the "
        "source run's, and two more below the grid)",
    )
    st.add_argument("--out", type=Path, required=True, help="output directory")
    sg = kinds.add_parser(
        "semi",
        help="semi-grokking: long true-label runs at sizes around D_crit, plateau classes",
        description="True-label runs at several training-set sizes D around D_crit, several "
        "seeds each, trained long with sparse logging (ensemble backend, one sweep per size, "
        "largest first, resumable); each run classified by its test-accuracy plateau "
        "(grokked / semi-grokked / rising / memorized). Writes runs.csv, test_acc.csv, "
        "figures/ and report.txt, rewritten after each size.",
    )
    _add_base(sg, "efficiency", ", the CPU-sized study")
    sg.add_argument(
        "--sizes", type=_int_list, required=True, help="comma-separated sizes D, ascending"
    )
    sg.add_argument("--seeds", type=_int_list, default=[0, 1, 2, 3, 4], help="default: 0,...,4")
    sg.add_argument(
        "--d-crit",
        type=float,
        default=None,
        help="the D_crit the sizes are placed around (from 'efficiency study'), for the verdict",
    )
    sg.add_argument(
        "--max-steps", type=int, default=100_000, help="steps of every run (default 100000)"
    )
    sg.add_argument(
        "--log-every", type=int, default=200, help="metrics every N steps (default 200)"
    )
    sg.add_argument(
        "--ckpt-every",
        type=int,
        default=20_000,
        help="checkpoint spacing; a killed round resumes from the last (default 20000)",
    )
    sg.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads while training (default: torch's; 1 is faster on shared cores)",
    )
    sg.add_argument("--out", type=Path, required=True, help="output directory")
    for q in (c, u, st, sg):
        q.add_argument("--backend", choices=BACKENDS, default="ensemble")
        q.add_argument(
            "--device", type=_device, default="cpu", help="torch device of the runs (default: cpu)"
        )
        q.add_argument("--no-progress", action="store_true", help="hide the progress display")


def _cmd_efficiency(args: argparse.Namespace) -> int:
    sizes = args.sizes if args.experiment in ("curves", "study", "semi") else None
    if sizes is not None and (sizes != sorted(set(sizes)) or sizes[0] < 1):
        raise ConfigError(f"--sizes: give distinct positive sizes in ascending order, got {sizes}")
    efficiency = _load("grokinterp.experiments.efficiency")
    progress = _progress(args)
    if args.experiment == "curves":
        efficiency.norm_curves(
            _curve_base(args),
            args.sizes,
            args.seeds,
            args.target_loss,
            args.out,
            max_steps=args.max_steps,
            read_at=args.read_at,
            backend=args.backend,
            progress=progress,
            device=args.device,
        )
    elif args.experiment == "study":
        efficiency_study = _load("grokinterp.experiments.efficiency_study")
        base = _curve_base(args)
        sizes = args.sizes or efficiency_study.default_sizes(base)
        efficiency_study.run_study(
            base,
            sizes,
            args.seeds,
            args.out,
            target_loss=args.target_loss,
            max_steps=args.max_steps,
            weight_decays=args.weight_decays,
            ungrok_steps=args.ungrok_steps,
            ungrok_sizes=args.ungrok_sizes,
            backend=args.backend,
            progress=progress,
            device=args.device,
        )
    elif args.experiment == "semi":
        semi = _load("grokinterp.experiments.semi_grokking")
        semi.run_semi(
            _curve_base(args),
            args.sizes,
            args.seeds,
            args.out,
            d_crit=args.d_crit,
            max_steps=args.max_steps,
            log_every=args.log_every,
            ckpt_every=args.ckpt_every,
            threads=args.threads,
            backend=args.backend,
            progress=progress,
            device=args.device,
        )
    else:
        efficiency.ungrokking(
            args.checkpoint,
            args.sizes,
            args.weight_decays,
            args.steps,
            args.out,
            backend=args.backend,
            progress=progress,
            device=args.device,
        )
    return _print_report(args.out)


def _add_interventions(sub: Any) -> None:
    p = sub.add_parser(
        "interventions",
        help="progress measures under each training intervention, side by side",
        description="Train one task with the baseline, Grokfast-EMA, StableMax without "
        "weight decay, ⊥Grad without weight decay and AdamW without weight decay (the arms), "
        "analyze every checkpoint of each, and write OUT/summary.csv, metrics.csv, "
        "measures.csv, report.txt and figures/: when accuracy, the key frequencies, the "
        "restricted loss and the generalizing share move under each.",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    _add_base(p, "quick")
    p.add_argument(
        "--arms", type=_list_of(str), default=None, help="comma-separated arms (default: all)"
    )
    p.add_argument("--max-steps", type=int, default=10_000, help="step budget (default 10000)")
    p.add_argument(
        "--patience",
        type=int,
        default=500,
        help="steps after test accuracy reaches 99%% (default 500)",
    )
    p.add_argument("--backend", choices=BACKENDS, default="local")
    p.add_argument("--device", type=_device, default="cpu", help="torch device (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress display")


def _cmd_interventions(args: argparse.Namespace) -> int:
    study = _load("grokinterp.experiments.interventions")
    study.run_study(
        _curve_base(args),
        args.out,
        arms=args.arms,
        max_steps=args.max_steps,
        patience=args.patience,
        backend=args.backend,
        progress=_progress(args),
        device=args.device,
    )
    return _print_report(args.out)


def _add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="overlay the progress measures of several runs",
        description="Analyze the given runs (run directories, or sweep directories standing "
        "for all their runs; only those matching every --where) and write OUT/runs.csv, "
        "measures.csv, metrics.csv and figures/index.html, one line per run, each labelled by "
        "the config fields in which the runs differ.",
    )
    p.add_argument("sources", type=Path, nargs="+", help="run or sweep directories")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="keep runs whose config field equals VALUE (repeatable)",
    )
    p.add_argument("--device", type=_device, default="cpu", help="torch device (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _cmd_compare(args: argparse.Namespace) -> int:
    result = _load("grokinterp.experiments.compare").compare(
        args.sources,
        args.out,
        where=args.where,
        device=args.device,
        progress=_progress(args),
    )
    print(f"{len(result.runs)} runs compared -> {args.out / 'figures' / 'index.html'}")
    for label in result.runs["run"]:
        print(f"  {label}")
    return 0


def _add_export(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="write a run's metrics and measures to TensorBoard or W&B",
        description="Log every metrics line of RUN_DIR, and every row of its analysis table "
        "(measures/<column>), to TensorBoard (RUN_DIR/tensorboard) and/or Weights & Biases "
        "(WANDB_MODE=offline keeps it local). Needs the logging extra.",
    )  # fmt: skip
    p.add_argument("run_dir", type=Path)
    p.add_argument("--to", type=_list_of(str), required=True, metavar="tensorboard,wandb")
    p.add_argument("--wandb-project", default="grokinterp", help="W&B project")


def _cmd_export(args: argparse.Namespace) -> int:
    n = _load("grokinterp.runs.export").export_run(args.run_dir, args.to, args.wandb_project)
    print(f"exported {n} rows of {args.run_dir} to {', '.join(args.to)}")
    return 0


def _add_analytic(sub: Any) -> None:
    p = sub.add_parser(
        "analytic",
        help="write Gromov's closed-form network for a + b mod p as a run directory",
        description="Build the analytic weights of Gromov 2023 (arXiv 2301.02679) for a "
        "two-layer MLP with quadratic activation that solves a + b mod p, and write them as a "
        "run directory with one checkpoint (step 0), which analyze, info and Run open.",
    )
    p.add_argument("--p", type=int, required=True, help="the modulus")
    p.add_argument("--width", type=int, required=True, help="hidden neurons N")
    p.add_argument("--out", type=Path, required=True, help="run directory to write")
    p.add_argument(
        "--freqs",
        type=_int_list,
        default=None,
        help="comma-separated frequencies (default: all of 1..(p-1)/2)",
    )
    p.add_argument(
        "--phases",
        choices=["balanced", "random"],
        default="balanced",
        help="random: the paper's i.i.d. phases (exact only at large width); balanced "
        "(default): phases whose unwanted terms cancel exactly, for width >= 8 per frequency",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the phases")
    p.add_argument(
        "--amplitude", type=float, default=10.0, help="logit of the correct class (default 10)"
    )
    p.add_argument(
        "--train-fraction",
        type=float,
        default=0.3,
        help="the split its metrics line reports (default 0.3)",
    )
    p.add_argument("--force", action="store_true", help="delete whatever is in --out first")


def _cmd_analytic(args: argparse.Namespace) -> int:
    analytic = _load("grokinterp.training.analytic")
    run_dir = analytic.write_analytic_run(
        args.out,
        args.p,
        args.width,
        freqs=args.freqs,
        phases=args.phases,
        seed=args.seed,
        amplitude=args.amplitude,
        train_fraction=args.train_fraction,
        force=args.force,
    )
    row = _load("grokinterp.runs").Run(run_dir).metrics.iloc[-1]
    print(
        f"Gromov network p={args.p} width={args.width} ({args.phases} phases) -> {run_dir}: "
        f"train acc {row['train_acc']:.4f}, test acc {row['test_acc']:.4f}, "
        f"test loss {row['test_loss']:.4g}"
    )
    return 0


def _add_studies(sub: Any) -> None:
    g = sub.add_parser(
        "gromov-study",
        help="Gromov's analytic network: accuracy vs width, and a trained net's similarity",
        description="Accuracy of Gromov's analytic network (arXiv 2301.02679) against its "
        "width for random and balanced phases, and a quadratic MLP trained on a + b mod "
        "P_TRAIN with its similarity to Gromov's form at every checkpoint. Writes OUT/"
        "width.csv, training.csv, report.txt, figures/ (runs in OUT/sweep, resumable).",
    )
    g.add_argument("--out", type=Path, required=True, help="output directory")
    g.add_argument("--p", type=int, default=97, help="modulus of the width scan (default 97)")
    g.add_argument("--p-train", type=int, default=31, help="modulus of the trained net")
    g.add_argument("--max-steps", type=int, default=3000, help="training steps (default 3000)")
    g.add_argument("--no-progress", action="store_true", help="hide the progress display")
    k = sub.add_parser(
        "kernel-study",
        help="NTK regression vs the trained network across training fractions",
        description="Train the two-layer quadratic MLP on a + b mod P at several training "
        "fractions, and compare its test accuracy with kernel regression using its empirical "
        "NTK at init and at the end (Mohamadi et al. 2024, arXiv 2407.12332); track the "
        "kernel's distance from init over checkpoints. Writes OUT/summary.csv, "
        "kernel_over_training.csv, metrics.csv, report.txt, figures/.",
    )
    k.add_argument("--out", type=Path, required=True, help="output directory")
    k.add_argument("--p", type=int, default=31, help="the modulus (default 31)")
    k.add_argument(
        "--fractions",
        type=_float_list,
        default=None,
        help="comma-separated training fractions (default 0.3,0.4,...,0.8)",
    )
    k.add_argument("--max-steps", type=int, default=3000, help="training steps (default 3000)")
    k.add_argument(
        "--n-points", type=int, default=128, help="pairs in the per-checkpoint NTK (default 128)"
    )
    k.add_argument("--no-progress", action="store_true", help="hide the progress display")


def _print_report(out: Path) -> int:
    """Print a study's ``OUT/report.txt`` (every study command ends with it); exit 0."""
    print((out / "report.txt").read_text().rstrip())
    return 0


def _cmd_gromov_study(args: argparse.Namespace) -> int:
    _load("grokinterp.experiments.analytic").run_study(
        args.out, p=args.p, p_train=args.p_train, max_steps=args.max_steps,
        progress=_progress(args),
    )  # fmt: skip
    return _print_report(args.out)


def _cmd_kernel_study(args: argparse.Namespace) -> int:
    _load("grokinterp.experiments.kernels").run_study(
        args.out, p=args.p, fractions=args.fractions, max_steps=args.max_steps,
        n_points=args.n_points, progress=_progress(args),
    )  # fmt: skip
    return _print_report(args.out)


def _add_nonneural(sub: Any) -> None:
    p = sub.add_parser(
        "nonneural",
        help="train a GP classifier or a linear model (Miller et al. 2024) into a run directory",
        description="Train a non-neural model (arch gp: a variational GP classifier, the gp "
        "extra; arch linear: a Bayesian linear model's MAP objective) on a task of generated "
        "examples (concealed_parity, linear_features), writing an ordinary run directory "
        "(config.json, metrics.jsonl with the complexity terms, checkpoints/). Start from a "
        "preset or a config file and override any field with its flag.",
    )
    p.add_argument(
        "--preset", choices=sorted(NONNEURAL_PRESETS), default=None,
        help="start from a named config (default: miller_gp)",
    )  # fmt: skip
    p.add_argument("--config", type=Path, default=None, help="start from a config.json")
    p.add_argument("--out", type=Path, required=True, help="run directory to write")
    p.add_argument("--force", action="store_true", help="delete whatever is in --out first")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_config_flags(p)
    s = sub.add_parser(
        "nonneural-study",
        help="grokking in a GP classifier and a linear model (Miller et al. 2024)",
        description="Train the variational GP classifier on concealed parity at several "
        "bit-string lengths and the linear model on linear_features, several seeds each "
        "(arXiv 2310.17247's settings), and write OUT/summary.csv, metrics.csv, report.txt, "
        "figures/ (run directories in OUT/runs; complete ones are reused).",
    )
    s.add_argument("--out", type=Path, required=True, help="output directory")
    s.add_argument(
        "--n-bits", type=_int_list, default=[10, 20, 40, 80],
        help="bit-string lengths of the GP runs, 3 parity bits each (default 10,20,40,80)",
    )  # fmt: skip
    s.add_argument("--gp-seeds", type=_int_list, default=[0, 1, 2], help="default 0,1,2")
    s.add_argument(
        "--linear-seeds", type=_int_list, default=[0, 1, 2, 3, 4], help="default 0,1,2,3,4"
    )
    s.add_argument("--gp-steps", type=int, default=300, help="GP training steps (default 300)")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _cmd_nonneural(args: argparse.Namespace) -> int:
    nonneural = _load("grokinterp.training.nonneural")
    if args.config is not None and args.preset is not None:
        raise ConfigError("give --preset or --config, not both")
    cfg = _config_from_args(
        args,
        TrainConfig.load(args.config)
        if args.config
        else get_nonneural_preset(args.preset or "miller_gp"),
    )
    run_dir = nonneural.train_nonneural(cfg, args.out, force=args.force, progress=_progress(args))
    run = _load("grokinterp.runs").Run(run_dir)
    lm, last = run.landmarks(), run.metrics.iloc[-1]
    print(
        f"run written to {run_dir}  (train acc >= 99% at step {lm.train_step}, test acc >= 99% "
        f"at step {lm.test_step}; final test acc {last['test_acc']:.3f}, complexity "
        f"{last['complexity']:.4g})"
    )
    return 0


def _cmd_nonneural_study(args: argparse.Namespace) -> int:
    _load("grokinterp.experiments.nonneural").run_study(
        args.out, n_bits=args.n_bits, gp_seeds=args.gp_seeds, linear_seeds=args.linear_seeds,
        gp_steps=args.gp_steps, progress=_progress(args),
    )  # fmt: skip
    return _print_report(args.out)


def _add_omnigrok(sub: Any) -> None:
    p = sub.add_parser(
        "omnigrok",
        help="the LU mechanism and grokking on digits (Omnigrok, Liu et al. 2023)",
        description="Omnigrok (arXiv 2210.01117) on scikit-learn's digits (preset "
        "omnigrok_digits): lu, constrained-norm training at a sweep of fixed weight norms "
        "(final train and test loss against the norm); init, the init scale alpha with weight "
        "decay, without, and with the norm fixed at alpha = 1's; lu_add, the lu sweep on "
        "a + b mod 47 (preset efficiency); late, the memorized runs of init continued with the "
        "norm fixed, with weight decay, or neither. Writes OUT/lu.csv, init.csv, curves.csv, "
        "lu_add.csv, late.csv, report.txt, figures/ (sweeps in OUT/sweeps; finished runs "
        "are reused).",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--parts", type=lambda s: [x for x in s.split(",") if x],
        default=["lu", "init", "lu_add", "late"],
        help="lu, init, lu_add, late, comma-separated (default all four)",
    )  # fmt: skip
    p.add_argument("--seeds", type=_int_list, default=[0, 1], help="default 0,1")
    p.add_argument("--lu-alphas", type=_float_list, default=None, help="init scales of lu")
    p.add_argument("--init-alphas", type=_float_list, default=None, help="init scales of init")
    p.add_argument("--lu-steps", type=int, default=2000, help="steps of the lu runs (2000)")
    p.add_argument("--init-steps", type=int, default=5000, help="steps of the init runs (5000)")
    p.add_argument("--lu-add-alphas", type=_float_list, default=None, help="scales of lu_add")
    p.add_argument("--lu-add-steps", type=int, default=3000, help="steps of lu_add (3000)")
    p.add_argument("--late-alphas", type=_float_list, default=None, help="scales of late")
    p.add_argument("--late-steps", type=int, default=2000, help="steps of late (2000)")
    p.add_argument("--beta2", type=float, default=None, help="AdamW beta2 of the digits parts")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _cmd_omnigrok(args: argparse.Namespace) -> int:
    study = _load("grokinterp.experiments.omnigrok")
    text = study.run_study(
        args.out, parts=args.parts, seeds=args.seeds,
        lu_alphas=args.lu_alphas or study.LU_ALPHAS,
        init_alphas=args.init_alphas or study.INIT_ALPHAS,
        lu_add_alphas=args.lu_add_alphas or study.LU_ADD_ALPHAS,
        lu_steps=args.lu_steps, init_steps=args.init_steps, lu_add_steps=args.lu_add_steps,
        late_alphas=args.late_alphas or study.LATE_ALPHAS, late_steps=args.late_steps,
        beta2=args.beta2, threads=args.threads,
        progress=_progress(args),
    )  # fmt: skip
    print(text.rstrip())
    return 0


def _add_deep(sub: Any) -> None:
    d = sub.add_parser(
        "deep-grokking",
        help="deep MLPs on digits: test accuracy and per-layer feature rank (Fan et al. 2024)",
        description="Train MLPs of several depths on scikit-learn's digits (200 training "
        "images, large init, MSE; arXiv 2405.19454's recipe sized for a CPU) as one sweep, "
        "then the numerical and effective rank of every layer's features at every checkpoint. "
        "Writes OUT/runs.csv, ranks.csv, traces.csv, report.txt, figures/ (runs in OUT/sweep, "
        "resumable).",
    )
    d.add_argument("--out", type=Path, required=True, help="output directory")
    d.add_argument("--depths", type=_int_list, default=[4, 8, 12], help="default 4,8,12")
    d.add_argument("--seeds", type=_int_list, default=[0, 1], help="default 0,1")
    d.add_argument("--steps", type=int, default=10000, help="training steps (default 10000)")
    d.add_argument("--width", type=int, default=128, help="hidden width (default 128)")
    d.add_argument("--alpha", type=float, default=2.0, help="init scale (default 2.0)")
    d.add_argument("--weight-decay", type=float, default=1.0, help="default 1.0")
    d.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    d.add_argument("--no-progress", action="store_true", help="hide the progress display")


def _add_tickets(sub: Any) -> None:
    t = sub.add_parser(
        "tickets",
        help="grokking tickets: pruned subnetworks of a grokked MLP retrained from its init",
        description="Train dense MLPs on a + b mod P until they grok, prune each by weight "
        "magnitude at several sparsities and retrain from its initial weights with the mask "
        "fixed (the ticket), beside a random mask of the same sparsity and a dense network "
        "started at the ticket's weight norm (Minegishi et al. 2024, arXiv 2310.19470). "
        "Writes OUT/arms.csv, summary.csv, measures.csv, traces.csv, report.txt, figures/ "
        "(runs in OUT/sweep, masks in OUT/masks; resumable).",
    )
    t.add_argument("--out", type=Path, required=True, help="output directory")
    t.add_argument("--seeds", type=_int_list, default=[0, 1, 2], help="default 0,1,2")
    t.add_argument(
        "--sparsities", type=_float_list, default=[0.3, 0.6, 0.9],
        help="fractions of the weights pruned (default 0.3,0.6,0.9)",
    )  # fmt: skip
    t.add_argument("--steps", type=int, default=8000, help="training steps (default 8000)")
    t.add_argument("--p", type=int, default=31, help="modulus (default 31)")
    t.add_argument(
        "--prune", choices=["all", "no_embed"], default="all",
        help="weight matrices the masks prune: all, or all but the embedding (default all)",
    )  # fmt: skip
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    t.add_argument("--no-progress", action="store_true", help="hide the progress display")


def _cmd_tickets(args: argparse.Namespace) -> int:
    _load("torch").set_num_threads(args.threads)
    _load("grokinterp.experiments.tickets").run_study(
        args.out, seeds=args.seeds, sparsities=args.sparsities, steps=args.steps, p=args.p,
        progress=_progress(args), prune=args.prune,
    )  # fmt: skip
    return _print_report(args.out)


def _cmd_deep_grokking(args: argparse.Namespace) -> int:
    _load("torch").set_num_threads(args.threads)
    _load("grokinterp.experiments.deep_grokking").run_study(
        args.out, depths=args.depths, seeds=args.seeds, steps=args.steps, width=args.width,
        alpha=args.alpha, weight_decay=args.weight_decay, progress=_progress(args),
    )  # fmt: skip
    return _print_report(args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="grokinterp",
        description="Train grokking models with dense checkpoints and dissect them.",
    )
    parser.add_argument("--version", action="version", version=f"grokinterp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_info(sub)
    _add_repair(sub)
    _add_import_legacy(sub)
    _add_analyze(sub)
    _add_sweep(sub)
    _add_predict(sub)
    _add_prediction_study(sub)
    _add_phases(sub)
    _add_critical_fraction(sub)
    _add_efficiency(sub)
    _add_interventions(sub)
    _add_compare(sub)
    _add_export(sub)
    _add_analytic(sub)
    _add_studies(sub)
    _add_nonneural(sub)
    _add_omnigrok(sub)
    _add_deep(sub)
    _add_tickets(sub)
    return parser


COMMANDS = {
    "train": _cmd_train,
    "info": _cmd_info,
    "repair": _cmd_repair,
    "import-legacy": _cmd_import_legacy,
    "analyze": _cmd_analyze,
    "sweep": _cmd_sweep,
    "predict": _cmd_predict,
    "prediction-study": _cmd_prediction_study,
    "phases": _cmd_phases,
    "critical-fraction": _cmd_critical_fraction,
    "efficiency": _cmd_efficiency,
    "interventions": _cmd_interventions,
    "compare": _cmd_compare,
    "export": _cmd_export,
    "analytic": _cmd_analytic,
    "gromov-study": _cmd_gromov_study,
    "kernel-study": _cmd_kernel_study,
    "nonneural": _cmd_nonneural,
    "nonneural-study": _cmd_nonneural_study,
    "omnigrok": _cmd_omnigrok,
    "deep-grokking": _cmd_deep_grokking,
    "tickets": _cmd_tickets,
}


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (the usage block is what ``--help`` is for)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog if self.prog.startswith("grokinterp ") else "grokinterp"
        self.exit(2, f"grokinterp: error: {message} (see `{command} --help`)\n")


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that writers close as for Ctrl-C (a
    BaseException, like KeyboardInterrupt: no `except Exception` swallows it)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _os_error_line(e: OSError) -> str:
    """One line for an error of the file system (a full disk, a read-only directory)."""
    where = f"{e.filename}: " if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"{where}{e.strerror} while writing; nothing written before is lost (every file "
            f"is replaced atomically): free space, then run the command again (--resume "
            f"for train)"
        )
    return f"{where}{e.strerror or e}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit status: 0 success, 1 a sweep with failed runs, 2 a
    user error (one line on stderr), 130 interrupted by Ctrl-C (SIGINT), 143 stopped by
    SIGTERM. An interrupted or killed command loses nothing written before; train and sweep
    continue where they stopped when run again (train with --resume)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        # a file-size limit (RLIMIT_FSIZE) raises EFBIG in the write instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    else:
        previous = None
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"grokinterp: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"grokinterp: error: {_os_error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"grokinterp: interrupted; {_AGAIN}", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"grokinterp: terminated (SIGTERM); {_AGAIN}", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


_AGAIN = "nothing written is lost; run the same command again to continue (train: --resume)"


if __name__ == "__main__":
    sys.exit(main())
