"""Twins: back-propagation-free physics-informed networks, derivatives from forward evaluations.

- :mod:`.quadrature`: Gauss-Hermite rules and Smolyak sparse grids for ``N(0, I)``.
- :mod:`.stein`: Stein estimates of the smoothed value, gradient, Laplacian and second
  derivatives on a stencil (sparse grid or Monte Carlo).
- :mod:`.problem`: how a PDE is stated (residual, domain, ansatz, conditions, exact solution).
- :mod:`.problems`: the shipped problems (HJB, Poisson, heat).
- :mod:`.network`: the solution candidate ``u(theta, x)`` built on a TT-MLP.
- :mod:`.objective`: the physics-informed loss behind the optimizer's objective interface.
"""

from .problem import BoundaryCondition, Box, PDEProblem
from .problems import PROBLEM_NAMES, get_problem
from .quadrature import QuadratureRule, gauss_hermite, sparse_grid
from .stein import Fields, SteinStencil, monte_carlo_stencil, sparse_grid_stencil

__all__ = [
    "BoundaryCondition", "Box", "Fields", "PDEProblem", "PROBLEM_NAMES", "QuadratureRule",
    "SteinStencil", "gauss_hermite", "get_problem", "monte_carlo_stencil", "sparse_grid",
    "sparse_grid_stencil",
]
