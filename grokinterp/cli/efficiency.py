"""``grokinterp efficiency {curves,ungrok}``: the circuit-efficiency experiments of Varma et
al. 2023 as tools (``efficiency study`` and ``efficiency semi`` are registered studies:
:mod:`grokinterp.cli.studies`)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from grokinterp.cli import options
from grokinterp.cli.command import Command
from grokinterp.cli.options import base_from_args, float_list, int_list, print_report, progress
from grokinterp.errors import ConfigError


def _add_curve_base(p: argparse.ArgumentParser, preset: str, note: str) -> None:
    """The options that ``efficiency curves`` and ``efficiency study`` share: the base
    config, the seeds and the training-loss target."""
    options.add_base(p, preset, note)
    p.add_argument("--seeds", type=int_list, default=[0, 1, 2], help="default: 0,1,2")
    p.add_argument(
        "--target-loss", type=float, default=0.01, help="training-loss target (default 0.01)"
    )


def _add_efficiency(p: argparse.ArgumentParser) -> None:
    """Long by design: the argparse declarations of four subcommands."""
    kinds = p.add_subparsers(dest="experiment", required=True)
    c = kinds.add_parser("curves", help="parameter norm at a loss target against D; D_crit")
    _add_curve_base(c, "quick", "")
    c.add_argument(
        "--sizes",
        type=int_list,
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
    options.add_out(c, "output directory", required=True)
    u = kinds.add_parser("ungrok", help="continue a grokked checkpoint on smaller sets")
    u.add_argument(
        "checkpoint", type=Path, help="RUN_DIR/checkpoints/step_<N>.safetensors of a grokked run"
    )
    u.add_argument(
        "--sizes",
        type=int_list,
        required=True,
        help="comma-separated sizes D' of the nested training sets",
    )
    u.add_argument("--weight-decays", type=float_list, default=[0.3, 1.0], help="default: 0.3,1.0")
    u.add_argument("--steps", type=int, default=5000, help="steps of each continued run")
    options.add_out(u, "output directory", required=True)
    # `efficiency study` and `efficiency semi` are the registered studies `efficiency` and
    # `semi-grokking` (grokinterp.cli.studies.route takes them before this parser); these
    # entries give them their lines in `grokinterp efficiency --help`
    kinds.add_parser("study", help="the whole study (= grokinterp study run efficiency)")
    kinds.add_parser("semi", help="semi-grokking (= grokinterp study run semi-grokking)")
    for q in (c, u):
        options.add_backend(q, "ensemble")
        options.add_device(q, "torch device of the runs (default: cpu)")
        options.add_no_progress(q, "display")


def _efficiency(args: argparse.Namespace) -> int:
    from grokinterp.experiments.efficiency import norm_curves, ungrokking

    if args.experiment == "curves":
        if not (math.isfinite(args.target_loss) and args.target_loss > 0):
            raise ConfigError(
                f"--target-loss: a training loss to reach, positive and finite, got "
                f"{args.target_loss}"
            )
        if args.max_steps < 1:
            raise ConfigError(f"--max-steps: must be at least 1, got {args.max_steps}")
        if args.sizes != sorted(set(args.sizes)) or args.sizes[0] < 1:
            raise ConfigError(
                f"--sizes: give distinct positive sizes in ascending order, got {args.sizes}"
            )
        norm_curves(
            base_from_args(args),
            args.sizes,
            args.seeds,
            args.target_loss,
            args.out,
            max_steps=args.max_steps,
            read_at=args.read_at,
            backend=args.backend,
            progress=progress(args),
            device=args.device,
        )
    else:
        if args.steps < 1:
            raise ConfigError(f"--steps: must be at least 1, got {args.steps}")
        ungrokking(
            args.checkpoint,
            args.sizes,
            args.weight_decays,
            args.steps,
            args.out,
            backend=args.backend,
            progress=progress(args),
            device=args.device,
        )
    return print_report(args.out)


EFFICIENCY = Command(
    "efficiency",
    "circuit-efficiency experiments (Varma et al. 2023)",
    "Circuit-efficiency experiments of Varma et al. 2023: 'curves' trains memorization-only "
    "and generalizing networks to a training-loss target over a grid of training-set sizes "
    "and estimates D_crit where their parameter norms cross; 'ungrok' continues a grokked "
    "checkpoint on nested smaller training sets; 'study' runs both and checks the paper's "
    "predictions.",
    _add_efficiency,
    _efficiency,
)
