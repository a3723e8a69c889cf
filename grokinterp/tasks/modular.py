"""Modular tasks on Z_p (Power et al. 2022, arXiv 2201.02177).

Their table of binary operations: a + b, a - b, a / b, a / b if b is odd else a - b
(``div_or_sub``; b != 0 like a / b, b taken as an integer in 1 .. p-1), the polynomials
a^2 + b^2, a^2 + ab + b^2, a^2 + ab + b^2 + a, a^3 + ab, a^3 + ab^2 + b, and the S_5 tasks
(:mod:`grokinterp.tasks.permutation`); ``mul`` and ``random_table`` are ours.

The pairs are the full grid ``a, b in [0, p)`` in row-major order (index ``a * p + b``),
except where the operation is undefined (``div`` drops ``b = 0``, leaving
``a * (p - 1) + (b - 1)``). Tokens ``0 .. p-1`` are the residues and token ``p`` is ``=``.

``int_add`` is the addition table of Liu et al. 2022 (arXiv 2205.10343, their toy setting):
``a + b`` over the integers for ``0 <= a <= b < p``, so ``p (p + 1) / 2`` pairs (row-major
over a, then b) and ``2p - 1`` classes ``0 .. 2p - 2``.

``add_unordered`` is ``a + b mod p`` over the same pairs ``0 <= a <= b < p``: Minegishi et
al. 2024's symmetric input (gouki510/Grokking-Tickets@8cee814 config.py:L16,
data_module.py:L12-21: the grokking-tickets study).
"""

from __future__ import annotations

import numpy as np

from grokinterp.tasks.registry import IntArray, TaskSpec, register


def _mod_inverse(b: IntArray, p: int) -> IntArray:
    return np.array([pow(int(x), -1, p) for x in b], dtype=np.int64)


def _random_table_op(a: IntArray, b: IntArray, p: int) -> IntArray:
    raise AssertionError("random_table labels are drawn in make_dataset")  # pragma: no cover


for _spec in [
    TaskSpec("add", "a + b mod p", "modular", lambda a, b, p: (a + b) % p, fourier="sum"),
    TaskSpec(
        "int_add",
        "a + b over the integers, 0 <= a <= b < p (Liu et al. 2022's addition table)",
        "modular",
        lambda a, b, p: a + b,
        unordered=True,
        integer=True,
    ),
    TaskSpec(
        "add_unordered",
        "a + b mod p over the pairs 0 <= a <= b < p (Minegishi et al. 2024's symmetric input)",
        "modular",
        lambda a, b, p: (a + b) % p,
        fourier="sum",
        unordered=True,
    ),
    TaskSpec("sub", "a - b mod p", "modular", lambda a, b, p: (a - b) % p, fourier="difference"),
    TaskSpec("mul", "a * b mod p", "modular", lambda a, b, p: (a * b) % p),
    TaskSpec(
        "div",
        "a * b^-1 mod p (b != 0)",
        "modular",
        lambda a, b, p: (a * _mod_inverse(b, p)) % p,
        needs_prime=True,
        b_nonzero=True,
    ),
    TaskSpec(
        "div_or_sub",
        "a * b^-1 mod p if b is odd, else a - b mod p (b != 0)",
        "modular",
        lambda a, b, p: np.where(b % 2 == 1, a * _mod_inverse(b, p), a - b) % p,
        needs_prime=True,
        b_nonzero=True,
    ),
    TaskSpec("x2_y2", "a^2 + b^2 mod p", "modular", lambda a, b, p: (a * a + b * b) % p),
    TaskSpec(
        "x2_xy_y2", "a^2 + ab + b^2 mod p", "modular", lambda a, b, p: (a * a + a * b + b * b) % p
    ),
    TaskSpec(
        "x2_xy_y2_x",
        "a^2 + ab + b^2 + a mod p",
        "modular",
        lambda a, b, p: (a * a + a * b + b * b + a) % p,
    ),
    TaskSpec("x3_xy", "a^3 + ab mod p", "modular", lambda a, b, p: (a * a * a + a * b) % p),
    TaskSpec(
        "x3_xy2_y",
        "a^3 + ab^2 + b mod p",
        "modular",
        lambda a, b, p: (a * a * a + a * b * b + b) % p,
    ),
    TaskSpec(
        "random_table",
        "a uniformly random table T[a, b] in Z_p (seeded by label_seed)",
        "modular",
        _random_table_op,
    ),
]:
    register(_spec)
