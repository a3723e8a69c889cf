from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from grokinterp.viz import figures as F

P = 11
N_FREQS = (P - 1) // 2
KEY = [2, 5]
PHASES = {"memorization_end": 1000, "circuit_formation_end": 9000, "cleanup_end": 14000}


def _sig(s: np.ndarray, center: float, width: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.log1p(s) - np.log(center)) / width))


def synthetic_table(n: int = 30) -> pd.DataFrame:
    """A grokking-shaped measures table for p=11: step 0 then log-spaced steps to 20k."""
    steps = np.concatenate([[0], np.geomspace(1, 20000, 60).astype(int)])
    steps = np.unique(steps)[:: max(1, len(np.unique(steps)) // n)][:n]
    assert len(steps) == n and steps[0] == 0
    s = steps.astype(float)
    train_loss = 2.4 * (1 - _sig(s, 300, 0.4)) + 1e-6
    test_loss = np.maximum(2.4 + 10 * _sig(s, 1000, 0.5) - 12.3 * _sig(s, 11000, 0.15), 1e-5)
    t = pd.DataFrame(
        {
            "step": steps,
            "train_loss": train_loss,
            "train_acc": _sig(s, 300, 0.3),
            "test_loss": test_loss,
            "test_acc": _sig(s, 11000, 0.1),
            "restricted_loss": test_loss * (1 - 0.99 * _sig(s, 6000, 0.3)),
            "restricted_loss_all": test_loss,
            "excluded_loss": train_loss + 5 * _sig(s, 6000, 0.3),
            "gini_embed": 0.2 + 0.7 * _sig(s, 10000, 0.2),
            "gini_logit": 0.3 + 0.6 * _sig(s, 10000, 0.2),
            "sum_sq_weights": 1000 - 600 * _sig(s, 9000, 0.3),
            "gen_share": _sig(s, 8000, 0.3),
            "mem_share": 1 - _sig(s, 8000, 0.3),
            "frac_clustered": _sig(s, 9000, 0.3),
        }
    )
    for k in KEY:
        t[f"excluded_loss_k{k}"] = t["excluded_loss"]
    for k in range(1, N_FREQS + 1):
        t[f"embed_norm_k{k}"] = 3.0 + 0.01 * s / 1000 if k in KEY else 1 - 0.9 * _sig(s, 1e4, 0.2)
    return t


def summary(phases: dict | None = None) -> dict:
    return {
        "p": P,
        "key_freqs": KEY,
        "phases": dict(PHASES) if phases is None else phases,
        "grokking_step": 12000,
        "train_99_step": 800,
        "test_99_step": 12000,
    }


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return synthetic_table()


def names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def phase_shapes(fig: go.Figure) -> list[go.layout.Shape]:
    return [s for s in fig.layout.shapes if s.name in {p[0] for p in F.PHASES}]


TIME_SERIES = [F.loss_curves, F.restricted_excluded, F.gini_and_norm, F.logit_shares]


def test_loss_curves(table):
    fig = F.loss_curves(table, summary())
    assert isinstance(fig, go.Figure)
    assert names(fig) == ["train loss", "test loss", "train accuracy", "test accuracy"]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert "step" in fig.layout.xaxis2.title.text and fig.layout.yaxis2.title.text == "accuracy"
    assert fig.layout.title.text
    # step 0 cannot sit on a log axis: it is left out, the other steps are unshifted
    assert list(fig.data[0].x) == list(table["step"][1:])
    shapes = phase_shapes(fig)
    assert [s.name for s in shapes] == ["memorization", "circuit formation", "cleanup"]
    assert [(s.x0, s.x1) for s in shapes] == [(1, 1000), (1000, 9000), (9000, 14000)]
    assert all(s.yref == "paper" and s.y0 == 0 and s.y1 == 1 for s in shapes)


def test_loss_curves_linear_and_without_accuracy(table):
    fig = F.loss_curves(table.drop(columns=["train_acc", "test_acc"]), summary(), log_x=False)
    assert names(fig) == ["train loss", "test loss"]
    assert fig.layout.xaxis.type == "linear"
    assert list(fig.data[0].x) == list(table["step"])
    assert phase_shapes(fig)[0].x0 == 0


@pytest.mark.parametrize("fn", TIME_SERIES)
def test_phase_bands(table, fn):
    assert len(phase_shapes(fn(table, summary()))) == 3
    none = {"memorization_end": None, "circuit_formation_end": None, "cleanup_end": None}
    assert phase_shapes(fn(table, summary(none))) == []
    s = summary()
    del s["phases"]
    assert phase_shapes(fn(table, s)) == []
    partial = {"memorization_end": 1000, "circuit_formation_end": None, "cleanup_end": None}
    shapes = phase_shapes(fn(table, summary(partial)))
    assert [s.name for s in shapes] == ["memorization"]


def test_restricted_excluded(table):
    fig = F.restricted_excluded(table, summary())
    assert names(fig) == [
        "train loss",
        "test loss",
        "restricted loss (test)",
        "excluded loss (train)",
    ]
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "step"
    fig = F.restricted_excluded(table.drop(columns=["train_loss"]), summary())
    assert "train loss" not in names(fig)


def test_gini_and_norm(table):
    fig = F.gini_and_norm(table, summary())
    assert names(fig) == [
        "Gini of embedding freq norms",
        "Gini of logit freq norms",
        "sum of squared weights",
    ]
    assert [t.yaxis for t in fig.data] == ["y", "y", "y2"]
    assert fig.layout.yaxis.title.text and fig.layout.yaxis2.title.text


def test_logit_shares(table):
    fig = F.logit_shares(table, summary())
    assert names(fig) == ["generalizing share", "memorizing share"]
    np.testing.assert_allclose(fig.data[0].y, table["gen_share"])


def test_embed_freq_heatmap(table):
    fig = F.embed_freq_heatmap(table, summary())
    (hm,) = fig.data
    assert isinstance(hm, go.Heatmap)
    z = np.asarray(hm.z)
    assert z.shape == (N_FREQS, len(table))
    np.testing.assert_allclose(z[1], table["embed_norm_k2"])
    assert list(hm.x) == list(table["step"]) and list(hm.y) == list(range(1, N_FREQS + 1))
    ticks = dict(zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext, strict=True))
    assert ticks[2] == "<b>2*</b>" and ticks[5] == "<b>5*</b>" and ticks[3] == "3"
    # without p, the embed_norm_k* columns are found by name
    s = summary()
    del s["p"]
    assert np.asarray(F.embed_freq_heatmap(table, s).data[0].z).shape == (N_FREQS, len(table))


def test_embed_freq_bars(table):
    norms = table[[f"embed_norm_k{k}" for k in range(1, N_FREQS + 1)]].iloc[-1].to_numpy()
    fig = F.embed_freq_bars(norms, KEY)
    key, other = fig.data
    assert (key.name, other.name) == ("key frequencies", "other frequencies")
    assert list(key.x) == KEY and list(other.x) == [1, 3, 4]
    assert key.marker.color != other.marker.color
    np.testing.assert_allclose(key.y, norms[[1, 4]])
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_neuron_clusters():
    f = np.full((7, N_FREQS), 0.01)
    f[0, 1] = f[1, 1] = f[2, 1] = 0.95  # three neurons on key freq 2
    f[3, 2] = 0.9  # one on non-key freq 3
    f[4, 4] = 0.5  # below threshold
    f[5] = np.nan  # a dead neuron
    cluster = np.array([2, 2, 2, 3, -1, -1, -1])  # as fourier.neuron_clusters assigns them
    fig = F.neuron_clusters(f, cluster, KEY, threshold=0.85)
    bars, heat = fig.data
    assert list(bars.x) == ["2", "3", "unclustered"]
    assert list(bars.y) == [3, 1, 3]
    colors = list(bars.marker.color)
    assert colors[0] == F.KEY_COLOR and colors[1] != F.KEY_COLOR and colors[2] == F.OTHER_COLOR
    assert np.asarray(heat.z).shape == (7, N_FREQS)
    assert list(heat.y)[:4] == ["0", "1", "2", "3"]
    assert "4 of 7" in fig.layout.title.text
    with pytest.raises(ValueError, match="d_mlp, n_freqs"):
        F.neuron_clusters(np.zeros(5), np.zeros(5), KEY)
    with pytest.raises(ValueError, match="7 neurons"):
        F.neuron_clusters(f, cluster[:3], KEY)


def test_attention_patterns():
    rng = np.random.default_rng(0)
    pat = rng.dirichlet(np.ones(3), size=(6, 4, 3))  # batch, heads, q, k
    fig = F.attention_patterns(pat)
    assert len(fig.data) == 4 and all(isinstance(t, go.Heatmap) for t in fig.data)
    np.testing.assert_allclose(fig.data[2].z, pat.mean(axis=0)[2])
    assert list(fig.data[0].x) == ["a", "b", "="] and list(fig.data[0].y) == ["a", "b", "="]
    assert [a.text for a in fig.layout.annotations] == [f"head {h}" for h in range(4)]
    assert "averaged" in fig.layout.title.text
    # only the "=" query, no batch
    fig = F.attention_patterns(pat.mean(axis=0)[:, 2:, :])
    assert list(fig.data[0].y) == ["="]
    with pytest.raises(ValueError, match="labels"):
        F.attention_patterns(np.ones((4, 3, 2)))


def test_neuron_spectrum():
    basis = ["const"] + [f"{t} {k}" for k in range(1, N_FREQS + 1) for t in ("cos", "sin")]
    spec = np.random.default_rng(0).random((P, P))
    fig = F.neuron_spectrum(spec, basis, neuron=7)
    (hm,) = fig.data
    assert np.asarray(hm.z).shape == (P, P)
    assert list(hm.x) == basis and list(hm.y) == basis
    assert "Neuron 7" in fig.layout.title.text
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="expected"):
        F.neuron_spectrum(spec[:5], basis, neuron=7)


