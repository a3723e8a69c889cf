"""Clock or pizza against the attention rate (Zhong et al. 2023, arXiv 2306.17844; their code
fjzzq2002/pizza@4c7f2f3, ``_Z``).

Their claim (Sec. 5, Fig. 5-6; ``_Z result/1l_fixedwidth.svg``, ``1l_varywidth.svg``): a
1-layer transformer trained on a + b mod 59 learns the pizza (gradient symmetricity near 1,
low distance irrelevance) with constant attention (attention rate 0) and the clock (low
symmetricity, distance irrelevance near 1) with standard attention (rate 1), with a sharp
transition between, whose place moves with the width.

Their setup, from ``_Z code/train-main.py``: a + b mod 59 (L531, L547), all 59^2 pairs with
80% for training (L558, L387-389), the sequence ``[a, b]`` read at b's position, no ``=``
token (L322-334, L538-540: 4 runs in 5), 1 layer (the ``1l`` tables), 4 heads (L549) of
``d_model / 4`` (L378), MLP ``4 d_model`` (L173), ReLU (L553: 3 runs in 4), learned
positions, no LayerNorm, MLP biases, no causal mask (the mask buffer is never applied,
L96, L109-110), attention ``alpha softmax + (1 - alpha)`` (L111-114), AdamW lr 1e-3, weight
decay 2, betas (0.9, 0.98) (L395, L556-557), lr warm-up from 0 over 10 updates (L396), full
batch (L391, L555), float64 cross-entropy (L357-366), 20,000 updates (L554); alpha drawn
uniformly in [0, 1] (L535), d_model 128 (fixed-width runs) or ``int(2^U(5, 9))`` (L541-543).

This study trains every (width, attention rate) cell for each seed (one ensemble per cell
with the ``ensemble`` backend), then measures the final model: test accuracy, gradient
symmetricity over their 100 triples and distance irrelevance over every pair
(:mod:`grokinterp.analysis.clock_pizza`). Writes ``runs.csv`` (per run), ``cells.csv``
(median per cell), ``report.txt`` and ``figures/``; with ``authors_models`` (their
``code/save`` folder) also ``authors_models.csv``: the measures on their released Model A
and Model B, converted into our parameter layout.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from grokinterp.analysis.clock_pizza import (
    model_distance_irrelevance,
    model_gradient_symmetricity,
)
from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import arm_spec, runs_table, train_arm
from grokinterp.experiments.cards import zhong2023
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.models import answer_forward
from grokinterp.models.params import Params as ModelParams
from grokinterp.runs.io import atomic_write_text
from grokinterp.runs.run import Run
from grokinterp.sweeps.spec import expand
from grokinterp.viz.clock_pizza import clock_pizza_figure
from grokinterp.viz.report import write_figure_set

# their configuration (module doc); the width and rate are set per cell
BASE: dict[str, Any] = {
    "task.name": "add", "task.train_fraction": 0.8,  # _Z train-main.py:L547, L558
    "model.n_layers": 1, "model.n_heads": 4,  # the 1l tables; L549
    "model.sequence": "a_b", "model.causal": False,  # L322-334, L538-540; L109-110
    "model.act_fn": "relu", "model.normalization": "none",  # L553; no LayerNorm in the model
    "optim.lr": 1e-3, "optim.weight_decay": 2.0,  # L556-557
    "optim.beta1": 0.9, "optim.beta2": 0.98,  # L395
    "optim.warmup_steps": 10, "optim.warmup_from_zero": True,  # LambdaLR min(step/10, 1): L396
    "optim.batch_size": None, "optim.loss": "softmax",  # full batch L391, L555; f64 L357-366
}  # fmt: skip
AUTHORS_MODELS = {"A": "p99zdpze5l", "B": "l8k1hzciux"}  # _Z code/eval-main.ipynb, cell 4
AUTHORS_P = 59  # their models' modulus: _Z train-main.py:L531


@dataclass(frozen=True)
class Params:
    """The clock-and-pizza study's parameters (module doc)."""

    rates: tuple[float, ...] = param(
        (0.0, 1.0, 0.5, 0.25, 0.75), "attention rates alpha (0: constant attention, 1: "
        "standard), in training order", paper="uniform in [0, 1] per run (train-main.py:L535)",
    )  # fmt: skip
    widths: tuple[int, ...] = param(
        (32,), "d_model of each cell (4 heads of d_model / 4, MLP 4 d_model); multiples of 4",
        paper="128 (fixed-width runs) or int(2^U(5, 9)) in 32-511 (train-main.py:L541-543)",
    )  # fmt: skip
    seeds: tuple[int, ...] = param((0, 1), "seeds (initialization; the split is split_seed 0)",
                                   paper="one run per draw of alpha and width")  # fmt: skip
    p: int = param(59, "the modulus (odd: distance irrelevance needs it)",
                   paper="59 (train-main.py:L531)")  # fmt: skip
    steps: int = param(20_000, "full-batch updates per run", unit="steps",
                       paper="20000 (train-main.py:L554)")  # fmt: skip
    log_every: int = param(100, "metrics logged every this many steps", unit="steps")
    authors_models: str = param(
        "", "their code/save folder (fjzzq2002/pizza@4c7f2f3): also measure their released "
        "Model A and Model B ('' skips)",
    )  # fmt: skip
    backend: Literal["ensemble", "local"] = param("ensemble", "sweep backend")
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        check_nonempty("rates", self.rates)
        bad = [r for r in self.rates if not 0.0 <= r <= 1.0]
        if bad or len(set(self.rates)) != len(self.rates):
            raise ConfigError(f"rates: give distinct values in [0, 1], got {list(self.rates)}")
        check_nonempty("widths", self.widths)
        if any(w < 4 or w % 4 for w in self.widths) or len(set(self.widths)) != len(self.widths):
            raise ConfigError(
                f"widths: give distinct multiples of 4 (4 heads of width / 4), got "
                f"{list(self.widths)}"
            )
        check_nonempty("seeds", self.seeds)
        check_positive("p", self.p, minimum=3)
        if self.p % 2 == 0:
            raise ConfigError(f"p must be odd (distance irrelevance needs it), got {self.p}")
        check_positive("steps", self.steps)
        check_positive("log_every", self.log_every)


