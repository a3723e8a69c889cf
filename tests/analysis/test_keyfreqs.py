"""Key-frequency rules on models whose answer is known in closed form."""

import math

import pytest
import torch
from helpers import quadratic_mlp

from grokinterp.analysis import fourier, keyfreqs, measures
from grokinterp.config import ModelConfig, TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.tasks import make_dataset

P = 31


def gromov_style_model(
    used: list[int], embed_only: dict[int, float], scale: float = 10.0
) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """A 1-hidden-layer MLP (quadratic activation, embeddings of a and b concatenated) whose
    logits are exactly ``scale * sum_{k in used} cos(w_k (a + b - c))``.

    Per used frequency k the embedding has the dims (cos w_k x, sin w_k x); 8 neurons give
    ``4 cos(w_k(a+b))`` and ``4 sin(w_k(a+b))`` as differences of squares, e.g.
    ``(cos a + cos b)^2 - (sin a + sin b)^2 - (cos a - cos b)^2 + (sin a - sin b)^2``;
    W_U multiplies them by cos(w_k c) and sin(w_k c). Each frequency in ``embed_only`` adds
    two embedding dims (cos, sin) of that amplitude that no neuron reads.
    """
    x = torch.arange(P, dtype=torch.float64)
    dims = [(k, f) for k in used for f in (torch.cos, torch.sin)]
    dims += [(k, f) for k in embed_only for f in (torch.cos, torch.sin)]
    d_model, d_mlp = len(dims), 8 * len(used)
    W_E = torch.zeros(P + 1, d_model, dtype=torch.float64)
    for j, (k, f) in enumerate(dims):
        W_E[:P, j] = f(2 * math.pi * k * x / P) * embed_only.get(k, 1.0)
    W_in = torch.zeros(2 * d_model, d_mlp, dtype=torch.float64)
    W_U = torch.zeros(d_mlp, P, dtype=torch.float64)
    for i, k in enumerate(used):
        cos_a, sin_a = 2 * i, 2 * i + 1  # dims of a (first half of the concatenation)
        cos_b, sin_b = d_model + 2 * i, d_model + 2 * i + 1  # dims of b
        wc = 2 * math.pi * k * x / P
        # (input dims, sign inside the square, sign of the neuron, output: 0 = cos, 1 = sin)
        neurons = [
            (cos_a, cos_b, 1, 1, 0), (sin_a, sin_b, 1, -1, 0),
            (cos_a, cos_b, -1, -1, 0), (sin_a, sin_b, -1, 1, 0),
            (cos_a, sin_b, 1, 1, 1), (cos_a, sin_b, -1, -1, 1),
            (sin_a, cos_b, 1, 1, 1), (sin_a, cos_b, -1, -1, 1),
        ]  # fmt: skip
        for n, (u, v, inner, outer, out) in enumerate(neurons):
            col = 8 * i + n
            W_in[u, col], W_in[v, col] = 1.0, float(inner)
            W_U[col] = outer * scale / 4 * (torch.cos(wc) if out == 0 else torch.sin(wc))
    return quadratic_mlp(W_E, W_in, W_U)


def _grid(params, cfg):
    ds = make_dataset(TaskConfig(name="add", p=P, train_fraction=0.5))
    logits, acts = measures.all_pairs_forward(params, cfg, ds)
    return ds, logits, acts


def test_the_hand_built_logits_are_the_closed_form():
    params, cfg = gromov_style_model([4, 11], {7: 5.0})
    _, logits, _ = _grid(params, cfg)
    a = torch.arange(P, dtype=torch.float64)
    s = (a[:, None, None] + a[None, :, None] - a[None, None, :]) * 2 * math.pi / P
    want = 10.0 * (torch.cos(4 * s) + torch.cos(11 * s))
    assert torch.allclose(logits.double(), want, atol=1e-3)


def test_causal_rule_ignores_an_embedding_only_frequency():
    """Logits use {4, 11}; W_E also has a large frequency 7 that nothing reads. The spectral
    rule on W_E takes 7 in; the causal rule, which removes each frequency from the logits,
    returns exactly {4, 11}."""
    params, cfg = gromov_style_model([4, 11], {7: 5.0})
    ds, logits, acts = _grid(params, cfg)
    labels, train = ds.labels.reshape(P, P), ds.train_mask.reshape(P, P)
    assert 7 in fourier.key_frequencies(params, P, "embed")
    assert keyfreqs.causal_key_frequencies(logits, labels, train) == [4, 11]
    choice = keyfreqs.choose_key_frequencies(params, logits, acts, labels, train)
    assert choice.rule == "causal" and choice.key_freqs == [4, 11] and choice.sufficient
    assert choice.by_rule["embed"] == fourier.key_frequencies(params, P, "embed")
    rows = {r["k"]: r for r in choice.evidence}
    assert len(rows) == (P - 1) // 2 and rows[4]["key"] and not rows[7]["key"]
    assert rows[7]["embed_norm"] > 4 * rows[4]["embed_norm"]  # the spectrum says 7 ...
    assert rows[7]["excluded_ratio"] == pytest.approx(1.0, abs=1e-6)  # ... the output does not
    assert min(rows[4]["excluded_ratio"], rows[11]["excluded_ratio"]) > 50
    # restricting to K loses nothing: the logits are exactly in span{u_k, v_k : k in K}
    assert choice.restricted_train_loss == pytest.approx(choice.train_loss, rel=1e-4)
    assert rows[4]["restricted_loss_without"] > 10 * rows[4]["restricted_loss_with"]


def test_other_rules_by_name_and_a_model_without_a_circuit():
    params, cfg = gromov_style_model([4, 11], {7: 5.0})
    ds, logits, acts = _grid(params, cfg)
    labels, train = ds.labels.reshape(P, P), ds.train_mask.reshape(P, P)
    for rule in ("embed", "logit", "neuron_argmax"):
        choice = keyfreqs.choose_key_frequencies(params, logits, acts, labels, train, rule=rule)
        assert choice.rule == rule and choice.key_freqs == choice.by_rule[rule]
    # every neuron of frequency k varies as (cos, sin)(w_k a) (x) (cos, sin)(w_k b)
    assert keyfreqs.neuron_argmax_frequencies(acts) == [4, 11]
    given = keyfreqs.choose_key_frequencies(params, logits, acts, labels, train, given=[4])
    assert given.rule == "given" and given.key_freqs == [4] and not given.sufficient
    with pytest.raises(ConfigError, match="unknown"):
        keyfreqs.check_rule("spectral")
    # random logits: no frequency carries the output, so the causal rule falls back
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(P, P, P, generator=g)
    choice = keyfreqs.choose_key_frequencies(params, noise, acts, labels, train)
    assert choice.by_rule["causal"] == [] and "fell back" in (choice.note or "")
    assert choice.key_freqs == choice.by_rule["embed"]
