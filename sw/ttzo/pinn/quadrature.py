"""Gaussian quadrature rules: 1-D Gauss-Hermite and Smolyak sparse grids built from them.

All rules integrate against the standard normal density, ``E[f(z)]`` with ``z ~ N(0, I_D)``:
``sum_j weights[j] * f(nodes[j])``. Nodes and weights are computed, never tabulated.

The sparse grid is Smolyak's combination of tensor products of the non-nested 1-D rules
``V_l`` (``l``-point Gauss-Hermite, exact for polynomials of degree ``2l - 1``)::

    A(L, D) = sum_{q = max(0, L - D)}^{L - 1} (-1)^(L - 1 - q) C(D - 1, L - 1 - q)
              sum_{|i| = D + q} V_{i_1} x ... x V_{i_D}

which is exact for polynomials of total degree ``2L - 1`` (Heiss and Winschel 2008, the "GQN"
rule). Level 3 has ``2 D^2 + 2 D + 1`` nodes: the centre, ``+-sqrt(3)`` and ``+-1`` on each
axis, and ``(+-1, +-1)`` on each pair of axes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from math import comb

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

__all__ = ["QuadratureRule", "gauss_hermite", "sparse_grid", "sparse_grid_size"]

#: Nodes closer than this (after rounding) are the same node; weights below it are dropped.
_TOL = 1e-12


@dataclass(frozen=True)
class QuadratureRule:
    """Nodes ``(J, D)`` and weights ``(J,)`` of a rule for the standard normal density."""

    nodes: np.ndarray
    weights: np.ndarray

    @property
    def dim(self) -> int:
        return self.nodes.shape[1]

    def __len__(self) -> int:
        return self.nodes.shape[0]

    def expectation(self, values: np.ndarray) -> np.ndarray:
        """``sum_j weights[j] * values[j, ...]``."""
        return np.tensordot(self.weights, values, axes=(0, 0))


@lru_cache(maxsize=64)
def _gauss_hermite(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    nodes, weights = hermegauss(n)  # Golub-Welsch for the weight exp(-z^2 / 2)
    weights = weights / weights.sum()  # normalise to the density (the sum is sqrt(2 pi))
    nodes = np.where(np.abs(nodes) < _TOL, 0.0, nodes)  # the odd rules' centre exactly 0
    return tuple(nodes.tolist()), tuple(weights.tolist())


def gauss_hermite(n: int) -> QuadratureRule:
    """The ``n``-point Gauss-Hermite rule for ``N(0, 1)``, exact to degree ``2n - 1``."""
    if int(n) != n or n < 1:
        raise ValueError(f"a Gauss-Hermite rule needs at least one point, not {n!r}")
    nodes, weights = _gauss_hermite(int(n))
    return QuadratureRule(np.array(nodes)[:, None], np.array(weights))


def _excess_patterns(total: int, dim: int, first: int = 0) -> Iterator[tuple[tuple[int, int], ...]]:
    """Ways to raise the levels of distinct axes ``>= first`` by a total of ``total``.

    Yields tuples of ``(axis, extra_level)`` with increasing axes; axes not named stay at
    level 1 (the one-point rule at 0), so a pattern names at most ``total`` axes.
    """
    if total == 0:
        yield ()
        return
    for axis in range(first, dim):
        for extra in range(1, total + 1):
            for rest in _excess_patterns(total - extra, dim, axis + 1):
                yield ((axis, extra),) + rest


def sparse_grid(dim: int, level: int) -> QuadratureRule:
    """Smolyak sparse grid of ``level`` (1, 2, 3, ...) in ``dim`` dimensions for ``N(0, I)``.

    Exact for polynomials of total degree up to ``2 * level - 1``. Coinciding nodes of the
    combined tensor grids are merged and their weights summed; weights can be negative.

    Raises
    ------
    ValueError
        If ``dim`` or ``level`` is not a positive integer.
    """
    for name, value in (("dim", dim), ("level", level)):
        if int(value) != value or value < 1:
            raise ValueError(f"sparse grid {name} must be a positive integer, not {value!r}")
    dim, level = int(dim), int(level)
    merged: dict[tuple[tuple[int, float], ...], float] = {}
    for q in range(max(0, level - dim), level):
        coef = (-1) ** (level - 1 - q) * comb(dim - 1, level - 1 - q)
        for pattern in _excess_patterns(q, dim):
            axes = [axis for axis, _ in pattern]
            rules = [_gauss_hermite(1 + extra) for _, extra in pattern]
            for picks in product(*(range(len(r[0])) for r in rules)):
                weight = float(coef)
                key = []
                for axis, rule, j in zip(axes, rules, picks):
                    weight *= rule[1][j]
                    if rule[0][j] != 0.0:
                        key.append((axis, round(rule[0][j], 12)))
                merged[tuple(key)] = merged.get(tuple(key), 0.0) + weight
    keys = sorted(k for k, w in merged.items() if abs(w) > _TOL)
    nodes = np.zeros((len(keys), dim))
    for j, key in enumerate(keys):
        for axis, value in key:
            nodes[j, axis] = value
    weights = np.array([merged[k] for k in keys])
    return QuadratureRule(nodes, weights)


def sparse_grid_size(dim: int, level: int) -> int:
    """Number of nodes of :func:`sparse_grid` (builds the grid; use for small cases)."""
    return len(sparse_grid(dim, level))
