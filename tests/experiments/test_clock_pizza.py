"""The clock-and-pizza study (Zhong et al. 2023): parameters, the conversion of the authors'
released models into our layout, and a smoke run read by its card."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from grokinterp.errors import ConfigError
from grokinterp.experiments import clock_pizza as cp
from grokinterp.experiments.cards import read_card
from grokinterp.experiments.contract import params_from
from grokinterp.models import answer_forward
from grokinterp.viz.clock_pizza import clock_pizza_figure

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from test_attention_rate import authors_forward  # noqa: E402  (their module, re-implemented)


def _their_state(d_model: int = 16, p: int = 59, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the authors' layout (fjzzq2002/pizza@4c7f2f3 code/train-main.py
    L65-213), random weights."""
    g = torch.Generator().manual_seed(seed)
    nh, dh = 4, d_model // 4
    shapes = {
        "embed.W_E": (d_model, p), "pos_embed.W_pos": (2, d_model), "unembed.W_U": (d_model, p),
        "blocks.0.attn.W_K": (nh, dh, d_model), "blocks.0.attn.W_Q": (nh, dh, d_model),
        "blocks.0.attn.W_V": (nh, dh, d_model), "blocks.0.attn.W_O": (d_model, nh * dh),
        "blocks.0.mlp.W_in": (4 * d_model, d_model), "blocks.0.mlp.b_in": (4 * d_model,),
        "blocks.0.mlp.W_out": (d_model, 4 * d_model), "blocks.0.mlp.b_out": (d_model,),
    }  # fmt: skip
    state = {k: torch.randn(s, generator=g) / 4 for k, s in shapes.items()}
    state["blocks.0.attn.mask"] = torch.tril(torch.ones(2, 2))  # their unused buffer
    return state


@pytest.mark.parametrize("rate", [0.0, 0.6, 1.0])
def test_their_weights_give_their_logits(rate):
    state = _their_state()
    params, cfg = cp.authors_params(state, rate)
    p = 59
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    tokens = torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], -1)
    # their forward, written on their own layout: x = W_E[:, x] ... (L65-213)
    x = torch.einsum("dbp->bpd", state["embed.W_E"][:, tokens[:, :2]]) + state["pos_embed.W_pos"]
    k, q, v = (torch.einsum("ihd,bpd->biph", state[f"blocks.0.attn.W_{w}"], x) for w in "KQV")
    attn = torch.softmax(torch.einsum("biph,biqh->biqp", k, q) / 2.0, -1) * rate + (1 - rate)
    z = torch.einsum("biph,biqp->biqh", v, attn)
    z = z.permute(0, 2, 1, 3).reshape(len(tokens), 2, -1)
    x = x + torch.einsum("df,bqf->bqd", state["blocks.0.attn.W_O"], z)
    h = torch.relu(torch.einsum("md,bpd->bpm", state["blocks.0.mlp.W_in"], x)
                   + state["blocks.0.mlp.b_in"])  # fmt: skip
    mlp_out = torch.einsum("dm,bpm->bpd", state["blocks.0.mlp.W_out"], h)
    x = x + mlp_out + state["blocks.0.mlp.b_out"]
    theirs = (x @ state["unembed.W_U"])[:, -1]
    torch.testing.assert_close(answer_forward(params, tokens, cfg)[0], theirs, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(authors_forward(params, tokens, rate), theirs, rtol=1e-4, atol=1e-5)


def test_authors_models_folder_is_measured_and_checked(tmp_path):
    with pytest.raises(ConfigError, match="code/save"):
        cp.measure_authors_models(tmp_path)
    for label, run_id in cp.AUTHORS_MODELS.items():
        torch.save(_their_state(seed=len(label)), tmp_path / f"model_{run_id}.pt")
        rate = 0 if label == "A" else 1
        (tmp_path / f"config_{run_id}.json").write_text(json.dumps({"attn_coeff": rate}))
    table = cp.measure_authors_models(tmp_path)
    assert list(table["model"]) == ["A", "B"] and list(table["attention_rate"]) == [0.0, 1.0]
    assert table["gradient_symmetricity"].between(-1, 1).all()
    assert (table["distance_irrelevance"] > 0).all()


def test_bad_parameters_are_one_line_errors():
    for bad in ({"rates": (0.0, 1.5)}, {"widths": (30,)}, {"p": 58}, {"seeds": ()}):
        with pytest.raises(ConfigError):
            cp.Params(**bad)


def test_smoke_run_is_read_by_the_card(tmp_path):
    params = params_from(cp.Params, dict(cp.STUDY.smoke), "clock-pizza")
    result = cp.run(tmp_path, params, progress=False, static=False)
    cells = result.data
    assert list(cells["rate"]) == [0.0, 1.0] and (cells["finished"] == 1).all()
    (card,) = cp.STUDY.cards
    reading = read_card(card, tmp_path)
    assert all(v is not None for v in reading.values)
    assert "gradient symmetricity" in result.report
    fig = clock_pizza_figure(cells)
    assert [t.name for t in fig.data] == ["d_model 32", "d_model 32"]
    assert list(fig.data[0].y) == list(cells["gradient_symmetricity"])
