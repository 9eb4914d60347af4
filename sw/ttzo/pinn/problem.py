"""How a user states a PDE for ttzo: residual, domain, conditions, exact solution.

The network ``NN(theta, x)`` becomes the solution candidate ``u(x)`` through an optional
hard-constraint ``ansatz(x, nn)`` (e.g. ``u = g(x) + (1 - t) * nn`` builds a terminal condition
in); conditions that are not built in are penalised on sampled boundary points. The residual is
a function of :class:`~ttzo.pinn.stein.Fields` (``u``, ``grad``, ``lap``, ``second(i, k)`` and
the points ``x``), so the same statement serves the Stein estimators (forward evaluations only)
and the autodiff baseline.

Write ``ansatz`` and ``residual`` with array operators and :mod:`autograd.numpy` functions
(``anp.sin`` rather than ``np.sin`` on values that depend on ``x`` or ``u``): the autodiff
baseline traces them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .stein import Fields

__all__ = ["Box", "BoundaryCondition", "PDEProblem"]

Sampler = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True)
class Box:
    """The axis-aligned box ``low <= x <= high`` (space and time coordinates alike)."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high) or not self.low:
            raise ValueError(f"box bounds {self.low} and {self.high} differ in length")
        bad = [i for i, (lo, hi) in enumerate(zip(self.low, self.high)) if not lo < hi]
        if bad:
            raise ValueError(f"box coordinate(s) {bad} have low >= high")

    @classmethod
    def unit(cls, dim: int) -> Box:
        return cls((0.0,) * dim, (1.0,) * dim)

    @property
    def dim(self) -> int:
        return len(self.low)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniform points, shape ``(n, dim)``."""
        low, high = np.array(self.low), np.array(self.high)
        return low + (high - low) * rng.random((n, self.dim))

    def sample_faces(self, rng: np.random.Generator, n: int,
                     axes: Sequence[int] | None = None) -> np.ndarray:
        """``n`` uniform points on the faces ``x_i = low_i`` or ``high_i`` for ``i`` in ``axes``."""
        axes = list(range(self.dim)) if axes is None else list(axes)
        x = self.sample(rng, n)
        axis = rng.choice(axes, size=n)
        side = rng.integers(0, 2, size=n)
        x[np.arange(n), axis] = np.where(side == 1, np.array(self.high)[axis],
                                         np.array(self.low)[axis])
        return x


@dataclass(frozen=True)
class BoundaryCondition:
    """A soft condition ``u(x) = value(x)`` on sampled points, penalised as ``weight * MSE``."""

    sample: Sampler
    value: Callable[[np.ndarray], np.ndarray]
    weight: float = 1.0
    points: int = 100


@dataclass(frozen=True)
class PDEProblem:
    """A PDE on a box, stated for physics-informed training.

    Parameters
    ----------
    name : str
    domain : Box
        Where collocation points are drawn (uniformly) and the error is measured.
    space : tuple of int
        The coordinates the Laplacian sums over (the others, e.g. time, are traced by the
        gradient only).
    residual : callable
        ``residual(fields) -> (P,)``; zero where the PDE holds.
    ansatz : callable or None
        ``ansatz(x, nn) -> u`` with ``nn`` the network's single output ``(P,)``; ``None`` means
        ``u = nn``.
    boundary : tuple of BoundaryCondition
        Penalised conditions (empty when the ansatz builds them in).
    exact : callable or None
        ``exact(x) -> (P,)``, the solution, for the relative L2 error.
    sigma : float
        Smoothing radius of the Stein estimators for this problem.
    coordinates : tuple of str
        Coordinate names, for plots and messages.
    """

    name: str
    domain: Box
    space: tuple[int, ...]
    residual: Callable[[Fields], np.ndarray]
    ansatz: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    boundary: tuple[BoundaryCondition, ...] = ()
    exact: Callable[[np.ndarray], np.ndarray] | None = None
    sigma: float = 0.1
    coordinates: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        bad = [i for i in self.space if not 0 <= i < self.dim]
        if bad:
            raise ValueError(f"problem {self.name!r}: space coordinates {bad} are outside "
                             f"0..{self.dim - 1}")
        if not self.coordinates:
            names = tuple(f"x{i + 1}" for i in range(self.dim))
            object.__setattr__(self, "coordinates", names)
        elif len(self.coordinates) != self.dim:
            raise ValueError(f"problem {self.name!r}: {len(self.coordinates)} coordinate names "
                             f"for {self.dim} coordinates")
        if not self.sigma > 0:
            raise ValueError(f"problem {self.name!r}: sigma must be positive, not {self.sigma!r}")

    @property
    def dim(self) -> int:
        return self.domain.dim

    def solution(self, x: np.ndarray, nn: np.ndarray) -> np.ndarray:
        """The candidate ``u`` at ``x`` from the network output ``nn`` ``(P,)``."""
        return nn if self.ansatz is None else self.ansatz(x, nn)

    def relative_l2(self, predicted: np.ndarray, x: np.ndarray) -> float:
        """``||u - u_exact|| / ||u_exact||`` over the points ``x``."""
        if self.exact is None:
            raise ValueError(f"problem {self.name!r} has no exact solution to compare with")
        exact = self.exact(x)
        return float(np.linalg.norm(predicted - exact) / np.linalg.norm(exact))
