import pytest
import torch

from grokinterp.config import ModelConfig, TaskConfig
from grokinterp.models import answer_logits, build_model, init_params, param_shapes
from grokinterp.tasks import make_dataset

P = 13


def _params(cfg, seed=0, d_out=P):
    g = torch.Generator()
    g.manual_seed(seed)
    return init_params(cfg, P + 1, d_out, g)


@pytest.fixture(scope="module")
def ds():
    return make_dataset(TaskConfig(p=P, train_fraction=0.5))


@pytest.mark.parametrize("n_layers", [1, 2])
@pytest.mark.parametrize("act_fn", ["relu", "gelu"])
def test_fast_forward_equals_bridge(ds, n_layers, act_fn):
    cfg = ModelConfig(n_layers=n_layers, d_model=32, n_heads=4, d_head=8, d_mlp=64, act_fn=act_fn)
    params = _params(cfg, seed=n_layers)
    # random biases too, so that every parameter is exercised
    for k, v in params.items():
        if ".b_" in k:
            v.normal_()
    fast = answer_logits(params, ds.inputs, cfg)
    with torch.no_grad():
        slow = build_model(cfg, params)(ds.inputs)[:, -1]
    rel = (fast - slow).abs().max() / slow.abs().max()
    assert rel <= 1e-5


def test_nanda_bridge_hook_names_and_shapes(ds):
    cfg = ModelConfig()
    model = build_model(cfg, _params(cfg))
    assert tuple(model.W_E.shape) == (P + 1, 128)
    assert tuple(model.W_U.shape) == (128, P)
    assert tuple(model.blocks[0].mlp.W_in.shape) == (128, 512)
    assert tuple(model.blocks[0].attn.W_Q.shape) == (4, 128, 32)
    logits, cache = model.run_with_cache(ds.inputs[:5])
    assert tuple(logits.shape) == (5, 3, P)
    assert tuple(cache["blocks.0.mlp.hook_post"].shape) == (5, 3, 512)
    assert tuple(cache["blocks.0.attn.hook_pattern"].shape) == (5, 4, 3, 3)
    assert tuple(cache["hook_embed"].shape) == (5, 3, 128)
    # causal: the first position attends only to itself
    assert torch.allclose(cache["blocks.0.attn.hook_pattern"][:, :, 0, 0], torch.ones(5, 4))


def test_bridge_weights_are_the_loaded_params():
    cfg = ModelConfig(d_model=32, n_heads=4, d_head=8, d_mlp=64)
    params = _params(cfg)
    model = build_model(cfg, params)
    assert torch.equal(model.W_E, params["embed.W_E"])
    assert torch.equal(model.W_U, params["unembed.W_U"])
    assert torch.allclose(model.blocks[0].attn.W_Q, params["blocks.0.attn.W_Q"])
    assert torch.allclose(model.blocks[0].attn.W_O, params["blocks.0.attn.W_O"])
    assert torch.equal(model.blocks[0].mlp.W_in, params["blocks.0.mlp.W_in"])
    assert torch.equal(model.blocks[0].mlp.W_out, params["blocks.0.mlp.W_out"])


@pytest.mark.parametrize("combine", ["sum", "concat"])
def test_mlp_hooks_and_forward(ds, combine):
    cfg = ModelConfig(
        arch="mlp", n_layers=2, d_model=16, d_mlp=24, mlp_combine=combine, act_fn="quadratic"
    )
    params = _params(cfg)
    model = build_model(cfg, params)
    logits, cache = model.run_with_cache(ds.inputs)
    assert set(cache.keys()) == {
        "hook_embed",
        "blocks.0.mlp.hook_pre",
        "blocks.0.mlp.hook_post",
        "blocks.1.mlp.hook_pre",
        "blocks.1.mlp.hook_post",
        "hook_logits",
    }
    assert tuple(cache["blocks.1.mlp.hook_post"].shape) == (len(ds.inputs), 24)
    assert torch.allclose(logits[:, -1], answer_logits(params, ds.inputs, cfg))
    # hand-check the computation for one input
    a, b = ds.inputs[7, 0], ds.inputs[7, 1]
    e = params["embed.W_E"]
    h = e[a] + e[b] if combine == "sum" else torch.cat([e[a], e[b]])
    for i in range(2):
        h = (h @ params[f"blocks.{i}.mlp.W_in"] + params[f"blocks.{i}.mlp.b_in"]) ** 2
    assert torch.allclose(logits[7, -1], h @ params["unembed.W_U"], rtol=1e-5, atol=1e-5)


