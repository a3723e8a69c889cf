"""What the figures of one checkpoint show, computed here so that the figures only draw.

:func:`snapshot` gathers, for one checkpoint of a run: block 0's attention pattern on a
sample of pairs (transformer only), each MLP neuron's fraction of activation variance per
frequency and its cluster (Nanda et al. 2023; :func:`grokinterp.analysis.fourier.
neuron_freq_fractions`), and the 2D Fourier power spectrum of the most active neuron.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.analysis import fourier
from grokinterp.analysis.fourier import NeuronClusters
from grokinterp.analysis.groups import GroupBasis
from grokinterp.analysis.table import run_basis
from grokinterp.models import answer_forward_chunked, get_arch
from grokinterp.models.params import sequence_labels
from grokinterp.runs.run import Run

ATTENTION_SAMPLE = 2048  # pairs whose attention patterns are kept


@dataclass
class Snapshot:
    """One checkpoint, ready to draw.

    Args:
        step: the checkpoint.
        attention: block 0's pattern, (pairs, heads, n_ctx, n_ctx); None for the MLP model.
        fractions: (d_mlp, n_freqs) variance fractions per frequency; None where the
            Fourier measures do not apply.
        clusters: the neurons' frequency clusters (threshold 0.85); None likewise.
        top_neuron: the neuron with the most centered activation energy over the grid.
        top_spectrum: its squared 2D Fourier coefficients, (n, n), in the basis of the
            task's group (:func:`grokinterp.analysis.table.run_basis`).
        labels: the names of the attention's positions (the transformer's sequence,
            :func:`grokinterp.models.params.sequence_labels`).
    """

    step: int
    attention: Float[Tensor, "pairs heads n_ctx n_ctx"] | None
    fractions: Float[Tensor, "d_mlp n_freqs"] | None
    clusters: NeuronClusters | None
    top_neuron: int | None
    top_spectrum: Float[Tensor, "p p"] | None
    labels: tuple[str, ...] = ("a", "b", "=")


def grid_activations(
    run: Run, step: int, device: str = "cpu", basis: GroupBasis | None = None
) -> Float[Tensor, "n n d_mlp"]:
    """The last MLP layer's activations at checkpoint ``step`` over the input grid of the
    task's group (:func:`grokinterp.analysis.table.run_basis` unless ``basis`` is given),
    shaped ``[i, j, neuron]`` for the pair (elements[i], elements[j]) (on the CPU); for
    ``add`` / ``sub`` that is ``[a, b, neuron]`` over the full grid."""
    basis = basis if basis is not None else run_basis(run)
    params = {k: v.to(device) for k, v in run.params(step).items()}
    _, hidden = answer_forward_chunked(params, run.dataset.inputs, run.config.model)
    if basis is None:
        p = run.dataset.size
        return hidden.reshape(p, p, -1).cpu()
    return hidden.cpu()[basis.grid_index(run.dataset.inputs)]


def snapshot(
    run: Run, step: int | None = None, *, fourier_measures: bool = True, device: str = "cpu"
) -> Snapshot:
    """The attention and neuron views of checkpoint ``step`` (default: the latest).

    ``fourier_measures`` False skips the neuron views (tasks without cyclic structure).
    """
    step = run.steps[-1] if step is None else step
    ds = run.dataset
    attention = None
    labels: tuple[str, ...] = ("a", "b", "=")
    if get_arch(run.config.model.arch).attention:
        labels = sequence_labels(run.config.model)
        model: Any = run.model(step, device=device)
        sample = ds.inputs[: min(len(ds.inputs), ATTENTION_SAMPLE)].to(device)
        with torch.no_grad():
            _, cache = model.run_with_cache(sample, names_filter="blocks.0.attn.hook_pattern")
        attention = cache["blocks.0.attn.hook_pattern"].cpu()
    basis = run_basis(run)
    if not fourier_measures or basis is None or not basis.cyclic:
        # the neuron views are per Fourier frequency: none for S_n (its representations)
        return Snapshot(step, attention, None, None, None, None, labels)
    acts = grid_activations(run, step, device, basis)
    fractions = fourier.neuron_freq_fractions(acts)
    centered = acts - acts.mean(dim=(0, 1), keepdim=True)
    neuron = int(centered.pow(2).sum(dim=(0, 1)).argmax())
    spectrum = fourier.fourier_2d(centered[:, :, neuron]).pow(2)
    return Snapshot(
        step, attention, fractions, fourier.neuron_clusters(fractions), neuron, spectrum, labels
    )


def cluster_sizes(run: Run, steps: Sequence[int], device: str = "cpu") -> pd.DataFrame:
    """Neurons per frequency cluster (:func:`grokinterp.analysis.fourier.neuron_clusters`,
    more than 85% of the variance in one frequency; -1: none) at each of ``steps``: one row
    per (step, cluster) with ``neurons`` and ``n_freqs``."""
    rows = []
    for step in steps:
        fractions = fourier.neuron_freq_fractions(grid_activations(run, step, device))
        clusters = fourier.neuron_clusters(fractions).cluster
        ks, counts = torch.unique(clusters, return_counts=True)
        rows += [
            {"step": step, "cluster": int(k), "neurons": int(c), "n_freqs": fractions.shape[1]}
            for k, c in zip(ks, counts, strict=True)
        ]
    return pd.DataFrame(rows)


def spread(steps: Sequence[int], most: int) -> list[int]:
    """At most ``most`` of ``steps`` (sorted), evenly spread, the first and last included."""
    steps = sorted(steps)
    if len(steps) <= most:
        return steps
    idx = {round(i * (len(steps) - 1) / (most - 1)) for i in range(most)}
    return [steps[i] for i in sorted(idx)]
