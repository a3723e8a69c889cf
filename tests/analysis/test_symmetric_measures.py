"""The group measures on S_n (issue 30, item 2): key representations by the causal rule,
restricted and excluded loss over representations, and Chughtai et al. 2023's readings, on
hand-built models whose logits are exactly ``s chi_rho(a o b o c^-1)``."""

import math

import pytest
import torch
from helpers import quadratic_mlp
from hypothesis import given, settings
from hypothesis import strategies as st

from grokinterp.analysis import fourier, keyfreqs, measures, symmetric
from grokinterp.analysis.groups import GroupBasis, symmetric_basis, task_basis, why_no_basis
from grokinterp.analysis.representation_measures import representation_measures
from grokinterp.config import TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.models import answer_forward_chunked
from grokinterp.tasks import make_dataset


def faithful(n: int) -> list[int]:
    """The representations whose kernel is trivial (chi(g) = dim only at the identity): their
    character alone tells every class apart."""
    out = []
    for k, shape in enumerate(symmetric.partitions(n)):
        chi = symmetric.characters(n)[shape]
        if k and int((chi == symmetric.dimension(shape)).sum()) == 1:
            out.append(k)
    return out


CASES = [(n, k) for n in (3, 4, 5) for k in faithful(n)]


def character_model(n: int, used: list[int], scale: float = 10.0):
    """An MLP (quadratic activation, concatenated embeddings) whose logits are exactly
    ``scale * sum_{k in used} tr(rho_k(a) rho_k(b) rho_k(c)^T) = scale * sum chi_k(a b c^-1)``:
    the embedding of g holds the matrix elements of rho_k(g); for every (i, j, m) two
    neurons square ``rho(a)_ij +- rho(b)_jm``, whose difference over 4 is the product, and
    W_U multiplies it by ``rho(c)_im``."""
    R = symmetric.irreps(n)
    N = math.factorial(n)
    mats = [torch.from_numpy(R[symmetric.partitions(n)[k]].copy()) for k in used]
    d_model = sum(m.shape[1] ** 2 for m in mats)
    d_mlp = sum(2 * m.shape[1] ** 3 for m in mats)
    W_E = torch.zeros(N + 1, d_model, dtype=torch.float64)
    W_in = torch.zeros(2 * d_model, d_mlp, dtype=torch.float64)
    W_U = torch.zeros(d_mlp, N, dtype=torch.float64)
    off, col = 0, 0
    for m in mats:
        d = m.shape[1]
        W_E[:N, off : off + d * d] = m.reshape(N, d * d)
        for i in range(d):
            for j in range(d):
                for m_ in range(d):
                    for sign in (1.0, -1.0):
                        W_in[off + i * d + j, col] = 1.0
                        W_in[d_model + off + j * d + m_, col] = sign
                        W_U[col] = sign * scale / 4 * m[:, i, m_]
                        col += 1
        off += d * d
    return quadratic_mlp(W_E, W_in, W_U)


def on_grid(n: int, used: list[int], scale: float = 10.0):
    basis = task_basis("perm", None, n=n)
    ds = make_dataset(TaskConfig(name="perm", p=None, n=n, train_fraction=0.5))
    params, cfg = character_model(n, used, scale)
    logits, acts = answer_forward_chunked(params, ds.inputs, cfg, math.factorial(n))
    idx = basis.grid_index(ds.inputs)
    return basis, params, logits[idx].double(), acts[idx], ds.labels[idx], ds.train_mask[idx]


