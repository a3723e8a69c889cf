"""The report's headline panel, captions and definitions (issue 32, item 3).

The end-to-end check (a shipped run analyzed, the page rendered in headless Chromium, the
headline's numbers read back and compared with summary.json) is in test_report.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grokinterp.viz import headline as H

DOCS = Path(__file__).resolve().parents[2] / "docs" / "measures.md"


def values(page: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="value" id="h-([^"]+)">([^<]*)</span>', page))


SUMMARY = {
    "p": 47,
    "task": "add",
    "key_freqs": [3, 8],
    "key_freq_rule": "causal",
    "key_freqs_by_rule": {"causal": [3, 8], "embed": [3, 8], "logit": [3, 8, 20]},
    "key_freq_check": {"train_loss": 1e-7, "restricted_train_loss": 5e-8, "sufficient": True},
    "key_freq_evidence_step": 3000,
    "fourier_structure": "sum",
    "phases": {"memorization_end": 45, "circuit_formation_end": 1500, "cleanup_end": None},
    "phase_resolution": "metrics.jsonl (test loss every 10 steps)",
    "grokking_step": 2160,
    "train_99_step": 45,
    "final": {"step": 3000.0, "train_acc": 1.0, "test_acc": 0.99, "gen_share": 0.98},
}


def test_headline_numbers():
    v = values(H.headline(SUMMARY, "quick"))
    assert v["task"] == "add" and v["p"] == "47"
    assert (v["train_99_step"], v["grokking_step"], v["grok_delay"]) == ("45", "2160", "2115")
    assert (v["memorization_end"], v["circuit_formation_end"]) == ("45", "1500")
    assert v["cleanup_end"] == "not reached"
    assert v["key_freqs"] == "3, 8" and v["key_freq_rule"] == "causal"
    assert v["key_freq_sufficient"] == "sufficient"
    assert (v["final_step"], v["final_test_acc"], v["final_gen_share"]) == (
        "3000",
        "0.9900",
        "0.980",
    )


def test_headline_says_which_rules_agree_and_which_differ():
    page = H.headline(SUMMARY)
    assert "the embed rule agree" in page and "logit: 3, 8, 20" in page


def test_headline_of_a_run_that_did_not_grok_or_has_no_fourier_measures():
    s = {
        "task": "mul",
        "p": 13,
        "key_freqs": None,
        "fourier_measures": "not computed: mul has no cyclic structure <b>",
        "phases": {"memorization_end": None, "circuit_formation_end": None, "cleanup_end": None},
        "grokking_step": None,
        "train_99_step": 20,
    }
    page = H.headline(s)
    v = values(page)
    assert v["grokking_step"] == v["grok_delay"] == v["memorization_end"] == "not reached"
    assert v["key_freqs"] == "none" and "mul has no cyclic structure &lt;b&gt;" in page
    assert "None" not in page


def test_every_headline_link_has_a_definition():
    page = H.headline(SUMMARY) + H.definitions()
    targets = set(re.findall(r'href="#(def-[^"]+)"', page))
    assert targets and targets <= set(re.findall(r'id="(def-[^"]+)"', page))


def test_captions_name_the_report_figures():
    # (test_report's end-to-end check: every figure section of a real report has one)
    assert set(H.CAPTIONS) == {
        "loss_curves", "restricted_excluded", "logit_shares", "norm_vs_logit_strength",
        "gini_and_norm", "embed_freq_heatmap", "key_freq_evidence", "embed_freq_bars",
        "attention_patterns", "neuron_clusters", "neuron_spectrum", "embed_freq_scrub",
        "neuron_cluster_scrub", "complexity",
    }  # fmt: skip


def test_docs_anchors_are_the_headings_of_docs_measures():
    toc = pytest.importorskip("markdown.extensions.toc", reason="MkDocs' markdown")
    headings = re.findall(r"^## (.+)$", DOCS.read_text(encoding="utf-8"), re.M)
    # MkDocs slugs a heading's text as rendered: inline code loses its backticks
    slugs = {toc.slugify(h.replace("`", ""), "-"): h for h in headings}
    for def_id, (heading, anchor) in H.DOCS_ANCHORS.items():
        assert heading in headings, (def_id, heading)
        assert slugs.get(anchor) == heading, (def_id, anchor, sorted(slugs))
    assert set(H.DOCS_ANCHORS) == set(re.findall(r'id="def-([^"]+)"', H.definitions()))