@pytest.mark.parametrize(
    ("fn", "column"),
    [
        (F.loss_curves, "test_loss"),
        (F.restricted_excluded, "restricted_loss"),
        (F.restricted_excluded, "excluded_loss"),
        (F.gini_and_norm, "gini_logit"),
        (F.gini_and_norm, "sum_sq_weights"),
        (F.logit_shares, "mem_share"),
        (F.embed_freq_heatmap, "embed_norm_k3"),
    ],
)
def test_missing_column(table, fn, column):
    with pytest.raises(ValueError, match=f"'{column}'"):
        fn(table.drop(columns=[column]), summary())


def test_unsorted_table_is_sorted(table):
    fig = F.logit_shares(table.iloc[::-1], summary())
    assert list(fig.data[0].x) == list(table["step"])


def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    pat = torch.softmax(torch.randn(2, 4, 3, 3), dim=-1).to(torch.bfloat16)
    fig = F.attention_patterns(pat)
    assert len(fig.data) == 4


def test_missing_many_columns_message(table):
    cols = [c for c in table.columns if c.startswith("embed_norm_k")]
    with pytest.raises(ValueError, match="'embed_norm_k1'.*and 2 more"):
        F.embed_freq_heatmap(table.drop(columns=cols + ["train_loss"]), {"p": 15})