def cell_name(width: int, rate: float) -> str:
    """The arm (sweep folder) of one cell: ``w32_a0.25``."""
    return f"w{width}_a{rate:g}"


def specs(params: Params) -> dict[str, dict[str, Any]]:
    """Each cell's sweep spec, narrowest width first, then by rate."""
    n = params.steps
    schedule = {
        "optim.max_steps": n, "schedule.log_every": params.log_every,
        "schedule.ckpt_log_until": min(100, n), "schedule.ckpt_log_count": 1,
        "schedule.ckpt_every": max(n // 4, 1),  # resumable mid-run
    }  # fmt: skip
    out = {}
    for w in params.widths:
        for r in params.rates:
            cell = {
                **BASE, "task.p": params.p, "model.d_model": w, "model.d_head": w // 4,
                "model.d_mlp": 4 * w, "model.attention_rate": r, **schedule,
            }  # fmt: skip
            out[cell_name(w, r)] = arm_spec({"preset": "nanda"}, cell, {}, params.seeds,
                                            params.backend)  # fmt: skip
    return out


def measure_runs(out: Path, params: Params) -> pd.DataFrame:
    """One row per run trained so far: its cell, seed, status, final accuracies and the two
    measures on its last checkpoint (None until it finished)."""
    all_specs = specs(params)
    runs, _ = runs_table(out, all_specs, threshold=0.99)
    if not len(runs):
        return pd.DataFrame()
    rows = []
    for _, r in runs.iterrows():
        arm = str(r["arm"])
        width = int(arm[1:].split("_")[0])
        rate = float(arm.split("_a")[1])
        row = {"width": width, "rate": rate, **r.to_dict()}
        if r["status"] == "done":
            name = next(x.name for x in expand(all_specs[arm]) if x.config.seed == r["seed"])
            run = Run(out / "sweep" / arm / "runs" / name)
            weights, cfg = run.params(), run.config
            row["gradient_symmetricity"] = model_gradient_symmetricity(weights, cfg.model, params.p)
            row["distance_irrelevance"] = model_distance_irrelevance(weights, cfg.model, params.p)
        rows.append(row)
    return pd.DataFrame(rows)


def cell_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (width, rate): runs, finished runs, runs at test accuracy >= 0.99, and the median
    (min, max) of both measures over the finished runs."""
    out = []
    if not len(runs):
        return pd.DataFrame()
    for (w, r), g in runs.groupby(["width", "rate"], sort=True):
        done = g[g["status"] == "done"].dropna(subset=["gradient_symmetricity"])
        row: dict[str, Any] = {
            "width": w,
            "rate": r,
            "runs": len(g),
            "finished": len(done),
            "generalized": int((done["final_test_acc"] >= 0.99).sum()),
        }
        for m in ("gradient_symmetricity", "distance_irrelevance", "final_test_acc"):
            v = done[m] if len(done) else pd.Series(dtype=float)
            row[m] = float(v.median()) if len(v) else math.nan
            row[m + "_min"] = float(v.min()) if len(v) else math.nan
            row[m + "_max"] = float(v.max()) if len(v) else math.nan
        out.append(row)  # fmt: skip
    return pd.DataFrame(out)


def authors_params(state: dict[str, torch.Tensor], rate: float) -> tuple[ModelParams, ModelConfig]:
    """One of their released models (a ``Transformer`` state dict, ``_Z code/train-main.py``
    L65-213) as our parameters and config: their (out, in) matrices transposed to our
    (in, out), ``W_O`` (d_model, heads d_head) to (heads, d_head, d_model)."""
    d_model = state["embed.W_E"].shape[0]
    nh, dh, _ = state["blocks.0.attn.W_Q"].shape
    params: ModelParams = {
        "embed.W_E": state["embed.W_E"].T, "pos_embed.W_pos": state["pos_embed.W_pos"],
        "unembed.W_U": state["unembed.W_U"],
        "blocks.0.attn.W_O": state["blocks.0.attn.W_O"].T.reshape(nh, dh, d_model),
        "blocks.0.mlp.W_in": state["blocks.0.mlp.W_in"].T,
        "blocks.0.mlp.b_in": state["blocks.0.mlp.b_in"],
        "blocks.0.mlp.W_out": state["blocks.0.mlp.W_out"].T,
        "blocks.0.mlp.b_out": state["blocks.0.mlp.b_out"],
        **{f"blocks.0.attn.W_{w}": state[f"blocks.0.attn.W_{w}"].transpose(1, 2) for w in "QKV"},
    }  # fmt: skip
    cfg = ModelConfig(
        d_model=d_model, n_heads=nh, d_head=dh, d_mlp=state["blocks.0.mlp.W_in"].shape[0],
        sequence="a_b", causal=False, attention_rate=rate,
        d_vocab_out=state["unembed.W_U"].shape[1],
    )  # fmt: skip
    return {k: v.contiguous().float() for k, v in params.items()}, cfg


def measure_authors_models(folder: Path, p: int = AUTHORS_P) -> pd.DataFrame:
    """Their released Model A and Model B (``folder``: their ``code/save``): accuracy over
    every pair and both measures, with our forward and measures."""
    rows = []
    for label, run_id in AUTHORS_MODELS.items():
        model_file, config_file = folder / f"model_{run_id}.pt", folder / f"config_{run_id}.json"
        if not model_file.is_file() or not config_file.is_file():
            raise ConfigError(f"authors_models: {folder} lacks {model_file.name} or "
                              f"{config_file.name}; give their code/save folder")  # fmt: skip
        conf = json.loads(config_file.read_text())
        state = torch.load(model_file, map_location="cpu", weights_only=True)
        weights, cfg = authors_params(state, float(conf["attn_coeff"]))
        a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
        tokens = torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], -1)
        with torch.no_grad():
            acc = answer_forward(weights, tokens, cfg)[0].argmax(-1) == (a + b).flatten() % p
        rows.append({
            "model": label, "run_id": run_id, "attention_rate": cfg.attention_rate,
            "d_model": cfg.d_model, "accuracy_all_pairs": float(acc.float().mean()),
            "gradient_symmetricity": model_gradient_symmetricity(weights, cfg, p),
            "distance_irrelevance": model_distance_irrelevance(weights, cfg, p),
        })  # fmt: skip
    return pd.DataFrame(rows)


def report(cells: pd.DataFrame, authors: pd.DataFrame | None, params: Params,
           minutes: float) -> str:  # fmt: skip
    lines = [
        "Clock or pizza against the attention rate (Zhong et al. 2023, arXiv 2306.17844)",
        f"a + b mod {params.p}, 80% of pairs, 1 layer, 4 heads, MLP 4 d_model, {params.steps} "
        f"full-batch steps, seeds {list(params.seeds)}",
        "",
        "width  rate  finished  test>=0.99  gradient symmetricity med (range)  distance "
        "irrelevance med (range)",
    ]
    for _, c in cells.iterrows():
        lines.append(
            f"{int(c['width']):5d}  {c['rate']:.3g}  {int(c['finished'])}/{int(c['runs'])}  "
            f"{int(c['generalized'])}  {c['gradient_symmetricity']:.3f} "
            f"({c['gradient_symmetricity_min']:.3f}-{c['gradient_symmetricity_max']:.3f})  "
            f"{c['distance_irrelevance']:.3f} ({c['distance_irrelevance_min']:.3f}-"
            f"{c['distance_irrelevance_max']:.3f})"
        )
    if authors is not None:
        lines += ["", "their released models, our forward and measures:"]
        for _, r in authors.iterrows():
            lines.append(
                f"  Model {r['model']} ({r['run_id']}, rate {r['attention_rate']:g}): accuracy "
                f"{r['accuracy_all_pairs']:.4f}, gradient symmetricity "
                f"{r['gradient_symmetricity']:.4f}, distance irrelevance "
                f"{r['distance_irrelevance']:.4f}"
            )
    lines += ["", f"study wall time (this invocation): {minutes:.1f} min"]
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the cells one after another (each resumable), measuring every finished run
    and rewriting the tables after each cell."""
    out = Path(out_dir)
    t0 = time.perf_counter()
    authors = None
    if params.authors_models:
        authors = measure_authors_models(Path(params.authors_models))
        atomic_write_text(out / "authors_models.csv", authors.to_csv(index=False))
    cells = pd.DataFrame()
    for arm, spec in specs(params).items():
        train_arm(spec, out / "sweep" / arm, progress=progress, device=params.device)
        # the tables after every cell, so that a study stopped by its budget keeps them
        runs = measure_runs(out, params)
        cells = cell_table(runs)
        atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
        atomic_write_text(out / "cells.csv", cells.to_csv(index=False))
        minutes = (time.perf_counter() - t0) / 60
        atomic_write_text(out / "report.txt", report(cells, authors, params, minutes))
    if len(cells) and static is not False:
        write_figure_set({"clock_pizza": clock_pizza_figure(cells)}, out / "figures",
                         title="Clock or pizza by attention rate", static=static)  # fmt: skip
    return collect(out, data=cells)


STUDY = Study(
    name="clock-pizza",
    title="clock or pizza against the attention rate and width (Zhong et al. 2023)",
    paper="Zhong et al. 2023, arXiv 2306.17844",
    params=Params,
    run=run,
    committed="studies/clock_pizza",
    smoke={
        "p": 7,
        "rates": [0.0, 1.0],
        "widths": [32],
        "seeds": [0],
        "steps": 20,
        "log_every": 10,
    },  # fmt: skip
    cards=zhong2023.CARDS,
    runtime="27 min: 5 rates x 2 seeds, 4,000 updates (2 invocations; 2 shared cores)",
    committed_params={"steps": 4000},
    threads=1,
)
