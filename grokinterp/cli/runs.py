"""The commands on one run directory: train, info, repair, import-legacy, analyze, export,
analytic, nonneural."""

from __future__ import annotations

import argparse
from pathlib import Path

from grokinterp.cli import options
from grokinterp.cli.command import Command
from grokinterp.cli.options import int_list, list_of, progress
from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.presets import NONNEURAL_PRESETS, PRESETS, get_nonneural_preset, get_preset


def _add_train(p: argparse.ArgumentParser) -> None:
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
    options.add_out(p, "run directory to write (default: runs/<preset>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (same config; max-steps may grow)",
    )
    options.add_force(p, "delete whatever is in --out and start over")
    options.add_device(p)
    options.add_no_progress(p)
    options.add_log_to(p)
    options.add_config_flags(p)


def _train(args: argparse.Namespace) -> int:
    from grokinterp.runs import Run
    from grokinterp.training import train

    if args.config is not None and args.preset is not None:
        raise ConfigError("give --preset or --config, not both")
    cfg = TrainConfig.load(args.config) if args.config else get_preset(args.preset or "nanda")
    cfg = options.config_from_args(args, cfg)
    out = args.out or Path("runs") / (args.preset or (args.config.stem if args.config else "nanda"))
    run_dir = train(
        cfg,
        out,
        resume=args.resume,
        force=args.force,
        device=args.device,
        progress=progress(args),
        log_to=args.log_to,
        wandb_project=args.wandb_project,
    )
    run = Run(run_dir)
    if "pehe_out" in run.metrics:  # the counterfactual task: outcomes, no accuracy
        last = run.metrics.iloc[-1]
        print(f"run written to {run_dir}  (step {int(last['step'])}: factual train loss "
              f"{last['train_loss']:.4g}, PEHE in-sample {last['pehe_in']:.4g}, "
              f"out-of-sample {last['pehe_out']:.4g})")  # fmt: skip
        return 0
    lm = run.landmarks()
    train_at, test_at = _reached(lm.train_step), _reached(lm.test_step)
    print(f"run written to {run_dir}  (train acc >= 99%: {train_at}, test acc >= 99%: {test_at})")
    return 0


def _reached(step: int | None) -> str:
    """``step N``, or ``not reached`` for a landmark or phase boundary the run never hit."""
    return "not reached" if step is None else f"step {step}"


def _add_run_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path)


def _info(args: argparse.Namespace) -> int:
    from grokinterp.models import get_arch
    from grokinterp.runs import Run

    run = Run(args.run_dir)
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
        f"{f', {int(ds.corrupted.sum())} training labels corrupted' if t.label_noise else ''}"
    )
    arch = get_arch(m.arch).describe(m)
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
            f"landmarks  train acc >= 99%: {_reached(lm.train_step)}, test acc >= 99%: "
            f"{_reached(lm.test_step)}{delay}"
        )
    else:
        print("metrics    none logged yet")
    return 0


def _repair(args: argparse.Namespace) -> int:
    from grokinterp.training import repair

    report = repair(args.run_dir)
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


def _add_import_legacy(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="the .pth / pickle file")
    p.add_argument("run_dir", type=options.out_path, help="run directory to create")
    p.add_argument(
        "--trust",
        action="store_true",
        help="allow arbitrary Python objects in the file (executes its code)",
    )
    options.add_force(p, "overwrite run_dir")


def _import_legacy(args: argparse.Namespace) -> int:
    from grokinterp.runs import Run, import_legacy

    run = Run(import_legacy(args.file, args.run_dir, trust=args.trust, force=args.force))
    print(
        f"imported {args.file} into {run.path} ({len(run.steps)} checkpoint(s), "
        f"p={run.config.task.p})"
    )
    return 0


