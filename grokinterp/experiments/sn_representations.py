"""Which irreducible representations a network trained on S_5 composition uses (Chughtai,
Chan & Nanda 2023, arXiv 2302.03025; their code bilal-chughtai/rep-theory-mech-interp at
commit 01b2063, cited as ``_C``).

Their claim (Sec. 5-6): a network trained on x o y in S_5 computes it through a few
irreducible representations rho, its logits close to ``sum_rho tr(rho(x) rho(y) rho(z^-1))``;
on their 1-layer MLP every seed uses the standard representation (4,1) and the sign, many
also the standard x sign (2,1,1,1) and one of the 5-dimensional ones (``_C``
``rep_theory/batch_experiments/S5_MLP_seed{1..16}/key_reps.txt``: see :data:`AUTHORS_KEY_REPS`).

Their setup (``_C rep_theory/batch_experiments/S5_MLP_seed1/cfg.json``; the model and loop
of ``rep_theory/utils/models.py`` and ``rep_theory/train_with_checkpoints.py``): S_5,
40% of the 14,400 pairs for training (``frac_train`` 0.4), ``OneLayerMLP``
(``models.py:L54-92``): separate embeddings W_x, W_y of width 256, concatenated, one ReLU
layer of 128 without biases, an unembedding without bias, weights N(0, 1/fan_in)
(``models.py:L69-74``); full-batch AdamW (``train_with_checkpoints.py:L69, L83-88``) lr 1e-3,
weight decay 1, betas (0.9, 0.98), 250,000 epochs (cfg.json). Their key representations are
those whose character cube has a cosine similarity above 0.005 with the class-centered
logits (``utils/metrics.py:L80-89``, L223-238).

Ours: the same, through the library's MLP (``mlp_combine="concat"``: one embedding W_E
shared by x and y, then the first layer's two blocks of rows, so that ``W_E W_in[:256]`` and
``W_E W_in[256:]`` play their ``W_x W[:256]`` and ``W_y W[256:]``; no biases); full-batch
AdamW without warm-up. The one knob scaled to fit 2 shared CPU cores: the **training
fraction** (``train_fraction``, theirs 0.4: their seed 1 reaches 100% test accuracy only
after ~185,000 epochs, ``_C .../S5_MLP_seed1/metrics.csv``), so that the network groks
within ``max_steps``. Each run stops ``patience`` updates after test accuracy first
reaches 99%; then ``grokinterp analyze`` (:func:`grokinterp.analysis.table.measure_run`)
reads the key representations by the causal rule (removing one representation's
directions rho_ij(a o b) from the logits multiplies the training loss by 10 or more), by
their character rule, and their per-representation readings
(:func:`grokinterp.analysis.representation_measures.representation_measures`).

Writes into ``out_dir``: ``runs.csv`` (per seed: steps to 99%, final accuracies, the key
representations by each rule, restricted and excluded loss), ``representations.csv`` (per
seed and representation: character similarity, excluded-loss ratio, embedding and
unembedding fractions), ``authors.csv`` (their 16 seeds' key representations, as
published), ``report.txt`` and ``figures/``; the runs in ``sweep/`` (not committed).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch
from sympy.combinatorics.named_groups import SymmetricGroup  # type: ignore[import-untyped]

from grokinterp.analysis import keyfreqs, measures
from grokinterp.analysis.groups import symmetric_basis
from grokinterp.analysis.representation_measures import representation_measures
from grokinterp.analysis.table import measure_run
from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.experiments.arms import arm_spec, runs_table, train_arm
from grokinterp.experiments.cards import chughtai2023
from grokinterp.experiments.contract import (
    Study,
    StudyResult,
    check_nonempty,
    check_positive,
    collect,
    param,
)
from grokinterp.models import answer_forward_chunked
from grokinterp.runs.io import atomic_write_text
from grokinterp.sweeps.spec import expand
from grokinterp.tasks.permutation import _perm_tables
from grokinterp.viz.report import write_figure_set
from grokinterp.viz.representations import representations_figure

ARM = "mlp"
THRESHOLD = 0.99
# their configuration (module doc); the training fraction, steps and seeds are Params
BASE: dict[str, Any] = {
    "task.name": "perm", "task.p": None,  # group SymmetricGroup: cfg.json
    "model.arch": "mlp", "model.n_layers": 1, "model.mlp_combine": "concat",  # L54-92
    "model.d_model": 256, "model.d_mlp": 128, "model.act_fn": "relu",  # cfg.json layers
    "model.mlp_bias": False, "model.mlp_out_proj": False, "model.unembed_bias": False,
    "model.mlp_init": "normal",  # randn / sqrt(fan_in): models.py:L69-74
    "optim.optimizer": "adamw", "optim.lr": 1e-3, "optim.weight_decay": 1.0,  # cfg.json
    "optim.beta1": 0.9, "optim.beta2": 0.98,  # cfg.json betas
    "optim.warmup_steps": 0, "optim.batch_size": None,  # full batch: L83-88
    "optim.loss": "softmax",
}  # fmt: skip

#: their S_5 MLP seeds' key representations (``key_reps.txt`` of
#: rep_theory/batch_experiments/S5_MLP_seed{k}, commit 01b2063), their names mapped onto
#: partitions: standard (4,1), standard_sign (2,1,1,1), sign (1,1,1,1,1), s5_5d_a (2,2,1)
#: and s5_5d_b (3,2) (``utils/groups.py:L434, L454``: "2,2,1 specht", "3,2 specht")
AUTHORS_KEY_REPS: dict[int, tuple[str, ...]] = {
    1: ("(1,1,1,1,1)", "(4,1)", "(2,1,1,1)", "(2,2,1)"),
    2: ("(1,1,1,1,1)", "(4,1)"),
    3: ("(1,1,1,1,1)", "(4,1)", "(3,2)"),
    4: ("(1,1,1,1,1)", "(4,1)"),
    5: ("(1,1,1,1,1)", "(4,1)", "(2,2,1)"),
    6: ("(1,1,1,1,1)", "(4,1)", "(2,1,1,1)"),
    7: ("(1,1,1,1,1)", "(4,1)", "(2,1,1,1)", "(2,2,1)"),
    8: ("(1,1,1,1,1)", "(4,1)", "(2,1,1,1)", "(2,2,1)"),
    9: ("(1,1,1,1,1)", "(4,1)"),
    10: ("(1,1,1,1,1)", "(4,1)", "(2,1,1,1)", "(3,2)"),
    11: ("(1,1,1,1,1)", "(4,1)"),
    12: ("(1,1,1,1,1)", "(4,1)"),
    13: ("(1,1,1,1,1)", "(4,1)", "(3,2)"),
    14: ("(1,1,1,1,1)", "(4,1)", "(2,1,1,1)", "(2,2,1)"),
    15: ("(1,1,1,1,1)", "(4,1)", "(2,2,1)"),
    16: ("(1,1,1,1,1)", "(4,1)"),
}


@dataclass(frozen=True)
class Params:
    """The S_5 representations study's parameters (module doc)."""

    train_fraction: float = param(
        0.7, "fraction of the 14,400 pairs used for training (the one scaled knob)",
        unit="fraction of all pairs", paper="0.4 (S5_MLP_seed*/cfg.json frac_train)",
    )  # fmt: skip
    seeds: tuple[int, ...] = param((1,), "seeds (initialization; split seed 0)",
                                   paper="16 seeds (S5_MLP_seed1..16)")  # fmt: skip
    n: int = param(5, "degree of the symmetric group", paper="5")
    max_steps: int = param(12_000, "full-batch update budget per run", unit="steps",
                           paper="250000 epochs (cfg.json num_epochs)")  # fmt: skip
    patience: int = param(1000, "updates trained past 99% test accuracy", unit="steps")
    log_every: int = param(100, "metrics logged every this many updates", unit="steps")
    ckpt_every: int = param(1000, "a checkpoint every this many updates", unit="steps")
    d_model: int = param(256, "embedding width", paper="256 (cfg.json embed_dim)")
    d_mlp: int = param(128, "hidden width", paper="128 (cfg.json hidden_dim)")
    authors_models: str = param(
        "", "a folder of their released S_5 MLP runs (S5_MLP_seed*/ with model.pt and "
        "summary_metrics.json, from _C rep_theory/batch_experiments): also read their models "
        "with our measures ('' skips)",
    )  # fmt: skip
    backend: Literal["ensemble", "local"] = param("local", "sweep backend")
    device: str = param("cpu", "torch device (cpu, cuda, cuda:N)")

    def __post_init__(self) -> None:
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        check_nonempty("seeds", self.seeds)
        check_positive("n", self.n, minimum=3)
        if self.n > 5:
            raise ConfigError(f"n must be 3, 4 or 5 (S_n's representations), got {self.n}")
        for name in ("max_steps", "log_every", "ckpt_every", "d_model", "d_mlp"):
            check_positive(name, getattr(self, name))
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")


