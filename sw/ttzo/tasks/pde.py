"""Physics-informed training of a PDE problem: the task the training loop runs.

Collocation points come from a pool drawn once from the problem's domain (``pool`` points); the
loop's per-epoch permutation hands each step a fresh batch, so every step sees new points and a
resumed run sees the same ones. How derivatives are obtained is the task's business:

- ``sparse-grid``: Stein estimates on the Smolyak sparse grid (forward evaluations only);
- ``monte-carlo``: Stein estimates from antithetic Gaussian samples, drawn anew each step and
  shared by all queries of that step;
- ``autodiff``: exact derivatives by automatic differentiation (first-order baseline only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ttzo.model.mlp import TTMLP
from ttzo.pinn.network import PinnNetwork
from ttzo.pinn.objective import AutodiffPinnObjective, BoundaryBatch, SteinPinnObjective
from ttzo.pinn.problem import PDEProblem
from ttzo.pinn.problems import get_problem
from ttzo.pinn.stein import LAPLACIANS, SteinStencil, monte_carlo_stencil, sparse_grid_stencil
from ttzo.zo.directions import query_seed

__all__ = ["PinnSettings", "PDETask", "DERIVATIVES"]

DERIVATIVES = ("sparse-grid", "monte-carlo", "autodiff")
_VALIDATION_KEY = 0xFFFFFFFF  # Monte Carlo draw of the validation loss, fixed for the run


@dataclass(frozen=True)
class PinnSettings:
    """The ``[pinn]`` table of a training config.

    Parameters
    ----------
    problem : str
        A shipped problem (see :func:`ttzo.pinn.problems.get_problem`).
    derivatives : str
        ``sparse-grid``, ``monte-carlo`` or ``autodiff``.
    level : int
        Sparse-grid level (3 integrates the fourth moments the Laplacian needs).
    samples : int
        Monte Carlo antithetic pairs per point.
    laplacian : str
        The Stein stencil's Laplacian: ``stein`` (Stein weights) or ``heat`` (the heat-equation
        difference of smoothed values; exact to two more degrees, about twice the points).
    sigma : float or None
        Smoothing radius; ``None`` takes the problem's.
    pool : int
        Collocation points drawn once; an epoch is one pass over them.
    val_points : int
        Points of the validation loss (drives the plateau test).
    test_points : int
        Uniform points of the relative L2 error.
    zero_output_layer : bool
        Start the output layer (weight and bias) at zero, so that training starts from the
        ansatz's own function (``NN = 0``) instead of a random one. With a zeroth-order
        optimizer every random feature of the initial network is a direction it must find and
        undo; starting flat removes them.
    """

    problem: str
    derivatives: str = "sparse-grid"
    level: int = 3
    samples: int = 256
    laplacian: str = "stein"
    sigma: float | None = None
    pool: int = 100_000
    val_points: int = 200
    test_points: int = 10_000
    zero_output_layer: bool = False

    def __post_init__(self) -> None:
        get_problem(self.problem)
        if self.derivatives not in DERIVATIVES:
            raise ValueError(f"[pinn] derivatives must be one of {', '.join(DERIVATIVES)}, "
                             f"not {self.derivatives!r}")
        for key in ("level", "samples", "pool", "val_points", "test_points"):
            value = getattr(self, key)
            if int(value) != value or value < 1:
                raise ValueError(f"[pinn] {key} must be a positive integer, not {value!r}")
        if self.sigma is not None and not self.sigma > 0:
            raise ValueError(f"[pinn] sigma must be positive, not {self.sigma!r}")
        if self.laplacian not in LAPLACIANS:
            raise ValueError(f"[pinn] laplacian must be one of {', '.join(LAPLACIANS)}, not "
                             f"{self.laplacian!r}")

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> PinnSettings:
        known = set(cls.__dataclass_fields__)
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"[pinn]: unknown setting(s) {sorted(unknown)}; known: "
                             f"{sorted(known)}")
        if "problem" not in table:
            raise ValueError("[pinn] needs a problem (e.g. problem = \"hjb20\")")
        return cls(**table)


class PDETask:
    """Train ``model`` to solve ``settings.problem``; report the relative L2 error.

    Parameters
    ----------
    model : TTMLP
    settings : PinnSettings
    seed : int
        Draws the collocation pool, boundary points, validation and test points.
    """

    def __init__(self, model: TTMLP, settings: PinnSettings, seed: int = 0):
        self.settings = settings
        self.problem: PDEProblem = get_problem(settings.problem)
        self.name = self.problem.name
        self.net = PinnNetwork(self.problem, model)
        self.model = model
        self.dim = model.dim
        self.n_train = settings.pool
        self.sigma = settings.sigma or self.problem.sigma
        self.seed = seed
        domain = self.problem.domain
        rng = np.random.default_rng(query_seed(seed, 0xC011))
        self.pool = domain.sample(rng, settings.pool)
        self.boundary_pools = [bc.sample(rng, settings.pool) for bc in self.problem.boundary]
        self.x_val = domain.sample(rng, settings.val_points)
        self.val_boundary = [BoundaryBatch.of(bc, bc.sample(rng, bc.points))
                             for bc in self.problem.boundary]
        self.x_test = domain.sample(rng, settings.test_points)
        self._grid: SteinStencil | None = None

    @property
    def forward_only_derivatives(self) -> bool:
        return self.settings.derivatives != "autodiff"

    def stencil(self, key: int) -> SteinStencil:
        """The Stein stencil of a step (``key`` seeds Monte Carlo draws)."""
        s = self.settings
        if s.derivatives == "sparse-grid":
            if self._grid is None:
                self._grid = sparse_grid_stencil(self.problem.dim, self.sigma, s.level,
                                                 self.problem.space, s.laplacian)
            return self._grid
        rng = np.random.default_rng(query_seed(self.seed, 0x57E1, key))
        return monte_carlo_stencil(self.problem.dim, self.sigma, s.samples, rng,
                                   self.problem.space, s.laplacian)

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        theta = self.model.init_params(rng)
        if self.settings.zero_output_layer:
            last = len(self.model.spec.layers) - 1
            for block in self.model.blocks:
                if block.layer == last:
                    theta[block.offset : block.offset + block.size] = 0.0
        return theta

    def _objective(self, x: np.ndarray, boundary: list[BoundaryBatch], key: int):
        if self.settings.derivatives == "autodiff":
            return AutodiffPinnObjective(self.net, x, boundary)
        return SteinPinnObjective(self.net, self.stencil(key), x, boundary)

    def objective(self, indices: np.ndarray):
        boundary = [BoundaryBatch.of(bc, pool[np.resize(indices, bc.points)])
                    for bc, pool in zip(self.problem.boundary, self.boundary_pools)]
        key = query_seed(*(int(i) for i in indices[:8]))  # a step's own Monte Carlo draw
        return self._objective(self.pool[indices], boundary, key)

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The network's solution ``u`` at ``x`` (unsmoothed)."""
        return self.net.u(theta, x)

    def evaluate(self, theta: np.ndarray) -> dict[str, float]:
        """``val_loss`` (the training loss on the validation points) and ``test_rel_l2``."""
        val = self._objective(self.x_val, self.val_boundary, _VALIDATION_KEY)
        out = {"val_loss": float(val.loss(theta))}
        if self.problem.exact is not None:
            out["test_rel_l2"] = self.problem.relative_l2(self.predict(theta, self.x_test),
                                                          self.x_test)
        return out
