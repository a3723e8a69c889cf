import pandas as pd
import pytest
import torch

from grokinterp.errors import RunDirError
from grokinterp.models import answer_logits
from grokinterp.runs import Run, landmarks, layout
from grokinterp.training import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from helpers import tiny_config

    return Run(train(tiny_config(), tmp_path_factory.mktemp("r") / "run", progress=False))


def test_config_metrics_steps(run):
    assert run.config.task.p == 11
    m = run.metrics
    assert isinstance(m, pd.DataFrame)
    assert {
        "step",
        "train_loss",
        "test_acc",
        "param_norm",
        "norm.embed.W_E",
        "norm.unembed.W_U",
    } <= set(m.columns)
    assert run.steps[0] == 0 and run.steps[-1] == 40


def test_model_at_step_computes_the_stored_params(run):
    ds = run.dataset
    for step in (0, run.steps[3], None):
        model = run.model(step)
        params = run.params(step)
        with torch.no_grad():
            got = model(ds.inputs)[:, -1]
        want = answer_logits(params, ds.inputs, run.config.model)
        assert torch.allclose(got, want, atol=1e-5)
    logits, cache = run.model(10).run_with_cache(ds.inputs[:4])
    assert "blocks.0.mlp.hook_post" in cache


def test_different_steps_hold_different_weights(run):
    a, b = run.params(0), run.params(40)
    assert not torch.equal(a["embed.W_E"], b["embed.W_E"])


def test_dataset_matches_the_logged_accuracy(run):
    ds = run.dataset
    params = run.params(40)
    logits = answer_logits(params, ds.test_inputs, run.config.model)
    acc = float((logits.argmax(-1) == ds.test_labels).float().mean())
    assert acc == pytest.approx(run.metrics["test_acc"].iloc[-1])


def test_missing_step_names_the_nearest(run):
    with pytest.raises(RunDirError, match="no checkpoint at step 11; the nearest is 10"):
        run.params(11)


def test_truncated_checkpoint_is_not_loaded(tmp_path):
    from helpers import tiny_config

    r = Run(train(tiny_config(max_steps=10), tmp_path / "r", progress=False))
    path = layout.checkpoint_path(r.path, 10)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(RunDirError, match="corrupt"):
        r.model(10)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(RunDirError, match="no such run directory"):
        Run(tmp_path / "nope")
    with pytest.raises(RunDirError, match="not a run directory"):
        Run(tmp_path)


def test_landmarks_on_known_curves():
    m = pd.DataFrame(
        {
            "step": [0, 10, 20, 30, 40],
            "train_acc": [0.1, 0.995, 1.0, 1.0, 1.0],
            "test_acc": [0.0, 0.1, 0.5, 0.99, 1.0],
        }
    )
    lm = landmarks(m)
    assert (lm.train_step, lm.test_step, lm.delay, lm.grokked) == (10, 30, 20, True)
    lm = landmarks(m.assign(test_acc=0.2))
    assert lm.test_step is None and lm.delay is None and not lm.grokked