def test_the_hand_built_model_computes_characters():
    n, k = 4, 1
    basis, _, L, _, labels, _ = on_grid(n, [k], scale=1.0)
    assert torch.allclose(L, symmetric.character_cube(n, k), atol=1e-4)
    assert bool((L.argmax(-1) == labels).all())


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(CASES))
def test_character_logits_recover_the_key_representation_and_losses(case):
    """Logits ``10 chi_rho(a b c^-1)`` of one faithful irreducible representation rho: the
    causal rule (and the spectra, and Chughtai's character rule) name rho alone; restricted
    to rho the logits are unchanged (restricted loss = the full loss, small), and with rho
    removed every class scores 0 (excluded loss = log n!)."""
    n, k = case
    basis, params, L, _, labels, train = on_grid(n, [k])
    s = basis.structure
    assert keyfreqs.causal_key_frequencies(L, labels, train, s, basis=basis) == [k]
    full_test = measures.grid_cross_entropy(L, labels, ~train)
    restricted = measures.restricted_loss(L, labels, [k], ~train, s, basis=basis)
    assert restricted == pytest.approx(full_test, rel=1e-3, abs=1e-6)
    assert restricted < 0.01
    excluded = measures.excluded_loss(L, labels, [k], train, s, basis=basis)
    assert excluded == pytest.approx(math.log(math.factorial(n)), abs=1e-4)
    others = [j for j in range(1, basis.n_components() + 1) if j != k]
    if others:  # removing the unused ones changes nothing
        assert measures.excluded_loss(L, labels, others, train, s, basis=basis) == pytest.approx(
            measures.grid_cross_entropy(L, labels, train), rel=1e-3, abs=1e-6
        )
    assert measures.trig_logit_share(L, [k], s, basis).generalizing == pytest.approx(1.0, abs=1e-6)
    assert symmetric.character_cube_similarity(L, n, [k])[0] == pytest.approx(1.0, abs=1e-6)
    assert keyfreqs.character_key_representations(L, basis) == [k]
    assert fourier.key_frequencies(params, basis, "embed") == [k]
    assert fourier.key_frequencies(params, basis, "logit") == [k]
    readings = representation_measures(params, L, n)
    row = readings["rows"][k]
    assert row["character_similarity"] == pytest.approx(1.0, abs=1e-6)
    for col in ("embed_fraction", "embed_a_fraction", "embed_b_fraction", "unembed_fraction"):
        assert row[col] == pytest.approx(1.0, abs=1e-5)
        assert sum(r[col] for r in readings["rows"]) == pytest.approx(1.0, abs=1e-6)
    assert readings["logit_explained"] == pytest.approx(1.0, abs=1e-6)


def test_choose_key_representations_of_two_characters():
    """Standard + sign on S_5: the causal rule, the spectra and Chughtai's character rule
    all name both; without the standard representation (faithful) nothing is left of the
    answer but its sign (the 60 classes of the right sign tie: excluded loss log 60, up to
    e^-20), without the sign the answer stands with half the margin at transpositions."""
    n, std, sign = 5, 1, 6
    basis, params, L, acts, labels, train = on_grid(n, [std, sign])
    choice = keyfreqs.choose_key_frequencies(params, L, acts, labels, train, basis=basis)
    assert choice.key_freqs == [std, sign] and choice.sufficient
    assert choice.by_rule["character"] == [std, sign] == choice.by_rule["embed"]
    assert "neuron_argmax" not in choice.by_rule
    rows = {r["k"]: r for r in choice.evidence}
    assert len(rows) == basis.n_components() == 6
    assert rows[std]["name"] == "(4,1)" and rows[std]["dim"] == 4
    assert rows[sign]["name"] == "(1,1,1,1,1)" and rows[sign]["dim"] == 1
    assert rows[std]["excluded_loss"] == pytest.approx(math.log(60), abs=1e-6)
    assert rows[sign]["excluded_loss"] < 1e-6
    for k in (2, 3, 4, 5):
        assert rows[k]["excluded_ratio"] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ConfigError, match="cyclic"):
        keyfreqs.choose_key_frequencies(
            params, L, acts, labels, train, rule="neuron_argmax", basis=basis
        )