def test_norm_vs_logit_strength(table):
    t = table.assign(
        gen_logit_norm=np.linspace(0, 5, len(table)), mem_logit_norm=np.linspace(5, 1, len(table))
    )
    fig = F.norm_vs_logit_strength(t, {})
    assert [tr.name for tr in fig.data] == ["memorizing circuit", "generalizing circuit"]
    assert np.allclose(fig.data[1].y, np.sqrt(t.sort_values("step")["sum_sq_weights"]))
    assert np.allclose(fig.data[0].x, t.sort_values("step")["mem_logit_norm"])
    with pytest.raises(ValueError, match="gen_logit_norm"):
        F.norm_vs_logit_strength(table, {})


def test_embed_freq_scrub_has_one_slider_step_per_checkpoint():
    table = pd.DataFrame(
        {
            "step": [0, 10, 20],
            "embed_norm_k1": [1.0, 2.0, 3.0],
            "embed_norm_k2": [0.5, 0.4, 0.1],
            "embed_norm_k3": [1.0, 1.0, 5.0],
        }
    )
    fig = F.embed_freq_scrub(table, {"key_freqs": [3]})
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["0", "10", "20"]
    assert slider.active == 2  # opens at the last checkpoint
    key, other = fig.data
    assert list(key.x) == ["3"] and list(key.y) == [5.0] and list(other.y) == [3.0, 0.1]
    assert list(fig.layout.xaxis.categoryarray) == ["1", "2", "3"]  # frequencies in order
    # the step at 10 restyles both traces to that checkpoint's norms
    ys = slider.steps[1].args[0]["y"]
    assert ys == [[1.0], [2.0, 0.4]]
    with pytest.raises(ValueError, match="embed_norm_k"):
        F.embed_freq_scrub(table[["step"]], {"key_freqs": [3]})


