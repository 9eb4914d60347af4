"""First-order update rules applied to (zeroth-order) gradient estimates.

Each optimizer updates ``theta`` in place from a gradient estimate and a learning rate, and can
save and restore its state exactly (for checkpoints that resume bit for bit).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "make_optimizer"]


class Optimizer(Protocol):
    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None: ...

    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...


def _check_nonneg(name: str, value: float) -> float:
    if not value >= 0:
        raise ValueError(f"{name} must be non-negative, not {value!r}")
    return float(value)


class SGD:
    """SGD with (heavy-ball or Nesterov) momentum and L2 weight decay.

    ``v <- momentum * v + (g + weight_decay * theta)``; ``theta <- theta - lr * v``.
    """

    def __init__(self, dim: int, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), not {momentum!r}")
        self.momentum = float(momentum)
        self.weight_decay = _check_nonneg("weight_decay", weight_decay)
        self.nesterov = nesterov
        self.velocity = np.zeros(dim)

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        g = grad + self.weight_decay * theta if self.weight_decay else grad
        self.velocity *= self.momentum
        self.velocity += g
        theta -= lr * (g + self.momentum * self.velocity if self.nesterov else self.velocity)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"velocity": self.velocity.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = np.array(state["velocity"], dtype=np.float64)


class Adam:
    """Adam (Kingma & Ba) with bias correction and L2 weight decay added to the gradient."""

    def __init__(self, dim: int, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        b1, b2 = betas
        for name, b in (("betas[0]", b1), ("betas[1]", b2)):
            if not 0 <= b < 1:
                raise ValueError(f"{name} must be in [0, 1), not {b!r}")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.weight_decay = _check_nonneg("weight_decay", weight_decay)
        self.m = np.zeros(dim)
        self.v = np.zeros(dim)
        self.t = 0

    def _direction(self, g: np.ndarray) -> np.ndarray:
        """Update the moments with ``g``; the bias-corrected, normalized step direction."""
        b1, b2 = self.betas
        self.t += 1
        self.m *= b1
        self.m += (1 - b1) * g
        self.v *= b2
        self.v += (1 - b2) * g * g
        m_hat = self.m / (1 - b1**self.t)
        v_hat = self.v / (1 - b2**self.t)
        return m_hat / (np.sqrt(v_hat) + self.eps)

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        g = grad + self.weight_decay * theta if self.weight_decay else grad
        theta -= lr * self._direction(g)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.m = np.array(state["m"], dtype=np.float64)
        self.v = np.array(state["v"], dtype=np.float64)
        self.t = int(state["t"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``theta`` shrinks by
    ``lr * weight_decay * theta`` beside the Adam step instead of the decay entering the
    normalized gradient. Under a zeroth-order estimate's noise this is a restoring force of its
    own size, which L2 decay inside Adam's normalization is not."""

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        theta -= lr * (self._direction(grad) + self.weight_decay * theta)


def make_optimizer(kind: str, dim: int, **options) -> Optimizer:
    """Build an optimizer from a config table: ``kind`` is ``sgd``, ``adam`` or ``adamw``."""
    classes = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
    if kind.lower() not in classes:
        raise ValueError(f"unknown optimizer {kind!r}; choose from {sorted(classes)}")
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    try:
        return classes[kind.lower()](dim, **options)
    except TypeError as err:
        raise ValueError(f"bad options for optimizer {kind!r}: {err}") from None