@pytest.mark.parametrize("n", [3, 4, 5])
def test_representation_directions_split_every_logit_grid(n):
    """Over all representations (and the constant term), restricting keeps a function of
    a o b whole and leaves nothing of it excluded: the directions span the functions of the
    product, exactly as the frequencies do for Z_n."""
    basis = symmetric_basis(n)
    N = basis.order
    ds = make_dataset(TaskConfig(name="perm", p=None, n=n, train_fraction=0.5))
    comp = ds.labels[basis.grid_index(ds.inputs)]  # a o b on the grid
    g = torch.randn(N, 3, dtype=torch.float64)
    L = g[comp]  # logits that depend on a o b only
    every = list(range(1, basis.n_components() + 1))
    R = measures.restricted_logits(L, every, basis=basis)
    assert torch.allclose(R, L, atol=1e-10)
    X = measures.excluded_logits(L, every, basis=basis)
    assert torch.allclose(X, L.mean(dim=(0, 1), keepdim=True).expand_as(L), atol=1e-10)


def test_basis_plumbing_and_bad_input():
    b = task_basis("perm", None, n=5)
    assert b == symmetric_basis(5) and b.order == 120 and b.degree == 5 and not b.cyclic
    assert b.record()["representations"]["1"] == "(4,1)"
    assert b.name() == "S_5 (symmetric)"
    assert why_no_basis("perm", None, n=4) is None
    assert "x o y" in (why_no_basis("perm_conj", None, n=4) or "")
    assert "degree" in (why_no_basis("perm", None) or "")
    with pytest.raises(ConfigError, match="out of range"):
        b.check_components([0])
    with pytest.raises(ConfigError, match="out of range"):
        b.check_components([7])
    with pytest.raises(ConfigError, match="n! tokens"):
        GroupBasis("symmetric", 100)
    with pytest.raises(ConfigError, match="structure 'sum'"):
        GroupBasis("symmetric", 24, "difference")
    with pytest.raises(ValueError, match="order"):
        measures.restricted_loss(
            torch.zeros(6, 6, 6), torch.zeros(36, dtype=torch.long), [1], basis=b
        )


@pytest.mark.slow
def test_analyze_a_perm_run_reports_key_representations(tmp_path):
    """``grokinterp analyze`` on an S_3 run: summary.json says the basis is S_3, names the
    key representations with their evidence and Chughtai et al.'s readings, and the table
    has the restricted / excluded losses over representations (no neuron clusters)."""
    import json

    from grokinterp.cli import main

    out = tmp_path / "run"
    args = [
        "--task",
        "perm",
        "--p",
        "None",
        "--n",
        "3",
        "--train-fraction",
        "0.5",
        "--arch",
        "mlp",
        "--mlp-combine",
        "concat",
        "--d-model",
        "8",
        "--d-mlp",
        "16",
    ]
    assert main(["train", "--out", str(out), *args, "--max-steps", "30", "--ckpt-every", "10",
                 "--no-progress"]) == 0  # fmt: skip
    assert main(["analyze", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    assert summary["fourier_basis"]["group"] == "symmetric"
    assert summary["fourier_basis"]["name"] == "S_3 (symmetric)"
    assert summary["fourier_basis"]["representations"] == {"1": "(2,1)", "2": "(1,1,1)"}
    keys = summary["key_freqs"]
    assert summary["key_representations"] == [{1: "(2,1)", 2: "(1,1,1)"}[k] for k in keys]
    assert [r["name"] for r in summary["key_freq_evidence"]] == ["(2,1)", "(1,1,1)"]
    assert "character" in summary["key_freqs_by_rule"]
    rows = summary["representation_measures"]["rows"]
    assert [r["dim"] for r in rows] == [1, 2, 1]
    assert sum(r["embed_fraction"] for r in rows) == pytest.approx(1.0, abs=1e-6)
    table = (out / "analysis" / "measures.csv").read_text().splitlines()[0].split(",")
    assert {"restricted_loss", "excluded_loss", "gen_share", "logit_cube_cos_sim"} <= set(table)
    assert "frac_clustered" not in table
    assert (out / "analysis" / "figures" / "index.html").exists()
