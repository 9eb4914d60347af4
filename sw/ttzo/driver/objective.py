"""Training on the accelerator: the optimizer's queries answered by forward passes on a device.

The optimizer sees an :class:`~ttzo.zo.objective.Objective` as always; here every forward runs
on the device behind a :class:`~ttzo.driver.device.Device` (a board over its serial port, the
bit-exact emulator, or the gateware in simulation). The host keeps the float master parameters;
the device holds their quantized copy (written only when it changes) and the batch (loaded only
when it differs from what is on chip, slice by slice when it does not fit), and a query crosses
the link as one EVAL command: mode, step in LSBs, sign, and a seed or a coordinate. The device
regenerates the direction from the seed with its RNG, the host's estimator from the same seed
with the RNG's golden twin (``device-rademacher`` / ``device-gauss`` directions), so both use
the same bits. The losses equal :class:`~ttzo.golden.objective.GoldenObjective`'s bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ttzo.golden.model import GoldenModel
from ttzo.golden.objective import GoldenObjective, device_kind
from ttzo.model.losses import Loss
from ttzo.spec.perturb import Perturbation
from ttzo.zo.directions import DirectionGenerator

from .device import Device

__all__ = ["DeviceSession", "DeviceObjective"]


class DeviceSession:
    """A device's parameter and input memories, as the host last wrote them.

    Parameters
    ----------
    device : Device
        Already checked against the model (``Device(link, config)``).
    name : str
        What the device is (``emulator``, a serial port), for reports.
    """

    def __init__(self, device: Device, name: str = "device"):
        self.device = device
        self.name = name
        info = device.info
        self.capacity = info["lanes"] * info["input_groups"]
        self._params: np.ndarray | None = None
        self._inputs: np.ndarray | None = None
        self._groups = 0
        self.param_writes = 0
        self.input_loads = 0

    def summary(self) -> dict[str, object]:
        """What the run asked of the device: where it ran, memory writes, what the link cost."""
        return {"device": self.name, "device_param_writes": self.param_writes,
                "device_input_loads": self.input_loads,
                "device_retransmissions": self.device.retransmissions,
                "device_link": self.device.stats.as_dict()}

    def set_params(self, theta_int: np.ndarray) -> None:
        """Make the device's parameters ``theta_int`` (written only if they changed)."""
        if self._params is None or not np.array_equal(self._params, theta_int):
            self._params = None  # a failed write leaves the device's copy unknown
            self.device.write_params(theta_int)
            self._params = np.array(theta_int, copy=True)
            self.param_writes += 1

    def _load(self, x_int: np.ndarray) -> int:
        if self._inputs is None or not np.array_equal(self._inputs, x_int):
            self._inputs = None
            self._groups = self.device.load_inputs(x_int)
            self._inputs = np.array(x_int, copy=True)
            self.input_loads += 1
        return self._groups

    def forward(self, theta_int: np.ndarray, x_int: np.ndarray,
                perturbations: Sequence[Perturbation]) -> list[np.ndarray]:
        """Integer outputs ``(n, out_features)`` of the samples ``x_int`` under each
        perturbation of ``theta_int``, computed by the device."""
        self.set_params(theta_int)
        n = x_int.shape[0]
        parts: list[list[np.ndarray]] = [[] for _ in perturbations]
        for lo in range(0, n, self.capacity):
            chunk = x_int[lo:lo + self.capacity]
            groups = self._load(chunk)
            for q, pert in enumerate(perturbations):
                parts[q].append(self.device.evaluate(pert, groups)[:chunk.shape[0]])
        return [np.concatenate(p) for p in parts]


class DeviceObjective(GoldenObjective):
    """Loss of one batch with every forward pass on a device.

    Parameters
    ----------
    session : DeviceSession
    golden : GoldenModel
        The model's golden twin: quantization of parameters, inputs and outputs.
    x : ndarray, shape (B, in_features)
    targets : ndarray
    loss : Loss

    Raises
    ------
    ValueError
        A query along directions the device cannot draw (not ``device-*``).
    """

    def __init__(self, session: DeviceSession, golden: GoldenModel, x: np.ndarray,
                 targets: np.ndarray, loss: Loss):
        super().__init__(golden, x, targets, loss)
        self.session = session

    def outputs_int(self, theta_int: np.ndarray,
                    perturbations: Sequence[Perturbation]) -> list[np.ndarray]:
        return self.session.forward(theta_int, self.x_int, perturbations)

    def direction_losses(self, theta: np.ndarray, directions: DirectionGenerator, seeds,
                         steps) -> np.ndarray:
        if device_kind(directions) is None:
            raise ValueError(f"the device draws its own directions: use device-rademacher or "
                             f"device-gauss, not {getattr(directions, 'name', directions)!r}")
        return super().direction_losses(theta, directions, seeds, steps)
