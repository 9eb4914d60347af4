"""Derivatives of a Gaussian-smoothed function from forward evaluations only (Stein's lemma).

For ``u_s(x) = E[u(x + s z)]``, ``z ~ N(0, I_D)``, Stein's lemma gives

- ``grad u_s(x) = E[z u(x + s z)] / s``
- ``d2 u_s / dx_i dx_k (x) = E[(z_i z_k - delta_ik) u(x + s z)] / s^2``
- ``lap u_s(x) = E[(|z_S|^2 - |S|) u(x + s z)] / s^2`` over the space coordinates ``S``

Every estimate is a linear combination of ``u`` at the stencil points ``x + s z_j``. A
:class:`SteinStencil` holds the offsets ``z_j`` and the coefficients of each quantity, from either
a quadrature rule (the sparse grid: deterministic, exact for low-degree polynomials) or Monte
Carlo samples with antithetic pairs. Coefficients are written in centred form (the centre's
value subtracted), which changes nothing for a rule that integrates the second moments exactly
and is the variance-reduced antithetic estimator for Monte Carlo.

The Laplacian has a second form, from the heat equation instead of Stein's lemma: smoothing is
the heat flow in ``s^2`` (``d u_s / d(s^2) = lap u_s / 2``), so the central difference

- ``lap u_s(x) ~ (u_{sqrt(2) s}(x) - u(x)) / s^2``  (error ``s^4 lap^3 u / 24``)

needs only smoothed *values*, which a quadrature rule integrates to two degrees more than the
Stein weights ``|z|^2 - D`` allow. Its error term makes it exact only up to degree 5 whatever the
rule, so with the level-L sparse grid it is exact for polynomials of degree ``min(2 L - 1, 5)``
instead of ``2 L - 3``. Its points are the rule's at radius ``sqrt(2) s``,
so a stencil with it holds both sets (``laplacian="heat"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .quadrature import QuadratureRule, sparse_grid

__all__ = ["SteinStencil", "Fields", "sparse_grid_stencil", "monte_carlo_stencil",
           "LAPLACIANS"]

#: The forms of the Laplacian: Stein weights, or the heat-equation difference of smoothed values
LAPLACIANS = ("stein", "heat")


@dataclass(frozen=True)
class Fields:
    """``u`` and its derivatives at a batch of points, handed to a PDE residual.

    Attributes
    ----------
    x : ndarray, shape (P, D)
    u : ndarray, shape (P,)
    grad : ndarray, shape (P, D)
    lap : ndarray, shape (P,)
        Laplacian over the problem's space coordinates.
    second : callable
        ``second(i, k)`` -> ``d2 u / dx_i dx_k`` of shape ``(P,)``, computed on demand.
    """

    x: np.ndarray
    u: np.ndarray
    grad: np.ndarray
    lap: np.ndarray
    second: Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class SteinStencil:
    """Offsets and coefficients of the Stein estimates of one smoothing radius.

    Parameters
    ----------
    offsets : ndarray, shape (J, D)
        Standard-normal offsets ``z_j``; row 0 is the centre (all zeros).
    weights : ndarray, shape (J,)
        Quadrature (or Monte Carlo) weights of the offsets.
    sigma : float
        Smoothing radius ``s``.
    space : tuple of int
        Coordinates the Laplacian sums over.
    name : str
    laplacian : {"stein", "heat"}
        The Laplacian's form: Stein weights on the offsets, or the heat-equation difference of
        the smoothed value at radius ``sqrt(2) s`` (smoothing only the ``space`` coordinates
        wider) and at radius 0 in them; its points join the stencil's, shared ones once.
    """

    offsets: np.ndarray
    weights: np.ndarray
    sigma: float
    space: tuple[int, ...]
    name: str
    laplacian: str = "stein"

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"the smoothing radius sigma must be positive, not {self.sigma!r}")
        if self.offsets.ndim != 2 or len(self.weights) != len(self.offsets):
            raise ValueError(f"offsets of shape {self.offsets.shape} do not match "
                             f"{len(self.weights)} weights")
        if np.any(self.offsets[0] != 0):
            raise ValueError("the stencil's first offset must be the centre (zeros)")
        bad = [i for i in self.space if not 0 <= i < self.dim]
        if bad:
            raise ValueError(f"space coordinates {bad} are outside 0..{self.dim - 1}")
        if self.laplacian not in LAPLACIANS:
            raise ValueError(f"the Laplacian's form must be one of {', '.join(LAPLACIANS)}, "
                             f"not {self.laplacian!r}")
        w, z, s = self.weights, self.offsets, self.sigma
        value = w.copy()
        grad = _centred((w[:, None] * z) / s)
        space = list(self.space)
        if self.laplacian == "stein":
            lap = _centred(w * ((z[:, space] ** 2).sum(axis=1) - len(space)) / s**2)
            points, rows = z, np.arange(len(z))
        else:
            wide, narrow = z.copy(), z.copy()
            wide[:, space] *= np.sqrt(2.0)
            narrow[:, space] = 0.0
            zero = np.zeros_like(w)
            points, rows, (value, grad, lap) = _merge(
                np.vstack([z, wide, narrow]),
                [np.concatenate([value, zero, zero]),
                 np.concatenate([grad, np.zeros_like(grad), np.zeros_like(grad)]),
                 np.concatenate([zero, w, -w]) / s**2])
        object.__setattr__(self, "_points", points)
        object.__setattr__(self, "_rows", rows)  # where the offsets sit among the points
        object.__setattr__(self, "_coef", {"value": value, "grad": grad, "lap": lap})

    @property
    def dim(self) -> int:
        return self.offsets.shape[1]

    @property
    def point_offsets(self) -> np.ndarray:
        """Offsets of all stencil points ``(J, D)``, in units of ``s`` (the offsets, and with
        the heat Laplacian its wider and narrower points too)."""
        return self._points

    @property
    def points_per_estimate(self) -> int:
        """Forward evaluations per point (the stencil size ``J``; with the heat Laplacian more
        than the offsets)."""
        return self._points.shape[0]

    def points(self, x: np.ndarray) -> np.ndarray:
        """Stencil points ``x_p + s z_j`` of shape ``(P, J, D)``."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"points of shape {x.shape} do not fit a stencil in {self.dim} "
                             "dimensions")
        return x[:, None, :] + self.sigma * self._points[None, :, :]

    def coefficients(self, quantity: str) -> np.ndarray:
        """Coefficients of ``value`` ``(J,)``, ``grad`` ``(J, D)`` or ``lap`` ``(J,)``."""
        return self._coef[quantity]

    def second_coefficients(self, i: int, k: int) -> np.ndarray:
        """Coefficients ``(J,)`` of ``d2 u_s / dx_i dx_k``."""
        z = self.offsets
        coef = np.zeros(self.points_per_estimate)
        coef[self._rows] = _centred(self.weights * (z[:, i] * z[:, k] - (1.0 if i == k else 0.0))
                                    / self.sigma**2)
        return coef

    def fields(self, x: np.ndarray, values: np.ndarray) -> Fields:
        """Estimates at ``x`` (``(P, D)``) from ``values`` = ``u`` at :meth:`points` ``(P, J)``."""
        if values.shape != (x.shape[0], self.points_per_estimate):
            raise ValueError(f"values of shape {values.shape} do not match {x.shape[0]} points "
                             f"x {self.points_per_estimate} stencil offsets")
        c = self._coef
        return Fields(x=x, u=values @ c["value"], grad=values @ c["grad"], lap=values @ c["lap"],
                      second=lambda i, k: values @ self.second_coefficients(i, k))

    def estimate(self, fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> Fields:
        """Evaluate ``fn`` (``(n, D) -> (n,)``) at the stencil points of ``x`` and combine."""
        pts = self.points(x)
        values = np.asarray(fn(pts.reshape(-1, self.dim))).reshape(pts.shape[:2])
        return self.fields(np.asarray(x), values)


def _centred(coef: np.ndarray) -> np.ndarray:
    """Coefficients of ``sum_j c_j (u_j - u_0)``: the centre (row 0) takes minus the sum."""
    coef[0] -= coef.sum(axis=0)
    return coef


def _merge(points: np.ndarray, coefs: list[np.ndarray]
           ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Merge repeated points, adding their coefficients; the centre stays row 0.

    Returns the distinct points, the row of each of the first ``len(points) // 3`` inputs (the
    offsets) among them, and the merged coefficients.
    """
    distinct, where = np.unique(points, axis=0, return_inverse=True)
    where = where.reshape(-1)
    centre = int(where[0])  # input row 0 is the centre: move it to the front
    order = np.concatenate([[centre], np.delete(np.arange(len(distinct)), centre)])
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    where = rank[where]
    merged = []
    for c in coefs:
        out = np.zeros((len(distinct),) + c.shape[1:])
        np.add.at(out, where, c)
        merged.append(out)
    return distinct[order], where[: len(points) // 3], merged


def _name(rule: str, laplacian: str) -> str:
    return rule if laplacian == "stein" else f"{rule}, {laplacian} Laplacian"


def _space(dim: int, space: Sequence[int] | None) -> tuple[int, ...]:
    return tuple(range(dim)) if space is None else tuple(int(i) for i in space)


def sparse_grid_stencil(dim: int, sigma: float, level: int = 3,
                        space: Sequence[int] | None = None,
                        laplacian: str = "stein") -> SteinStencil:
    """Stein estimates from the Smolyak sparse grid of ``level`` (see :mod:`.quadrature`).

    Level 3 (the default) integrates the fourth moments the Laplacian estimate needs exactly;
    the estimates of a polynomial of degree up to ``2 * level - 2`` (gradient) and
    ``2 * level - 3`` (second derivatives) equal the smoothed function's exactly. With
    ``laplacian="heat"`` the Laplacian is exact up to degree ``min(2 * level - 1, 5)``, for
    about twice the points (see the module's docstring).
    """
    rule: QuadratureRule = sparse_grid(dim, level)
    order = np.argsort(np.abs(rule.nodes).sum(axis=1), kind="stable")  # centre first
    nodes, weights = rule.nodes[order], rule.weights[order]
    if np.any(nodes[0] != 0):  # even levels in one dimension have no centre node
        nodes = np.vstack([np.zeros((1, dim)), nodes])
        weights = np.concatenate([[0.0], weights])
    return SteinStencil(nodes, weights, float(sigma), _space(dim, space),
                        _name(f"sparse-grid L{level}", laplacian), laplacian)


def monte_carlo_stencil(dim: int, sigma: float, samples: int, rng: np.random.Generator,
                        space: Sequence[int] | None = None,
                        laplacian: str = "stein") -> SteinStencil:
    """Monte Carlo Stein estimates from ``samples`` antithetic pairs ``+-z`` (``2 N + 1`` points).

    Draw a new stencil whenever fresh noise is wanted; keep one stencil for all queries that
    must see the same noise (common random numbers across the queries of an optimizer step).
    """
    if int(samples) != samples or samples < 1:
        raise ValueError(f"Monte Carlo Stein needs at least one sample, not {samples!r}")
    z = rng.standard_normal((int(samples), dim))
    offsets = np.vstack([np.zeros((1, dim)), z, -z])
    weights = np.concatenate([[0.0], np.full(2 * int(samples), 0.5 / samples)])
    return SteinStencil(offsets, weights, float(sigma), _space(dim, space),
                        _name(f"Monte Carlo {samples}x2", laplacian), laplacian)
