"""MNIST classification with a TT-MLP."""

from __future__ import annotations

import numpy as np

from ..data.mnist import MNIST
from ..model.mlp import TTMLP
from .supervised import SupervisedTask

__all__ = ["MNISTTask", "MNIST_MEAN", "MNIST_STD", "prepare_images"]

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