def test_mlp_hooks_can_intervene(ds):
    cfg = ModelConfig(arch="mlp", d_model=16, d_mlp=24)
    model = build_model(cfg, _params(cfg))
    zero = model.run_with_hooks(
        ds.inputs, fwd_hooks=[("blocks.0.mlp.hook_post", lambda x, hook: x * 0)]
    )
    assert torch.allclose(zero, torch.zeros_like(zero))


@pytest.mark.parametrize("arch", ["transformer", "mlp"])
def test_init_scale_multiplies_every_weight(arch):
    base = ModelConfig(arch=arch, d_model=32, n_heads=4, d_head=8, d_mlp=64)
    scaled = ModelConfig(arch=arch, d_model=32, n_heads=4, d_head=8, d_mlp=64, init_scale=3.0)
    p1, p3 = _params(base), _params(scaled)
    assert set(p1) == set(param_shapes(base, P + 1, P))
    for k in p1:
        assert torch.allclose(p3[k], 3.0 * p1[k])


def test_init_scales_follow_the_paper():
    cfg = ModelConfig()
    g = torch.Generator()
    g.manual_seed(0)
    params = init_params(cfg, 114, 113, g)
    assert params["embed.W_E"].std().item() == pytest.approx(128**-0.5, rel=0.05)
    assert params["unembed.W_U"].std().item() == pytest.approx(114**-0.5, rel=0.05)
    assert params["blocks.0.mlp.b_in"].abs().max() == 0


@pytest.mark.parametrize("arch", ["transformer", "mlp"])
def test_answer_forward_returns_the_hooked_mlp_activations(ds, arch):
    from grokinterp.models import answer_forward

    cfg = ModelConfig(arch=arch, d_model=32, n_heads=4, d_head=8, d_mlp=64)
    params = _params(cfg)
    logits, hidden = answer_forward(params, ds.inputs, cfg)
    _, cache = build_model(cfg, params).run_with_cache(ds.inputs)
    post = cache["blocks.0.mlp.hook_post"]
    post = post[:, -1] if post.dim() == 3 else post
    assert torch.allclose(hidden, post, atol=1e-5)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_members_axis_equals_one_model_at_a_time(ds, n_layers):
    from grokinterp.models import answer_forward

    cfg = ModelConfig(n_layers=n_layers, d_model=32, n_heads=4, d_head=8, d_mlp=64)
    members = [_params(cfg, seed=s) for s in range(3)]
    for m in members:
        for k, v in m.items():
            if ".b_" in k:
                v.normal_()
    stacked = {k: torch.stack([m[k] for m in members]) for k in members[0]}
    rows = torch.stack([ds.inputs[torch.randperm(len(ds.inputs))[:50]] for _ in members])
    logits, hidden = answer_forward(stacked, rows, cfg)
    assert logits.shape == (3, 50, P) and hidden.shape == (3, 50, 64)
    for i, m in enumerate(members):
        want_logits, want_hidden = answer_forward(m, rows[i], cfg)
        assert torch.allclose(logits[i], want_logits, atol=1e-5)
        assert torch.allclose(hidden[i], want_hidden, atol=1e-5)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_fast_forward_gradients_equal_the_bridge(ds, n_layers):
    # the fast forward's look-ups have their own backward (index_add) and a 1-block model
    # reads its attention scores from a table: the gradients must be the bridge's
    import torch.nn.functional as F

    cfg = ModelConfig(n_layers=n_layers, d_model=32, n_heads=4, d_head=8, d_mlp=64)
    params = {k: v.clone().requires_grad_(True) for k, v in _params(cfg, seed=7).items()}
    x, y = ds.inputs[:60], ds.labels[:60]
    F.cross_entropy(answer_logits(params, x, cfg), y).backward()
    model = build_model(cfg, {k: v.detach() for k, v in params.items()})
    F.cross_entropy(model(x)[:, -1], y).backward()
    native = model.original_model
    nh, dh = cfg.n_heads, cfg.d_head

    def close(ours, theirs):
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max() <= 1e-4 * theirs.abs().max() + 1e-7

    close(params["embed.W_E"].grad, native.tok_embed.weight.grad)
    close(params["pos_embed.W_pos"].grad, native.pos.weight.grad)
    for i, layer in enumerate(native.layers):
        for w, lin in (("W_Q", layer.attn.q), ("W_K", layer.attn.k), ("W_V", layer.attn.v)):
            g = params[f"blocks.{i}.attn.{w}"].grad
            close(g.permute(0, 2, 1).reshape(nh * dh, cfg.d_model), lin.weight.grad)
        close(
            params[f"blocks.{i}.attn.W_O"].grad.reshape(nh * dh, cfg.d_model).T,
            layer.attn.o.weight.grad,
        )
