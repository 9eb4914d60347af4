"""The loss as the accelerator computes it: quantized parameters, integer forward.

Used for quantization-aware BP-free training: the zeroth-order estimator sees the true
fixed-point loss. The optimizer keeps a float master copy of ``theta``; every query quantizes it
and perturbs the integers exactly as the engine does. :class:`GoldenObjective` computes the
forwards with the golden model; :class:`ttzo.driver.objective.DeviceObjective` sends the same
queries to an accelerator and gets the same losses, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ttzo.model.losses import Loss
from ttzo.spec.perturb import Perturbation
from ttzo.spec.rng import DeviceDirections
from ttzo.zo.directions import DirectionGenerator
from ttzo.zo.objective import Objective

from .model import GoldenModel

__all__ = ["GoldenObjective", "UNPERTURBED", "device_kind", "device_step"]

#: The unperturbed query (``mu`` is ignored in mode ``none``).
UNPERTURBED = Perturbation("none")


def device_kind(directions: DirectionGenerator) -> str | None:
    """The device RNG's direction kind a generator draws (``rademacher``/``gauss``), or ``None``
    for a generator the device cannot reproduce."""
    return directions.kind if isinstance(directions, DeviceDirections) else None


def device_step(step: float, lsb: float) -> tuple[int, bool]:
    """A float perturbation step as the device takes it: whole LSBs (at least one) and a sign."""
    return max(1, int(round(abs(step) / lsb))), step < 0


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
    Queries are served as the device serves them: along ``device-rademacher``/``device-gauss``
    directions and along coordinates, the step becomes a whole number of LSBs ``mu`` of each
    parameter's format (:func:`device_step`, from the weight format's LSB) and the integer
    parameters are perturbed by :func:`~ttzo.golden.perturb.apply_perturbation`. Queries along
    other directions quantize the perturbed float vector (the device cannot serve them).
    Subclasses change where the integer forwards run by overriding :meth:`outputs_int`.
    """

    def __init__(self, golden: GoldenModel, x: np.ndarray, targets: np.ndarray, loss: Loss):
        super().__init__()
        self.golden = golden
        self.dim = golden.dim
        self.x_int = golden.quantize_inputs(x)
        self.targets = targets
        self.loss_def = loss

    def outputs_int(self, theta_int: np.ndarray,
                    perturbations: Sequence[Perturbation]) -> list[np.ndarray]:
        """Integer outputs of the batch at ``theta_int`` under each perturbation."""
        return [self.golden.forward_perturbed(theta_int, self.x_int, p) for p in perturbations]

    def _loss_int(self, outputs_int: np.ndarray) -> float:
        outputs = self.golden.numerics.activation.dequantize(outputs_int)
        return float(self.loss_def.fn(outputs, self.targets))

    def _losses(self, theta: np.ndarray, perturbations: Sequence[Perturbation]) -> np.ndarray:
        outputs = self.outputs_int(self.golden.quantize_params(theta), perturbations)
        return np.array([self._loss_int(out) for out in outputs])

    def _loss(self, theta: np.ndarray) -> float:
        return float(self._losses(theta, [UNPERTURBED])[0])

    def direction_losses(self, theta: np.ndarray, directions: DirectionGenerator, seeds,
                         steps) -> np.ndarray:
        kind = device_kind(directions)
        if kind is None:
            return super().direction_losses(theta, directions, seeds, steps)
        lsb = self.golden.numerics.weight.lsb
        perts = [Perturbation(kind, *device_step(step, lsb), seed=int(seed))
                 for seed, step in zip(seeds, steps)]
        self.queries += len(perts)
        return self._losses(theta, perts)

    def coordinate_losses(self, theta: np.ndarray, indices: np.ndarray, step: float) -> np.ndarray:
        mu, negate = device_step(step, self.golden.numerics.weight.lsb)
        perts = [Perturbation("coordinate", mu, negate, index=int(i)) for i in indices]
        self.queries += len(perts)
        return self._losses(theta, perts)
