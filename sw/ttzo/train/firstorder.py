"""First-order baseline: exact back-propagated gradients in NumPy.

Chosen over a PyTorch baseline so that the comparison runs the very same model code (the same
:class:`~ttzo.model.mlp.TTMLP` forward and parameter layout) with no extra dependency; the
backward is checked against finite differences in the tests.
"""

from __future__ import annotations

import numpy as np

from ttzo.zo.estimators import Estimate
from ttzo.zo.objective import ModelObjective

__all__ = ["Backprop"]


class Backprop:
    """Gradient "estimator" that differentiates: one forward and one backward pass per step."""

    name = "backprop"
    forward_only = False

    def queries_per_step(self, dim: int) -> float:
        return 1

    def estimate(self, objective: ModelObjective, theta: np.ndarray, seed: int) -> Estimate:
        if not hasattr(objective, "gradient"):
            raise TypeError(
                "first-order training needs a differentiable objective, not "
                f"{type(objective).__name__}"
            )
        objective.queries += 1
        grad, loss = objective.gradient(theta)
        return Estimate(grad, loss, 1)
