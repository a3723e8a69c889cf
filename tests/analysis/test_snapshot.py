"""One checkpoint's views, and the neuron clusters of several checkpoints."""

from __future__ import annotations

from pathlib import Path

from grokinterp.analysis.snapshot import cluster_sizes, snapshot, spread
from grokinterp.runs import Run

QUICK = Path(__file__).resolve().parents[2] / "checkpoints" / "quick"


def test_spread_keeps_the_ends_and_at_most_n():
    assert spread([5, 1, 3], 12) == [1, 3, 5]
    assert spread(list(range(0, 101, 10)), 3) == [0, 50, 100]
    assert len(spread(list(range(40)), 12)) == 12


def test_cluster_sizes_account_for_every_neuron_and_match_the_snapshot():
    run = Run(QUICK)
    d_mlp = run.config.model.d_mlp
    sizes = cluster_sizes(run, [run.steps[0], run.steps[-1]])
    assert (sizes.groupby("step")["neurons"].sum() == d_mlp).all()
    last = snapshot(run)  # its clusters at the last checkpoint are the same assignment
    assert last.clusters is not None
    want = dict(
        zip(*[t.tolist() for t in last.clusters.cluster.unique(return_counts=True)], strict=True)
    )
    got = sizes[sizes["step"] == run.steps[-1]].set_index("cluster")["neurons"].to_dict()
    assert got == want
    # at initialization almost no neuron is clustered; after grokking most are
    first = sizes[(sizes["step"] == run.steps[0]) & (sizes["cluster"] == -1)]["neurons"].sum()
    assert first > 0.9 * d_mlp and got.get(-1, 0) < 0.5 * d_mlp