def spec(params: Params) -> dict[str, Any]:
    """The sweep of the study's one arm (their configuration, our knob)."""
    n = params.max_steps
    over = {
        **BASE, "task.n": params.n, "task.train_fraction": params.train_fraction,
        "model.d_model": params.d_model, "model.d_mlp": params.d_mlp,
        "optim.max_steps": n, "optim.stop_acc": THRESHOLD,
        "optim.stop_patience": params.patience, "schedule.log_every": params.log_every,
        "schedule.ckpt_every": params.ckpt_every, "schedule.ckpt_log_until": min(100, n),
        "schedule.ckpt_log_count": 1,
    }  # fmt: skip
    return arm_spec({"preset": "nanda"}, over, {}, params.seeds, params.backend)


def measure(out: Path, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``runs``, ``representations``) of every finished run: ``grokinterp analyze`` on it."""
    s = spec(params)
    runs, _ = runs_table(out, {ARM: s}, threshold=THRESHOLD)
    if not len(runs):
        return pd.DataFrame(), pd.DataFrame()
    basis = symmetric_basis(params.n)
    names = {k: basis.component_name(k) for k in range(1, basis.n_components() + 1)}
    rows, reps = [], []
    for _, r in runs.iterrows():
        row = r.to_dict()
        if r["status"] == "done":
            name = next(x.name for x in expand(s) if x.config.seed == r["seed"])
            result = measure_run(out / "sweep" / ARM / "runs" / name, progress=False)
            sm, final = result.summary, result.summary["final"]
            row.update(
                key_reps_causal=" ".join(sm["key_representations"]),
                key_reps_character=" ".join(names[k] for k in sm["key_freqs_by_rule"]["character"]),
                key_reps_embed=" ".join(names[k] for k in sm["key_freqs_by_rule"]["embed"]),
                train_loss=final["train_loss"], test_loss=final["test_loss"],
                restricted_loss=final["restricted_loss"], excluded_loss=final["excluded_loss"],
                gen_share=final["gen_share"], logit_cube_cos_sim=final["logit_cube_cos_sim"],
                logit_explained=sm["representation_measures"]["logit_explained"],
                restricted_train_loss=sm["key_freq_check"]["restricted_train_loss"],
                key_rule_note=sm["key_freq_check"].get("note", ""),
            )  # fmt: skip
            evidence = {e["k"]: e for e in sm["key_freq_evidence"]}
            for m in sm["representation_measures"]["rows"]:
                e = evidence.get(m["k"], {})
                reps.append({
                    "seed": r["seed"], **m,
                    "excluded_ratio": e.get("excluded_ratio", math.nan),
                    "key_causal": m["name"] in sm["key_representations"],
                })  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(reps)


def their_element_map(n: int = 5) -> torch.Tensor:
    """Our element number of each of their element numbers: theirs are sympy's
    ``SymmetricGroup(n)`` elements in generation order (``_C rep_theory/utils/groups.py``,
    ``idx_to_perm``: ``G._elements[x]``), composed as sympy does, ``(p * q)(i) = q(p(i))``
    (``compose``); ours compose ``(x o y)(i) = x(y(i))``. Their element pi is our pi^-1,
    which turns their products into ours (checked: the map is an isomorphism)."""
    group = SymmetricGroup(n)
    _ = group.elements  # fills _elements in generation order
    elems = list(group._elements)
    ours = {p: i for i, p in enumerate(itertools.permutations(range(n)))}
    inv = [tuple(int(k) for k in (~e).array_form) for e in elems]
    phi = torch.tensor([ours[t] for t in inv])
    theirs = {e: i for i, e in enumerate(elems)}
    table = torch.tensor([[theirs[a * b] for b in elems] for a in elems])
    comp = torch.from_numpy(_perm_tables(n)[0])
    if not torch.equal(phi[table], comp[phi[:, None], phi[None, :]]):
        raise RuntimeError("their element numbering does not map onto ours (sympy changed?)")
    return phi


def authors_params(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], Any]:
    """Their ``OneLayerMLP`` (``_C utils/models.py:L54-92``: ``relu([W_x[x], W_y[y]] W) W_U``)
    in our MLP's layout, exactly: ``W_E[g] = [W_x[g], W_y[g]]`` (width 2 x 256) and
    ``W_in`` reading W_x's half of a's embedding and W_y's half of b's; their element
    numbering, not yet mapped (see :func:`their_element_map`)."""
    w_x, w_y, w, w_u = (state[k].detach().float() for k in ("W_x", "W_y", "W", "W_U"))
    n_el, d = w_x.shape
    hidden = w.shape[1]
    w_in = torch.zeros(4 * d, hidden)
    w_in[:d] = w[:d]  # a's W_x half
    w_in[3 * d :] = w[d:]  # b's W_y half
    params = {
        "embed.W_E": torch.cat([torch.cat([w_x, w_y], 1), torch.zeros(1, 2 * d)]),
        "blocks.0.mlp.W_in": w_in,
        "unembed.W_U": w_u,
    }
    cfg = ModelConfig(arch="mlp", n_layers=1, d_model=2 * d, d_mlp=hidden, act_fn="relu",
                      mlp_combine="concat", mlp_bias=False, unembed_bias=False)  # fmt: skip
    return params, cfg


SIM_NAMES = {"sign": "(1,1,1,1,1)", "standard": "(4,1)", "standard_sign": "(2,1,1,1)",
             "s5_5d_a": "(2,2,1)", "s5_5d_b": "(3,2)", "s5_6d": "(3,1,1)"}  # fmt: skip


def measure_authors_models(folder: Path) -> pd.DataFrame:
    """Their released S_5 MLPs read with our measures, beside their own readings
    (``summary_metrics.json``): per seed and representation, our character similarity and
    theirs, our causal key representations over all pairs (their models fit every pair;
    their split is not reconstructed), their key representations (``key_reps.txt``)."""
    n, basis = 5, symmetric_basis(5)
    N = basis.order
    phi = their_element_map(n)
    back = torch.argsort(phi)  # our element -> their number
    rows = []
    for d in sorted(folder.glob("S5_MLP_seed*"), key=lambda x: int(x.name.split("seed")[1])):
        seed = int(d.name.split("seed")[1])
        params, cfg = authors_params(torch.load(d / "model.pt", map_location="cpu"))
        # in our numbering: embedding rows and unembedding columns permuted by phi
        params["embed.W_E"] = torch.cat([params["embed.W_E"][:N][back], params["embed.W_E"][N:]])
        params["unembed.W_U"] = params["unembed.W_U"][:, back]
        a, b = torch.meshgrid(torch.arange(N), torch.arange(N), indexing="ij")
        inputs = torch.stack([a.flatten(), b.flatten(), torch.full((N * N,), N)], 1)
        logits, _ = answer_forward_chunked(params, inputs, cfg, N)
        L = logits.reshape(N, N, N).double()
        labels = torch.from_numpy(_perm_tables(n)[0])
        every = torch.ones(N, N, dtype=torch.bool)
        causal = keyfreqs.causal_key_frequencies(L, labels, every, basis=basis)
        keys = keyfreqs.character_key_representations(L, basis)
        readings = representation_measures(params, L, n)
        theirs = json.loads((d / "summary_metrics.json").read_text())
        their_keys = (d / "key_reps.txt").read_text().split()
        row: dict[str, Any] = {
            "seed": seed,
            "accuracy": float((L.argmax(-1) == labels).double().mean()),
            "loss": measures.grid_cross_entropy(L, labels),
            "key_reps_causal": " ".join(basis.component_name(k) for k in causal),
            "key_reps_character": " ".join(basis.component_name(k) for k in keys),
            "their_key_reps": " ".join(SIM_NAMES[k] for k in their_keys),
            "restricted_loss": measures.restricted_loss(L, labels, causal, basis=basis),
            "excluded_loss": measures.excluded_loss(L, labels, causal, basis=basis),
            "logit_explained": readings["logit_explained"],
            "their_logit_explained": theirs.get("percent_logits_explained", math.nan),
        }
        by_name = {r["name"]: r for r in readings["rows"]}
        for their, name in SIM_NAMES.items():
            row[f"sim {name}"] = by_name[name]["character_similarity"]
            row[f"their sim {name}"] = theirs.get(f"logit_{their}_rep_trace_similarity", math.nan)
            row[f"embed_a {name}"] = by_name[name]["embed_a_fraction"]
            row[f"their embed_x {name}"] = theirs.get(f"percent_x_embed_{their}_rep", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def authors_table() -> pd.DataFrame:
    """Their 16 seeds' key representations (:data:`AUTHORS_KEY_REPS`), one row per seed."""
    return pd.DataFrame(
        [{"seed": s, "key_reps_character": " ".join(k)} for s, k in AUTHORS_KEY_REPS.items()]
    )


