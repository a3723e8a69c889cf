from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from helpers import _chromium_dom, _js_errors, needs_chromium

from grokinterp.viz import figures as F
from grokinterp.viz import headline as H
from grokinterp.viz import report as R

NOTE = "skipped: the measures table has no column 'restricted_loss' <not html>"


def some_figures() -> dict[str, go.Figure | str]:
    steps = np.array([0, 1, 2, 5, 10, 50, 100, 500, 1000, 2000])
    s = steps.astype(float)
    table = pd.DataFrame(
        {
            "step": steps,
            "train_loss": 2.4 / (1 + s / 10) + 1e-6,
            "test_loss": 2.4 + 5 * (s > 20) - 7.3 * (s > 900),
            "train_acc": np.minimum(1, s / 50),
            "test_acc": (s > 900).astype(float),
        }
    )
    summary = {
        "p": 11,
        "key_freqs": [2, 5],
        "phases": {"memorization_end": 50, "circuit_formation_end": 500, "cleanup_end": 1000},
    }
    rng = np.random.default_rng(0)
    basis = ["const"] + [f"{t} {k}" for k in range(1, 6) for t in ("cos", "sin")]
    return {
        "loss_curves": F.loss_curves(table, summary),
        "restricted_excluded": NOTE,
        "embed_freq_bars": F.embed_freq_bars(rng.random(5), [2, 5]),
        "attention": F.attention_patterns(rng.dirichlet(np.ones(3), size=(4, 4, 3))),
        "neuron_spectrum": F.neuron_spectrum(rng.random((11, 11)), basis, neuron=3),
        "neuron_clusters": F.neuron_clusters(
            rng.dirichlet(np.full(5, 0.1), size=16), rng.integers(-1, 6, size=16), [2, 5]
        ),
    }


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    index = R.write_report(some_figures(), out, title="Run <x> report")
    assert index == out / "index.html"
    return out


def html_files(out: Path) -> list[Path]:
    return sorted(out.glob("*.html"))


def test_files(report_dir):
    figs = [n for n, v in some_figures().items() if not isinstance(v, str)]
    assert {p.name for p in html_files(report_dir)} == {f"{n}.html" for n in figs} | {"index.html"}
    assert [p.name for p in report_dir.glob("*.js")] == [R.PLOTLY_JS]
    assert not list(report_dir.glob(".*"))  # no temporary files left behind


def test_plotlyjs_written_once_not_embedded(report_dir):
    js = report_dir / R.PLOTLY_JS
    size = js.stat().st_size
    assert size > 1_000_000
    head = js.read_text()[:2000]
    for page in html_files(report_dir):
        text = page.read_text()
        assert page.stat().st_size < size / 20, page.name
        assert head[:500] not in text
        assert text.count(f'<script charset="utf-8" src="{R.PLOTLY_JS}"></script>') == 1


def test_no_remote_references(report_dir):
    for page in html_files(report_dir):
        text = page.read_text()
        assert "cdn" not in text.lower(), page.name
        srcs = re.findall(r"""<(?:script|link|img)[^>]*(?:src|href)=["']([^"']+)""", text)
        assert srcs and all(not re.match(r"(https?:)?//", s) for s in srcs), (page.name, srcs)


def test_index_content(report_dir):
    index = (report_dir / "index.html").read_text()
    assert "<title>Run &lt;x&gt; report</title>" in index
    assert "skipped: the measures table has no column" in index
    assert "&lt;not html&gt;" in index  # notes are escaped
    for name in ("loss_curves", "embed_freq_bars", "attention", "neuron_clusters"):
        assert f'id="fig-{name}"' in index
        assert f'href="{name}.html"' in index
    assert '<pre id="js-errors" hidden></pre>' in index
    # the error recorder runs before plotly.js is loaded
    assert index.index("js-errors") < index.index(f'src="{R.PLOTLY_JS}"')


