"""The loss as the accelerator computes it: quantized parameters, integer forward.

Used for quantization-aware BP-free training: the zeroth-order estimator sees the true
fixed-point loss. The optimizer keeps a float master copy of ``theta``; every query quantizes it
and, for device directions, perturbs the integers exactly as the engine does.
"""

from __future__ import annotations

import numpy as np

from ..model.losses import Loss
from ..zo.directions import DirectionGenerator
from ..zo.objective import Objective
from .model import GoldenModel
from .perturb import Perturbation

__all__ = ["GoldenObjective"]


class GoldenObjective(Objective):
    """Loss of the golden model on one batch.

    Parameters
    ----------
    golden : GoldenModel
    x : ndarray, shape (B, in_features)
        Float inputs (quantized once here).
    targets : ndarray
    loss : Loss
        Applied to the dequantized outputs.

    Notes
    -----
    Queries along ``device-rademacher``/``device-gauss`` directions are served as the device
    serves them: ``mu`` becomes a whole number of LSBs of each parameter's format and the integer
    parameters are perturbed by :func:`~ttzo.golden.perturb.apply_perturbation`. Other queries
    quantize the perturbed float vector.
    """

    def __init__(self, golden: GoldenModel, x: np.ndarray, targets: np.ndarray, loss: Loss):
        super().__init__()
        self.golden = golden
        self.dim = golden.dim
        self.x_int = golden.quantize_inputs(x)
        self.targets = targets
        self.loss_def = loss

    def _loss_int(self, outputs_int: np.ndarray) -> float:
        outputs = self.golden.numerics.activation.dequantize(outputs_int)
        return float(self.loss_def.fn(outputs, self.targets))

    def _loss(self, theta: np.ndarray) -> float:
        return self._loss_int(self.golden.forward_int(self.golden.quantize_params(theta),
                                                      self.x_int))

    def direction_losses(self, theta: np.ndarray, directions: DirectionGenerator, seeds,
                         steps) -> np.ndarray:
        name = getattr(directions, "name", "")
        if not name.startswith("device-"):
            return super().direction_losses(theta, directions, seeds, steps)
        theta_int = self.golden.quantize_params(theta)
        lsb = self.golden.numerics.weight.lsb
        out = np.empty(len(seeds))
        for q, (seed, step) in enumerate(zip(seeds, steps)):
            mu = max(1, int(round(abs(step) / lsb)))
            pert = Perturbation(name.removeprefix("device-"), mu=mu, negate=step < 0,
                                seed=int(seed))
            out[q] = self._loss_int(self.golden.forward_perturbed(theta_int, self.x_int, pert))
        self.queries += len(seeds)
        return out