def share_with(table: pd.DataFrame, column: str, rep: str) -> float:
    """Fraction of the rows whose ``column`` (space-separated partitions) names ``rep``."""
    if not len(table) or column not in table:
        return math.nan
    vals = table[column].dropna().astype(str)
    return float(vals.map(lambda v: rep in v.split()).mean()) if len(vals) else math.nan


def report(
    runs: pd.DataFrame,
    reps: pd.DataFrame,
    params: Params,
    minutes: float,
    authors: pd.DataFrame | None = None,
) -> str:
    lines = [
        f"S_{params.n} composition, Chughtai et al.'s 1-layer MLP (embed {params.d_model}, "
        f"hidden {params.d_mlp}), train fraction {params.train_fraction} (theirs 0.4), "
        f"full-batch AdamW lr 1e-3 wd 1; {minutes:.1f} min",
        "",
    ]
    for _, r in runs.iterrows():
        lines.append(
            f"seed {r['seed']}: {r['status']}, 99% test accuracy at step "
            f"{r.get('steps_to_threshold')}, final train/test acc "
            f"{r.get('final_train_acc', math.nan):.4f}/{r.get('final_test_acc', math.nan):.4f}"
        )
        if "key_reps_causal" in r and isinstance(r["key_reps_causal"], str):
            lines += [
                f"  key representations, causal rule: {r['key_reps_causal']}",
                f"  key representations, their character rule (> 0.005): {r['key_reps_character']}",
                f"  restricted loss (test) {r['restricted_loss']:.3g}, excluded loss (train) "
                f"{r['excluded_loss']:.3g}, train loss {r['train_loss']:.3g}, test loss "
                f"{r['test_loss']:.3g}; logits explained by characters "
                f"{r['logit_explained']:.3f}",
            ]
    if len(reps):
        lines += ["", "per representation (seed: character similarity, excluded ratio, "
                  "embed / unembed fraction):"]  # fmt: skip
        for _, m in reps.iterrows():
            lines.append(
                f"  seed {m['seed']} {m['name']:>12} d={m['dim']}: "
                f"sim {m.get('character_similarity', math.nan):.3f}, excl x"
                f"{m['excluded_ratio']:.3g}, embed {m.get('embed_fraction', math.nan):.3f}, "
                f"unembed {m['unembed_fraction']:.3f}"
            )
    theirs = authors_table()
    lines += ["", "theirs (16 seeds, character rule): " + ", ".join(
        f"{rep} {share_with(theirs, 'key_reps_character', rep):.0%}"
        for rep in ("(4,1)", "(1,1,1,1,1)", "(2,1,1,1)", "(2,2,1)", "(3,2)", "(3,1,1)")
    )]  # fmt: skip
    if authors is not None and len(authors):
        sims = [str(c) for c in authors.columns if str(c).startswith("sim ")]
        diff = max(float((authors[c] - authors["their " + c]).abs().max()) for c in sims)
        ours_sorted = authors["key_reps_character"].map(lambda v: sorted(v.split()))
        theirs_sorted = authors["their_key_reps"].map(lambda v: sorted(v.split()))
        same = int((ours_sorted == theirs_sorted).sum())
        causal_std = share_with(authors, "key_reps_causal", "(4,1)")
        lines += [
            "",
            f"their {len(authors)} released models read with our measures (authors_models.csv): "
            f"accuracy {authors['accuracy'].min():.4f}-{authors['accuracy'].max():.4f}; "
            f"character similarity within {diff:.1e} of theirs; our character rule gives "
            f"their key representations on {same}/{len(authors)}; the causal rule names "
            f"(4,1) on {causal_std:.0%} and the sign on "
            f"{share_with(authors, 'key_reps_causal', '(1,1,1,1,1)'):.0%}",
        ]
        for _, a in authors.iterrows():
            lines.append(
                f"  seed {a['seed']}: causal {a['key_reps_causal']}; character "
                f"{a['key_reps_character']}; theirs {a['their_key_reps']}; restricted "
                f"{a['restricted_loss']:.3g}, excluded {a['excluded_loss']:.3g}"
            )
    return "\n".join(lines) + "\n"