def test_rewrite_keeps_one_plotlyjs(tmp_path):
    R.write_report({"bars": F.embed_freq_bars([1.0, 2.0], [1])}, tmp_path, "first")
    before = (tmp_path / R.PLOTLY_JS).stat().st_mtime_ns
    R.write_report({"bars": F.embed_freq_bars([2.0, 1.0], [2])}, tmp_path, "again")
    assert (tmp_path / R.PLOTLY_JS).stat().st_mtime_ns == before  # same source: not rewritten
    assert [p.name for p in tmp_path.glob("*.js")] == [R.PLOTLY_JS]
    assert "again" in (tmp_path / "index.html").read_text()
    R.write_report({"bars": "skipped: no data"}, tmp_path, "third")
    assert not (tmp_path / "bars.html").exists()  # no stale figure page behind a note


@pytest.mark.parametrize("name", ["index", "a/b", "", "../x", "has space"])
def test_bad_names(tmp_path, name):
    with pytest.raises(ValueError):
        R.write_report({name: go.Figure()}, tmp_path, "t")


def test_bad_value(tmp_path):
    with pytest.raises(TypeError, match="'x'"):
        R.write_report({"x": 3}, tmp_path, "t")  # type: ignore[dict-item]


@needs_chromium
def test_index_renders_in_headless_chromium(report_dir, tmp_path):
    dom = _chromium_dom((report_dir / "index.html").as_uri(), tmp_path)
    assert _js_errors(dom) == ""
    found = re.findall(r'<section class="figure" id="sec-([^"]+)">(.*?)</section>', dom, re.S)
    sections = dict(found)
    figs = [n for n, v in some_figures().items() if not isinstance(v, str)]
    assert sorted(sections) == sorted(figs)
    for name, body in sections.items():
        assert "plot-container" in body and 'class="main-svg"' in body, name
    assert 'id="sec-restricted_excluded"' in dom and "skipped:" in dom


@needs_chromium
def test_error_recorder_reports_missing_plotlyjs(tmp_path):
    out = tmp_path / "broken"
    R.write_report({"bars": F.embed_freq_bars([1.0, 2.0], [1])}, out, "broken")
    (out / R.PLOTLY_JS).unlink()
    errors = _js_errors(_chromium_dom((out / "index.html").as_uri(), tmp_path))
    assert "failed to load" in errors and "Plotly is not defined" in errors


def test_export_static_without_kaleido(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "_kaleido_installed", lambda: False)
    assert not R.static_export_available()
    with pytest.raises(RuntimeError, match="pip install kaleido") as e:
        R.export_static(go.Figure(), tmp_path / "f.png")
    assert "apt-get install chromium" in str(e.value)
    assert not (tmp_path / "f.png").exists()


def test_export_static_without_browser(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "_kaleido_installed", lambda: True)
    monkeypatch.setattr(R, "_find_browser", lambda: None)
    with pytest.raises(RuntimeError, match="no Chromium-based browser.*apt-get install chromium"):
        R.export_static(go.Figure(), tmp_path / "f.svg")


def test_export_static_bad_suffix(tmp_path):
    with pytest.raises(ValueError, match=".gif"):
        R.export_static(go.Figure(), tmp_path / "f.gif")


@pytest.mark.skipif(not R.static_export_available(), reason="kaleido or Chromium not installed")
def test_export_static_svg(tmp_path):
    out = R.export_static(F.embed_freq_bars([1.0, 2.0, 3.0], [2]), tmp_path / "bars.svg")
    assert out.read_text().lstrip().startswith("<svg")


def test_headline_captions_and_footer(tmp_path):
    figs = {"bars": F.embed_freq_bars([1.0, 2.0], [1]), "skipped": "skipped: <why>"}
    index = R.write_report(
        figs,
        tmp_path,
        "t",
        headline='<section id="headline">HEAD</section>',
        captions={"bars": "look at <the> red bar", "skipped": "never mind"},
        footer='<section id="foot">FOOT</section>',
    ).read_text()
    # the headline comes first, the footer last; captions are escaped text under the heading
    assert index.index("HEAD") < index.index("<nav>") < index.index('id="sec-bars"')
    assert index.index('id="sec-bars"') < index.index("FOOT")
    assert '<p class="caption">look at &lt;the&gt; red bar</p>' in index
    assert index.index("look at") < index.index('id="fig-bars"')
    assert "look at &lt;the&gt; red bar" in (tmp_path / "bars.html").read_text()  # alone too


