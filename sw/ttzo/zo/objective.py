"""The optimizer's view of a model: "evaluate the loss at these perturbations".

Estimators only talk to an :class:`Objective`. Whether the loss comes from the float NumPy model,
a fixed-point golden model, an RTL simulation or a board is the objective's business. Every
objective counts the forward queries (loss evaluations on the batch) it serves.
"""

from __future__ import annotations

import multiprocessing
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from ttzo.model.coordinate import CoordinateQueries
from ttzo.model.losses import Loss
from ttzo.model.mlp import TTMLP

from .directions import DirectionGenerator

__all__ = ["Objective", "FunctionObjective", "ModelObjective", "ParallelQueries"]


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


# The direction queries a forked worker evaluates: set by the parent right before it forks, so
# the objective reaches the workers without being pickled (PDE residuals may be closures).
_FORKED: tuple | None = None


def _forked_chunk(indices: np.ndarray) -> np.ndarray:
    objective, theta, directions, seeds, steps = _FORKED
    return objective.direction_losses(theta, directions, [seeds[i] for i in indices],
                                      [steps[i] for i in indices])


class ParallelQueries(Objective):
    """Serves ``inner``'s direction queries from ``workers`` forked processes.

    A zeroth-order step's random-direction queries are independent full forwards; here they are
    split into ``workers`` contiguous chunks, each evaluated by a process forked for the call
    (the objective of a step changes every step, and forking hands it over without pickling).
    Every query is computed exactly as ``inner`` computes it, so the losses are bit for bit the
    serial ones. Other queries (``loss``, coordinate queries, which have their own fast paths)
    and attributes go to ``inner`` directly. POSIX only (``fork``).

    Parameters
    ----------
    inner : Objective
    workers : int
        Processes per call (at least 2 to gain anything).
    """

    def __init__(self, inner: Objective, workers: int):
        if int(workers) != workers or workers < 1:
            raise ValueError(f"workers must be a positive integer, not {workers!r}")
        super().__init__()
        self.inner = inner
        self.dim = inner.dim
        self.workers = int(workers)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)  # gradient(), fields(), stencil, ...

    def _loss(self, theta: np.ndarray) -> float:
        return self.inner._loss(theta)

    def loss(self, theta: np.ndarray) -> float:
        self.queries += 1
        return self.inner.loss(theta)

    def coordinate_losses(self, theta: np.ndarray, indices: np.ndarray, step: float) -> np.ndarray:
        self.queries += len(indices)
        return self.inner.coordinate_losses(theta, indices, step)

    def direction_losses(self, theta, directions, seeds, steps) -> np.ndarray:
        global _FORKED
        n = len(seeds)
        workers = min(self.workers, n)
        if workers < 2:
            out = self.inner.direction_losses(theta, directions, seeds, steps)
        else:
            chunks = np.array_split(np.arange(n), workers)
            _FORKED = (self.inner, theta, directions, list(seeds), list(steps))
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    out = np.concatenate(pool.map(_forked_chunk, chunks))
            finally:
                _FORKED = None
        self.queries += n
        return out
