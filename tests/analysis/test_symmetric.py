"""Irreducible representations of S_n (issue 30, item 2's group theory): every relation
that makes them the irreducible representations, checked over the whole group."""

import math

import numpy as np
import pytest

from grokinterp.analysis.symmetric import characters, dimension, irreps, partitions
from grokinterp.errors import ConfigError
from grokinterp.tasks.permutation import _perm_tables

KNOWN_DIMS = {1: [1], 2: [1, 1], 3: [1, 2, 1], 4: [1, 3, 2, 3, 1], 5: [1, 4, 5, 6, 5, 4, 1]}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_dimensions_and_partitions(n):
    shapes = partitions(n)
    assert shapes[0] == (n,) and shapes[-1] == (1,) * n and all(sum(s) == n for s in shapes)
    dims = [dimension(s) for s in shapes]
    assert dims == KNOWN_DIMS[n]
    assert sum(d * d for d in dims) == math.factorial(n)  # Burnside


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_homomorphism_orthogonal_and_the_two_one_dimensional(n):
    comp, inv, elems = _perm_tables(n)
    reps = irreps(n)
    for R in reps.values():
        d = R.shape[1]
        assert np.allclose(R[0], np.eye(d))  # element 0 is the identity
        # rho(x o y) = rho(x) rho(y) for every pair, and rho(x^-1) = rho(x)^T
        assert np.allclose(R[comp], np.einsum("xij,yjk->xyik", R, R), atol=1e-12)
        assert np.allclose(R[inv], R.transpose(0, 2, 1), atol=1e-12)
    sign = np.array([np.linalg.det(np.eye(n)[list(p)]) for p in elems])
    assert np.allclose(reps[(n,)][:, 0, 0], 1.0)
    assert np.allclose(reps[(1,) * n][:, 0, 0], sign)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_schur_orthogonality_and_characters(n):
    """sum_g rho(g)_ij rho'(g)_kl = (n!/d) [rho = rho'][i = k][j = l]: the entries are an
    orthogonal basis of the functions on S_n, so the representations are irreducible and
    distinct; the characters are orthonormal class functions."""
    order = math.factorial(n)
    reps = irreps(n)
    cols = np.concatenate(
        [np.sqrt(R.shape[1] / order) * R.reshape(order, -1) for R in reps.values()], axis=1
    )
    assert cols.shape == (order, order)
    assert np.allclose(cols.T @ cols, np.eye(order), atol=1e-10)
    comp, inv, _ = _perm_tables(n)
    chi = np.stack(list(characters(n).values()))
    assert np.allclose(chi @ chi.T / order, np.eye(len(chi)), atol=1e-10)
    assert np.allclose(chi, np.round(chi))
    conj = comp[comp[np.arange(order)[:, None], np.arange(order)[None, :]], inv[:, None]]
    assert np.allclose(chi[:, conj], chi[:, None, :].repeat(order, axis=1))  # h g h^-1


@pytest.mark.parametrize("n", [0, 6, 2.0])
def test_out_of_range(n):
    with pytest.raises(ConfigError, match="n = 1 .. 5"):
        irreps(n)
