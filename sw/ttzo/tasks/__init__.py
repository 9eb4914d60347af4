"""Learning problems that the training loop runs."""

from .mnist import MNISTTask, QuantizedMNISTTask, prepare_images
from .supervised import SupervisedTask

__all__ = ["MNISTTask", "QuantizedMNISTTask", "SupervisedTask", "prepare_images"]