def run(
    out_dir: str | Path, params: Params, *, progress: bool = True, static: bool | None = None
) -> StudyResult:
    """Train the seeds (resumable), analyze every finished run, write the tables."""
    out = Path(out_dir)
    t0 = time.perf_counter()
    train_arm(spec(params), out / "sweep" / ARM, progress=progress, device=params.device)
    runs, reps = measure(out, params)
    atomic_write_text(out / "runs.csv", runs.to_csv(index=False))
    atomic_write_text(out / "representations.csv", reps.to_csv(index=False))
    atomic_write_text(out / "authors.csv", authors_table().to_csv(index=False))
    authors = None
    if params.authors_models:
        authors = measure_authors_models(Path(params.authors_models))
        atomic_write_text(out / "authors_models.csv", authors.to_csv(index=False))
    else:  # the card's readers find the table and read nothing from it (not measured)
        empty = pd.DataFrame(columns=["seed", "key_reps_causal"])
        atomic_write_text(out / "authors_models.csv", empty.to_csv(index=False))
    minutes = (time.perf_counter() - t0) / 60
    atomic_write_text(out / "report.txt", report(runs, reps, params, minutes, authors))
    if len(reps) and static is not False:
        write_figure_set({"representations": representations_figure(reps)}, out / "figures",
                         title="Irreducible representations of S_5 in a trained MLP",
                         static=static)  # fmt: skip
    atomic_write_text(out / "summary.json", json.dumps({"minutes": minutes}, indent=2))
    return collect(out, data=runs)


STUDY = Study(
    name="sn-representations",
    title="which irreducible representations an MLP trained on S_5 uses (Chughtai et al. 2023)",
    paper="Chughtai, Chan & Nanda 2023, arXiv 2302.03025",
    params=Params,
    run=run,
    committed="studies/sn_representations",
    smoke={
        "n": 3,
        "seeds": [0],
        "max_steps": 20,
        "log_every": 10,
        "ckpt_every": 10,
        "d_model": 8,
        "d_mlp": 16,
        "train_fraction": 0.5,
    },  # fmt: skip
    cards=chughtai2023.CARDS,
    runtime="26 min on 2 shared cores: 1 seed, 11,000 updates, and their 16 models",
    threads=1,
)