def test_neuron_cluster_scrub_counts_per_checkpoint():
    sizes = pd.DataFrame(
        {
            "step": [0, 0, 5, 5],
            "cluster": [-1, 2, 2, 3],
            "neurons": [10, 2, 7, 5],
            "n_freqs": [3, 3, 3, 3],
        }
    )
    fig = F.neuron_cluster_scrub(sizes, key_freqs=[2])
    key, other = fig.data
    assert list(key.x) == ["2"] and list(other.x) == ["1", "3", "none"]
    assert list(key.y) == [7.0] and list(other.y) == [0.0, 5.0, 0.0]  # step 5
    assert fig.layout.sliders[0].steps[0].args[0]["y"] == [[2.0], [0.0, 0.0, 10.0]]


def test_key_freq_evidence_figure():
    rows = [
        {"k": k, "key": k in (2, 5), "excluded_loss": 0.1 * r, "excluded_ratio": r,
         "restricted_loss_with": 0.01, "restricted_loss_without": 0.02 if k in (2, 5) else 0.01,
         "embed_norm": 3.0 if k == 4 else 1.0, "logit_norm": 2.0 if k in (2, 5) else 0.1}
        for k, r in zip(range(1, 7), [1.0, 500.0, 1.1, 1.0, 80.0, 1.0], strict=True)
    ]  # fmt: skip
    summary = {
        "key_freq_evidence": rows,
        "key_freq_rule": "causal",
        "key_freq_evidence_step": 900,
        "key_freq_check": {"exclusion_factor": 10.0},
    }
    fig = F.key_freq_evidence(summary)
    bars = {t.name: t for t in fig.data}
    key = next(t for n, t in bars.items() if n.startswith("key"))
    assert list(key.x) == [2, 5] and list(key.y) == [500.0, 80.0]
    assert list(bars["W_E spectrum"].y) == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1, 1 / 3, 1 / 3])
    assert any(s.y0 == 10.0 for s in fig.layout.shapes)  # the factor, dashed
    assert "step 900" in fig.layout.title.text and "causal" in fig.layout.title.text
    with pytest.raises(ValueError, match="key_freq_evidence"):
        F.key_freq_evidence({})


# --------------------------------------------------------------------------- readable figures
# (issue 32, item 3): a zoom on the grokking window, spectra on a log scale cut to what
# carries the power, trajectories with directions and step labels, phase bands labelled

NANDA_PHASES = {"memorization_end": 1360, "circuit_formation_end": 5560, "cleanup_end": 7260}


def nanda_like() -> tuple[pd.DataFrame, dict]:
    steps = np.arange(0, 25001, 10)
    s = steps.astype(float)
    t = pd.DataFrame(
        {
            "step": steps,
            "train_loss": 4.7 * np.exp(-s / 150) + 1e-7,
            "test_loss": 4.7 + 5 * (1 - np.exp(-s / 500)) - 9.6 * _sig(s, 6500, 0.05),
            "train_acc": np.minimum(1, s / 140),
            "test_acc": _sig(s, 6500, 0.05),
        }
    )
    return t, {"phases": dict(NANDA_PHASES), "grokking_step": 6490, "train_99_step": 140}


def test_grokking_window():
    steps = np.arange(0, 25001, 10)
    assert F.grokking_window({"phases": NANDA_PHASES}, steps) == (1360 - 885, 7260 + 885)
    # no cleanup end: up to the grokking step
    phases = {**NANDA_PHASES, "cleanup_end": None}
    assert F.grokking_window({"phases": phases, "grokking_step": 6360}, steps) == (610, 7110)
    assert F.grokking_window({"phases": {**phases, "memorization_end": None}}, steps) is None
    assert F.grokking_window({}, steps) is None
    assert F.grokking_window({"phases": NANDA_PHASES}, np.arange(0, 1001, 10)) is None
    # within the run
    assert F.grokking_window({"phases": NANDA_PHASES}, np.arange(0, 8001, 10)) == (475, 8000)


