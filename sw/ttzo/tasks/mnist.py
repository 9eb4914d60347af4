"""MNIST classification with a TT-MLP."""

from __future__ import annotations

import numpy as np

from ttzo.data.mnist import MNIST
from ttzo.driver.objective import DeviceObjective, DeviceSession
from ttzo.golden.model import GoldenModel
from ttzo.golden.objective import UNPERTURBED, GoldenObjective
from ttzo.model.mlp import TTMLP

from .supervised import SupervisedTask

__all__ = ["MNISTTask", "QuantizedMNISTTask", "DeviceMNISTTask", "MNIST_MEAN", "MNIST_STD",
           "prepare_images"]

#: Pixel mean and standard deviation of the MNIST training images (scaled to [0, 1]).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def prepare_images(images: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Flatten ``uint8`` images and standardise them with the training-set statistics."""
    x = images.reshape(images.shape[0], -1).astype(dtype) / 255.0
    return (x - MNIST_MEAN) / MNIST_STD


class MNISTTask(SupervisedTask):
    """Train on MNIST's first ``60000 - val_size`` training images; validate on the rest.

    The validation split drives the plateau test of the hybrid schedule; the 10,000 test images
    are only reported.
    """

    name = "mnist"

    def __init__(self, model: TTMLP, data: MNIST, val_size: int = 5000, incremental: bool = True):
        if model.spec.in_features != 784 or model.spec.out_features != 10:
            raise ValueError(
                f"an MNIST model needs 784 inputs and 10 outputs, not {model.spec.in_features} "
                f"and {model.spec.out_features}"
            )
        total = data.train_images.shape[0]
        if not 0 < val_size < total:
            raise ValueError(f"val_size must be between 1 and {total - 1}, not {val_size!r}")
        x = prepare_images(data.train_images, model.dtype)
        y = data.train_labels.astype(np.int64)
        test = (prepare_images(data.test_images, model.dtype), data.test_labels.astype(np.int64))
        super().__init__(model, (x[:-val_size], y[:-val_size]), (x[-val_size:], y[-val_size:]),
                         test, loss="cross_entropy", incremental=incremental)


class QuantizedMNISTTask(MNISTTask):
    """MNIST through the golden model: queries and evaluation use the fixed-point forward.

    ``init`` (optional) starts training from given float parameters instead of a random draw,
    e.g. a float BP-free checkpoint to fine-tune with quantization in the loop.
    """

    name = "mnist-quantized"

    def __init__(self, golden: GoldenModel, data: MNIST, val_size: int = 5000,
                 init: np.ndarray | None = None):
        super().__init__(golden.float_model, data, val_size=val_size, incremental=False)
        self.golden = golden
        self.init = None if init is None else np.array(init, dtype=np.float64)

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        return self.init.copy() if self.init is not None else super().init_params(rng)

    def objective(self, indices: np.ndarray) -> GoldenObjective:
        return GoldenObjective(self.golden, self.x_train[indices], self.y_train[indices],
                               self.loss)

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self.golden.forward(theta, x)


class DeviceMNISTTask(QuantizedMNISTTask):
    """MNIST trained on an accelerator: every forward pass, the optimizer's queries and the
    evaluations alike, runs on the device behind ``session`` (a board, or the bit-exact
    emulator); the host keeps the float master parameters and the optimizer."""

    name = "mnist-device"

    def __init__(self, session: DeviceSession, golden: GoldenModel, data: MNIST,
                 val_size: int = 5000, init: np.ndarray | None = None):
        super().__init__(golden, data, val_size=val_size, init=init)
        self.session = session

    def objective(self, indices: np.ndarray) -> DeviceObjective:
        return DeviceObjective(self.session, self.golden, self.x_train[indices],
                               self.y_train[indices], self.loss)

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        out = self.session.forward(self.golden.quantize_params(theta),
                                   self.golden.quantize_inputs(x), [UNPERTURBED])[0]
        return self.golden.numerics.activation.dequantize(out)
