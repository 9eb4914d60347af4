"""Elementwise activations with the derivative the first-order baseline needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """An activation ``f`` and its derivative ``f'`` expressed through the pre-activation.

    ``fn(z, out=None)`` may write into ``out`` (``out=z`` works in place).
    """

    name: str
    fn: Callable[..., np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]


def _identity(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        return z
    out[...] = z
    return out


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        "relu", lambda z, out=None: np.maximum(z, 0, out=out), lambda z: (z > 0).astype(z.dtype)
    ),
    "sine": Activation("sine", np.sin, np.cos),
    "tanh": Activation("tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "none": Activation("none", _identity, np.ones_like),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name (``relu``, ``sine``, ``tanh`` or ``none``)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}"
        ) from None
