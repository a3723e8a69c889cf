"""The words of the analysis report: its headline panel, a caption per figure, definitions.

:func:`headline` is the panel at the top of ``analysis/figures/index.html``: the run's task
and p, its landmarks (train and test accuracy reaching 99%, the grokking delay), the phase
boundaries, the key frequencies and the rule that chose them, and the final accuracies,
every number read from ``summary.json`` (each in an element whose id is ``h-<key>``, so a
test can read them back). Each row's name links to its definition in :func:`definitions`, at
the end of the same page (so the links work offline), which in turn names the section of
the documentation site that gives the full formula: ``docs/measures.md#<anchor>``, the
anchor being MkDocs' slug of that section's heading (:data:`DOCS_ANCHORS`; a test checks
each one against the headings of ``docs/measures.md``). :data:`CAPTIONS` says, per figure,
what to look for.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CAPTIONS", "DOCS_ANCHORS", "DOCS_PAGE", "definitions", "headline", "not_reached"]

#: the documentation page of the measures (a source of the MkDocs site)
DOCS_PAGE = "docs/measures.md"

#: definition id -> (term, the heading of docs/measures.md it summarizes, its MkDocs anchor)
DOCS_ANCHORS: dict[str, tuple[str, str]] = {
    "landmarks": (
        "Phases (`grokinterp.analysis.phases.phase_boundaries`)",
        "phases-grokinterpanalysisphasesphase_boundaries",
    ),
    "phases": (
        "Phases (`grokinterp.analysis.phases.phase_boundaries`)",
        "phases-grokinterpanalysisphasesphase_boundaries",
    ),
    "key-freqs": (
        "Key frequencies (`grokinterp.analysis.keyfreqs`)",
        "key-frequencies-grokinterpanalysiskeyfreqs",
    ),
    "losses": ("Losses (Nanda et al. 2023)", "losses-nanda-et-al-2023"),
    "shares": (
        "Circuit shares (Varma et al. 2023, arXiv 2309.02390)",
        "circuit-shares-varma-et-al-2023-arxiv-230902390",
    ),
    "clusters": ("Neuron clusters", "neuron-clusters"),
    "sparsity": ("Sparsity and weights", "sparsity-and-weights"),
}

_DEFINITIONS: dict[str, tuple[str, str]] = {
    "landmarks": (
        "Landmarks",
        "The first logged step where train accuracy reaches 99% (memorized) and where test "
        "accuracy does (the grokking step); the grokking delay is the steps between them. "
        "'not reached' means the run ended first.",
    ),
    "phases": (
        "Phase boundaries",
        "From the test loss, in log space (Nanda et al. 2023, section 5): memorization ends at "
        "its peak; circuit formation ends when it has fallen 10% of the way from the peak to "
        "its final value; cleanup ends at 90%. A run whose test loss does not fall by a factor "
        "e has no circuit-formation or cleanup boundary.",
    ),
    "key-freqs": (
        "Key frequencies",
        "The Fourier frequencies the network's output relies on, chosen at the last "
        "checkpoint. The causal rule (default) keeps a frequency k when removing its "
        "directions from the logits multiplies the training loss by at least 10; it checks "
        "that the logits restricted to the chosen frequencies keep the training loss within a "
        "factor 10 ('sufficient'). The embed and logit rules cut the sorted per-frequency "
        "norms of W_E and of W_out W_U at their largest gap; neuron_argmax takes every "
        "frequency that is some MLP neuron's largest share.",
    ),
    "losses": (
        "Restricted and excluded loss",
        "Restricted loss: the test loss of the logits keeping only the key frequencies' "
        "directions; excluded loss: the training loss with those directions removed (Nanda "
        "et al. 2023). Restricted loss falls before test loss when the Fourier circuit forms "
        "ahead of cleanup.",
    ),
    "shares": (
        "Generalizing and memorizing shares",
        "The fraction of the logits' squared norm inside the key-frequency subspace (the "
        "generalizing circuit) and the rest (the memorizing circuit); their norms are each "
        "circuit's logit strength (Varma et al. 2023).",
    ),
    "clusters": (
        "Neuron clusters",
        "An MLP neuron belongs to frequency k's cluster when more than 85% of its activation "
        "variance over the (a, b) grid lies in frequency k's 2D Fourier components.",
    ),
    "sparsity": (
        "Gini coefficient",
        "Of the per-frequency norms of W_E and of W_out W_U: 0 when every frequency is used "
        "equally, near 1 when a few carry the weight (Hurley & Rickard 2009).",
    ),
}

#: figure name -> what to look for in it
CAPTIONS: dict[str, str] = {
    "loss_curves": (
        "Train loss falls first (memorization) while test loss stays high; in a run that "
        "groks, test loss then falls sharply (cleanup). Left: the whole run on a log step "
        "axis; right (when the run has a grokking window): the window from the end of "
        "memorization to the end of cleanup on a linear axis. The curves are those of "
        "metrics.jsonl (every logged step, where the phase boundaries were read) when it logs "
        "all four, else the checkpoints'."
    ),
    "restricted_excluded": (
        "Look for restricted loss (key frequencies only) falling during circuit formation, "
        "before test loss does, and excluded loss (key frequencies removed) rising: the "
        "Fourier circuit forms while test loss is still high."
    ),
    "logit_shares": (
        "The generalizing share should rise toward 1 and the memorizing share fall; where "
        "they cross tells when the Fourier circuit took over the logits."
    ),
    "norm_vs_logit_strength": (
        "Follow the arrows from the circle (the first checkpoint): the memorizing circuit's "
        "strength grows with the parameter norm, then the generalizing circuit's strength "
        "grows while weight decay shrinks the norm (Varma et al. 2023). Labelled points: the "
        "first and last checkpoints and those nearest the phase boundaries and the grokking "
        "step."
    ),
    "gini_and_norm": (
        "The Gini coefficients rise as the embedding and the logits concentrate on a few "
        "frequencies; the total weight norm falls during cleanup."
    ),
    "embed_freq_heatmap": (
        "The key frequencies' rows (bold, starred) should brighten while the others fade as "
        "the run groks."
    ),
    "key_freq_evidence": (
        "Top: a bar above the dashed line means removing that frequency multiplies the "
        "training loss by more than the causal rule's factor: it is key (red). Bottom: the "
        "spectra of W_E and W_out W_U, which the embed and logit rules read."
    ),
    "embed_freq_bars": (
        "At the last checkpoint: the embedding's norm should sit on the key frequencies (red)."
    ),
    "attention_patterns": (
        "What each head's query attends to at the last checkpoint, averaged over inputs; the "
        "'=' query reads a and b."
    ),
    "neuron_clusters": (
        "Most neurons of a grokked run belong to one key frequency's cluster (red bars); the "
        "heatmap shows each neuron's variance fraction per frequency."
    ),
    "neuron_spectrum": (
        "One neuron's activation over all (a, b) in the 2D Fourier basis, on a log colour "
        "scale and cut to the components that carry its power: a grokked neuron's power sits "
        "in the const, cos k and sin k components of one key frequency k of a and of b (a "
        "product of waves)."
    ),
    "embed_freq_scrub": (
        "Drag the slider through the checkpoints: the embedding's norm concentrates on the "
        "key frequencies (red) as the run groks."
    ),
    "neuron_cluster_scrub": (
        "Drag the slider through the checkpoints: the neurons gather into the key "
        "frequencies' clusters (red) as the run groks."
    ),
    "complexity": (
        "With --complexity: the local learning coefficient (devinterp's SGLD estimate, top; "
        "the band is its spread over chains), a complexity that should rise while the "
        "network memorizes and fall at cleanup; weightwatcher's power-law alpha of each "
        "weight matrix's spectrum (below), alpha < 2 (dashed) being heavy-tailed."
    ),
}


def not_reached(value: Any) -> str:
    """A step for the page: the number, or 'not reached' for None."""
    return "not reached" if value is None else f"{int(value)}"


def _v(key: str, text: str) -> str:
    return f'<span class="value" id="h-{key}">{html.escape(text)}</span>'


def _term(def_id: str, text: str) -> str:
    return f'<a href="#def-{def_id}">{html.escape(text)}</a>'


def _freqs(ks: Sequence[int] | None) -> str:
    return ", ".join(str(int(k)) for k in ks) if ks else "none"


def _phase_row(summary: Mapping[str, Any]) -> str:
    phases = summary.get("phases") or {}
    names = (
        ("memorization", "memorization_end"),
        ("circuit formation", "circuit_formation_end"),
        ("cleanup", "cleanup_end"),
    )
    parts, start = [], "0"
    for label, key in names:
        end = phases.get(key)
        parts.append(f"{html.escape(label)} {html.escape(start)}&ndash;{_v(key, not_reached(end))}")
        start = not_reached(end)
    where = summary.get("phase_resolution")
    return "; ".join(parts) + (f" <small>(from {html.escape(str(where))})</small>" if where else "")


def _key_freq_row(summary: Mapping[str, Any]) -> str:
    if summary.get("key_freqs") is None:
        why = str(summary.get("fourier_measures") or "the Fourier measures do not apply")
        return _v("key_freqs", "none") + f" <small>({html.escape(why)})</small>"
    rule = str(summary.get("key_freq_rule") or "given")
    at = summary.get("key_freq_evidence_step")
    out = _v("key_freqs", _freqs(summary["key_freqs"]))
    out += f", chosen by the {_v('key_freq_rule', rule)} rule"
    out += f" at step {int(at)}" if at is not None else ""
    check = summary.get("key_freq_check") or {}
    if "sufficient" in check:
        verdict = "sufficient" if check["sufficient"] else "not sufficient"
        out += (
            f"; restricted to them the training loss is {check['restricted_train_loss']:.3g} "
            f"(full {check['train_loss']:.3g}): {_v('key_freq_sufficient', verdict)}"
        )
    others = {
        r: ks for r, ks in (summary.get("key_freqs_by_rule") or {}).items() if r != rule and ks
    }
    if others:
        same = [r for r, ks in others.items() if list(ks) == list(summary["key_freqs"])]
        differ = [f"{r}: {_freqs(ks)}" for r, ks in others.items() if r not in same]
        text = f"the {', '.join(same)} rule{'s' if len(same) > 1 else ''} agree" if same else ""
        text += ("; " if same and differ else "") + ("; ".join(differ) if differ else "")
        out += f" <small>({html.escape(text)})</small>"
    src = summary.get("key_freqs_source")
    if rule == "given" and src:
        out += f" <small>({html.escape(str(src))})</small>"
    return out


def headline(summary: Mapping[str, Any], run_name: str = "") -> str:
    """The headline panel (HTML) of a run's analysis, from its ``summary.json``."""
    task = str(summary.get("task") or "?")
    p = summary.get("p")
    task_cell = _v("task", task) + (f", p = {_v('p', str(int(p)))}" if p is not None else "")
    basis = summary.get("fourier_basis")
    if isinstance(basis, Mapping) and basis.get("name"):
        structure = summary.get("fourier_structure") or basis.get("structure")
        pairs = f"; {basis['pairs']}" if basis.get("group") == "multiplicative" else ""
        task_cell += (
            f" <small>(Fourier basis: {_v('fourier_basis', str(basis['name']))}, "
            f"{html.escape(str(structure) + pairs)})</small>"
        )
    elif summary.get("fourier_structure"):
        task_cell += (
            f" <small>(Fourier structure: {html.escape(str(summary['fourier_structure']))})</small>"
        )
    train99, test99 = summary.get("train_99_step"), summary.get("grokking_step")
    delay = None if train99 is None or test99 is None else int(test99) - int(train99)
    landmarks = (
        f"train accuracy &ge; 99% at step {_v('train_99_step', not_reached(train99))}; "
        f"test accuracy &ge; 99% (grokking) at step {_v('grokking_step', not_reached(test99))}"
        f"; delay {_v('grok_delay', not_reached(delay))} steps"
    )
    final = summary.get("final") or {}
    last = []
    if final.get("step") is not None:
        last.append(f"step {_v('final_step', not_reached(final['step']))}")
    for key, label in (("train_acc", "train accuracy"), ("test_acc", "test accuracy")):
        if final.get(key) is not None:
            last.append(f"{label} {_v('final_' + key, f'{float(final[key]):.4f}')}")
    share, clustered = final.get("gen_share"), final.get("frac_clustered")
    if share is not None:
        last.append(
            f"{_term('shares', 'generalizing share')} {_v('final_gen_share', f'{share:.3f}')}"
        )
    if clustered is not None:
        last.append(
            f"{_term('clusters', 'neurons clustered')} "
            f"{_v('final_frac_clustered', f'{clustered:.0%}')}"
        )
    rows = [
        ("task", "Task", task_cell),
        ("landmarks", "Landmarks", landmarks),
        ("phases", "Phases", _phase_row(summary)),
        ("key-freqs", "Key frequencies", _key_freq_row(summary)),
    ]
    body = "\n".join(
        f"<tr><th>{_term(d, label) if d in _DEFINITIONS else html.escape(label)}</th>"
        f"<td>{cell}</td></tr>"
        for d, label, cell in rows
    )
    if last:
        body += f"\n<tr><th>Last checkpoint</th><td>{'; '.join(last)}</td></tr>"
    name = f" of {html.escape(run_name)}" if run_name else ""
    return (
        f'<section class="headline" id="headline">\n<h2>Headline{name}</h2>\n'
        f"<table>\n{body}\n</table>\n"
        f"<p><small>Every number is read from <code>analysis/summary.json</code>; names link "
        f'to their <a href="#definitions">definitions</a>.</small></p>\n</section>'
    )


def definitions() -> str:
    """The definitions section (HTML) that the headline links to."""
    items = []
    for def_id, (term, text) in _DEFINITIONS.items():
        _, anchor = DOCS_ANCHORS[def_id]
        items.append(
            f'<dt id="def-{def_id}">{html.escape(term)}</dt>\n<dd>{html.escape(text)} '
            f"<small>Full definition: <code>{DOCS_PAGE}#{anchor}</code> (the documentation "
            f"site's measures page).</small></dd>"
        )
    return (
        '<section class="definitions" id="definitions">\n<h2>Definitions</h2>\n<dl>\n'
        + "\n".join(items)
        + "\n</dl>\n</section>"
    )
