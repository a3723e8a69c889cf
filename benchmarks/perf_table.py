"""README's performance table, built from the benchmarks' recorded figures.

Reads ``benchmarks/results/{train,sweep,analyze,grok}.json`` (written by the benchmarks
with ``--record``) and replaces the table between ``<!-- perf-table:begin -->`` and
``<!-- perf-table:end -->`` in README.md; ``--print`` prints it instead.

Record everything, then rebuild the table (about 15 minutes on 2 CPU cores):

    python benchmarks/bench_train.py --record
    python benchmarks/bench_sweep.py --record
    python benchmarks/bench_sweep.py --batch-size 64 --record
    python benchmarks/bench_analyze.py --record
    python benchmarks/bench_analyze.py --scaling 100,1000 --record
    python benchmarks/bench_grok.py --record
    python benchmarks/perf_table.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from results import RESULTS, spread

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- perf-table:begin -->", "<!-- perf-table:end -->"


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """(what, measured, reference, goal, verdict) per goal of the performance issue."""
    out = []
    if "train" in results:
        fig = results["train"]["figures"]
        for name, goal in (("nanda", 1.25), ("small", 1.5)):
            f = fig[name]
            out.append(
                (
                    f"`{name}` training step (p={f['p']}, batch {f['batch']}), "
                    "as a multiple of its FLOP floor",
                    f"{spread(f['vs_flop_floor']['values'], '{:.2f}', 'x')}; "
                    f"{spread(f['ms_per_step']['values'], '{:.1f}', ' ms')}",
                    f"{f['speedup_vs_bridge']['median']:.1f}x faster than a TransformerLens "
                    "bridge loop",
                    f"<= {goal}x",
                    _verdict(f["vs_flop_floor"]["median"] <= goal),
                )
            )
    for name in ("sweep", "sweep_minibatch"):
        if name not in results:
            continue
        fig = results[name]["figures"]
        ens, seq = fig["ensemble"], fig["sequential"]
        n = len(ens["vs_sequential"]["values"])
        batch = fig.get("batch_size")
        kind = "full batch" if batch is None else f"minibatches of {batch}"
        out.append(
            (
                f"{fig['runs']} small runs of {fig['steps']} steps ({kind}), `ensemble` backend",
                f"{spread(ens['vs_sequential']['values'], '{:.1f}', 'x')} faster over {n} repeats; "
                f"{spread(ens['seconds']['values'], '{:.1f}', ' s')}",
                f"one after another: {spread(seq['seconds']['values'], '{:.1f}', ' s')}",
                ">= 6x, stable",
                _verdict(ens["vs_sequential"]["min"] >= 6),
            )
        )
    if "analyze" in results:
        fig = results["analyze"]["figures"]
        if "seconds" in fig:
            out.append(
                (
                    f"every measure, {fig['checkpoints']} `nanda` checkpoints",
                    f"{fig['seconds']:.1f} s",
                    f"{fig['speedup_vs_reference']:.1f}x faster than a per-checkpoint "
                    "TransformerLens loop",
                    "< 15 s",
                    _verdict(fig["seconds"] < 15),
                )
            )
        if "scaling" in fig:
            sizes = fig["scaling"]
            per = [s["ms_per_checkpoint"] for s in sizes]
            rss = [s["peak_rss_mib"] for s in sizes]
            linear = max(per) <= 1.25 * min(per)
            bounded = max(rss) <= 1.25 * min(rss)
            out.append(
                (
                    "`analyze` of "
                    + " and ".join(f"{s['checkpoints']:,}" for s in sizes)
                    + " checkpoints",
                    " / ".join(f"{x:.0f}" for x in per)
                    + " ms per checkpoint; peak RSS "
                    + " / ".join(f"{x:.0f}" for x in rss)
                    + " MiB",
                    "each size in a fresh process",
                    "linear, bounded memory",
                    _verdict(linear and bounded),
                )
            )
    if "grok" in results:
        fig = results["grok"]["figures"]
        a, g = fig["adamw"], fig["grokfast_ema"]

        def run(r: dict[str, Any]) -> str:
            if r["steps"] is None:
                return f"not within {fig['max_steps']} steps ({r['seconds']:.0f} s)"
            return f"{r['steps']} steps, {r['seconds']:.0f} s"

        out.append(
            (
                "`nanda` preset trained to 99% test accuracy (whole run, evaluation every "
                "10 steps included)",
                run(a),
                f"with Grokfast-EMA (alpha {g['alpha']}, lambda {g['lamb']}): {run(g)}",
                "a wall time in README",
                "met",
            )
        )
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    dates = sorted({r["date"] for r in results.values()})
    machine = {(r["cores"], r["threads"], r["torch"]) for r in results.values()}
    lines = [
        "| what | measured: median (range) | reference, same run | goal | |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(r)} |" for r in rows(results)]
    (cores, threads, torch_version), *_ = sorted(machine)
    lines.append("")
    lines.append(
        f"Recorded {' to '.join(dict.fromkeys([dates[0], dates[-1]]))} on {cores} CPU cores "
        f"({threads} threads), torch {torch_version}, by `benchmarks/perf_table.py` from "
        "`benchmarks/results/`."
    )
    return "\n".join(lines)


def _fail(message: str) -> None:
    print(f"perf_table: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--print", action="store_true", help="print the table, leave README")
    args = ap.parse_args()
    results = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
    if not results:
        _fail(f"{RESULTS}: no recorded figures; run the benchmarks with --record first")
    text = table(results)
    if args.print:
        print(text)
        return
    readme = README.read_text()
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        _fail(f"{README}: needs one {BEGIN} and one {END} line around the table")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    print(f"{README}: performance table rebuilt from {len(results)} benchmark(s)")


if __name__ == "__main__":
    main()
