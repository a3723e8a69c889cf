"""The study commands: each trains its sweeps (resumable) and writes tables, figures and a
report into its output directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from grokinterp.cli import options
from grokinterp.cli.command import Command
from grokinterp.cli.efficiency import EFFICIENCY
from grokinterp.cli.options import (
    base_from_args,
    float_list,
    int_list,
    list_of,
    print_report,
    progress,
)
from grokinterp.errors import ConfigError


def _add_prediction_study(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=options.out_path, help="output directory (studies/prediction)")
    p.add_argument(
        "--parts", nargs="+", default=None, help="only these sweeps (default: all of them)"
    )
    p.add_argument("--ship", action="store_true", help="also write the package's predictor file")


def _prediction_study(args: argparse.Namespace) -> int:
    from grokinterp.experiments.prediction import run_study

    ev = run_study(args.out, args.parts, ship=args.ship)
    if ev is None:
        print(f"{args.out}: no training sweep finished yet; run again to continue")
        return 0
    print(ev.auc[["N", "family", "auc_cv", *(["auc_heldout"] if "auc_heldout" in ev.auc else [])]]
          .to_string(index=False))  # fmt: skip
    print(f"tables and figures in {args.out}")
    return 0


def _add_phases(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", type=Path, help="the sweep spec (.yaml, .yml or .json)")
    options.add_out(p, "output directory", required=True)
    p.add_argument("--x", default=None, help="grid field on the x axis (default: the first)")
    p.add_argument("--y", default=None, help="grid field on the y axis (default: the second)")
    options.add_backend(p, "ensemble", "sweep backend (default: ensemble)")
    p.add_argument("--threshold", type=float, default=0.9, help="accuracy threshold (0.9)")
    p.add_argument(
        "--window", type=int, default=1000, help="comprehension/grokking window in steps (1000)"
    )
    options.add_threads(p, None, "torch threads (default: torch's choice)")
    options.add_force(p, "delete OUT/sweep first")
    options.add_no_progress(p, "display")


def _phases(args: argparse.Namespace) -> int:
    from grokinterp.experiments.phases import run_phase_diagram
    from grokinterp.experiments.sweep import load_spec

    cells = run_phase_diagram(
        load_spec(args.spec),
        args.out,
        x=args.x,
        y=args.y,
        backend=args.backend,
        threshold=args.threshold,
        window=args.window,
        force=args.force,
        progress=progress(args),
    )
    counts = cells["phase"].value_counts().to_dict()
    print(
        f"phase diagram written to {args.out}: {len(cells)} cells "
        f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}); "
        f"figure in {args.out / 'figures' / 'phase_diagram.html'}"
    )
    return 0


def _add_critical_fraction(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", type=Path, help="the sweep spec (.yaml, .yml or .json)")
    options.add_out(p, "output directory", required=True)
    options.add_backend(p, "ensemble", "sweep backend (default: ensemble)")
    p.add_argument("--threshold", type=float, default=0.9, help="generalized: test acc >= (0.9)")
    p.add_argument(
        "--theory-splits", type=int, default=50, help="random training sets per size (50)"
    )
    options.add_threads(p, None, "torch threads")
    options.add_force(p, "delete OUT/sweep first")
    options.add_no_progress(p, "display")


def _critical_fraction(args: argparse.Namespace) -> int:
    from grokinterp.experiments.effective_theory import run_critical_fraction
    from grokinterp.experiments.sweep import load_spec

    if args.theory_splits < 1:
        raise ConfigError(f"--theory-splits: must be at least 1, got {args.theory_splits}")
    summary = run_critical_fraction(
        load_spec(args.spec),
        args.out,
        backend=args.backend,
        threshold=args.threshold,
        n_theory=args.theory_splits,
        force=args.force,
        progress=progress(args),
    )
    print(
        f"critical fraction written to {args.out}: theory {summary['r_c_theory']}, "
        f"measured {summary['r_c_measured']} ({summary['runs']} runs)"
    )
    return 0


def _add_interventions(p: argparse.ArgumentParser) -> None:
    options.add_out(p, "output directory", required=True)
    options.add_base(p, "quick")
    p.add_argument(
        "--arms", type=list_of(str), default=None, help="comma-separated arms (default: all)"
    )
    p.add_argument("--max-steps", type=int, default=10_000, help="step budget (default 10000)")
    p.add_argument(
        "--patience",
        type=int,
        default=500,
        help="steps after test accuracy reaches 99%% (default 500)",
    )
    options.add_backend(p, "local")
    options.add_device(p)
    options.add_no_progress(p, "display")


def _interventions(args: argparse.Namespace) -> int:
    from grokinterp.experiments.interventions import run_study

    run_study(
        base_from_args(args),
        args.out,
        arms=args.arms,
        max_steps=args.max_steps,
        patience=args.patience,
        backend=args.backend,
        progress=progress(args),
        device=args.device,
    )
    return print_report(args.out)


def _add_gromov_study(p: argparse.ArgumentParser) -> None:
    options.add_out(p, "output directory", required=True)
    p.add_argument("--p", type=int, default=97, help="modulus of the width scan (default 97)")
    p.add_argument("--p-train", type=int, default=31, help="modulus of the trained net")
    p.add_argument("--max-steps", type=int, default=3000, help="training steps (default 3000)")
    options.add_no_progress(p, "display")


def _gromov_study(args: argparse.Namespace) -> int:
    from grokinterp.experiments.analytic import run_study

    run_study(
        args.out, p=args.p, p_train=args.p_train, max_steps=args.max_steps,
        progress=progress(args),
    )  # fmt: skip
    return print_report(args.out)


def _add_kernel_study(p: argparse.ArgumentParser) -> None:
    options.add_out(p, "output directory", required=True)
    p.add_argument("--p", type=int, default=31, help="the modulus (default 31)")
    p.add_argument(
        "--fractions",
        type=float_list,
        default=None,
        help="comma-separated training fractions (default 0.3,0.4,...,0.8)",
    )
    p.add_argument("--max-steps", type=int, default=3000, help="training steps (default 3000)")
    p.add_argument(
        "--n-points", type=int, default=128, help="pairs in the per-checkpoint NTK (default 128)"
    )
    options.add_no_progress(p, "display")


def _kernel_study(args: argparse.Namespace) -> int:
    from grokinterp.experiments.kernels import run_study

    run_study(
        args.out, p=args.p, fractions=args.fractions, max_steps=args.max_steps,
        n_points=args.n_points, progress=progress(args),
    )  # fmt: skip
    return print_report(args.out)


def _add_nonneural_study(p: argparse.ArgumentParser) -> None:
    options.add_out(p, "output directory", required=True)
    p.add_argument(
        "--n-bits", type=int_list, default=[10, 20, 40, 80],
        help="bit-string lengths of the GP runs, 3 parity bits each (default 10,20,40,80)",
    )  # fmt: skip
    p.add_argument("--gp-seeds", type=int_list, default=[0, 1, 2], help="default 0,1,2")
    p.add_argument(
        "--linear-seeds", type=int_list, default=[0, 1, 2, 3, 4], help="default 0,1,2,3,4"
    )
    p.add_argument("--gp-steps", type=int, default=300, help="GP training steps (default 300)")
    options.add_no_progress(p, "bars")


def _nonneural_study(args: argparse.Namespace) -> int:
    from grokinterp.experiments.nonneural import run_study

    run_study(
        args.out, n_bits=args.n_bits, gp_seeds=args.gp_seeds, linear_seeds=args.linear_seeds,
        gp_steps=args.gp_steps, progress=progress(args),
    )  # fmt: skip
    return print_report(args.out)


def _parts(text: str) -> list[str]:
    """An argparse type: comma-separated names (checked by the study)."""
    return [x for x in text.split(",") if x]


def _add_omnigrok(p: argparse.ArgumentParser) -> None:
    options.add_out(p, "output directory", required=True)
    p.add_argument(
        "--parts", type=_parts, default=["lu", "init", "lu_add", "late"],
        help="lu, init, lu_add, late, comma-separated (default all four)",
    )  # fmt: skip
    p.add_argument("--seeds", type=int_list, default=[0, 1], help="default 0,1")
    p.add_argument("--lu-alphas", type=float_list, default=None, help="init scales of lu")
    p.add_argument("--init-alphas", type=float_list, default=None, help="init scales of init")
    p.add_argument("--lu-steps", type=int, default=2000, help="steps of the lu runs (2000)")
    p.add_argument("--init-steps", type=int, default=5000, help="steps of the init runs (5000)")
    p.add_argument("--lu-add-alphas", type=float_list, default=None, help="scales of lu_add")
    p.add_argument("--lu-add-steps", type=int, default=3000, help="steps of lu_add (3000)")
    p.add_argument("--late-alphas", type=float_list, default=None, help="scales of late")
    p.add_argument("--late-steps", type=int, default=2000, help="steps of late (2000)")
    p.add_argument("--beta2", type=float, default=None, help="AdamW beta2 of the digits parts")
    options.add_threads(p, 1, "torch threads (default 1)")
    options.add_no_progress(p, "bars")


def _omnigrok(args: argparse.Namespace) -> int:
    from grokinterp.experiments import omnigrok as study

    text = study.run_study(
        args.out, parts=args.parts, seeds=args.seeds,
        lu_alphas=args.lu_alphas or study.LU_ALPHAS,
        init_alphas=args.init_alphas or study.INIT_ALPHAS,
        lu_add_alphas=args.lu_add_alphas or study.LU_ADD_ALPHAS,
        lu_steps=args.lu_steps, init_steps=args.init_steps, lu_add_steps=args.lu_add_steps,
        late_alphas=args.late_alphas or study.LATE_ALPHAS, late_steps=args.late_steps,
        beta2=args.beta2, threads=None,  # --threads: applied by options.set_threads
        progress=progress(args),
    )  # fmt: skip
    print(text.rstrip())
    return 0


def _add_deep_grokking(p: argparse.ArgumentParser) -> None:
    options.add_out(p, "output directory", required=True)
    p.add_argument("--depths", type=int_list, default=[4, 8, 12], help="default 4,8,12")
    p.add_argument("--seeds", type=int_list, default=[0, 1], help="default 0,1")
    p.add_argument("--steps", type=int, default=10000, help="training steps (default 10000)")
    p.add_argument("--width", type=int, default=128, help="hidden width (default 128)")
    p.add_argument("--alpha", type=float, default=2.0, help="init scale (default 2.0)")
    p.add_argument("--weight-decay", type=float, default=1.0, help="default 1.0")
    options.add_threads(p, 1, "torch threads (default 1)")
    options.add_no_progress(p, "display")


def _deep_grokking(args: argparse.Namespace) -> int:
    from grokinterp.experiments.deep_grokking import run_study

    run_study(
        args.out, depths=args.depths, seeds=args.seeds, steps=args.steps, width=args.width,
        alpha=args.alpha, weight_decay=args.weight_decay, progress=progress(args),
    )  # fmt: skip
    return print_report(args.out)


def _add_tickets(p: argparse.ArgumentParser) -> None:
    options.add_out(p, "output directory", required=True)
    p.add_argument("--seeds", type=int_list, default=[0, 1, 2], help="default 0,1,2")
    p.add_argument(
        "--sparsities", type=float_list, default=[0.3, 0.6, 0.9],
        help="fractions of the weights pruned (default 0.3,0.6,0.9)",
    )  # fmt: skip
    p.add_argument("--steps", type=int, default=8000, help="training steps (default 8000)")
    p.add_argument("--p", type=int, default=31, help="modulus (default 31)")
    p.add_argument(
        "--prune", choices=["all", "no_embed"], default="all",
        help="weight matrices the masks prune: all, or all but the embedding (default all)",
    )  # fmt: skip
    options.add_threads(p, 1, "torch threads (default 1)")
    options.add_no_progress(p, "display")


def _tickets(args: argparse.Namespace) -> int:
    from grokinterp.experiments.tickets import run_study

    run_study(
        args.out, seeds=args.seeds, sparsities=args.sparsities, steps=args.steps, p=args.p,
        progress=progress(args), prune=args.prune,
    )  # fmt: skip
    return print_report(args.out)


COMMANDS = [
    Command(
        "prediction-study",
        "the grokking-prediction study (Notsawo et al. 2023): sweeps, predictors, AUCs",
        "Train the labeled sweeps of studies/prediction (ensemble backend; re-running "
        "resumes), read every run's early features at each N, and write features.csv, "
        "auc.csv, confusion.csv, pruning.csv, spectra.csv and figures/ into OUT.",
        _add_prediction_study,
        _prediction_study,
    ),
    Command(
        "phases",
        "phase diagram (Liu et al. 2022) of a 2D sweep",
        "Train a sweep spec whose grid varies two fields (through the sweep engine; "
        "re-running resumes), classify each run as comprehension, grokking, memorization or "
        "confusion (Liu et al. 2022: 90%% accuracy within the step budget, test within "
        "--window steps of train), and write OUT/runs.csv, OUT/phases.csv and "
        "OUT/figures/phase_diagram (phase and grokking-delay panels).",
        _add_phases,
        _phases,
    ),
    Command(
        "critical-fraction",
        "effective theory's critical training fraction vs a sweep (Liu et al. 2022)",
        "Train a sweep spec over training sets of the toy model (task int_add; e.g. a grid of "
        "train_size and split_seed), set each run's final test accuracy and RQI beside the "
        "effective theory's prediction for its training set, and write OUT/runs.csv, "
        "OUT/fractions.csv, OUT/summary.json (theory's and measured critical fraction) and "
        "OUT/figures/critical_fraction.",
        _add_critical_fraction,
        _critical_fraction,
    ),
    EFFICIENCY,
    Command(
        "interventions",
        "progress measures under each training intervention, side by side",
        "Train one task with the baseline, Grokfast-EMA, StableMax without weight decay, "
        "⊥Grad without weight decay and AdamW without weight decay (the arms), analyze every "
        "checkpoint of each, and write OUT/summary.csv, metrics.csv, measures.csv, report.txt "
        "and figures/: when accuracy, the key frequencies, the restricted loss and the "
        "generalizing share move under each.",
        _add_interventions,
        _interventions,
    ),
    Command(
        "gromov-study",
        "Gromov's analytic network: accuracy vs width, and a trained net's similarity",
        "Accuracy of Gromov's analytic network (arXiv 2301.02679) against its width for "
        "random and balanced phases, and a quadratic MLP trained on a + b mod P_TRAIN with its "
        "similarity to Gromov's form at every checkpoint. Writes OUT/width.csv, training.csv, "
        "report.txt, figures/ (runs in OUT/sweep, resumable).",
        _add_gromov_study,
        _gromov_study,
    ),
    Command(
        "kernel-study",
        "NTK regression vs the trained network across training fractions",
        "Train the two-layer quadratic MLP on a + b mod P at several training fractions, and "
        "compare its test accuracy with kernel regression using its empirical NTK at init and "
        "at the end (Mohamadi et al. 2024, arXiv 2407.12332); track the kernel's distance from "
        "init over checkpoints. Writes OUT/summary.csv, kernel_over_training.csv, "
        "metrics.csv, report.txt, figures/.",
        _add_kernel_study,
        _kernel_study,
    ),
    Command(
        "nonneural-study",
        "grokking in a GP classifier and a linear model (Miller et al. 2024)",
        "Train the variational GP classifier on concealed parity at several bit-string lengths "
        "and the linear model on linear_features, several seeds each (arXiv 2310.17247's "
        "settings), and write OUT/summary.csv, metrics.csv, report.txt, figures/ (run "
        "directories in OUT/runs; complete ones are reused).",
        _add_nonneural_study,
        _nonneural_study,
    ),
    Command(
        "omnigrok",
        "the LU mechanism and grokking on digits (Omnigrok, Liu et al. 2023)",
        "Omnigrok (arXiv 2210.01117) on scikit-learn's digits (preset omnigrok_digits): lu, "
        "constrained-norm training at a sweep of fixed weight norms (final train and test "
        "loss against the norm); init, the init scale alpha with weight decay, without, and "
        "with the norm fixed at alpha = 1's; lu_add, the lu sweep on a + b mod 47 (preset "
        "efficiency); late, the memorized runs of init continued with the norm fixed, with "
        "weight decay, or neither. Writes OUT/lu.csv, init.csv, curves.csv, lu_add.csv, "
        "late.csv, report.txt, figures/ (sweeps in OUT/sweeps; finished runs are reused).",
        _add_omnigrok,
        _omnigrok,
    ),
    Command(
        "deep-grokking",
        "deep MLPs on digits: test accuracy and per-layer feature rank (Fan et al. 2024)",
        "Train MLPs of several depths on scikit-learn's digits (200 training images, large "
        "init, MSE; arXiv 2405.19454's recipe sized for a CPU) as one sweep, then the "
        "numerical and effective rank of every layer's features at every checkpoint. Writes "
        "OUT/runs.csv, ranks.csv, traces.csv, report.txt, figures/ (runs in OUT/sweep, "
        "resumable).",
        _add_deep_grokking,
        _deep_grokking,
    ),
    Command(
        "tickets",
        "grokking tickets: pruned subnetworks of a grokked MLP retrained from its init",
        "Train dense MLPs on a + b mod P until they grok, prune each by weight magnitude at "
        "several sparsities and retrain from its initial weights with the mask fixed (the "
        "ticket), beside a random mask of the same sparsity and a dense network started at "
        "the ticket's weight norm (Minegishi et al. 2024, arXiv 2310.19470). Writes "
        "OUT/arms.csv, summary.csv, measures.csv, traces.csv, report.txt, figures/ (runs in "
        "OUT/sweep, masks in OUT/masks; resumable).",
        _add_tickets,
        _tickets,
    ),
]
