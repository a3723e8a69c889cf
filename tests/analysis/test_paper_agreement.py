"""Agreement with the progress-measures paper's own code (Nanda et al. 2023).

Two checks:

* on a small grid, grokinterp's restricted and excluded loss equal an independent
  implementation of the definitions in the paper's released code (``calculate_trig_loss``
  and ``calculate_excluded_loss`` in ``transformers.py``, ``test_logits`` in ``helpers.py``
  of github.com/mechanistic-interpretability-grokking/progress-measures-paper at commit
  23d2c64dd1f8a5ca65efaf27e15c2b2cd47dedf1): the logits (all pairs x classes) are
  projected on the 2D Fourier terms cos(w(a+b)) and sin(w(a+b)) built as outer products of
  the 1D basis, and the restricted logits get back the batch mean of the part removed;
* on three of that repository's ``saved_runs`` (not committed: size and license; set
  GROKINTERP_PAPER_RUNS to a folder holding them to run it), grokinterp's numbers equal
  reference numbers recorded in this session from the paper's functions, evaluated on
  logits of the paper's own architecture (its weight layout, float32 forward, then float64).
  One deliberate difference: the released ``cross_entropy_high_precision`` computes the
  log-softmax in float32 (its comment says float64), so below ~1e-7 it reads 0 or a
  multiple of ~6e-8 (train loss of mod_addition_no_wd: 0.0; of wd_10-1: 3.1e-10 where the
  float64 value is 9.2e-9). The references use float64, as grokinterp does.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from grokinterp.analysis import keyfreqs, measures

REFERENCE = {
    "wd_10-1_mod_addition_loss_curve": {
        "key_freqs_by_rule": {
            "causal": [6, 23, 37, 39, 41],
            "embed": [6, 23, 37, 39, 41],
            "logit": [6, 23, 37, 39, 41],
            "neuron_argmax": [3, 6, 12, 23, 31, 37, 39, 41, 46, 54],
        },
        "restricted_causal": {"all": 2.2011239325027337e-09, "test": 2.247697493391468e-09},
        "restricted_neuron_argmax": {"all": 1.9784093253743147e-09, "test": 2.017815547894354e-09},
        "excluded_loss_k": {
            3: 9.318608814461132e-09,
            6: 0.02925819903017379,
            12: 9.75766226339189e-09,
            23: 1.1757797750702783,
            31: 9.269603300261565e-09,
            37: 0.0004356588808122564,
            39: 6.547713344476702e-05,
            41: 0.00026080792578212153,
            46: 9.70862267563243e-09,
            54: 9.56895587416325e-09,
        },
        "train_loss": 9.20242405187309e-09,
        "test_loss": 4.988385559161476e-07,
        "sum_sq_weights": 1180.965715795813,
    },
    "mod_addition_no_wd": {
        "key_freqs_by_rule": {
            "causal": [36, 41, 52],
            "embed": [9, 24, 25, 26, 27, 28, 36, 41, 43, 52, 53],
            "logit": [36, 52],
            "neuron_argmax": [9, 24, 26, 28, 36, 41, 52, 53],
        },
        "restricted_causal": {"all": 2.583211418746208e-10, "test": 2.4945304144060204e-10},
        "restricted_neuron_argmax": {"all": 8.843542095674887e-12, "test": 8.845524752518286e-12},
        "excluded_loss_k": {
            9: 3.3385522368121835e-10,
            24: 1.785432516067229e-10,
            25: 1.749440325113472e-10,
            26: 1.05369658183959e-09,
            27: 1.6898549644505694e-10,
            28: 1.8648148293303057e-10,
            36: 38.969831455457154,
            41: 2.2963160969715853e-08,
            43: 2.183051015432241e-10,
            52: 24.669131927641413,
            53: 2.2511201277097145e-10,
        },
        "train_loss": 1.66769119553506e-10,
        "test_loss": 1.5867438880439393e-07,
        "sum_sq_weights": 3847.0633079743834,
    },
    "low_precision_mod_addition": {
        "key_freqs_by_rule": {
            "causal": [3, 6, 23, 39],
            "embed": [3, 6, 23, 35, 39],
            "logit": [3, 6, 23, 39],
            "neuron_argmax": [3, 6, 23, 39],
        },
        "restricted_causal": {"all": 0.00364293691538485, "test": 0.0035952599650533033},
        "restricted_neuron_argmax": {"all": 0.00364293691538485, "test": 0.0035952599650533033},
        "excluded_loss_k": {
            3: 0.398855484514419,
            6: 1.1612177014135747,
            23: 8.391228079222941,
            35: 0.0020432452627041162,
            39: 1.0677651490210054,
        },
        "train_loss": 0.0020421835542303174,
        "test_loss": 0.003250480276269598,
        "sum_sq_weights": 1136.1269578863773,
    },
}


def _paper_style_losses(L: torch.Tensor, labels, K, train):
    """The paper code's definitions, written from their formulas over flattened pairs."""
    p = L.shape[0]
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64)]
    for k in range(1, (p - 1) // 2 + 1):
        for f in (torch.cos, torch.sin):
            v = f(2 * math.pi * k * x / p)
            rows.append(v / v.norm())
    B = torch.stack(rows)

    def term(i, j):  # the 2D basis term of components i (of a) and j (of b), flattened
        return torch.outer(B[i], B[j]).flatten()

    flat = L.reshape(p * p, -1).to(torch.float64)

    def part(k):  # projection on cos(w_k(a+b)) and sin(w_k(a+b)), each a unit vector
        c = (term(2 * k - 1, 2 * k - 1) - term(2 * k, 2 * k)) / math.sqrt(2)
        s = (term(2 * k, 2 * k - 1) + term(2 * k - 1, 2 * k)) / math.sqrt(2)
        return torch.outer(c, c @ flat) + torch.outer(s, s @ flat)

    y = labels.reshape(-1)
    m = train.reshape(-1)

    def ce(z, sel):
        return float(-torch.log_softmax(z[sel], -1).gather(1, y[sel, None]).mean())

    trig = sum(part(k) for k in K)
    restricted = trig + (flat - trig).mean(0, keepdim=True)  # bias correction
    return {
        "restricted_all": ce(restricted, torch.ones_like(m)),
        "restricted_test": ce(restricted, ~m),
        "excluded_k": [ce(flat - part(k), m) for k in K],
    }


def test_definitions_match_the_paper_code_on_a_small_grid():
    p = 13
    g = torch.Generator().manual_seed(3)
    a = torch.arange(p, dtype=torch.float64)
    s = a[:, None, None] + a[None, :, None] - a[None, None, :]
    L = 2.0 * torch.cos(2 * math.pi * 3 * s / p) + torch.randn(p, p, p, generator=g)
    L += torch.randn(1, 1, p, generator=g)  # a per-class bias, which the restriction keeps
    labels = (a[:, None] + a[None, :]).remainder(p).long()
    train = torch.rand(p, p, generator=g) < 0.4
    K = [3, 5]
    want = _paper_style_losses(L, labels, K, train)
    assert measures.restricted_loss(L, labels, K) == pytest.approx(
        want["restricted_all"], rel=1e-10
    )
    assert measures.restricted_loss(L, labels, K, ~train) == pytest.approx(
        want["restricted_test"], rel=1e-10
    )
    got = measures.excluded_loss_per_freq(L, labels, K, train)
    assert got == pytest.approx(want["excluded_k"], rel=1e-10)
    # without the bias correction the per-class bias is lost, and the loss differs
    assert measures.restricted_loss(L, labels, K, add_mean=False) != pytest.approx(
        want["restricted_all"], rel=1e-3
    )


PAPER_RUNS = os.environ.get("GROKINTERP_PAPER_RUNS")


@pytest.mark.slow
@pytest.mark.skipif(not PAPER_RUNS, reason="set GROKINTERP_PAPER_RUNS to the paper's saved_runs")
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_the_papers_saved_runs_match_its_own_functions(tmp_path, name):
    from grokinterp.runs import Run
    from grokinterp.runs.legacy import import_legacy

    ref = REFERENCE[name]
    run = Run(import_legacy(Path(str(PAPER_RUNS)) / f"{name}.pth", tmp_path / name))
    ds, p = run.dataset, 113
    params = run.params(run.steps[-1])
    L, acts = measures.all_pairs_forward(params, run.config.model, ds)
    labels, train = ds.labels.reshape(p, p), ds.train_mask.reshape(p, p)
    choice = keyfreqs.choose_key_frequencies(params, L, acts, labels, train)
    assert choice.by_rule == ref["key_freqs_by_rule"]
    for rule in ("causal", "neuron_argmax"):
        K = ref["key_freqs_by_rule"][rule]
        want = ref[f"restricted_{rule}"]
        assert measures.restricted_loss(L, labels, K) == pytest.approx(want["all"], rel=1e-4)
        assert measures.restricted_loss(L, labels, K, ~train) == pytest.approx(
            want["test"], rel=1e-4
        )
    ks = sorted(ref["excluded_loss_k"])
    got = measures.excluded_loss_per_freq(L, labels, ks, train)
    assert got == pytest.approx([ref["excluded_loss_k"][k] for k in ks], rel=1e-4)
    assert measures.grid_cross_entropy(L, labels, train) == pytest.approx(
        ref["train_loss"], rel=1e-4
    )
    assert measures.grid_cross_entropy(L, labels, ~train) == pytest.approx(
        ref["test_loss"], rel=1e-4
    )
    assert measures.sum_squared_weights(params)["total"] == pytest.approx(
        ref["sum_sq_weights"], rel=1e-9
    )
    # the causal rule keeps exactly the frequencies whose removal matters
    full = ref["train_loss"]
    mattering = [k for k, v in ref["excluded_loss_k"].items() if v > 10 * full]
    assert set(mattering) <= set(choice.by_rule["causal"])
