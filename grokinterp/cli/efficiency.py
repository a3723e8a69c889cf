"""``grokinterp efficiency {curves,ungrok,study,semi}``: the circuit-efficiency
experiments (Varma et al. 2023)."""

from __future__ import annotations

import argparse
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
        type=int_list,
        default=None,
        help="comma-separated training-set sizes D (default: 7 sizes evenly "
        "spaced in log D from 9%% to 72%% of all pairs)",
    )
    st.add_argument(
        "--max-steps", type=int, default=4000, help="steps of each curve run (default 4000)"
    )
    st.add_argument(
        "--weight-decays",
        type=float_list,
        default=[0.5, 2.0],
        help="weight decays of the ungrokking runs (default: 0.5,2.0)",
    )
    st.add_argument(
        "--ungrok-steps", type=int, default=6000, help="steps of each ungrokking run (default 6000)"
    )
    st.add_argument(
        "--ungrok-sizes",
        type=int_list,
        default=None,
        help="sizes D' of the ungrokking runs (default: the curve sizes below the "
        "source run's, and two more below the grid)",
    )
    options.add_out(st, "output directory", required=True)
    sg = kinds.add_parser(
        "semi",
        help="semi-grokking: long true-label runs at sizes around D_crit, plateau classes",
        description="True-label runs at several training-set sizes D around D_crit, several "
        "seeds each, trained long with sparse logging (ensemble backend, one sweep per size, "
        "largest first, resumable); each run classified by its test-accuracy plateau "
        "(grokked / semi-grokked / rising / memorized). Writes runs.csv, test_acc.csv, "
        "figures/ and report.txt, rewritten after each size.",
    )
    options.add_base(sg, "efficiency", ", the CPU-sized study")
    sg.add_argument(
        "--sizes", type=int_list, required=True, help="comma-separated sizes D, ascending"
    )
    sg.add_argument("--seeds", type=int_list, default=[0, 1, 2, 3, 4], help="default: 0,...,4")
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
    options.add_threads(
        sg, None, "torch threads while training (default: torch's; 1 is faster on shared cores)"
    )
    options.add_out(sg, "output directory", required=True)
    for q in (c, u, st, sg):
        options.add_backend(q, "ensemble")
        options.add_device(q, "torch device of the runs (default: cpu)")
        options.add_no_progress(q, "display")


def _efficiency(args: argparse.Namespace) -> int:
    from grokinterp.experiments import efficiency_study
    from grokinterp.experiments.efficiency import norm_curves, ungrokking
    from grokinterp.experiments.semi_grokking import run_semi

    sizes = args.sizes if args.experiment in ("curves", "study", "semi") else None
    if sizes is not None and (sizes != sorted(set(sizes)) or sizes[0] < 1):
        raise ConfigError(f"--sizes: give distinct positive sizes in ascending order, got {sizes}")
    if args.experiment == "curves":
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
    elif args.experiment == "study":
        base = base_from_args(args)
        efficiency_study.run_study(
            base,
            args.sizes or efficiency_study.default_sizes(base),
            args.seeds,
            args.out,
            target_loss=args.target_loss,
            max_steps=args.max_steps,
            weight_decays=args.weight_decays,
            ungrok_steps=args.ungrok_steps,
            ungrok_sizes=args.ungrok_sizes,
            backend=args.backend,
            progress=progress(args),
            device=args.device,
        )
    elif args.experiment == "semi":
        run_semi(  # --threads is applied before the command runs (options.set_threads)
            base_from_args(args),
            args.sizes,
            args.seeds,
            args.out,
            d_crit=args.d_crit,
            max_steps=args.max_steps,
            log_every=args.log_every,
            ckpt_every=args.ckpt_every,
            backend=args.backend,
            progress=progress(args),
            device=args.device,
        )
    else:
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
