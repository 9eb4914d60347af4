"""Learning problems that the training loop runs."""

from .mnist import MNISTTask, prepare_images
from .supervised import SupervisedTask

__all__ = ["MNISTTask", "SupervisedTask", "prepare_images"]