QUICK = Path(__file__).resolve().parents[2] / "checkpoints" / "quick"


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory) -> tuple[Path, dict]:
    """The shipped quick run, analyzed with figures (its tables are up to date, so only the
    figures are drawn)."""
    from grokinterp import Run, analyze

    run = tmp_path_factory.mktemp("quick") / "quick"
    shutil.copytree(QUICK, run, ignore=shutil.ignore_patterns("figures"))
    analyze(Run(run), progress=False, static=False)  # a Run as well as a path
    summary = json.loads((run / "analysis" / "summary.json").read_text())
    return run / "analysis" / "figures" / "index.html", summary


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment)).strip()


@needs_chromium
def test_the_headline_of_a_real_report_shows_summary_json(quick_report, tmp_path):
    index, summary = quick_report
    dom = _chromium_dom(index.as_uri(), tmp_path)
    assert _js_errors(dom) == ""
    shown = dict(re.findall(r'<span class="value" id="h-([^"]+)">([^<]*)</span>', dom))
    step = lambda v: "not reached" if v is None else str(int(v))  # noqa: E731
    phases = summary["phases"]
    expected = {
        "task": summary["task"],
        "p": str(summary["p"]),
        "train_99_step": step(summary["train_99_step"]),
        "grokking_step": step(summary["grokking_step"]),
        "grok_delay": step(summary["grokking_step"] - summary["train_99_step"]),
        "memorization_end": step(phases["memorization_end"]),
        "circuit_formation_end": step(phases["circuit_formation_end"]),
        "cleanup_end": step(phases["cleanup_end"]),
        "key_freqs": ", ".join(str(k) for k in summary["key_freqs"]),
        "key_freq_rule": summary["key_freq_rule"],
        "final_step": step(summary["final"]["step"]),
        "final_test_acc": f"{summary['final']['test_acc']:.4f}",
    }
    assert {k: shown.get(k) for k in expected} == expected
    # the headline is the first thing on the page, before the figures
    assert dom.index('id="headline"') < dom.index('<section class="figure"')
    # every figure has its caption, read as rendered text
    sections = dict(
        re.findall(r'<section class="figure" id="sec-([^"]+)">(.*?)</section>', dom, re.S)
    )
    assert len(sections) == 13
    for name, body in sections.items():
        caption = re.search(r'<p class="caption">(.*?)</p>', body, re.S)
        assert caption and _text(caption.group(1)) == H.CAPTIONS[name], name
    # the headline's links land on definitions on the same page
    targets = set(re.findall(r'href="#(def-[^"]+)"', dom))
    assert targets and targets <= set(re.findall(r'id="(def-[^"]+)"', dom))
    # the fixed figures say what they show
    # the SVG text, without the zero-width spaces plotly puts between lines
    drawn = {k: re.sub(r"\s|\u200b|<[^>]+>", "", v).lower() for k, v in sections.items()}
    assert "logcolourscale" in drawn["neuron_spectrum"]
    assert "chosenastheneuronwiththelargestactivationvariance" in drawn["neuron_spectrum"]
    keys = "|".join(str(k) for k in summary["key_freqs"])
    assert re.search(rf"(cos|sin)({keys})\*", drawn["neuron_spectrum"])  # key ones starred
    assert "arrowspointthewaytrainingwent" in drawn["norm_vs_logit_strength"]
    assert "grokkingwindow:steps" in drawn["loss_curves"]


def test_loss_curves_are_drawn_from_every_logged_step(monkeypatch):
    from grokinterp import Run
    from grokinterp.viz import run_report

    run = Run(QUICK)
    table = pd.read_csv(QUICK / "analysis" / "measures.csv")
    curves = run_report._curves(run, table)
    assert len(curves) == len(run.metrics) > 10 * len(table)  # metrics.jsonl, not checkpoints
    assert list(curves.columns) == ["step", "train_loss", "test_loss", "train_acc", "test_acc"]
    sparse = run.metrics.iloc[::100]  # fewer logged rows than checkpoints: the table
    monkeypatch.setattr(Run, "metrics", property(lambda self: sparse))
    assert run_report._curves(run, table) is table
