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
    warmup : float
        Epochs of linear warm-up at the start: the rate is multiplied by a factor that rises
        from ``warmup_factor`` to 1 (the other schedules keep counting from epoch 0). A phase
        that restarts Adam from fresh moments takes its largest steps first (its first step
        moves every coordinate by the full rate); the warm-up keeps those small.
    warmup_factor : float
        The factor at epoch 0, in (0, 1].
    """

    lr: float
    kind: str = "constant"
    gamma: float = 0.1
    every: float = 1.0
    epochs: float = 1.0
    min_factor: float = 0.0
    warmup: float = 0.0
    warmup_factor: float = 0.01

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
        if not self.warmup >= 0:
            raise ValueError(f"warmup must be >= 0 epochs, not {self.warmup!r}")
        if not 0 < self.warmup_factor <= 1:
            raise ValueError(f"warmup_factor must be in (0, 1], not {self.warmup_factor!r}")

    def __call__(self, epoch: float) -> float:
        return self._base(epoch) * self._warmup(epoch)

    def _base(self, epoch: float) -> float:
        if self.kind == "step":
            return self.lr * self.gamma ** math.floor(epoch / self.every)
        if self.kind == "cosine":
            frac = min(max(epoch / self.epochs, 0.0), 1.0)
            factor = self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * frac))
            return self.lr * factor
        return self.lr

    def _warmup(self, epoch: float) -> float:
        if epoch >= self.warmup:
            return 1.0
        return self.warmup_factor + (1 - self.warmup_factor) * max(epoch, 0.0) / self.warmup


def make_schedule(lr: float, **options) -> Schedule:
    try:
        return Schedule(lr=lr, **options)
    except TypeError as err:
        raise ValueError(f"bad learning-rate schedule options: {err}") from None
