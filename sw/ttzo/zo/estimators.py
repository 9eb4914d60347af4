"""Zeroth-order gradient estimators: RGE, signRGE and CGE.

Each estimator asks an :class:`~ttzo.zo.objective.Objective` for losses at perturbed parameters
and turns them into a gradient estimate; it never differentiates. Randomness comes from a step
seed, so the same seed gives the same estimate, and random directions are regenerated from their
per-query seeds when the estimate is formed rather than kept as a matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .directions import get_directions, query_seed
from .objective import Objective

__all__ = ["Estimate", "Estimator", "RGE", "CGE", "make_estimator"]

_SCHEMES = ("forward", "central")


def _check(name: str, value, ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {what}, not {value!r}")


@dataclass
class Estimate:
    """A gradient estimate, the loss seen at ``theta`` (or its central proxy) and its cost."""

    grad: np.ndarray
    loss: float
    queries: int


class Estimator(Protocol):
    name: str
    forward_only: bool

    def queries_per_step(self, dim: int) -> float: ...

    def estimate(self, objective: Objective, theta: np.ndarray, seed: int) -> Estimate: ...


class RGE:
    """Randomized gradient estimator, optionally sign-compressed (signRGE).

    Forward: ``g = 1/N sum_q (L(t + mu u_q) - L(t)) / mu * u_q`` (``N + 1`` queries).
    Central: ``g = 1/N sum_q (L(t + mu u_q) - L(t - mu u_q)) / (2 mu) * u_q`` (``2N`` queries).

    Parameters
    ----------
    mu : float
        Smoothing radius.
    n_directions : int
        ``N``.
    directions : str
        Name of the direction generator (see :mod:`ttzo.zo.directions`).
    scheme : {"forward", "central"}
    sign : bool
        Return ``sign(g)`` (signRGE).
    """

    forward_only = True

    def __init__(self, mu: float, n_directions: int, directions: str = "rademacher",
                 scheme: str = "central", sign: bool = False):
        _check("mu", mu, mu > 0, "positive")
        _check("n_directions", n_directions, int(n_directions) == n_directions
               and n_directions >= 1, "a positive integer")
        _check("scheme", scheme, scheme in _SCHEMES, f"one of {_SCHEMES}")
        self.mu = float(mu)
        self.n_directions = int(n_directions)
        self.generator = get_directions(directions)
        self.scheme = scheme
        self.sign = sign
        self.name = ("signRGE" if sign else "RGE") + f"-{scheme}"

    def queries_per_step(self, dim: int) -> float:
        n = self.n_directions
        return 2 * n if self.scheme == "central" else n + 1

    def estimate(self, objective: Objective, theta: np.ndarray, seed: int) -> Estimate:
        n, mu = self.n_directions, self.mu
        seeds = [query_seed(seed, q) for q in range(n)]
        if self.scheme == "forward":
            base = objective.loss(theta)
            plus = objective.direction_losses(theta, self.generator, seeds, [mu] * n)
            coefs = (plus - base) / mu
            loss = base
        else:
            both = objective.direction_losses(theta, self.generator, seeds + seeds,
                                              [mu] * n + [-mu] * n)
            plus, minus = both[:n], both[n:]
            coefs = (plus - minus) / (2 * mu)
            loss = float(np.mean(both))
        grad = np.zeros(theta.shape, dtype=np.float64)
        for s, coef in zip(seeds, coefs / n):
            grad += coef * self.generator(s, theta.size)  # regenerated, never stored
        if self.sign:
            grad = np.sign(grad)
        return Estimate(grad, float(loss), int(self.queries_per_step(theta.size)))


class CGE:
    """Coordinate-wise gradient estimator with optional coordinate sampling.

    Forward: ``g_i = (L(t + mu e_i) - L(t)) / mu`` (1 query per coordinate plus one base query).
    Central: ``g_i = (L(t + mu e_i) - L(t - mu e_i)) / (2 mu)`` (2 per coordinate).

    Parameters
    ----------
    mu : float
    scheme : {"forward", "central"}
    sample_prob : float
        Each coordinate is estimated with this probability per step (the authors skip half on
        MNIST); the others get 0 for this step.
    """

    forward_only = True

    def __init__(self, mu: float, scheme: str = "forward", sample_prob: float = 1.0):
        _check("mu", mu, mu > 0, "positive")
        _check("scheme", scheme, scheme in _SCHEMES, f"one of {_SCHEMES}")
        _check("sample_prob", sample_prob, 0 < sample_prob <= 1, "in (0, 1]")
        self.mu = float(mu)
        self.scheme = scheme
        self.sample_prob = float(sample_prob)
        self.name = f"CGE-{scheme}"

    def queries_per_step(self, dim: int) -> float:
        coords = dim * self.sample_prob
        return 2 * coords if self.scheme == "central" else coords + 1

    def coordinates(self, dim: int, seed: int) -> np.ndarray:
        """Coordinates sampled for the step with this seed, in increasing order."""
        if self.sample_prob >= 1.0:
            return np.arange(dim)
        rng = np.random.Generator(np.random.Philox(query_seed(seed, 0xC0)))
        return np.nonzero(rng.random(dim) < self.sample_prob)[0]

    def estimate(self, objective: Objective, theta: np.ndarray, seed: int) -> Estimate:
        idx = self.coordinates(theta.size, seed)
        grad = np.zeros(theta.shape, dtype=np.float64)
        mu = self.mu
        if self.scheme == "forward":
            base = objective.loss(theta)
            grad[idx] = (objective.coordinate_losses(theta, idx, mu) - base) / mu
            queries = idx.size + 1
            loss = base
        else:
            plus = objective.coordinate_losses(theta, idx, mu)
            minus = objective.coordinate_losses(theta, idx, -mu)
            grad[idx] = (plus - minus) / (2 * mu)
            queries = 2 * idx.size
            loss = float(np.mean(np.concatenate([plus, minus]))) if idx.size else np.nan
        return Estimate(grad, float(loss), int(queries))


def make_estimator(kind: str, **options) -> Estimator:
    """Build an estimator from a config table: ``kind`` is ``rge``, ``signrge`` or ``cge``."""
    kind_l = kind.lower()
    try:
        if kind_l == "rge":
            return RGE(**options)
        if kind_l == "signrge":
            return RGE(sign=True, **options)
        if kind_l == "cge":
            return CGE(**options)
    except TypeError as err:
        raise ValueError(f"bad options for estimator {kind!r}: {err}") from None
    raise ValueError(f"unknown estimator {kind!r}; choose from ['cge', 'rge', 'signrge']")
