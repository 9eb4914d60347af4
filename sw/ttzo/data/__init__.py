"""Flows: data sets (MNIST from the standard IDX files)."""

from .mnist import MNIST, MNISTError, load_mnist

__all__ = ["MNIST", "MNISTError", "load_mnist"]
