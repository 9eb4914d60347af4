"""Losses over model outputs; every loss accepts extra leading (query) axes on the outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Loss", "LOSSES", "get_loss", "softmax_cross_entropy", "mean_squared_error"]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean cross-entropy over the batch axis (``-2``); leading axes are kept.

    ``logits`` has shape ``(..., B, C)``, ``labels`` integer classes of shape ``(B,)``.
    """
    logp = _log_softmax(logits)
    picked = np.take_along_axis(logp, labels.reshape((1,) * (logp.ndim - 2) + (-1, 1)), axis=-1)
    return -picked[..., 0].mean(axis=-1)


def _softmax_cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    probs = np.exp(_log_softmax(logits))
    probs[np.arange(labels.shape[0]), labels] -= 1.0
    return probs / labels.shape[0]


def mean_squared_error(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over the batch (``-2``) and output (``-1``) axes of the squared difference."""
    return ((outputs - targets) ** 2).mean(axis=(-2, -1))


def _mean_squared_error_grad(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return 2.0 * (outputs - targets) / outputs.size


@dataclass(frozen=True)
class Loss:
    """A loss and the gradient with respect to the outputs (first-order baseline only)."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]


LOSSES = {
    "cross_entropy": Loss("cross_entropy", softmax_cross_entropy, _softmax_cross_entropy_grad),
    "mse": Loss("mse", mean_squared_error, _mean_squared_error_grad),
}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose from {sorted(LOSSES)}") from None
