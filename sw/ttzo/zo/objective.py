"""The optimizer's view of a model: "evaluate the loss at these perturbations".

Estimators only talk to an :class:`Objective`. Whether the loss comes from the float NumPy model,
a fixed-point golden model, an RTL simulation or a board is the objective's business. Every
objective counts the forward queries (loss evaluations on the batch) it serves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from ..model.coordinate import CoordinateQueries
from ..model.losses import Loss
from ..model.mlp import TTMLP
from .directions import DirectionGenerator

__all__ = ["Objective", "FunctionObjective", "ModelObjective"]


class Objective(ABC):
    """A scalar loss of a parameter vector on a fixed batch.

    Attributes
    ----------
    dim : int
        Length of the parameter vector.
    queries : int
        Forward queries served so far.
    """

    dim: int

    def __init__(self) -> None:
        self.queries = 0

    @abstractmethod
    def _loss(self, theta: np.ndarray) -> float: ...

    def loss(self, theta: np.ndarray) -> float:
        """``L(theta)``: one query."""
        self.queries += 1
        return self._loss(theta)

    def direction_losses(
        self,
        theta: np.ndarray,
        directions: DirectionGenerator,
        seeds: Sequence[int],
        steps: Sequence[float],
    ) -> np.ndarray:
        """``L(theta + steps[q] * u(seeds[q]))`` for every query ``q``; one query each."""
        out = np.empty(len(seeds))
        for q, (seed, step) in enumerate(zip(seeds, steps)):
            out[q] = self._loss(theta + step * directions(seed, self.dim))
        self.queries += len(seeds)
        return out

    def coordinate_losses(self, theta: np.ndarray, indices: np.ndarray, step: float) -> np.ndarray:
        """``L(theta + step * e_i)`` for every ``i`` in ``indices``; one query each."""
        out = np.empty(len(indices))
        probe = theta.copy()
        for q, i in enumerate(indices):
            probe[i] = theta[i] + step
            out[q] = self._loss(probe)
            probe[i] = theta[i]
        self.queries += len(indices)
        return out


class FunctionObjective(Objective):
    """Wraps a plain function ``fn(theta) -> float``: the straightforward reference."""

    def __init__(self, fn: Callable[[np.ndarray], float], dim: int):
        super().__init__()
        self.fn = fn
        self.dim = dim

    def _loss(self, theta: np.ndarray) -> float:
        return float(self.fn(theta))


class ModelObjective(Objective):
    """Loss of a :class:`TTMLP` on one batch, with the fast coordinate path.

    Parameters
    ----------
    model : TTMLP
    x : ndarray, shape (B, in_features)
    targets : ndarray
    loss : Loss
    incremental : bool
        Serve coordinate queries through :class:`CoordinateQueries` (reusing the unperturbed
        forward). ``False`` gives the straightforward one-forward-per-query path, kept for
        benchmarks and tests.
    """

    def __init__(self, model: TTMLP, x: np.ndarray, targets: np.ndarray, loss: Loss,
                 incremental: bool = True):
        super().__init__()
        self.model = model
        self.dim = model.dim
        self.x = x
        self.targets = targets
        self.loss_def = loss
        self.incremental = incremental
        self._cached: tuple[np.ndarray, CoordinateQueries] | None = None

    def _loss(self, theta: np.ndarray) -> float:
        return float(self.loss_def.fn(self.model.forward(theta, self.x), self.targets))

    def _queries_at(self, theta: np.ndarray) -> CoordinateQueries:
        if self._cached is None or not np.array_equal(self._cached[0], theta):
            cq = CoordinateQueries(self.model, theta, self.x, self.targets, self.loss_def.fn)
            self._cached = (theta.copy(), cq)
        return self._cached[1]

    def loss(self, theta: np.ndarray) -> float:
        if not self.incremental:
            return super().loss(theta)
        self.queries += 1
        return self._queries_at(theta).base_loss()

    def coordinate_losses(self, theta: np.ndarray, indices: np.ndarray, step: float) -> np.ndarray:
        if not self.incremental:
            return super().coordinate_losses(theta, indices, step)
        self.queries += len(indices)
        return self._queries_at(theta).losses(indices, step)

    def gradient(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        """Back-propagated gradient and loss (first-order baseline only)."""
        grad, outputs = self.model.gradient(
            theta, self.x, lambda out: self.loss_def.grad(out, self.targets)
        )
        return grad, float(self.loss_def.fn(outputs, self.targets))
