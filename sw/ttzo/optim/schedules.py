"""Learning-rate schedules: the rate as a function of training progress in epochs."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Schedule", "make_schedule"]


@dataclass(frozen=True)
class Schedule:
    """``lr(epoch)`` for a base rate.

    Parameters
    ----------
    lr : float
        Base learning rate.
    kind : {"constant", "step", "cosine"}
        ``step``: multiply by ``gamma`` every ``every`` epochs. ``cosine``: anneal from ``lr`` to
        ``lr * min_factor`` over ``epochs`` epochs.
    """

    lr: float
    kind: str = "constant"
    gamma: float = 0.1
    every: float = 1.0
    epochs: float = 1.0
    min_factor: float = 0.0

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, not {self.lr!r}")
        if self.kind not in ("constant", "step", "cosine"):
            raise ValueError(
                f"unknown schedule {self.kind!r}; choose from ['constant', 'cosine', 'step']"
            )
        if self.kind == "step" and not self.every > 0:
            raise ValueError(f"step schedule needs every > 0, not {self.every!r}")
        if self.kind == "cosine" and not self.epochs > 0:
            raise ValueError(f"cosine schedule needs epochs > 0, not {self.epochs!r}")

    def __call__(self, epoch: float) -> float:
        if self.kind == "step":
            return self.lr * self.gamma ** math.floor(epoch / self.every)
        if self.kind == "cosine":
            frac = min(max(epoch / self.epochs, 0.0), 1.0)
            factor = self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * frac))
            return self.lr * factor
        return self.lr


def make_schedule(lr: float, **options) -> Schedule:
    try:
        return Schedule(lr=lr, **options)
    except TypeError as err:
        raise ValueError(f"bad learning-rate schedule options: {err}") from None