def _add_analyze(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", type=Path, help="a run directory, or a legacy checkpoint file")
    p.add_argument(
        "--steps",
        type=int_list,
        default=None,
        help="comma-separated checkpoint steps (default: all)",
    )
    p.add_argument(
        "--key-freqs",
        type=int_list,
        default=None,
        help="comma-separated key frequencies of the task's group, 1 .. n//2 (n = p, or p - 1 "
        "for mul / div; for perm, S_n's representations by number, as summary.json's "
        "fourier_basis lists them; default: chosen at the last step by the rule)",
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
    options.add_device(p)
    p.add_argument(
        "--complexity",
        action="store_true",
        help="also the local learning coefficient (devinterp's SGLD estimate with its "
        "documented sampler, see --llc) and weightwatcher's power-law alpha of "
        'each weight matrix, per checkpoint (the complexity extra: pip install "grokinterp'
        '[complexity]"; about a second of SGLD per checkpoint at small p)',
    )
    p.add_argument(
        "--llc",
        metavar="NAME=VALUE,...",
        default="",
        help="with --complexity: the LLC's SGLD sampler, e.g. lr=1e-4,n_beta=50,localization=100 "
        "(names: lr, n_beta, localization, num_draws, num_chains, batch_size, seed); the others "
        "keep devinterp's recipe: lr=4e-4, localization=100, n_beta=m/log m for batches of m=128 "
        "(or the whole training set if smaller), 500 draws, 2 chains. Its grokking example's "
        "sampler, lr=3e-3,n_beta=2,localization=5, suits small MLPs only",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    options.add_no_progress(p)
    options.add_out(
        p,
        "for a checkpoint file: the run directory to import it into "
        "(default: <file>-run beside it)",
    )
    p.add_argument(
        "--trust",
        action="store_true",
        help="for a checkpoint file: allow arbitrary Python objects in it",
    )


def _analyze(args: argparse.Namespace) -> int:
    from grokinterp.analysis.complexity import LLCSettings
    from grokinterp.runs import import_legacy
    from grokinterp.viz import analyze

    target = args.target
    if target.is_file():
        run_dir = args.out or target.with_name(target.stem + "-run")
        if not (run_dir / "config.json").exists():
            import_legacy(target, run_dir, trust=args.trust)
            print(f"imported {target} into {run_dir}")
        target = run_dir
    elif args.out is not None:
        raise ConfigError("--out only applies when TARGET is a checkpoint file")
    if args.llc and not args.complexity:
        raise ConfigError("--llc sets the sampler of --complexity; add --complexity")
    from grokinterp.runs import layout
    from grokinterp.runs.guard import check_no_links

    check_no_links(target, layout.ANALYSIS)  # analyze writes only inside the run
    from grokinterp.runs import Run

    # what analyze reads after computing (the config and its record in the checkpoints,
    # every metrics line) is checked before it writes anything
    pre = Run(target)
    _ = pre.config, pre.metrics
    result = analyze(
        target,
        steps=args.steps,
        key_freqs=args.key_freqs,
        key_freq_rule=args.key_freq_rule,
        device=args.device,
        progress=progress(args),
        figures=not args.no_figures,
        complexity=LLCSettings.parse(args.llc) if args.complexity else None,
    )
    s = result.summary
    print(f"analyzed {s['steps_analyzed']} checkpoints -> {result.path}")
    if s.get("key_freqs") is not None:
        group = (s.get("fourier_basis") or {}).get("name")
        of = f" of {group}" if group else ""
        if s.get("key_representations") is not None:  # S_n: irreducible representations
            reps = ", ".join(s["key_representations"]) or "none"
            print(f"key representations {reps}{of} ({s['key_freqs_source']})")
        else:
            print(f"key frequencies {s['key_freqs']}{of} ({s['key_freqs_source']})")
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
        f"phases: memorization ends {_reached(ph['memorization_end'])}, circuit formation "
        f"ends {_reached(ph['circuit_formation_end'])}, cleanup ends "
        f"{_reached(ph['cleanup_end'])}; grokking step {_reached(s['grokking_step'])}"
    )
    if not args.no_figures:
        print(f"figures: {result.path / 'figures' / 'index.html'}")
    return 0


def _add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path)
    p.add_argument("--to", type=list_of(str), required=True, metavar="tensorboard,wandb")
    p.add_argument("--wandb-project", default="grokinterp", help="W&B project")


def _export(args: argparse.Namespace) -> int:
    from grokinterp.runs.export import export_run

    n = export_run(args.run_dir, args.to, args.wandb_project)
    print(f"exported {n} rows of {args.run_dir} to {', '.join(args.to)}")
    return 0


def _add_analytic(p: argparse.ArgumentParser) -> None:
    p.add_argument("--p", type=int, required=True, help="the modulus")
    p.add_argument("--width", type=int, required=True, help="hidden neurons N")
    options.add_out(p, "run directory to write", required=True)
    p.add_argument(
        "--freqs",
        type=int_list,
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
    options.add_force(p, "delete whatever is in --out first")


def _analytic(args: argparse.Namespace) -> int:
    from grokinterp.runs import Run
    from grokinterp.training.analytic import write_analytic_run

    run_dir = write_analytic_run(
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
    row = Run(run_dir).metrics.iloc[-1]
    print(
        f"Gromov network p={args.p} width={args.width} ({args.phases} phases) -> {run_dir}: "
        f"train acc {row['train_acc']:.4f}, test acc {row['test_acc']:.4f}, "
        f"test loss {row['test_loss']:.4g}"
    )
    return 0


def _add_nonneural(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset", choices=sorted(NONNEURAL_PRESETS), default=None,
        help="start from a named config (default: miller_gp)",
    )  # fmt: skip
    p.add_argument("--config", type=Path, default=None, help="start from a config.json")
    options.add_out(p, "run directory to write", required=True)
    options.add_force(p, "delete whatever is in --out first")
    options.add_no_progress(p)
    options.add_config_flags(p)


def _nonneural(args: argparse.Namespace) -> int:
    from grokinterp.runs import Run
    from grokinterp.training.nonneural import train_nonneural

    if args.config is not None and args.preset is not None:
        raise ConfigError("give --preset or --config, not both")
    cfg = options.config_from_args(
        args,
        TrainConfig.load(args.config)
        if args.config
        else get_nonneural_preset(args.preset or "miller_gp"),
    )
    run_dir = train_nonneural(cfg, args.out, force=args.force, progress=progress(args))
    run = Run(run_dir)
    lm, last = run.landmarks(), run.metrics.iloc[-1]
    train_at, test_at = _reached(lm.train_step), _reached(lm.test_step)
    print(
        f"run written to {run_dir}  (train acc >= 99%: {train_at}, test acc >= 99%: {test_at}; "
        f"final test acc {last['test_acc']:.3f}"
        + (f", complexity {last['complexity']:.4g})" if "complexity" in last else ")")
    )
    return 0


COMMANDS = [
    Command(
        "train",
        "train a model into a run directory",
        "Train a model on an algorithmic task, writing a run directory (config.json, "
        "metrics.jsonl, checkpoints/, state/). Start from a preset or a config file and "
        "override any field with its flag.",
        _add_train,
        _train,
    ),
    Command(
        "info",
        "summarize a run directory",
        "Print a run's config, checkpoints, final metrics and grokking landmarks.",
        _add_run_dir,
        _info,
    ),
    Command(
        "repair",
        "set a run's damaged files aside and make it resumable",
        "Check every file of RUN_DIR (checksums of the checkpoints and state files, the lines "
        "of metrics.jsonl); move the damaged ones to RUN_DIR/damaged/ (nothing is deleted) "
        "and, if the latest state or its checkpoint is damaged, roll the run back to the "
        "previous state, so that `grokinterp train --resume` continues and re-creates the "
        "later checkpoints exactly.",
        _add_run_dir,
        _repair,
    ),
    Command(
        "import-legacy",
        "turn a progress-measures checkpoint file into a run directory",
        "Import a checkpoint saved by the progress-measures code (Nanda et al. 2023): a "
        "torch-saved dict with a 'model' state dict (embed.W_E, pos_embed.W_pos, "
        "blocks.0.attn.W_Q/W_K/W_V/W_O, blocks.0.mlp.W_in/b_in/W_out/b_out, unembed.W_U) and "
        "optional train_losses/test_losses, checkpoints/checkpoint_epochs and config.",
        _add_import_legacy,
        _import_legacy,
    ),
    Command(
        "analyze",
        "progress measures and figures over a run's checkpoints",
        "Compute the progress measures of every checkpoint of a run (Fourier structure, "
        "restricted / excluded loss, Gini, weight norms, logit shares, neuron clusters; in "
        "the task's group: Z_p for add / sub, Z_p* through the discrete logarithm for mul / "
        "div), "
        "locate the phases, and write RUN_DIR/analysis/ (measures.csv, summary.json, "
        "figures/index.html). Incremental: re-running computes only new checkpoints. TARGET "
        "may also be a checkpoint file saved by the progress-measures code, which is first "
        "imported (see import-legacy).",
        _add_analyze,
        _analyze,
    ),
    Command(
        "export",
        "write a run's metrics and measures to TensorBoard or W&B",
        "Log every metrics line of RUN_DIR, and every row of its analysis table "
        "(measures/<column>), to TensorBoard (RUN_DIR/tensorboard) and/or Weights & Biases "
        "(WANDB_MODE=offline keeps it local). Needs the logging extra.",
        _add_export,
        _export,
    ),
    Command(
        "analytic",
        "write Gromov's closed-form network for a + b mod p as a run directory",
        "Build the analytic weights of Gromov 2023 (arXiv 2301.02679) for a two-layer MLP "
        "with quadratic activation that solves a + b mod p, and write them as a run directory "
        "with one checkpoint (step 0), which analyze, info and Run open.",
        _add_analytic,
        _analytic,
    ),
    Command(
        "nonneural",
        "train a GP classifier or a linear model (Miller et al. 2024) into a run directory",
        "Train a non-neural model (arch gp: a variational GP classifier, the gp extra; arch "
        "linear: a Bayesian linear model's MAP objective) on a task of generated examples "
        "(concealed_parity, linear_features), writing an ordinary run directory (config.json, "
        "metrics.jsonl with the complexity terms, checkpoints/). Start from a preset or a "
        "config file and override any field with its flag.",
        _add_nonneural,
        _nonneural,
    ),
]
