"""Physics-informed losses behind the optimizer's :class:`~ttzo.zo.objective.Objective` interface.

The loss of a step is the mean squared PDE residual at its collocation points plus the weighted
mean squared misfit of every penalised boundary condition. Two ways to get ``u``'s derivatives:

- :class:`SteinPinnObjective`: Stein estimates from ``u`` at stencil points (forward evaluations
  only; the BP-free path). Its ``gradient`` back-propagates through the same estimates (the
  "first order + Stein" baseline).
- :class:`AutodiffPinnObjective`: exact derivatives by automatic differentiation and the exact
  parameter gradient (the classic first-order PINN baseline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd import elementwise_grad, value_and_grad

from ttzo.zo.objective import Objective

from .network import PinnNetwork
from .problem import BoundaryCondition
from .stein import Fields, SteinStencil

__all__ = ["BoundaryBatch", "SteinPinnObjective", "AutodiffPinnObjective", "pinn_loss"]


@dataclass(frozen=True)
class BoundaryBatch:
    """Points of one penalised condition, the values ``u`` must take there, and the weight."""

    x: np.ndarray
    target: np.ndarray
    weight: float

    @classmethod
    def of(cls, condition: BoundaryCondition, x: np.ndarray) -> BoundaryBatch:
        """``condition`` at the points ``x``: its target values and weight."""
        return cls(x, condition.value(x), condition.weight)


def pinn_loss(residual, fields: Fields, boundary: Sequence[BoundaryBatch],
              boundary_u: Sequence) -> float:
    """``mean(residual(fields)^2) + sum_k weight_k * mean((u_k - target_k)^2)``.

    Written with array operators only, so autograd can trace it.
    """
    r = residual(fields)
    total = anp.mean(r * r)
    for batch, u_b in zip(boundary, boundary_u):
        diff = u_b - batch.target
        total = total + batch.weight * anp.mean(diff * diff)
    return total


class _PinnObjective(Objective):
    def __init__(self, net: PinnNetwork, x: np.ndarray, boundary: Sequence[BoundaryBatch] = ()):
        super().__init__()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != net.problem.dim:
            raise ValueError(f"collocation points of shape {x.shape} do not fit problem "
                             f"{net.problem.name!r} in {net.problem.dim} dimensions")
        self.net = net
        self.problem = net.problem
        self.dim = net.dim
        self.x = x
        self.boundary = tuple(boundary)


class SteinPinnObjective(_PinnObjective):
    """The loss with Stein-estimated derivatives: ``P * J`` forward evaluations per query.

    Parameters
    ----------
    net : PinnNetwork
    stencil : SteinStencil
        Keep the same stencil for all queries of one optimizer step.
    x : ndarray, shape (P, D)
        Collocation points.
    boundary : sequence of BoundaryBatch
    """

    def __init__(self, net: PinnNetwork, stencil: SteinStencil, x: np.ndarray,
                 boundary: Sequence[BoundaryBatch] = ()):
        super().__init__(net, x, boundary)
        if stencil.dim != self.problem.dim:
            raise ValueError(f"a stencil in {stencil.dim} dimensions does not fit problem "
                             f"{self.problem.name!r} in {self.problem.dim}")
        self.stencil = stencil
        self._offsets = stencil.sigma * stencil.point_offsets
        self._points = stencil.points(self.x).reshape(-1, self.problem.dim)

    @property
    def evaluations_per_query(self) -> int:
        """Network evaluations (points) one loss query costs."""
        return self._points.shape[0] + sum(b.x.shape[0] for b in self.boundary)

    def _values(self, theta: np.ndarray):
        values = self.net.u_stencil(theta, self.x, self._offsets)
        return values, [self.net.u(theta, b.x) for b in self.boundary]

    def _loss_of_values(self, values, boundary_u):
        return pinn_loss(self.problem.residual, self.stencil.fields(self.x, values),
                         self.boundary, boundary_u)

    def _loss(self, theta: np.ndarray) -> float:
        return float(self._loss_of_values(*self._values(theta)))

    def fields(self, theta: np.ndarray) -> Fields:
        """The Stein estimates at the collocation points (no query counted)."""
        return self.stencil.fields(self.x, self._values(theta)[0])

    def gradient(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        """Back-propagated gradient of the Stein-estimated loss, and the loss."""
        values, boundary_u = self._values(theta)
        # d loss / d u at every stencil and boundary point (autograd handles the tuple)
        loss, (g_values, g_boundary) = value_and_grad(
            lambda vb: self._loss_of_values(*vb))((values, boundary_u))
        total = self.net.vjp(theta, self._points, g_values.reshape(-1))
        for batch, g_b in zip(self.boundary, g_boundary):
            total += self.net.vjp(theta, batch.x, g_b)
        return total, float(loss)


class AutodiffPinnObjective(_PinnObjective):
    """The loss with exact derivatives of ``u`` (automatic differentiation in ``x``).

    ``u``, its gradient and Laplacian come from one forward-mode pass with ``D + 2`` channels
    (:meth:`PinnNetwork.traced_fields`); :meth:`gradient` differentiates it in ``theta``.
    """

    def _fields(self, theta, x) -> Fields:
        # value, gradient and Laplacian by forward mode; other second derivatives (few PDEs
        # need them) by nested reverse passes, on demand
        u, g, lap = self.net.traced_fields(theta, x, self.problem.space)
        u_fn = lambda xx: self.net.traced_u(theta, xx)  # noqa: E731 - a closure over theta
        grad_fn = elementwise_grad(u_fn)  # rows are independent: per-point gradients

        def second(i: int, k: int):
            return elementwise_grad(lambda xx: grad_fn(xx)[:, i])(x)[:, k]

        return Fields(x=x, u=u, grad=g, lap=lap, second=second)

    def _traced_loss(self, theta):
        boundary_u = [self.net.traced_u(theta, b.x) for b in self.boundary]
        return pinn_loss(self.problem.residual, self._fields(theta, self.x), self.boundary,
                         boundary_u)

    def _loss(self, theta: np.ndarray) -> float:
        return float(self._traced_loss(theta))

    def fields(self, theta: np.ndarray) -> Fields:
        """Exact ``u``, gradient and Laplacian at the collocation points."""
        return self._fields(theta, self.x)

    def gradient(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        loss, g = value_and_grad(self._traced_loss)(theta)
        return np.asarray(g), float(loss)
