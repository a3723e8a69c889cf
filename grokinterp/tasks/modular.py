"""Modular tasks on Z_p (Power et al. 2022, arXiv 2201.02177).

Their table of binary operations: a + b, a - b, a / b, a / b if b is odd else a - b
(``div_or_sub``; b != 0 like a / b, b taken as an integer in 1 .. p-1), the polynomials
a^2 + b^2, a^2 + ab + b^2, a^2 + ab + b^2 + a, a^3 + ab, a^3 + ab^2 + b, and the S_5 tasks
(:mod:`grokinterp.tasks.permutation`); ``mul`` and ``random_table`` are ours.

The pairs are the full grid ``a, b in [0, p)`` in row-major order (index ``a * p + b``),
except where the operation is undefined (``div`` drops ``b = 0``, leaving
``a * (p - 1) + (b - 1)``). Tokens ``0 .. p-1`` are the residues and token ``p`` is ``=``.

``mul`` and ``div`` are sums and differences in the multiplicative group Z_p* (p prime),
cyclic of order p - 1 and indexed by the discrete logarithm (:func:`primitive_root`,
:func:`discrete_log`): their Fourier measures use its characters
(:mod:`grokinterp.analysis.groups`).

``int_add`` is the addition table of Liu et al. 2022 (arXiv 2205.10343, their toy setting):
``a + b`` over the integers for ``0 <= a <= b < p``, so ``p (p + 1) / 2`` pairs (row-major
over a, then b) and ``2p - 1`` classes ``0 .. 2p - 2``.

``add_unordered`` is ``a + b mod p`` over the same pairs ``0 <= a <= b < p``: Minegishi et
al. 2024's symmetric input (gouki510/Grokking-Tickets@8cee814 config.py:L16,
data_module.py:L12-21: the grokking-tickets study).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from grokinterp.errors import ConfigError
from grokinterp.tasks.registry import IntArray, TaskSpec, is_prime, register


def _check_prime(p: int, what: str) -> None:
    if isinstance(p, bool) or not isinstance(p, int) or not is_prime(p):
        raise ConfigError(
            f"{what} needs a prime p (Z_p* is cyclic only then, and Z_p is a field), "
            f"got p={p!r}; use a prime modulus such as 97"
        )


def _prime_factors(n: int) -> list[int]:
    out, d = [], 2
    while d * d <= n:
        if n % d == 0:
            out.append(d)
            while n % d == 0:
                n //= d
        d += 1
    return out + ([n] if n > 1 else [])


@lru_cache(maxsize=64)
def primitive_root(p: int) -> int:
    """The smallest generator g of the multiplicative group Z_p* (p prime).

    Z_p* is cyclic of order p - 1 (Gauss; any number theory text, e.g. Ireland & Rosen,
    *A Classical Introduction to Modern Number Theory*, Thm. 4.1.1), and g generates it
    exactly when ``g^((p-1)/q) != 1 mod p`` for every prime q dividing p - 1.

    Raises:
        ConfigError: p is not prime.
    """
    _check_prime(p, "a primitive root mod p")
    if p == 2:
        return 1
    qs = _prime_factors(p - 1)
    return next(g for g in range(2, p) if all(pow(g, (p - 1) // q, p) != 1 for q in qs))


def power_table(p: int, g: int | None = None) -> IntArray:
    """``[g^0, g^1, ..., g^(p-2)] mod p``: the element of Z_p* with discrete log i (p prime;
    g defaults to :func:`primitive_root`). Raises ConfigError unless p is prime and g
    generates Z_p*."""
    _check_prime(p, "the discrete logarithm mod p")
    g = primitive_root(p) if g is None else g
    out = np.empty(p - 1, dtype=np.int64)
    x = 1
    for i in range(p - 1):
        out[i] = x
        x = x * g % p
    if len(set(out.tolist())) != p - 1:
        raise ConfigError(f"g={g} does not generate Z_{p}*; pass a primitive root mod {p}")
    return out


def discrete_log(p: int, g: int | None = None) -> IntArray:
    """Table of discrete logarithms: entry x (x = 1 .. p-1) is the i in 0 .. p-2 with
    ``g^i = x mod p``; entry 0 is -1 (0 is not in Z_p* and has no logarithm). Inverse of
    :func:`power_table`, so ``log(a b) = log a + log b`` and ``log(a / b) = log a - log b``
    mod p - 1."""
    powers = power_table(p, g)
    out = np.full(p, -1, dtype=np.int64)
    out[powers] = np.arange(p - 1)
    return out


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
    TaskSpec(
        "mul",
        "a * b mod p",
        "modular",
        lambda a, b, p: (a * b) % p,
        fourier="sum",
        group="multiplicative",
    ),
    TaskSpec(
        "div",
        "a * b^-1 mod p (b != 0)",
        "modular",
        lambda a, b, p: (a * _mod_inverse(b, p)) % p,
        needs_prime=True,
        b_nonzero=True,
        fourier="difference",
        group="multiplicative",
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
