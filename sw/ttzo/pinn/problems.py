"""The PDE problems ttzo ships.

- ``hjb20``: the 20-dimensional Hamilton-Jacobi-Bellman equation of the paper (terminal
  condition built into the ansatz).
- ``poisson2d``: ``-lap u = 2 pi^2 sin(pi x) sin(pi y)`` on the unit square, zero on the boundary
  (built in), solution ``sin(pi x) sin(pi y)``.
- ``heat<D>`` (``heat100`` by default): ``u_t = lap u`` on ``[0, 1]^D x [0, 1]`` with solution
  ``exp(-t) mean_i sin(x_i)``; initial condition built in, the space faces penalised.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import autograd.numpy as anp
import numpy as np

from .problem import BoundaryCondition, Box, PDEProblem
from .stein import Fields

__all__ = ["hjb", "poisson2d", "heat", "get_problem", "PROBLEM_NAMES"]


def hjb(space_dim: int = 20) -> PDEProblem:
    """``u_t + lap u - 0.05 |grad_x u|^2 + c = 0``, ``u(x, 1) = sum_i x_i``; ``u = sum x + 1 - t``.

    ``c = 1 + 0.05 D`` keeps the solution the same in every dimension ``D`` (the paper's
    ``c = 2`` at ``D = 20``). The network learns ``NN`` in ``u = sum_i x_i + (1 - t) NN(x, t)``
    (the exact ``NN`` is 1).
    """
    n = space_dim
    const = 1.0 + 0.05 * n

    def residual(f: Fields):
        grad_x = f.grad[:, :n]
        return f.grad[:, n] + f.lap - 0.05 * anp.sum(grad_x * grad_x, axis=1) + const

    return PDEProblem(
        name=f"hjb{n}", domain=Box.unit(n + 1), space=tuple(range(n)), residual=residual,
        ansatz=lambda x, nn: anp.sum(x[:, :n], axis=1) + (1.0 - x[:, n]) * nn,
        exact=lambda x: x[:, :n].sum(axis=1) + 1.0 - x[:, n],
        sigma=0.1, coordinates=tuple(f"x{i + 1}" for i in range(n)) + ("t",),
    )


def poisson2d() -> PDEProblem:
    """``-lap u = 2 pi^2 sin(pi x) sin(pi y)`` on ``[0, 1]^2``, ``u = 0`` on the boundary.

    The ansatz ``u = x (1 - x) y (1 - y) NN`` meets the boundary condition exactly. The
    smoothing radius is small (0.01) because the solution bends on a scale of ``1 / pi``: the
    smoothed solution differs from the solution by a factor ``exp(-pi^2 s^2)``.
    """
    pi = np.pi

    def residual(f: Fields):
        x, y = f.x[:, 0], f.x[:, 1]
        return -f.lap - 2.0 * pi**2 * np.sin(pi * x) * np.sin(pi * y)

    return PDEProblem(
        name="poisson2d", domain=Box.unit(2), space=(0, 1), residual=residual,
        ansatz=lambda x, nn: x[:, 0] * (1.0 - x[:, 0]) * x[:, 1] * (1.0 - x[:, 1]) * nn,
        exact=lambda x: np.sin(pi * x[:, 0]) * np.sin(pi * x[:, 1]),
        sigma=0.01, coordinates=("x", "y"),
    )


def heat(space_dim: int = 100) -> PDEProblem:
    """``u_t = lap u`` on ``[0, 1]^D x [0, 1]``; ``u = exp(-t) mean_i sin(x_i)``.

    The ansatz ``u = g(x) + t NN`` builds the initial condition ``g = mean_i sin(x_i)`` in; the
    solution is penalised on the faces ``x_i in {0, 1}``.
    """
    n = space_dim

    def exact(x):
        return np.exp(-x[:, n]) * np.sin(x[:, :n]).mean(axis=1)

    def residual(f: Fields):
        return f.grad[:, n] - f.lap

    domain = Box.unit(n + 1)
    faces = BoundaryCondition(
        sample=lambda rng, k: domain.sample_faces(rng, k, axes=range(n)), value=exact,
        weight=1.0, points=100)
    return PDEProblem(
        name=f"heat{n}", domain=domain, space=tuple(range(n)), residual=residual,
        ansatz=lambda x, nn: anp.mean(anp.sin(x[:, :n]), axis=1) + x[:, n] * nn,
        boundary=(faces,), exact=exact, sigma=0.1,
        coordinates=tuple(f"x{i + 1}" for i in range(n)) + ("t",),
    )


_FAMILIES: dict[str, Callable[..., PDEProblem]] = {"hjb": hjb, "heat": heat}
#: Names accepted by :func:`get_problem` (families take any dimension: ``hjb5``, ``heat10``).
PROBLEM_NAMES = ("hjb20", "poisson2d", "heat100")


def get_problem(name: str) -> PDEProblem:
    """A shipped problem by name: ``hjb20``, ``poisson2d``, ``heat100`` (or ``hjb<D>``,
    ``heat<D>`` for another space dimension)."""
    if name == "poisson2d":
        return poisson2d()
    match = re.fullmatch(r"([a-z]+)(\d+)", name)
    if match and match.group(1) in _FAMILIES and int(match.group(2)) >= 1:
        return _FAMILIES[match.group(1)](int(match.group(2)))
    raise ValueError(f"unknown PDE problem {name!r}; shipped: {', '.join(PROBLEM_NAMES)} "
                     "(hjb<D> and heat<D> take other dimensions)")