def test_loss_curves_zoom_on_the_grokking_window():
    t, s = nanda_like()
    fig = F.loss_curves(t, s)
    assert fig.layout.xaxis.type == "log"  # the whole run, as before
    zoom = [ax for ax in (fig.layout.xaxis2, fig.layout.xaxis4) if ax.type == "linear"]
    assert len(zoom) == 2 and all(tuple(ax.range) == (475, 8145) for ax in zoom)
    assert "grokking window: steps 475-8145 (linear axis)" in " ".join(
        a.text for a in fig.layout.annotations
    )
    shown = [tr.name for tr in fig.data if tr.showlegend is not False]
    assert shown == ["train loss", "test loss", "train accuracy", "test accuracy"]
    zoomed = [tr for tr in fig.data if tr.showlegend is False]
    assert len(zoomed) == 4 and min(zoomed[0].x) <= 475 and max(zoomed[0].x) >= 8145
    assert max(zoomed[0].x) <= 8145 + 10 and min(zoomed[0].x) >= 475 - 10  # the window only
    bands = [sh for sh in phase_shapes(fig) if sh.xref == "x2"]
    assert [(b.name, b.x0, b.x1) for b in bands] == [
        ("memorization", 475, 1360),
        ("circuit formation", 1360, 5560),
        ("cleanup", 5560, 7260),
    ]
    # on the linear zoom the wide bands carry their name across the top
    assert [b.label.text for b in bands][1:] == ["circuit formation", "cleanup"]
    for single in (F.loss_curves(t, s, zoom=False), F.loss_curves(t, s, log_x=False)):
        assert len(single.data) == 4 and "xaxis3" not in single.layout.to_plotly_json()


def test_narrow_phase_bands_get_an_upright_label():
    t, s = nanda_like()
    fig = F.loss_curves(t, s, zoom=False)
    labels = {a.text: a for a in fig.layout.annotations if (a.name or "").startswith("phase")}
    # on the log axis circuit formation (1360-5560) is too narrow to write across
    assert labels["circuit formation"].textangle == -90
    assert labels["circuit formation"].x == pytest.approx((np.log10(1360) + np.log10(5560)) / 2)


