"""Gromov's analytic network (arXiv 2301.02679): exact accuracy for any p, every frequency."""

from __future__ import annotations

import math

import pytest
import torch

from grokinterp.config import TaskConfig
from grokinterp.errors import ConfigError
from grokinterp.models import answer_logits
from grokinterp.models.analytic import gromov_params
from grokinterp.tasks import make_dataset


def _logits_and_labels(p: int, width: int, **kw: object) -> tuple[torch.Tensor, torch.Tensor]:
    cfg, params = gromov_params(p, width, **kw)  # type: ignore[arg-type]
    ds = make_dataset(TaskConfig(name="add", p=p, train_fraction=0.5))
    return answer_logits(params, ds.inputs, cfg), ds.labels


def _ideal(p: int, freqs: list[int], amplitude: float = 10.0) -> torch.Tensor:
    """(A / |F|) Σ_k cos(2πk(a + b − q)/p) over the grid, rows in the dataset's pair order."""
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    d = ((a + b)[:, None] - torch.arange(p)[None, :]) % p
    ks = torch.tensor(freqs, dtype=torch.float64)
    per_d = torch.cos(2 * math.pi * ks[:, None] * torch.arange(p)[None, :] / p).sum(0)
    return (per_d[d] * amplitude / len(freqs)).float()


@pytest.mark.parametrize("p", [3, 5, 9, 31, 97, 113, 211])
def test_balanced_network_is_exact_for_every_p(p: int) -> None:
    n_freq = (p - 1) // 2
    logits, labels = _logits_and_labels(p, 8 * n_freq + 3)  # uneven neurons per frequency
    assert bool((logits.argmax(-1) == labels).all())
    assert float((logits - _ideal(p, list(range(1, n_freq + 1)))).abs().max()) < 2e-3
    assert float(logits.max()) == pytest.approx(10.0, abs=1e-3)


@pytest.mark.parametrize("p", [11, 53, pytest.param(97, marks=pytest.mark.slow)])
def test_every_single_frequency_solves_prime_p(p: int) -> None:
    for k in range(1, (p - 1) // 2 + 1):
        logits, labels = _logits_and_labels(p, 8, freqs=[k], seed=k)
        assert bool((logits.argmax(-1) == labels).all()), f"frequency {k}"
        assert float((logits - _ideal(p, [k])).abs().max()) < 1e-3, f"frequency {k}"


def test_random_phases_are_exact_only_when_wide() -> None:
    # the paper's i.i.d. phases: the unwanted terms cancel on average, so accuracy grows
    # with the width (p = 97, seed 0: measured 0.90 at N = 48, 0.998 at N = 96, 1.0 from N = 200)
    narrow, labels = _logits_and_labels(97, 48, phases="random")
    wide, _ = _logits_and_labels(97, 2000, phases="random")
    assert float((narrow.argmax(-1) == labels).double().mean()) < 0.95
    assert bool((wide.argmax(-1) == labels).all())


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="8 neurons per frequency"):
        gromov_params(97, 100)
    with pytest.raises(ConfigError, match="share a factor"):
        gromov_params(9, 16, freqs=[3])
    with pytest.raises(ConfigError, match="must be in 1..5"):
        gromov_params(11, 16, freqs=[6])
    with pytest.raises(ConfigError, match="p >= 3"):
        gromov_params(2, 16)
    with pytest.raises(ConfigError, match="amplitude"):
        gromov_params(11, 40, amplitude=0.0)
