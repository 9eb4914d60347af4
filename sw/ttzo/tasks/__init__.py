"""Flows: the learning problems the training loop runs (MNIST, PDEs), on a model or a device."""

from .mnist import MNISTTask, QuantizedMNISTTask, prepare_images
from .supervised import SupervisedTask

__all__ = ["MNISTTask", "QuantizedMNISTTask", "SupervisedTask", "prepare_images"]