def _spectrum(p: int, k: int) -> tuple[np.ndarray, list[str]]:
    """A neuron whose power sits in frequency k (cos k, sin k of a and b, const), plus a
    floor of noise 1e-6 of the peak everywhere."""
    names = ["const"] + [f"{t} {j}" for j in range(1, (p - 1) // 2 + 1) for t in ("cos", "sin")]
    s = np.full((p, p), 1e-2)
    hot = [0, 2 * k - 1, 2 * k]
    for i in hot:
        for j in hot:
            s[i, j] = 1e4 if (i, j) != (0, 0) else 0.0
    return s, names


def test_neuron_spectrum_zooms_on_the_frequencies_with_power():
    s, names = _spectrum(23, 4)
    fig = F.neuron_spectrum(s, names, neuron=7, why="chosen because it is the test's")
    (hm,) = fig.data
    assert list(hm.x) == ["const", "cos 4", "sin 4"] == list(hm.y)
    # every shown component has its tick label (cos 1 / sin 1 are not skipped when shown)
    assert list(fig.layout.xaxis.tickvals) == list(hm.x) == list(fig.layout.xaxis.ticktext)
    assert list(fig.layout.yaxis.ticktext) == list(hm.y)
    # log colour scale over 4 decades below the peak; the hover keeps the raw power
    z = np.asarray(hm.z, dtype=float)
    assert z.max() == pytest.approx(4.0) and z.min() == pytest.approx(0.0)  # const x const
    assert np.asarray(hm.customdata, dtype=float)[1, 1] == 1e4
    assert list(hm.colorbar.ticktext) == ["1e0", "1e1", "1e2", "1e3", "1e4"]
    title = " ".join(re.sub(r"<[^>]+>", " ", fig.layout.title.text).split())
    assert "3 of 23 components" in title and "log colour scale" in title
    assert "Chosen because it is the test's" in title
    starred = F.neuron_spectrum(s, names, neuron=7, key_freqs=[4, 9])
    assert list(starred.layout.xaxis.ticktext) == ["const", "<b>cos 4*</b>", "<b>sin 4*</b>"]
    assert list(starred.data[0].x) == ["const", "cos 4", "sin 4"]  # the data keep the names
    long_why = F.neuron_spectrum(s, names, neuron=7, why="word " * 40).layout.title.text
    assert long_why.count("<sup>") >= 3  # a long reason is wrapped, not cut off
    whole = F.neuron_spectrum(s, names, neuron=7, zoom=False)
    assert list(whole.data[0].x) == names


def test_spectrum_components_keep_cos_1_and_sin_1():
    s, names = _spectrum(11, 1)
    s[2 * 3 - 1, 0] = s[0, 2 * 3] = 2000.0  # frequency 3: over 1% of frequency 1's power
    idx = F.spectrum_components(s, names)
    assert [names[i] for i in idx] == ["const", "cos 1", "sin 1", "cos 3", "sin 3"]


def test_norm_vs_logit_strength_has_arrows_and_step_labels(table):
    t = table.assign(
        gen_logit_norm=np.linspace(0, 5, len(table)), mem_logit_norm=np.linspace(5, 1, len(table))
    )
    steps = list(t.sort_values("step")["step"])
    fig = F.norm_vs_logit_strength(t, {"phases": {"memorization_end": 100}, "grokking_step": 250})
    for tr in fig.data:
        assert tr.marker.angleref == "previous"
        assert tr.marker.symbol[0] == "circle" and set(tr.marker.symbol[1:]) == {"arrow"}
        labelled = {steps[i]: x for i, x in enumerate(tr.text) if x}
        near = lambda at: min(steps, key=lambda s: abs(s - at))  # noqa: E731
        assert set(labelled) == {steps[0], steps[-1], near(100), near(250)}
        assert labelled[steps[-1]] == f"step {steps[-1]}"


def test_symmetric_basis_figures_name_representations_not_frequencies():
    """An S_n run's figures label each component by its partition ("representation" on the
    axis), a Z_p run's by its frequency k: the labels come from summary["fourier_basis"]."""
    reps = {"1": "(4,1)", "2": "(3,2)", "3": "(3,1,1)"}
    sym = {"key_freqs": [1, 3], "fourier_basis": {"group": "symmetric", "representations": reps}}
    table = pd.DataFrame(
        {"step": [0, 10], **{f"embed_norm_k{k}": [1.0, float(k)] for k in (1, 2, 3)}}
    )
    heat = F.embed_freq_heatmap(table, sym)
    assert heat.layout.yaxis.title.text.startswith("representation")
    assert list(heat.layout.yaxis.ticktext) == ["<b>(4,1)*</b>", "(3,2)", "<b>(3,1,1)*</b>"]
    assert "(4,1), (3,1,1)" in heat.layout.title.text
    bars = F.embed_freq_bars([1.0, 2.0, 3.0], [1, 3], summary=sym)
    assert [t.name for t in bars.data] == ["key representations", "other representations"]
    assert list(bars.layout.xaxis.ticktext) == ["(4,1)", "(3,2)", "(3,1,1)"]
    scrub = F.embed_freq_scrub(table, sym)
    assert list(scrub.layout.xaxis.categoryarray) == ["(4,1)", "(3,2)", "(3,1,1)"]
    assert list(scrub.data[0].x) == ["(4,1)", "(3,1,1)"]
    losses = {"excluded_loss": 1.0, "excluded_ratio": 2.0, "restricted_loss_with": 0.1}
    rows = [{"k": k, "key": k != 2, "restricted_loss_without": 0.2, **losses} for k in (1, 2, 3)]
    ev = F.key_freq_evidence({**sym, "key_freq_evidence": rows})
    assert ev.layout.xaxis2.title.text.startswith("representation")
    assert list(ev.layout.xaxis2.ticktext) == ["<b>(4,1)*</b>", "(3,2)", "<b>(3,1,1)*</b>"]
    # the cyclic basis keeps frequencies
    cyc = {"key_freqs": [1], "fourier_basis": {"group": "cyclic"}}
    assert F.embed_freq_heatmap(table, cyc).layout.yaxis.title.text.startswith("frequency k")
    assert F.embed_freq_bars([1.0, 2.0], [1], summary=cyc).data[0].name == "key frequencies"
